"""Tables S2, S3 and 1 from run directories: ours (mean ± sd over seeds) beside the paper's."""

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lingo.methods import METHODS as UNITS
from lingo.report.paper import (
    BASELINES,
    METHODS,
    MODELS,
    PROMOTER_TASKS,
    TASK_NAMES,
    TOKENIZERS,
    YEAST_TASKS,
    model_label,
    paper_cells,
)
from lingo.report.runs import SETUP_LABELS, mark_duplicates, setup_label, split_setup
from lingo.results import write_atomic

ADAPTIVE = [name for name, unit in UNITS.items() if unit.adaptive]  # counted at budget
SAMPLING = [name for name, unit in UNITS.items() if unit.samples]  # record sampling_events
KEYS = ["setup", "model", "row", "task"]


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    metric: str  # reported on the test split
    tasks: tuple[str, ...]
    row: str  # what tells a table's rows apart within a model: "method" or "tokenizer"

    def select(self, runs: pd.DataFrame) -> pd.DataFrame:
        """Table S2/S3: the model's own tokenizer; Table 1: Lingo, every tokenizer. OPT's own
        tokenizer is GPT-2's byte-level BPE: its Lingo runs (Table S3's) are Table 1's BBPE
        cells, one computation; a seed run both ways counts once."""
        runs = runs[runs["task"].isin(self.tasks)]
        if self.row != "tokenizer":
            return runs[(runs["tokenizer"] == "native") | runs["model"].isin(list(BASELINES))]
        runs = runs[runs["method"] == "lingo"].copy()
        if "arch" in runs:
            own_bpe = (runs["tokenizer"] == "native") & (runs["arch"] == "opt")
            runs.loc[own_bpe, "tokenizer"] = "bbpe"
        return mark_duplicates(runs[runs["tokenizer"] != "native"].copy())  # DNA models: S3


SPECS = (
    TableSpec("table_s2", "Table S2: MCC on the yeast histone tasks (GUE EMP)", "mcc",
              YEAST_TASKS, "method"),
    TableSpec("table_s3", "Table S3: AUC on the human promoter tasks (GUE prom_300)", "auc",
              PROMOTER_TASKS, "method"),
    TableSpec("table1", "Table 1: Lingo's AUC with BBPE vs one-hot tokens", "auc",
              PROMOTER_TASKS, "tokenizer"),
    TableSpec("histone_human", "Histone (Human), DeepSEA: macro AUC over the 104 histone labels"
              " (labels with one class in the test split left out)", "auc", ("histone_human",),
              "method"),
)


def _runs_params(runs: pd.DataFrame) -> pd.Series:
    """Ours: the parameter count at the final budget for adaptive methods, else trainable."""
    trainable = runs.get("trainable_params", pd.Series(math.nan, index=runs.index))
    at_budget = runs.get("params_at_budget", pd.Series(math.nan, index=runs.index))
    return at_budget.where(runs["method"].isin(ADAPTIVE) & at_budget.notna(), trainable)


def _joined(values: pd.Series) -> str:
    return ";".join(sorted({str(v) for v in values.dropna()}))


