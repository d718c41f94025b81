"""The demo task, generated from the seed: needs no files and no network.

Background is uniform random DNA. Positives carry exactly one TATA-box-like motif (IUPAC, e.g.
TATAWAWR) starting ``min_offset``..``max_offset`` bp before the end; negatives carry none.
"""

import re

import numpy as np

from lingo.data.task_data import Split

IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "W": "AT", "R": "AG", "S": "CG", "Y": "CT",
         "K": "GT", "M": "AC", "N": "ACGT"}
BASES = np.array(list("ACGT"))


def motif_regex(motif: str) -> re.Pattern[str]:
    return re.compile("(?=" + "".join(f"[{IUPAC[c]}]" for c in motif) + ")")


def generate_split(
    name: str, n: int, rng: np.random.Generator, length: int, motif: str,
    min_offset: int, max_offset: int,
) -> Split:
    """Half positives, half negatives, shuffled; every sequence re-drawn until it is clean."""
    pattern = motif_regex(motif)
    labels = rng.permutation(np.arange(n) % 2).astype(np.int64)
    sequences = []
    for label in labels:
        while True:
            seq = "".join(rng.choice(BASES, size=length))
            if label:
                start = length - int(rng.integers(min_offset, max_offset + 1))
                site = "".join(rng.choice(list(IUPAC[c])) for c in motif)
                seq = seq[:start] + site + seq[start + len(motif):]
            if len(pattern.findall(seq)) == int(label):
                break
        sequences.append(seq)
    return Split(name, sequences, labels, f"synthetic {motif} task ({name})")


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
