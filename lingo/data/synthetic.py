"""Synthetic tasks, generated from the seed: need no files and no network.

Background is uniform random DNA. Positives carry exactly one motif starting
``min_offset``..``max_offset`` bp before the end; negatives carry none. The motif is IUPAC
(the demo's TATA-box-like TATAWAWR: a sequence is redrawn until it holds exactly as many matches
as its label), or a JASPAR matrix id (``MA0139.2``, CTCF: each site drawn from the matrix's
probabilities; negatives are not screened, as a matrix has no exact match). Each split keeps
where its motifs were planted (``Split.sites``): the truth the explanations are checked against.
"""

import re

import numpy as np

from lingo.data.jaspar import jaspar_motif, sample_sites
from lingo.data.task_data import Split
from lingo.errors import LingoError

IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "W": "AT", "R": "AG", "S": "CG", "Y": "CT",
         "K": "GT", "M": "AC", "N": "ACGT"}
BASES = np.array(list("ACGT"))
JASPAR_ID = re.compile(r"MA\d{4}(\.\d+)?")


def motif_regex(motif: str) -> re.Pattern[str]:
    return re.compile("(?=" + "".join(f"[{IUPAC[c]}]" for c in motif) + ")")


def iupac_matrix(motif: str) -> np.ndarray:
    """The (length, 4) A, C, G, T probabilities an IUPAC consensus allows (W: half A, half T)."""
    unknown = sorted(set(motif.upper()) - set(IUPAC)) or ([] if motif else ["(empty)"])
    if unknown:
        raise LingoError(f"IUPAC motif {motif!r}: {unknown[0]!r} is not an IUPAC base "
                         f"({''.join(IUPAC)})")
    return np.array([[b in IUPAC[c] for b in "ACGT"] for c in motif.upper()],
                    dtype=np.float64) / np.array([[len(IUPAC[c])] for c in motif.upper()])


def generate_split(
    name: str, n: int, rng: np.random.Generator, length: int, motif: str,
    min_offset: int, max_offset: int,
) -> Split:
    """Half positives, half negatives, shuffled, with each positive's motif start."""
    matrix = jaspar_motif(motif)[1] if JASPAR_ID.fullmatch(motif) else None
    pattern = None if matrix is not None else motif_regex(motif)
    width = len(motif) if matrix is None else len(matrix)
    if not width <= min_offset <= max_offset < length:
        raise LingoError(f"task.synthetic: the {width}-bp motif {motif} must start "
                         f"min_offset..max_offset ({min_offset}..{max_offset}) bp before the end "
                         f"of a {length}-bp sequence: need {width} <= min_offset <= max_offset "
                         f"< {length}")
    labels = rng.permutation(np.arange(n) % 2).astype(np.int64)
    sequences, sites = [], np.full(n, -1, dtype=np.int64)
    for i, label in enumerate(labels):
        while True:
            seq = "".join(rng.choice(BASES, size=length))
            if label:
                start = length - int(rng.integers(min_offset, max_offset + 1))
                site = (sample_sites(matrix, 1, rng)[0] if matrix is not None else
                        "".join(rng.choice(list(IUPAC[c])) for c in motif))
                seq = seq[:start] + site + seq[start + width:]
                sites[i] = start
            if pattern is None or len(pattern.findall(seq)) == int(label):
                break
        sequences.append(seq)
    return Split(name, sequences, labels, f"synthetic {motif} task ({name})", sites)


def make_demo_splits(
    seed: int, n_train: int, n_dev: int, n_test: int, length: int, motif: str,
    min_offset: int, max_offset: int,
) -> tuple[Split, Split, Split]:
    rng = np.random.default_rng(seed)
    shape = dict(length=length, motif=motif, min_offset=min_offset, max_offset=max_offset)
    return (
        generate_split("train", n_train, rng, **shape),
        generate_split("dev", n_dev, rng, **shape),
        generate_split("test", n_test, rng, **shape),
    )
