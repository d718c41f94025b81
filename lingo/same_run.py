"""A run directory holds one run: its settings (config.yaml) and the data it read
(data_files.json). Resuming or reusing it with other settings or data is refused."""

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lingo.data.fingerprint import changed_files
from lingo.errors import LingoError
from lingo.results import CONFIG, DATA_FILES

log = logging.getLogger(__name__)


# Settings that do not change a result (a run may be resumed or reused with other values).
# task.paper_code: read by legacy=paper_code only, which resolves it into trainer.* and the rest
NOT_RESULT = ("logger", "cache_dir", "output_root", "trainer.progress_bar", "trainer.num_workers",
              "task.paper_code")


def _result_settings(config: dict) -> dict[str, Any]:
    """The settings as dotted keys (``trainer.lr``), less those that do not change a result."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(config, "")
    return {k: v for k, v in flat.items()
            if not any(k == n or k.startswith(f"{n}.") for n in NOT_RESULT)}


def check_same_run(cfg: DictConfig, run_dir: Path) -> None:
    """A run directory holds one configuration and the data it was made from: resuming or
    reusing it with another (say, a new data_dir after downloading the full data, or a split
    edited in place) would mix results, so it is refused."""
    _check_settings(cfg, run_dir)
    _check_data(run_dir, Path(cfg.cache_dir))


def _check_data(run_dir: Path, cache_dir: Path) -> None:
    """The files the run read are as they were; a run recorded before Lingo fingerprinted its
    data (no data_files.json) is not compared."""
    record = run_dir / DATA_FILES
    if not record.is_file():
        return
    changed = changed_files(json.loads(record.read_text()), cache_dir)
    if changed:
        raise LingoError(
            f"{run_dir} was made from other data: {', '.join(changed)}; delete that directory "
            "to start over, or set hydra.run.dir=<another folder>"
        )


def _check_settings(cfg: DictConfig, run_dir: Path) -> None:
    """The settings that change a result are those of the run; a setting that one side lacks
    (an option added to Lingo since the run was made) is not compared."""
    stored = run_dir / CONFIG
    if not stored.is_file():
        return
    before = _result_settings(OmegaConf.to_container(OmegaConf.load(stored)))
    now = _result_settings(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    changed = sorted(k for k in before.keys() & now.keys() if before[k] != now[k])
    if changed:
        shown = ", ".join(f"{k}: {before[k]!r} -> {now[k]!r}" for k in changed[:5])
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        raise LingoError(
            f"{run_dir} holds a run with other settings ({shown}{more}); "
            "delete that directory to start over, or set hydra.run.dir=<another folder>"
        )
    added = sorted(now.keys() - before.keys())
    if added:
        log.info("settings that %s does not record (newer options): %s", stored, ", ".join(added))
