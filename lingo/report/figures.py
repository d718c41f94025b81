"""The paper's figures from the aggregated cells: Pareto plots (Fig 2, 3), ARS-vs-Lingo radar
charts with the paired t-test and per-method averages and top-2 counts (Fig 4)."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from scipy import stats

from lingo.methods import METHODS as UNITS
from lingo.report.paper import BASELINES, METHODS, PAPER_TTEST_P, TASK_NAMES, model_label
from lingo.report.runs import figure_suffix

log = logging.getLogger(__name__)

PEFT_METHODS = [name for name in METHODS if UNITS[name].adapter]
COLORS = dict(zip(METHODS, colormaps["tab10"].colors, strict=False))


def parse_count(text: object) -> float:
    """The paper's printed counts ("1.6M", "125M") as numbers."""
    if not isinstance(text, str) or not text:
        return np.nan
    scale = {"k": 1e3, "M": 1e6, "B": 1e9}.get(text[-1], 1.0)
    return float(text.rstrip("kMB")) * scale


def pareto_front(params: np.ndarray, metric: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats with fewer or equal parameters."""
    order = np.lexsort((-metric, params))
    front, best = [], -np.inf
    for i in order:
        if metric[i] > best:
            front.append(i)
            best = metric[i]
    return np.array(front, dtype=int)


def _baselines(ax, cells: pd.DataFrame) -> None:
    """The classical baselines of the same task, as dashed levels (they have no adapter)."""
    for _, p in cells[cells["model"].isin(list(BASELINES)) & (cells["n"] > 0)].iterrows():
        ax.axhline(p["mean"], linestyle="--", color="grey", linewidth=1)
        ax.annotate(model_label(p["model"]), (0.01, p["mean"]), xycoords=("axes fraction",
                    "data"), fontsize=7, color="grey", va="bottom")


def _pareto(ax, cells: pd.DataFrame, label_of, title: str, ylabel: str) -> None:
    """Ours filled, the paper's hollow; each side's front dotted; baselines dashed."""
    _baselines(ax, cells)
    cells = cells[~cells["model"].isin(list(BASELINES))]
    for side, value, count, filled in (("ours", "mean", "params", True),
                                       ("paper", "paper", "paper_count", False)):
        points = cells.dropna(subset=[value, count])
        if points.empty:
            continue
        for _, p in points.iterrows():
            color = COLORS.get(p["row"], "grey")
            ax.scatter(p[count], p[value], s=40, color=color if filled else "none",
                       edgecolors=color, label=f"{label_of(p)} ({side})")
        front = points.iloc[pareto_front(points[count].to_numpy(), points[value].to_numpy())]
        ax.plot(front[count], front[value], ":", color="black" if filled else "grey")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=6)


def _task_with_runs(cells: pd.DataFrame, wanted: str) -> str | None:
    """The paper's task for a figure, else the first task of the table that has runs."""
    with_runs = cells[cells["n"] > 0]["task"]
    if wanted in set(with_runs):
        return wanted
    return next(iter(with_runs), None)


def save_figure(fig: Figure, out: Path, name: str) -> list[Path]:
    """PNG (for the README and W&B) and PDF (for a paper)."""
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path, bbox_inches="tight", dpi=150)
    return paths


def _panels(tables: dict[str, pd.DataFrame], setup: str, wanted: dict[str, str]):
    """(cells of one task, task, metric label) for each table with runs in this setup."""
    for name, task in wanted.items():
        cells = tables[name][tables[name]["setup"] == setup]
        chosen = _task_with_runs(cells, task)
        if chosen is not None:
            yield cells[cells["task"] == chosen], chosen, "MCC" if name == "table_s2" else "AUC"


