"""Motifs behind a model's per-base scores: TF-MoDISco (modisco-lite) gathers high-scoring
windows (seqlets) of many sequences into motifs, TOMTOM (memelite) names them from JASPAR, and
a report shows each motif's logo, where it sits, and what it resembles."""

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from memelite import tomtom
from modiscolite.core import SeqletSet
from modiscolite.tfmodisco import TFMoDISco
from scipy.stats import false_discovery_control

from lingo.data.jaspar import jaspar_matrices
from lingo.explain import plots
from lingo.explain.scores import BaseScores
from lingo.results import write_atomic, write_json

if TYPE_CHECKING:
    from numba.core.dispatcher import Dispatcher

# A motif's core: the span from the first to the last position whose total |contribution| is
# at least this fraction of the largest; modisco-lite's own report trims the same way before
# TOMTOM, since the flanks a pattern carries are background that would dilute the match.
TRIM = 0.3
CONTEXT = 5  # bp kept either side of a pattern's window while its seqlets are aligned
SIGNIFICANT = 0.05  # q-value below which a JASPAR match counts


@dataclass
class Match:
    """A JASPAR matrix a motif resembles (TOMTOM, either strand)."""

    target_id: str
    target_name: str
    p_value: float
    q_value: float  # Benjamini-Hochberg over every matrix this motif was compared with
    offset: int  # TOMTOM's offset of the motif's core against the matrix
    strand: str  # + or -: the strand of the JASPAR matrix that matched


@dataclass
class Motif:
    """A TF-MoDISco pattern, trimmed to its core (TRIM)."""

    name: str
    sign: str  # positive | negative: whether its bases raise or lower the label's score
    n_seqlets: int
    ppm: np.ndarray  # (length, 4) base frequencies over its seqlets
    cwm: np.ndarray  # (length, 4) mean contribution of the bases present
    positions: np.ndarray  # (n_seqlets,) start of the core in each seqlet's sequence
    examples: np.ndarray  # (n_seqlets,) index of each seqlet's sequence
    matches: list[Match] = field(default_factory=list)


def _core(cwm: np.ndarray, trim: float) -> slice:
    score = np.abs(cwm).sum(axis=1)
    kept = np.flatnonzero(score >= trim * score.max())
    return slice(int(kept[0]), int(kept[-1]) + 1)


def _motif(pattern: SeqletSet, name: str, sign: str, trim: float) -> Motif:
    cwm = np.asarray(pattern.contrib_scores, dtype=np.float64)
    core = _core(cwm, trim)
    length = len(cwm)
    seqlets = pattern.seqlets
    # a reverse-complement seqlet reads its sequence backwards: its core starts from the end
    positions = [s.start + (length - core.stop if s.is_revcomp else core.start) for s in seqlets]
    return Motif(name=name, sign=sign, n_seqlets=len(seqlets),
                 ppm=np.asarray(pattern.sequence, dtype=np.float64)[core], cwm=cwm[core],
                 positions=np.asarray(positions, dtype=np.int64),
                 examples=np.asarray([s.example_idx for s in seqlets], dtype=np.int64))


