"""Where a run's curves go besides its run directory: W&B (offline by default), CSV, or nothing."""

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from lingo.config import LoggerConfig
from lingo.training.callbacks import CsvLogCallback

log = logging.getLogger(__name__)


class RunLogger:
    """Starts the backend before training (so the Trainer's W&B callback reuses our run, with our
    config, group and a stable id that a resumed run continues), and closes it after."""

    def __init__(
        self, logger: LoggerConfig | None, run_dir: Path, name: str, config: dict[str, Any]
    ):
        """``logger=None``: log nothing (a DDP rank other than 0)."""
        logger = logger or LoggerConfig(name="none")
        self.logger = logger
        self.run_dir = run_dir
        self.run = None
        if logger.name == "wandb" and logger.mode != "disabled":
            self.run = self._start_wandb(name, config)

    def __enter__(self) -> "RunLogger":
        return self

    def __exit__(self, kind, error, trace) -> None:
        """A run that fails closes its W&B run as failed: left open, the next ``wandb.init`` in
        the process (the next job of a local sweep) would return it and log into it. A run
        stopped from outside (SLURM preemption's exit, Ctrl-C) is not a failure: it resumes."""
        if isinstance(error, Exception) and self.run is not None:
            self.run.summary.update({"status": "failed", "error": str(error)[:1000]})
            self.run.finish(exit_code=1)
            self.run = None

    @property
    def report_to(self) -> str:
        return "wandb" if self.run is not None else "none"

    def callbacks(self) -> list:
        return [CsvLogCallback(self.run_dir)] if self.logger.name == "csv" else []

    def _start_wandb(self, name: str, config: dict[str, Any]):
        import wandb

        os.environ["WANDB_MODE"] = self.logger.mode
        os.environ.setdefault("WANDB_SILENT", "true")
        run_id = hashlib.sha1(str(self.run_dir.resolve()).encode()).hexdigest()[:12]
        return wandb.init(
            project=self.logger.project,
            entity=self.logger.entity,
            group=self.logger.group,
            tags=list(self.logger.tags),
            job_type="train",
            name=name,
            id=run_id,
            resume="allow",
            dir=str(self.run_dir),
            config=config,
            mode=self.logger.mode,
        )

    def log_values(self, values: dict[str, float], step: int) -> None:
        """Values of a training step, on the Trainer's W&B x-axis (``train/global_step``)."""
        if self.run is not None:
            self.run.log({**values, "train/global_step": step})

    def log_files(self, images: dict[str, Path], tables: dict[str, Path]) -> None:
        """Images (PNG) and JSON-lines tables of the run directory, to W&B when it is on."""
        if self.run is None:
            return
        import wandb

        logged: dict[str, Any] = {k: wandb.Image(str(p)) for k, p in images.items() if p.is_file()}
        for key, path in tables.items():
            if path.is_file():
                rows = pd.read_json(path, lines=True)
                logged[key] = wandb.Table(dataframe=rows.astype(str))
        self.run.log(logged)

    def finish(self, summary: dict[str, Any]) -> None:
        if self.run is None:
            return
        if self.run.summary.get("error") is not None:  # an earlier attempt's, before a resume
            del self.run.summary["error"]
        self.run.summary.update({k: v for k, v in summary.items() if v is not None})
        self.run.finish()
        where = Path(self.run.dir).parent if self.logger.mode == "offline" else self.run.url
        log.info("W&B %s run: %s", self.logger.mode, where)
        if self.logger.mode == "offline":
            log.info("upload it later with: wandb sync %s", where)