def fig2_fmft_pareto(tables, setup, out, suffix) -> list[Path]:
    panels = [(c[c["row"].isin(["fmft", "none"])], t, m) for c, t, m in
              _panels(tables, setup, {"table_s2": "h3", "table_s3": "prom_tata"})]
    panels = [p for p in panels if (p[0][p[0]["row"] == "fmft"]["n"] > 0).any()]
    if not panels:
        return []
    fig = Figure(layout="constrained", figsize=(6 * len(panels), 4.5))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (cells, task, metric) in zip(axes[0], panels, strict=True):
        _pareto(ax, cells, lambda p: model_label(p["model"]),
                f"FMFT: {metric} on {TASK_NAMES.get(task, task)}", f"test {metric}")
    return save_figure(fig, out, f"fig2_fmft_pareto{suffix}")


def fig3_method_pareto(tables, setup, out, suffix) -> list[Path]:
    panels = list(_panels(tables, setup, {"table_s3": "prom_tata", "table_s2": "h4"}))
    models = sorted({m for c, _, _ in panels for m in c[c["n"] > 0]["model"]} - set(BASELINES))
    if not models:
        return []
    fig = Figure(layout="constrained", figsize=(6 * len(panels), 4.2 * len(models)))
    axes = fig.subplots(len(models), len(panels), squeeze=False)
    for row, model in enumerate(models):
        for ax, (cells, task, metric) in zip(axes[row], panels, strict=True):
            _pareto(ax, cells[cells["model"].isin([model, *BASELINES])],
                    lambda p: METHODS.get(p["row"], p["row"]),
                    f"{model_label(model)}: {metric} on {TASK_NAMES.get(task, task)}",
                    f"test {metric}")
    return save_figure(fig, out, f"fig3_method_pareto{suffix}")


def ars_vs_lingo(s2: pd.DataFrame) -> pd.DataFrame:
    """Per model: the one-sided paired t-test of Lingo > ARS over the yeast tasks both ran."""
    rows = []
    for model, cells in s2[s2["n"] > 0].groupby("model"):
        pivot = cells.pivot_table(index="task", columns="row", values="mean")
        if not {"ars", "lingo"} <= set(pivot.columns):
            continue
        pairs = pivot[["ars", "lingo"]].dropna()
        p = (stats.ttest_rel(pairs["lingo"], pairs["ars"], alternative="greater").pvalue
             if len(pairs) >= 2 else np.nan)
        rows.append({"model": model, "tasks": len(pairs), "ars_mean": pairs["ars"].mean(),
                     "lingo_mean": pairs["lingo"].mean(), "p_value": p,
                     "paper_p_value": PAPER_TTEST_P.get(model, np.nan)})
    return pd.DataFrame(rows)


def fig4_radar(tables, setup, out, suffix) -> list[Path]:
    s2 = tables["table_s2"][tables["table_s2"]["setup"] == setup]
    tests = ars_vs_lingo(s2)
    tests = tests[tests["tasks"] >= 3] if not tests.empty else tests  # a radar needs 3 axes
    if tests.empty:
        return []
    fig = Figure(layout="constrained", figsize=(5 * len(tests), 5))
    axes = fig.subplots(1, len(tests), squeeze=False, subplot_kw={"projection": "polar"})
    for ax, test in zip(axes[0], tests.itertuples(), strict=True):
        pivot = s2[s2["model"] == test.model].pivot_table(index="task", columns="row",
                                                         values="mean")[["ars", "lingo"]].dropna()
        angles = np.linspace(0, 2 * np.pi, len(pivot), endpoint=False)
        for method in ("ars", "lingo"):
            values = pivot[method].to_numpy()
            ax.plot(np.append(angles, angles[0]), np.append(values, values[0]),
                    color=COLORS[method], label=METHODS[method])
            ax.fill(angles, values, color=COLORS[method], alpha=0.15)
        ax.set_xticks(angles, [TASK_NAMES.get(t, t) for t in pivot.index], fontsize=7)
        paper = "" if np.isnan(test.paper_p_value) else f" (paper {test.paper_p_value:.3f})"
        ax.set_title(f"{model_label(test.model)}: MCC, Lingo > ARS p = {test.p_value:.3f}{paper}",
                     fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, out, f"fig4_radar{suffix}")