def discover(scores: BaseScores, *, window: int = 21, flank: int = 10, max_seqlets: int = 20000,
             min_metacluster_size: int = 30, final_min_cluster_size: int = 20,
             n_leiden_runs: int = 10, trim: float = TRIM) -> list[Motif]:
    """The motifs of a set of scored sequences, most seqlets first; [] when none stands out.

    ``window`` is the core of a seqlet, ``flank`` the context kept either side of it. TF-MoDISco's
    defaults suit tens of thousands of ChIP-seq peaks of 1 kb; here a few hundred sequences of
    70-500 bp are typical, so:

    - a sign's seqlets are clustered from ``min_metacluster_size`` = 30 on (default 100, below
      which the whole sign is dropped);
    - a motif keeps ``final_min_cluster_size`` = 20 seqlets at least (its default): fewer is
      mostly noise;
    - patterns are trimmed to ``window`` bp plus CONTEXT either side (TF-MoDISco: 30, 10): an
      instance counts only where the whole pattern fits in its sequence, and a 50-bp pattern
      loses those within 25 bp of either end, half of a 100-bp sequence;
    - 10 Leiden runs (default 50, the modisco CLI's 2) choose the clustering: they found the
      same motif as 50 in the synthetic CTCF test, in a third of the time.
    """
    if not scores.ids or scores.length < window + 2 * flank:
        return []
    hypothetical = scores.hypothetical().astype(np.float32)
    if not np.abs(hypothetical).any():
        return []
    cache_kernels()
    positive, negative = TFMoDISco(
        one_hot=scores.one_hot(), hypothetical_contribs=hypothetical,
        sliding_window_size=window, flank_size=flank, max_seqlets_per_metacluster=max_seqlets,
        min_metacluster_size=min_metacluster_size, final_min_cluster_size=final_min_cluster_size,
        trim_to_window_size=window, initial_flank_to_add=CONTEXT, n_leiden_runs=n_leiden_runs)
    motifs = [_motif(pattern, f"{sign[:3]}_{k}", sign, trim)
              for sign, patterns in (("positive", positive), ("negative", negative))
              for k, pattern in enumerate(patterns or [])]
    return sorted(motifs, key=lambda motif: -motif.n_seqlets)


@cache
def cache_kernels() -> tuple["Dispatcher", ...]:
    """Turn numba's on-disk cache on for modisco-lite's kernels; returns them.

    modisco-lite caches them itself only where its precompile step forks compiler processes,
    which it does not while another thread runs (a notebook, a test worker, a W&B run): there
    every process compiled them again, about 20 s on top of a 3-s call. Caching is turned on here
    for the kernels of modisco-lite's own list (``precompile._kernels()``, those safe to cache).
    A speed-up only: with another modisco-lite, or no writable cache, they compile as before."""
    try:
        from modiscolite.precompile import _kernels

        kernels = tuple(kernel for group in _kernels() for kernel, _ in group
                        if hasattr(kernel, "enable_caching"))  # not under NUMBA_DISABLE_JIT
        for kernel in kernels:
            kernel.enable_caching()
    except Exception:  # as modisco-lite's own precompile does: never fail the run
        return ()
    return kernels


def match_jaspar(motifs: list[Motif], release: str = "JASPAR2024", top: int = 3,
                 extra: list[tuple[str, str, np.ndarray]] = ()) -> None:
    """Fill each motif's ``matches``: its ``top`` JASPAR CORE vertebrate matrices (and the
    ``extra`` (id, name, ppm) ones, a known consensus say) by TOMTOM p-value, either strand.
    memelite gives p-values only; the q-values are Benjamini-Hochberg over all the matrices
    compared with each motif, so they do not depend on how many other motifs were found."""
    if not motifs:
        return
    targets = [*jaspar_matrices(release), *extra]
    # memelite wants (4, length) matrices. One thread: numba refuses more than the machine's
    # cores, and a few motifs take a second or two
    p_values, _, offsets, _, strands = tomtom(
        [np.ascontiguousarray(motif.ppm.T) for motif in motifs],
        [np.ascontiguousarray(ppm.T) for _, _, ppm in targets], n_jobs=1)
    for motif, p, offset, strand in zip(motifs, p_values, offsets, strands, strict=True):
        q = false_discovery_control(np.clip(p, 0.0, 1.0), method="bh")
        motif.matches = [
            Match(target_id=targets[j][0], target_name=targets[j][1], p_value=float(p[j]),
                  q_value=float(q[j]), offset=int(offset[j]), strand="-" if strand[j] else "+")
            for j in np.argsort(p, kind="stable")[:top]]