def aggregate(spec: TableSpec, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (setup, model, row, task): ours, the run counts, the paper's value, and
    where each number came from (the runs' directories, commits and precisions)."""
    runs = spec.select(runs).copy()
    runs["row"] = runs[spec.row]
    runs["value"] = runs.get(f"test/{spec.metric}", math.nan)
    runs["params"] = _runs_params(runs) if "trainable_params" in runs else math.nan
    for column in ("git_commit", "precision", "sampling_events", "sampling_events_selected"):
        if column not in runs:
            runs[column] = None
    # an ARS/Lingo run whose selected model saw no draw is AdaLoRA's (Table S1's delta_t)
    seen = runs["sampling_events_selected"].fillna(runs["sampling_events"])
    runs["no_sampling"] = runs["method"].isin(SAMPLING) & (seen == 0)
    done = runs[runs["status"] == "completed"]
    cells = done.groupby(KEYS).agg(
        mean=("value", "mean"), sd=("value", "std"), n=("value", "count"),
        params=("params", "mean"), no_sampling=("no_sampling", "sum"),
        run_dirs=("run_dir", _joined), commits=("git_commit", _joined),
        precisions=("precision", _joined))
    for status in ("failed", "skipped", "incomplete"):
        cells = cells.join(runs[runs["status"] == status].groupby(KEYS).size().rename(status),
                           how="outer")
    cells = cells.reset_index()
    paper = paper_cells(spec.name)
    setups = sorted(set(cells["setup"])) or ["full"]
    grid = pd.concat([paper.assign(setup=s) for s in setups])  # the paper's rows in every setup
    cells = cells.merge(grid, on=KEYS, how="outer")
    counts = ["n", "failed", "skipped", "incomplete", "no_sampling"]
    cells[counts] = cells[counts].fillna(0).astype(int)
    cells[["run_dirs", "commits", "precisions"]] = (
        cells[["run_dirs", "commits", "precisions"]].fillna(""))
    cells["diff"] = cells["mean"] - cells["paper"]
    rank = cells[cells["n"] > 0].groupby(["setup", "model", "task"])["mean"]
    cells["rank"] = rank.rank(ascending=False, method="min").where(rank.transform("size") > 1)
    cells["paper_rank"] = cells.groupby(["setup", "model", "task"])["paper"].rank(
        ascending=False, method="min")
    return _ordered(cells, spec)


def _order(values: pd.Series, known: dict[str, str]) -> pd.Series:
    position = {name: i for i, name in enumerate(known)}
    return values.map(lambda v: (position.get(v, len(position)), str(v)))


def _order_setups(setups: pd.Series) -> pd.Series:
    """Full data first, then the other setups; each setup's variants after it."""
    position = {name: i for i, name in enumerate(SETUP_LABELS)}

    def key(setup: str) -> tuple[int, str, str]:
        base, variant = split_setup(setup)
        return position.get(base, len(position)), base, variant

    return setups.map(key)


def _ordered(cells: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    models = {**MODELS, **dict.fromkeys(sorted(set(cells["model"]) - set(MODELS)
                                               - set(BASELINES))), **BASELINES}
    rows = METHODS if spec.row == "method" else TOKENIZERS
    tasks = {t: i for i, t in enumerate(spec.tasks)}
    sort = pd.DataFrame({
        "setup": _order_setups(cells["setup"]), "model": _order(cells["model"], models),
        "row": _order(cells["row"], rows), "task": cells["task"].map(tasks)})
    return cells.loc[sort.sort_values(["setup", "model", "row", "task"]).index].reset_index(
        drop=True)


def human_count(count: float) -> str:
    """Parameter counts the way the paper prints them: 1.1M, 125M, 12.3k."""
    if count is None or pd.isna(count):
        return "—"
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if count >= scale:
            value = count / scale
            return f"{value:.0f}{unit}" if value >= 100 else f"{value:.1f}{unit}"
    return f"{count:.0f}"


def format_cell(cell: pd.Series) -> str:
    """``ours ± sd [runs] / paper (ours − paper)``; — no run, n/a skipped, ✗ failed; ‡ runs
    that never sampled (ARS/Lingo), ◇ runs of different precisions."""
    broken = cell["failed"] + cell["incomplete"]
    if cell["n"] > 0:
        ours = f"{cell['mean']:.3f}"
        if cell["rank"] in (1, 2):
            ours = ("**%s**", "*%s*")[int(cell["rank"]) - 1] % ours
        sd = "" if pd.isna(cell["sd"]) else f"±{cell['sd']:.3f}"
        ours = f"{ours}{sd} [{cell['n']}]" + (f" †{broken}" if broken else "")
        ours += f" ‡{cell['no_sampling']}" if cell.get("no_sampling", 0) else ""
        ours += " ◇" if ";" in str(cell.get("precisions", "")) else ""
    elif broken:
        ours = f"✗ [{broken}]"
    else:
        ours = "n/a" if cell["skipped"] else "—"
    if pd.isna(cell["paper"]):
        return ours
    diff = "" if pd.isna(cell["diff"]) else f" ({cell['diff']:+.3f})"
    return f"{ours} / {cell['paper']:.3f}{diff}"


LEGEND = ("Each cell: ours, mean ± sd over seeds on the test split [runs] / the paper's value "
          "(ours − paper). Bold, italic: our best and second best per model. — no run; n/a: "
          "not run by design (skipped); ✗ failed or unfinished runs, † with that many failed "
          "seeds (both listed below); ‡ with that many ARS/Lingo runs that never sampled a mask "
          "(AdaLoRA in effect: method.delta_t=auto samples); ◇ runs of different precisions "
          "(the CSV lists each cell's run directories, commits and precisions). Parameters: "
          "ours at the final budget for AdaLoRA/ARS/Lingo,"
          " trainable otherwise; the paper's as printed (see the paper's caveats). Runs with "
          "overrides of their own form a block of their own, its heading naming them, never "
          "seeds of the defaults' cells; a second run of a cell and seed counts once (listed "
          "below).")


def wide(cells: pd.DataFrame, spec: TableSpec, setup: str) -> pd.DataFrame:
    """The printed layout of one setup: a row per (model, method or tokenizer), a column per
    task."""
    part = cells[cells["setup"] == setup]
    rows = []
    for (model, row), group in part.groupby(["model", "row"], sort=False):
        by_task = {c["task"]: format_cell(c) for _, c in group.iterrows()}
        rows.append({
            "Model": model_label(model),
            "Method" if spec.row == "method" else "Tokens":
                (METHODS if spec.row == "method" else TOKENIZERS).get(row, row),
            "Params (ours)": human_count(group["params"].mean()),
            "Params (paper)": next(iter(group["paper_params"].dropna()), "—"),
            **{TASK_NAMES.get(t, t): by_task.get(t, "—") for t in spec.tasks},
        })
    return pd.DataFrame(rows)


def problems(runs: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Failed and unfinished runs behind a table: which job, and why."""
    part = spec.select(runs)
    return part[part["status"].isin(["failed", "incomplete", "duplicate"])][
        ["setup", "model", spec.row, "task", "seed", "status", "error", "run_dir"]]


TEX = {"_": r"\_", "%": r"\%", "&": r"\&", "—": "---", "±": r"$\pm$", "†": r"$^\dagger$",
       "✗": r"$\times$", "−": "-", "‡": r"$^\ddagger$", "◇": r"$^\diamond$"}


def _tex(text: object) -> str:
    """A markdown cell as LaTeX: **best** and *second* become \\textbf and \\textit."""
    text = "".join(TEX.get(char, char) for char in str(text))
    text = re.sub(r"\*\*(.+?)\*\*", r"\\textbf{\1}", text)
    return re.sub(r"\*(.+?)\*", r"\\textit{\1}", text)


def write_table(cells: pd.DataFrame, failures: pd.DataFrame, spec: TableSpec, out: Path) -> None:
    """``<name>.csv`` (one line per cell), ``<name>.md`` and ``<name>.tex`` (a block per setup)."""
    write_atomic(out / f"{spec.name}.csv", cells.to_csv(index=False))
    md, tex = [f"# {spec.title}", "", LEGEND], []
    for setup in dict.fromkeys(cells["setup"]):
        printed = wide(cells, spec, setup)
        # the cells as written: tabulate would re-read numbers (0.810 as 0.81)
        md += ["", f"## {setup_label(setup)}", "",
               printed.to_markdown(index=False, disable_numparse=True)]
        columns = [_tex(c) for c in printed.columns]
        body = [" & ".join(_tex(v) for v in row) + r" \\" for row in printed.itertuples(False)]
        tex += [f"% {spec.title}: {setup_label(setup)}",
                r"\begin{tabular}{" + "l" * len(columns) + "}", r"\toprule",
                " & ".join(columns) + r" \\", r"\midrule", *body, r"\bottomrule",
                r"\end{tabular}", ""]
    if not failures.empty:
        md += ["", "## Failed, unfinished or duplicate runs", ""]
        md += [f"- `{r.run_dir}` ({r.status}): {str(r.error).splitlines()[0][:300]}"
               for r in failures.itertuples()]
    write_atomic(out / f"{spec.name}.md", "\n".join(md) + "\n")
    write_atomic(out / f"{spec.name}.tex", "\n".join(tex))
