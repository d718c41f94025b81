"""``make tables`` / ``python -m lingo.report``: run directories -> tables and figures."""

import argparse
import logging
import os
import sys
from pathlib import Path

import pandas as pd

from lingo.errors import LingoError
from lingo.report.figures import ars_vs_lingo, draw_figures
from lingo.report.histone import draw_histone_figures
from lingo.report.runs import collect_runs
from lingo.report.tables import SPECS, aggregate, problems, write_table
from lingo.report.wandb_io import fetch_runs, log_report
from lingo.results import write_atomic

log = logging.getLogger("lingo.report")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lingo.report", description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("outputs"),
                        help="folder searched for run directories (default: outputs)")
    parser.add_argument("--out", type=Path, default=Path("outputs"),
                        help="writes <out>/tables and <out>/figures (default: outputs)")
    parser.add_argument("--source", choices=("runs", "wandb"), default="runs",
                        help="runs: run directories under --results; wandb: a W&B project")
    parser.add_argument("--wandb", choices=("offline", "online", "disabled"),
                        default=os.environ.get("WANDB_MODE", "offline"),
                        help="the W&B run of job type 'tables' (default: $WANDB_MODE, "
                             "else offline)")
    return parser.parse_args(argv)


def report(args: argparse.Namespace) -> None:
    if args.source == "wandb":
        runs = fetch_runs(os.environ.get("WANDB_PROJECT", "lingo"),
                          os.environ.get("WANDB_ENTITY"))
    elif not args.results.is_dir():
        raise LingoError(f"{args.results} is not a folder; set RESULTS=<folder holding runs>")
    else:
        runs = collect_runs(args.results)
    counts = runs["status"].value_counts().to_dict()
    print(f"{len(runs)} runs under {args.results}: "
          + ", ".join(f"{n} {status}" for status, n in counts.items()))
    tabulated = {task for spec in SPECS for task in spec.tasks}
    other = runs[~runs["task"].isin(tabulated)]
    if not other.empty:  # a custom GUE folder, the demo: in no table of the paper
        tasks = ", ".join(sorted(map(str, set(other["task"]))))
        print(f"{len(other)} runs of tasks in no table ({tasks}): read their run directories")
    tables_dir, figures_dir = args.out / "tables", args.out / "figures"
    tables = {}
    for spec in SPECS:
        tables[spec.name] = aggregate(spec, runs)
        write_table(tables[spec.name], problems(runs, spec), spec, tables_dir)
    s2 = tables["table_s2"]
    tests = [ars_vs_lingo(cells).assign(setup=setup) for setup, cells in s2.groupby("setup")]
    write_atomic(tables_dir / "fig4_ttest.csv", pd.concat(tests).to_csv(index=False))
    figures = draw_figures(tables, figures_dir) + draw_histone_figures(runs, figures_dir,
                                                                       tables_dir)
    print(f"tables: {tables_dir}/{{{','.join(s.name for s in SPECS)}}}.{{md,csv,tex}}")
    print(f"figures: {len({p.stem for p in figures})} in {figures_dir}")
    if args.wandb != "disabled":
        where = log_report(tables, figures, args.out, args.wandb, str(args.results))
        print(f"W&B {args.wandb} run (job type tables): {where}")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        report(parse_args(argv))
    except LingoError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