def _motif_json(motif: Motif, k: int) -> dict:
    return {
        "name": motif.name, "sign": motif.sign, "n_seqlets": motif.n_seqlets,
        "logo": f"motif_{k}.png", "positions_plot": f"motif_{k}_positions.png",
        "ppm": motif.ppm.round(4).tolist(), "cwm": motif.cwm.round(6).tolist(),
        "positions": motif.positions.tolist(), "examples": motif.examples.tolist(),
        "matches": [vars(match) for match in motif.matches],
    }


def _match_table(matches: list[Match]) -> list[str]:
    if not matches:
        return ["Not matched against JASPAR."]
    rows = ["| JASPAR id | name | p-value | q-value | strand |", "|---|---|---|---|---|"]
    rows += [f"| {m.target_id} | {m.target_name} | {m.p_value:.2e} | {m.q_value:.2e} "
             f"| {m.strand} |" for m in matches]
    if all(m.q_value >= SIGNIFICANT for m in matches):
        rows.append(f"\nNo match has q < {SIGNIFICANT}: the motif resembles no JASPAR matrix "
                    "closely enough to be named by it.")
    return rows


def write_report(motifs: list[Motif], out_dir: Path, scores: BaseScores) -> None:
    """``motifs.md`` for reading, ``motifs.json`` for tools, and a logo and a positions plot
    (``motif_<k>.png``, ``motif_<k>_positions.png``) per motif, each written atomically."""
    out_dir = Path(out_dir)
    source = (f"{len(scores.ids)} sequences of up to {scores.length} bp, {scores.kind} of "
              f"label {scores.label} from `{scores.run}`")
    lines = ["# Motifs", "", f"TF-MoDISco on {source}.", ""]
    importance = scores.importance()
    plots.profile_figure(scores, out_dir / "profile.png", "where the scores are")
    peak = int(np.nanargmax(np.nanmean(np.abs(importance), axis=0)))
    lines += ["## Where the scores are", "", "![mean importance per position](profile.png)", "",
              f"Mean |importance| per position over the {len(scores.ids)} sequences: highest "
              f"at position {peak} (0-based).", ""]
    if not motifs:
        lines += [
            "No motif was found. TF-MoDISco needs enough high-scoring windows (seqlets) that "
            "recur across sequences; likely causes:", "",
            f"- too few sequences ({len(scores.ids)}): by default a motif needs 20 seqlets, "
            "and a sign with fewer than 30 is not clustered; score a few hundred sequences;",
            "- weak or noisy scores: windows that do not stand out from the null distribution "
            "of the scores make no seqlets; check a few per-sequence figures, or score the "
            "model's positive examples only.", ""]
    for k, motif in enumerate(motifs):
        title = f"motif {k}: {motif.name} ({motif.sign}, {motif.n_seqlets} seqlets)"
        plots.motif_figure(motif.cwm, motif.ppm, out_dir / f"motif_{k}.png", title)
        centres = motif.positions + len(motif.ppm) / 2
        plots.positions_figure(centres, scores.length, out_dir / f"motif_{k}_positions.png",
                               title)
        lines += [f"## Motif {k}: {motif.name}", "", f"![logo of motif {k}](motif_{k}.png)", "",
                  f"- seqlets: {motif.n_seqlets}", f"- sign: {motif.sign}",
                  f"- instances start at position {np.median(motif.positions):.0f} (median; "
                  f"interquartile range {np.percentile(motif.positions, 25):.0f}–"
                  f"{np.percentile(motif.positions, 75):.0f})",
                  f"- core length: {len(motif.ppm)} bp", "", "Best JASPAR matches (TOMTOM):",
                  "", *_match_table(motif.matches), "",
                  f"![where motif {k} sits](motif_{k}_positions.png)", ""]
    data = {"source": {"n_sequences": len(scores.ids), "length": scores.length,
                       "kind": scores.kind, "label": scores.label, "run": scores.run},
            "motifs": [_motif_json(motif, k) for k, motif in enumerate(motifs)]}
    write_json(out_dir / "motifs.json", data)
    write_atomic(out_dir / "motifs.md", "\n".join(lines))
