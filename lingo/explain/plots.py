"""Figures of per-base scores and motifs. Figures are made with ``matplotlib.figure.Figure``,
which renders with Agg and is never registered with pyplot: no global backend to set, no figure
left open, and safe in a headless job."""

import io
from pathlib import Path

import logomaker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lingo.data.bases import ALPHABET, one_hot
from lingo.explain.scores import BaseScores
from lingo.results import write_bytes_atomic

COLORBAR_LABELS = {"mutagenesis": "Δ log-odds", "attributions": "attribution"}


def save_png(fig: Figure, path: Path) -> None:
    """Render in memory first, so a failed render leaves no partial file, then write atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    write_bytes_atomic(Path(path), lambda handle: handle.write(buffer.getvalue()))


def logo(ax: Axes, matrix: np.ndarray, title: str | None = None) -> None:
    """A sequence logo of a (length, 4) matrix over A, C, G, T: each letter as tall as its value,
    negative values below the axis."""
    frame = pd.DataFrame(np.nan_to_num(np.asarray(matrix, dtype=float)), columns=list(ALPHABET))
    logomaker.Logo(frame, ax=ax, color_scheme="classic")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlim(-0.5, len(frame) - 0.5)
    if title:
        ax.set_title(title)


def sequence_figure(scores: BaseScores, index: int, path: Path) -> None:
    """One sequence's scores as a PNG: a heat map of every base at every position (what the model
    makes of each substitution) over a logo of the bases present, scaled by importance."""
    length = min(len(scores.sequences[index]), scores.length)
    values = scores.values[index, :length]
    present = one_hot([scores.sequences[index]], scores.length)[0, :length]
    heights = np.nan_to_num(scores.effect([index])[0, :length, None]) * present

    fig = Figure(figsize=(min(max(8.0, length / 12), 60.0), 4.5))
    heat_ax, logo_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.4]})
    limit = float(np.abs(np.nan_to_num(values)).max(initial=0.0))
    image = heat_ax.imshow(values.T, aspect="auto", cmap="RdBu_r", interpolation="nearest",
                           vmin=-limit, vmax=limit)  # symmetric: white is 0
    heat_ax.set_yticks(range(4), list(ALPHABET))
    fig.colorbar(image, ax=[heat_ax, logo_ax], label=COLORBAR_LABELS[scores.kind],
                 fraction=0.02, pad=0.01)
    logo(logo_ax, heights)
    logo_ax.set_xlabel("position")
    logo_ax.set_ylabel("importance")
    heat_ax.set_title(f"{scores.ids[index]} · label {scores.label}")
    save_png(fig, path)


def positions_figure(centres: np.ndarray, length: int, path: Path, title: str) -> None:
    """Where a motif's instances sit along the sequences: a histogram of their centres."""
    fig = Figure(figsize=(6, 2.5))
    ax = fig.subplots()
    ax.hist(centres, bins=np.linspace(0, length, min(50, max(length // 4, 1)) + 1),
            color="tab:blue")
    ax.set_xlim(0, length)
    ax.set_xlabel("centre of the instance (position)")
    ax.set_ylabel("instances")
    ax.set_title(title)
    save_png(fig, path)


def profile_figure(scores: BaseScores, path: Path, title: str) -> None:
    """Where the scores are, over all the sequences: the mean importance per position and the
    mean signed effect of the base present (positions past a sequence's end left out)."""
    fig = Figure(figsize=(8, 2.8))
    ax = fig.subplots()
    ax.plot(np.nanmean(np.abs(scores.importance()), axis=0), color="tab:blue",
            label="mean |importance|")
    ax.plot(np.nanmean(scores.effect(), axis=0), color="tab:orange", linewidth=0.8,
            label="mean effect of the base present")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlim(0, scores.length)
    ax.set_xlabel("position")
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(title)
    save_png(fig, path)


def motif_figure(cwm: np.ndarray, ppm: np.ndarray, path: Path, title: str) -> None:
    """A motif as two logos: its contribution weight matrix (what the model reads) and its
    sequence, each position scaled by its information content in bits."""
    fig = Figure(figsize=(max(4.0, len(cwm) * 0.4), 4))
    cwm_ax, ppm_ax = fig.subplots(2, 1, sharex=True)
    logo(cwm_ax, cwm, title)
    cwm_ax.set_ylabel("contribution")
    logo(ppm_ax, ppm * information_content(ppm)[:, None])
    ppm_ax.set_ylabel("bits")
    ppm_ax.set_ylim(0, 2)
    save_png(fig, path)


def information_content(ppm: np.ndarray) -> np.ndarray:
    """Bits per position against a uniform background (length,)."""
    ppm = np.asarray(ppm, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(ppm > 0, ppm * np.log2(ppm), 0.0)
    return 2.0 + terms.sum(axis=1)
