"""A completed run directory as lingo-predict reads it: its config, metrics, tokenizer and
adapter type, and the output columns' names."""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from lingo.config import (
    BASELINE_ARCHES,
    LingoConfig,
    register_configs,
    without_removed_options,
)
from lingo.errors import LingoError
from lingo.results import CONFIG, METRICS, PER_LABEL, read_metrics

if TYPE_CHECKING:
    from lingo.tokenization import DNATokenizer

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
BASELINE_FILES = {"cnn": ("cnn.json", "model.safetensors"), "kmer_lr": ("kmer_lr.joblib",)}


@dataclass
class Run:
    path: Path
    cfg: DictConfig
    metrics: dict[str, Any]
    peft_type: str | None  # LORA, ADALORA, ... from model/adapter_config.json; None: full model
    tokenizer: "DNATokenizer | None"  # None: a classical baseline (it reads bases itself)
    column: str = ""  # the output columns' prefix (the task, or task:dir when ambiguous)
    group_key: tuple = field(default=())  # set by lingo.predict.groups.group_runs

    @property
    def task(self) -> str:
        return str(self.metrics.get("task") or self.cfg.task.name)

    @property
    def baseline(self) -> str | None:
        """``cnn`` or ``kmer_lr`` for a classical baseline; None for a language model."""
        arch = str(self.cfg.model.arch)
        return arch if arch in BASELINE_ARCHES else None

    @property
    def num_labels(self) -> int:
        return int(self.metrics.get("num_labels") or self.cfg.task.num_labels)

    @property
    def multi_label(self) -> bool:
        """One sigmoid per label (DeepSEA's histone marks): the run wrote per-label vectors."""
        return (self.path / PER_LABEL).is_file()

    @property
    def sequence_length(self) -> int | None:
        value = self.metrics.get("sequence_length")
        return int(value) if value else None


def load_run(path: Path) -> Run:
    """A completed run (a language model's, with its tokenizer built, or a baseline's): its
    config read against the schema; a LingoError says why a directory cannot predict."""
    from lingo.tokenization import build_tokenizer

    path = Path(path)
    if not path.is_dir():
        raise LingoError(f"--run {path}: no such directory")
    metrics = read_metrics(path)
    if not metrics or metrics.get("status") != "completed":
        state = f"has no {METRICS}" if not metrics else f"has status {metrics.get('status')!r}"
        raise LingoError(f"--run {path} {state}: only a completed run can predict (train it "
                         "to the end first, or point --run at the run directory itself)")
    model_dir = path / "model"
    if not (path / CONFIG).is_file() or not model_dir.is_dir():
        raise LingoError(f"--run {path} lacks {CONFIG} or model/: not a complete run directory")
    register_configs()
    try:
        recorded = without_removed_options(OmegaConf.to_container(OmegaConf.load(path / CONFIG)))
        cfg = OmegaConf.merge(OmegaConf.structured(LingoConfig), recorded)
    except Exception as err:
        raise LingoError(f"--run {path}: {CONFIG} does not match the config schema "
                         f"({type(err).__name__}: {str(err).splitlines()[0]})") from None
    if cfg.model.arch in BASELINE_ARCHES:
        needed = BASELINE_FILES[cfg.model.arch]
        missing = [name for name in needed if not (model_dir / name).is_file()]
        if missing:
            raise LingoError(f"--run {path}: model/ lacks {missing[0]}: not a complete "
                             f"model={cfg.model.name} run")
        return Run(path, cfg, metrics, None, None)
    adapter = model_dir / ADAPTER_CONFIG
    peft_type = json.loads(adapter.read_text()).get("peft_type") if adapter.is_file() else None
    if peft_type is None and not (model_dir / "config.json").is_file():
        raise LingoError(f"--run {path}: model/ holds neither a PEFT adapter nor a full model")
    tokenizer = build_tokenizer(cfg.tokenizer, cfg.model, cfg.method.prompt)
    run = Run(path, cfg, metrics, peft_type, tokenizer)
    if run.sequence_length is None:
        log.warning("%s: metrics.json has no sequence_length (an older run); sequences are "
                    "scored whole (truncated by the tokenizer), not windowed", path)
    return run


def load_runs(run_dirs: list[Path]) -> list[Run]:
    """Every ``--run`` loaded and given its output name; a directory given twice is refused."""
    resolved = [Path(p).resolve() for p in run_dirs]
    twice = {str(p) for p in resolved if resolved.count(p) > 1}
    if twice:
        raise LingoError(f"--run {sorted(twice)[0]} is given twice")
    runs = [load_run(Path(p)) for p in run_dirs]
    name_columns(runs)
    return runs


def name_columns(runs: list[Run]) -> None:
    """``<task>``; two runs on one task: ``<task>:<run dir name>`` (then ``:<n>`` if needed)."""
    tasks = [r.task for r in runs]
    for run in runs:
        run.column = run.task if tasks.count(run.task) == 1 else f"{run.task}:{run.path.name}"
    columns = [r.column for r in runs]
    for i, run in enumerate(runs):
        if columns.count(run.column) > 1:
            run.column = f"{run.column}:{i + 1}"