def fig4_average(tables, setup, out, suffix) -> list[Path]:
    """Average metric per method and model, per task family (ours; the paper's hatched)."""
    panels = [(n, tables[n][tables[n]["setup"] == setup]) for n in ("table_s2", "table_s3")]
    panels = [(n, c) for n, c in panels if (c["n"] > 0).any()]
    if not panels:
        return []
    fig = Figure(layout="constrained", figsize=(7 * len(panels), 4.5))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (name, cells) in zip(axes[0], panels, strict=True):
        models = [m for m in dict.fromkeys(cells["model"]) if (cells[cells["model"] == m]["n"] > 0)
                  .any()]
        means = cells.groupby(["model", "row"])[["mean", "paper"]].mean()
        width = 0.8 / len(METHODS)
        for j, method in enumerate(METHODS):
            for k, (column, hatch) in enumerate((("mean", None), ("paper", "//"))):
                heights = [means[column].get((m, method), np.nan) for m in models]
                x = np.arange(len(models)) + (j - len(METHODS) / 2) * width + k * width / 2
                ax.bar(x, heights, width / 2, color=COLORS[method], hatch=hatch,
                       alpha=0.5 if hatch else 1.0,
                       label=f"{METHODS[method] if method != 'none' else 'baseline'}"
                             f"{' (paper)' if hatch else ''}")
        ax.set_xticks(np.arange(len(models)), [model_label(m) for m in models])
        ax.set_ylabel(f"average test {'MCC' if name == 'table_s2' else 'AUC'}")
        ax.set_title("Histone (Yeast)" if name == "table_s2" else "Promoter (Human)")
        ax.legend(fontsize=6, ncol=2)
    return save_figure(fig, out, f"fig4_average{suffix}")


def top2_counts(cells: pd.DataFrame, column: str) -> pd.Series:
    """How often each PEFT method is among the two best of its model on a task."""
    peft = cells[cells["row"].isin(PEFT_METHODS)].dropna(subset=[column])
    ranks = peft.groupby(["model", "task"])[column].rank(ascending=False, method="min")
    return peft[ranks <= 2]["row"].value_counts().reindex(PEFT_METHODS, fill_value=0)


def fig4_top2(tables, setup, out, suffix) -> list[Path]:
    cells = pd.concat([tables[n][tables[n]["setup"] == setup] for n in ("table_s2", "table_s3")])
    ours = top2_counts(cells[cells["n"] > 0], "mean")
    if ours.sum() == 0:
        return []
    paper = top2_counts(cells.drop_duplicates(["model", "row", "task"]), "paper")
    fig = Figure(layout="constrained", figsize=(6, 4))
    ax = fig.subplots()
    x = np.arange(len(PEFT_METHODS))
    ax.bar(x - 0.2, ours, 0.4, label="ours")
    ax.bar(x + 0.2, paper, 0.4, label="paper", alpha=0.6)
    ax.set_xticks(x, [METHODS[m] for m in PEFT_METHODS])
    ax.set_ylabel("times among the top 2 of its model (tasks × models)")
    ax.legend()
    return save_figure(fig, out, f"fig4_top2{suffix}")


FIGURES = (fig2_fmft_pareto, fig3_method_pareto, fig4_radar, fig4_average, fig4_top2)


def draw_figures(tables: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """Every figure the runs allow, per setup (``_reduced`` etc. in the name when not full)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("table_s2", "table_s3"):
        tables[name] = tables[name].assign(paper_count=tables[name]["paper_params"].map(
            parse_count))
    setups = dict.fromkeys(s for t in tables.values() for s in t[t["n"] > 0]["setup"])
    paths = []
    for setup in setups:
        suffix = figure_suffix(setup)
        for figure in FIGURES:
            drawn = figure(tables, setup, out, suffix)
            if not drawn:
                log.info("%s%s: no runs to draw it from", figure.__name__, suffix)
            paths += drawn
    return paths
