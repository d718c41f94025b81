"""Motif discovery on scores with a planted JASPAR motif: TF-MoDISco finds it where it was
planted and TOMTOM names it. No model: the scores are the motif's own log-odds."""

import json
import subprocess
import sys

import numpy as np
import pytest

from lingo.data.bases import ALPHABET
from lingo.data.jaspar import jaspar_matrices, jaspar_motif, sample_sites
from lingo.errors import LingoError
from lingo.explain.motifs import discover, match_jaspar, write_report
from lingo.explain.scores import BaseScores
from tests.conftest import REPO

CTCF = ("MA0139", "MA1929", "MA1930")  # JASPAR2024's CTCF matrices


def random_scores(n: int, length: int, rng: np.random.Generator) -> BaseScores:
    """Random sequences with small Gaussian attributions: nothing to find."""
    sequences = ["".join(rng.choice(list(ALPHABET), length)) for _ in range(n)]
    values = rng.normal(scale=0.05, size=(n, length, 4)).astype(np.float32)
    return BaseScores([f"seq{i}" for i in range(n)], sequences, values, "attributions", 1, "run")


def planted_scores(n: int, length: int, rng: np.random.Generator) -> tuple[BaseScores, np.ndarray]:
    """One CTCF site per sequence at a random place, scored with the motif's log-odds on all four
    bases (as a CNN's hypothetical contributions would be); the starts of the sites."""
    _, ppm = jaspar_motif("MA0139.2")
    scores = random_scores(n, length, rng)
    log_odds = np.log2((ppm + 0.01) / (1 + 4 * 0.01) / 0.25).astype(np.float32)
    starts = rng.integers(0, length - len(ppm) + 1, n)
    for i, (site, start) in enumerate(zip(sample_sites(ppm, n, rng), starts, strict=True)):
        seq = scores.sequences[i]
        scores.sequences[i] = seq[:start] + site + seq[start + len(site):]
        scores.values[i, start:start + len(site)] = log_odds
    return scores, starts


@pytest.fixture(scope="module")
def planted() -> tuple[BaseScores, np.ndarray, list]:
    scores, starts = planted_scores(300, 200, np.random.default_rng(0))
    motifs = discover(scores)
    match_jaspar(motifs)
    return scores, starts, motifs


# a fresh process: modisco-lite's kernels with a declared signature, compiled as its first
# calls compile them; how many came from numba's cache (the discovery above put them there)
FROM_CACHE = """
from modiscolite.precompile import _signatures
from lingo.explain.motifs import cache_kernels
kernels = [k for k in cache_kernels() if k in _signatures]
for kernel in kernels:
    kernel.compile(_signatures[kernel])
print(len(kernels), sum(sum(k.stats.cache_hits.values()) for k in kernels))
"""


def test_modiscos_kernels_are_cached_between_processes(planted) -> None:
    """Compiled once, not in every process: modisco-lite turns numba's cache on only where no
    other thread runs, and a pytest-xdist worker has one. lingo turns it on before discovery."""
    fresh = subprocess.run([sys.executable, "-c", FROM_CACHE], capture_output=True, text=True,
                           cwd=REPO)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    kernels, hits = map(int, fresh.stdout.split())
    assert kernels >= 3 and hits >= 1, fresh.stdout


def test_discovers_and_names_the_planted_motif(planted) -> None:
    _, starts, motifs = planted
    top = motifs[0]
    # 160 of the 300 sites: modisco drops those whose pattern would pass a sequence's end
    assert top.sign == "positive" and top.n_seqlets >= 100
    width = len(jaspar_motif("MA0139.2")[1])  # 15 bp in JASPAR2024 (MA0139.1 had 19)
    assert top.ppm.shape == top.cwm.shape == (len(top.ppm), 4) and 8 <= len(top.ppm) <= width
    ctcf = [m for m in top.matches if m.target_id.split(".")[0] in CTCF and m.q_value < 0.05]
    assert len(top.matches) == 3 and ctcf, top.matches
    # the core of every seqlet lies inside the site planted in its sequence
    site = starts[top.examples]
    inside = (top.positions >= site) & (top.positions + len(top.ppm) <= site + width)
    assert inside.mean() > 0.95


def test_report_of_found_motifs(planted, tmp_path) -> None:
    scores, _, motifs = planted
    write_report(motifs, tmp_path, scores)
    text = (tmp_path / "motifs.md").read_text()
    assert "## Motif 0" in text and "MA0139" in text and "(motif_0.png)" in text
    data = json.loads((tmp_path / "motifs.json").read_text())
    assert data["motifs"][0]["n_seqlets"] == motifs[0].n_seqlets
    assert data["motifs"][0]["matches"][0]["target_id"].split(".")[0] in CTCF
    for name in ("motif_0.png", "motif_0_positions.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_noise_finds_nothing_significant(tmp_path) -> None:
    scores = random_scores(300, 200, np.random.default_rng(1))
    motifs = discover(scores)
    match_jaspar(motifs)
    assert all(m.q_value >= 0.05 for motif in motifs for m in motif.matches)
    write_report(motifs, tmp_path, scores)
    if not motifs:
        assert "No motif was found" in (tmp_path / "motifs.md").read_text()
        assert json.loads((tmp_path / "motifs.json").read_text())["motifs"] == []


def test_too_few_or_too_short_sequences_find_nothing() -> None:
    rng = np.random.default_rng(2)
    assert discover(random_scores(5, 200, rng)) == []
    assert discover(random_scores(50, 30, rng)) == []  # shorter than a seqlet


def test_jaspar_lookups() -> None:
    name, ppm = jaspar_motif("MA0139")  # a base id: the latest version
    assert name == "CTCF" and ppm.shape == (15, 4) and np.allclose(ppm.sum(axis=1), 1)
    with pytest.raises(LingoError, match=r"'MA9999\.1' is not in JASPAR2024"):
        jaspar_motif("MA9999.1")
    with pytest.raises(LingoError, match="JASPAR1999"):
        jaspar_motif("MA0139.2", release="JASPAR1999")
    ids = [target_id for target_id, _, _ in jaspar_matrices()]
    assert "MA0139.2" in ids and len(ids) > 500


def test_sample_sites_follow_the_matrix() -> None:
    _, ppm = jaspar_motif("MA0139.2")
    sites = sample_sites(ppm, 4000, np.random.default_rng(3))
    assert {len(site) for site in sites} == {len(ppm)}
    codes = np.array([[ALPHABET.index(b) for b in site] for site in sites])
    frequencies = np.stack([(codes == b).mean(axis=0) for b in range(4)], axis=1)
    assert np.abs(frequencies - ppm).max() < 0.04
