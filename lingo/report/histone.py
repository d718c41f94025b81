"""Fig 5, the compute argument and the 104-label task: attention cost vs sequence length (a),
macro AUC vs FLOPs-adjusted steps (b), per-label AUC between models (c, d) and their Pearson
correlation (e), from whatever ``histone_human`` runs exist."""

import json
import logging
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lingo.flops import attention_flops
from lingo.report.figures import save_figure
from lingo.report.paper import METHODS, model_label
from lingo.report.runs import figure_suffix
from lingo.results import HISTORY, PER_LABEL, write_atomic

log = logging.getLogger(__name__)

# (hidden size, layers) and DNA tokens per base on the real GUE test splits (README's token table:
# OPT's BPE 157.7 tokens per 300 bp, DNABERT-2's BPE 61.5, NT's 6-mers 50)
ATTENTION_SHAPES = {"opt125m": (768, 12, 157.7 / 300), "opt350m": (1024, 24, 157.7 / 300),
                    "dnabert2": (768, 12, 61.5 / 300), "nt500m": (1280, 24, 50 / 300)}
FAMILY_LENGTHS = {"Promoter (Human)": 300, "Histone (Yeast)": 500, "Histone (Human)": 1000}


def fig5a_attention(out: Path) -> list[Path]:
    """Forward attention FLOPs (QK^T and A·V) of one sequence against its length in bases."""
    bases = np.arange(50, 1001, 10)
    fig = Figure(layout="constrained", figsize=(6, 4.5))
    ax = fig.subplots()
    for model, (hidden, layers, per_base) in ATTENTION_SHAPES.items():
        tokens = np.round(bases * per_base).astype(int)
        ax.plot(bases, [attention_flops(int(t), hidden, layers) for t in tokens],
                label=model_label(model))
    for family, length in FAMILY_LENGTHS.items():
        ax.axvline(length, color="grey", linestyle=":")
        ax.text(length, ax.get_ylim()[1], family, rotation=90, va="top", ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length (bp)")
    ax.set_ylabel("attention FLOPs per sequence (forward)")
    ax.legend(fontsize=7)
    return save_figure(fig, out, "fig5a_attention")


def _unit(run: pd.Series) -> str:
    return f"{model_label(run['model'])} {METHODS.get(run['method'], run['method'])}"


def fig5b_points(runs: pd.DataFrame) -> tuple[list[tuple[str, pd.DataFrame]], str]:
    """Each run's macro AUC at its evaluations against FLOPs-adjusted steps, and the axis's
    unit. Every curve is in one unit: the training step of this setup's OPT-125M runs, each on
    its own tokens (the median of their ``flops_per_step``), so a model that reads fewer tokens
    per sequence (NT's 6-mers) is credited for it. A run's own ``flops_adjusted_steps`` prices
    an OPT-125M step at that run's tokens instead; it is the fallback when no OPT-125M run
    recorded its cost."""
    reference = float("nan")
    if "flops_per_step" in runs:
        reference = runs.loc[runs["model"] == "opt125m", "flops_per_step"].dropna().median()
    curves = []
    for _, run in runs.iterrows():
        path = Path(run["run_dir"]) / HISTORY
        if not path.is_file():
            continue
        history = pd.read_json(path, lines=True)
        # the split the run selected on: dev, or test under legacy=paper_code
        metric = next((m for m in ("dev/auc", "test/auc") if m in history), None)
        if metric is None:
            continue
        if reference > 0 and "train_flops" in history:
            x = history["train_flops"] / reference
        elif not reference > 0 and "flops_adjusted_steps" in history:
            x = history["flops_adjusted_steps"]
        else:  # no figures in this axis's unit
            log.info("Fig 5b: %s has no FLOPs in its history", run["run_dir"])
            continue
        curves.append((f"{_unit(run)} s{run['seed']}", pd.DataFrame({
            "flops_adjusted_steps": x, "auc": history[metric]})))
    unit = (f"steps of these OPT-125M runs, median {reference:.3g} FLOPs each" if reference > 0 else
            "OPT-125M steps at each run's own tokens: no OPT-125M run to price a step")
    return curves, f"FLOPs-adjusted steps ({unit})"


def fig5b_curves(runs: pd.DataFrame, out: Path, suffix: str) -> list[Path]:
    """Macro AUC at each evaluation against FLOPs-adjusted steps."""
    curves, xlabel = fig5b_points(runs)
    if not curves:
        return []
    fig = Figure(layout="constrained", figsize=(6.5, 4.5))
    ax = fig.subplots()
    for label, curve in curves:
        ax.plot(curve["flops_adjusted_steps"], curve["auc"], marker=".", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("macro AUC on the selection split (dev; test under legacy=paper_code)")
    ax.legend(fontsize=6)
    return save_figure(fig, out, f"fig5b_auc_vs_flops{suffix}")


def per_label_auc(runs: pd.DataFrame) -> pd.DataFrame:
    """Test AUC per label (rows) for each model and method (columns), mean over seeds; NaN
    where a label has one class in the test split."""
    columns: dict[str, list[np.ndarray]] = {}
    for _, run in runs.iterrows():
        path = Path(run["run_dir"]) / PER_LABEL
        if path.is_file():
            values = json.loads(path.read_text())["test/auc_per_label"]
            columns.setdefault(_unit(run), []).append(
                np.array([np.nan if v is None else v for v in values], dtype=float))
    return pd.DataFrame({unit: np.nanmean(np.stack(v), axis=0) if len(v) > 1 else v[0]
                         for unit, v in columns.items()})


def fig5cd_scatter(auc: pd.DataFrame, out: Path, suffix: str) -> list[Path]:
    pairs = list(combinations(auc.columns, 2))[:3]
    if not pairs:
        return []
    fig = Figure(layout="constrained", figsize=(4.5 * len(pairs), 4.5))
    for ax, (a, b) in zip(fig.subplots(1, len(pairs), squeeze=False)[0], pairs, strict=True):
        both = auc[[a, b]].dropna()
        ax.scatter(both[a], both[b], s=12)
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set_xlabel(f"{a}: test AUC per label")
        ax.set_ylabel(f"{b}: test AUC per label")
        ax.set_title(f"{len(both)} labels with both classes", fontsize=9)
    return save_figure(fig, out, f"fig5cd_per_label{suffix}")


def fig5e_correlation(auc: pd.DataFrame, out: Path, tables: Path,
                      suffix: str) -> list[Path]:
    if auc.shape[1] < 2:
        return []
    corr = auc.corr(method="pearson")  # pairwise over the labels both runs score
    write_atomic(tables / f"histone_human_correlation{suffix}.csv", corr.to_csv())
    fig = Figure(layout="constrained", figsize=(1.6 * len(corr) + 2, 1.4 * len(corr) + 1.5))
    ax = fig.subplots()
    image = ax.imshow(corr.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(corr)), corr.columns, rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(len(corr)), corr.index, fontsize=7)
    for (i, j), value in np.ndenumerate(corr.to_numpy()):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="Pearson r of per-label AUC")
    return save_figure(fig, out, f"fig5e_correlation{suffix}")


def draw_histone_figures(runs: pd.DataFrame, out: Path, tables: Path) -> list[Path]:
    paths = fig5a_attention(out)
    done = runs[(runs["task"] == "histone_human") & (runs["status"] == "completed")]
    for setup, part in done.groupby("setup"):
        suffix = figure_suffix(setup)
        auc = per_label_auc(part)
        paths += fig5b_curves(part, out, suffix)
        paths += fig5cd_scatter(auc, out, suffix)
        paths += fig5e_correlation(auc, out, tables, suffix)
    if done.empty:
        log.info("Fig 5b-e: no histone_human runs to draw them from")
    return paths
