"""W&B for the report: the tables and figures as a run of job type ``tables`` (offline by
default, like training runs), and the training runs of a W&B project as a results source."""

import os
from pathlib import Path

import pandas as pd

from lingo.errors import LingoError
from lingo.report.runs import runs_frame
from lingo.results import config_identity


def log_report(tables: dict[str, pd.DataFrame], figures: list[Path], out: Path, mode: str,
               results: str) -> str:
    """Log every table (one row per cell) and every PNG figure; returns where the run went."""
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(project=os.environ.get("WANDB_PROJECT", "lingo"),
                     entity=os.environ.get("WANDB_ENTITY"), job_type="tables", name="tables",
                     dir=str(out), mode=mode, config={"results": results})
    logged = {name: wandb.Table(dataframe=cells.astype(object).where(cells.notna(), None))
              for name, cells in tables.items()}
    logged |= {path.stem: wandb.Image(str(path)) for path in figures if path.suffix == ".png"}
    run.log(logged)
    run.finish()
    return str(Path(run.dir).parent) if mode == "offline" else run.url


def fetch_runs(project: str, entity: str | None) -> pd.DataFrame:
    """The training runs of a W&B project, as rows like those read from run directories."""
    if os.environ.get("WANDB_MODE", "offline") != "online" or not os.environ.get(
            "WANDB_API_KEY"):
        raise LingoError(
            "SOURCE=wandb reads runs from the W&B server: set WANDB_MODE=online and "
            "WANDB_API_KEY (offline runs are uploaded first with `wandb sync DIR`), or use "
            "RESULTS=<folder of run directories>")
    import wandb

    try:
        found = wandb.Api(timeout=30).runs(f"{entity}/{project}" if entity else project,
                                           filters={"jobType": "train"})
        rows = []
        for run in found:
            row = {**config_identity(run.config), "variant": run.config.get("variant")}
            row |= {k: v for k, v in run.summary.items() if not k.startswith("_")}
            row.setdefault("status", "failed" if run.state in ("failed", "crashed")
                           else "incomplete")
            row["run_dir"] = run.url
            rows.append(row)
    except Exception as err:  # network, credentials, unknown project: one line
        raise LingoError(f"cannot read runs of the W&B project {project!r}: {err}") from err
    return runs_frame(rows)
