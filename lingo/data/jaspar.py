"""JASPAR matrices from the SQLite copies that pyjaspar ships, so motif matching and the
synthetic tasks run offline. Matrices are position probability matrices (length, 4) over
A, C, G, T."""

import warnings
from functools import cache

import numpy as np
import pyjaspar
from Bio import BiopythonWarning

from lingo.data.bases import ALPHABET
from lingo.errors import LingoError


@cache  # one connection per release, not one per matrix looked up
def _database(release: str) -> pyjaspar.jaspardb:
    # jaspardb prints, rather than raises, on an unknown release and leaves no connection
    if release not in pyjaspar.jaspar_releases:
        raise LingoError(f"JASPAR release {release!r} is not shipped with pyjaspar; use one of "
                         f"{', '.join(sorted(pyjaspar.jaspar_releases))}")
    return pyjaspar.jaspardb(release=release)


def _ppm(motif) -> np.ndarray:
    """Counts normalised per position: Biopython's .pwm would add the motif's pseudocounts."""
    counts = np.array([motif.counts[base] for base in ALPHABET], dtype=np.float64).T
    return counts / counts.sum(axis=1, keepdims=True)


def jaspar_motif(matrix_id: str, release: str = "JASPAR2024") -> tuple[str, np.ndarray]:
    """The name and PPM (length, 4) of one matrix; a base id (MA0139) gives its latest version."""
    with warnings.catch_warnings():  # an unknown id warns, then returns None
        warnings.simplefilter("ignore", BiopythonWarning)
        motif = _database(release).fetch_motif_by_id(matrix_id)
    if motif is None:
        raise LingoError(f"JASPAR matrix {matrix_id!r} is not in {release}; give an id such as "
                         "MA0139.2 (see https://jaspar.elixir.no)")
    return motif.name, _ppm(motif)


@cache
def jaspar_matrices(release: str = "JASPAR2024", collection: str = "CORE",
                    tax_group: str = "vertebrates") -> list[tuple[str, str, np.ndarray]]:
    """(id, name, PPM) of the latest version of every matrix in a collection and taxon: the
    targets of motif matching. Cached, since reading the database takes about a second."""
    motifs = _database(release).fetch_motifs(collection=collection, tax_group=tax_group)
    if not motifs:
        raise LingoError(f"{release} has no {collection} matrices for the taxonomic group "
                         f"{tax_group!r}; use e.g. collection='CORE', tax_group='vertebrates'")
    return [(motif.matrix_id, motif.name, _ppm(motif)) for motif in motifs]


def sample_sites(ppm: np.ndarray, n: int, rng: np.random.Generator) -> list[str]:
    """n sites drawn from a PPM, each position independently: planted instances of a motif."""
    ppm = np.asarray(ppm, dtype=np.float64)
    cumulative = np.cumsum(ppm / ppm.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((n, len(ppm), 1))
    codes = (draws > cumulative[None, :, :3]).sum(axis=2)  # the first base whose cdf passes
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)[codes]
    return [row.tobytes().decode() for row in letters]
