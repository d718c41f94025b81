"""One run, start to finish: data -> tokens -> model -> method -> training -> run directory."""

import logging
import shutil
from pathlib import Path
from typing import Any

from datasets import disable_progress_bars, enable_progress_bars
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from transformers import set_seed
from transformers.utils.logging import disable_progress_bar, enable_progress_bar

from lingo.baselines import BASELINE_ARCHES, run_baseline
from lingo.config import validate
from lingo.data import TaskData, load_task
from lingo.data.fingerprint import files_fingerprint
from lingo.flops import run_step_flops
from lingo.methods import RunContext, get_method
from lingo.models import build_model, count_parameters
from lingo.models.build import check_available, check_positions, resolve_arch
from lingo.results import (
    CONFIG,
    DATA_FILES,
    DEV_PREDICTIONS,
    METRICS,
    PER_LABEL,
    PREVIEW,
    TEST_PREDICTIONS,
    config_identity,
    git_commit,
    job_variant,
    read_metrics,
    save_predictions,
    write_atomic,
    write_json,
)
from lingo.same_run import check_same_run
from lingo.tokenization import build_tokenizer, tokenize_split
from lingo.tokenization.dataset import report_lengths, token_lengths
from lingo.tokenization.registry import tokenizer_class
from lingo.training.callbacks import HistoryCallback, RunStateCallback
from lingo.training.checkpoints import last_complete_checkpoint
from lingo.training.collator import PadCollator
from lingo.training.distributed import is_main_process
from lingo.training.dynamics import DynamicsCallback
from lingo.training.loggers import RunLogger
from lingo.training.trainer import early_stopping, train_and_evaluate, training_arguments

log = logging.getLogger(__name__)


def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    validate(cfg)
    # names without an Enum: a method or a tokenizer is a module, and its registry the list
    method_unit = get_method(cfg.method.name)
    tokenizer_class(cfg.tokenizer.name)
    # the Trainer's bars, and those of saving a model or a split (for the process: set per job)
    if cfg.trainer.progress_bar:
        enable_progress_bar()
        enable_progress_bars()
    else:
        disable_progress_bar()
        disable_progress_bars()
    checkpoint_dir = run_dir / "checkpoints"
    main = is_main_process()  # under torchrun, rank 0 alone writes the run directory
    resume_from = last_complete_checkpoint(checkpoint_dir, remove_incomplete=main)
    done = read_metrics(run_dir)
    completed = bool(done) and done.get("status") == "completed"
    if completed or resume_from is not None:
        check_same_run(cfg, run_dir)
    if completed:
        log.info("already completed: %s (delete it to train again)", run_dir / METRICS)
        return done
    check_available(cfg.model)  # before the data is read and tokenized
    if main:
        write_atomic(run_dir / CONFIG, OmegaConf.to_yaml(cfg, resolve=True))
    set_seed(cfg.seed)
    data = load_task(cfg.task, cfg.seed)
    if main:
        write_json(run_dir / DATA_FILES, files_fingerprint(data.files, Path(cfg.cache_dir)))
    if cfg.model.arch in BASELINE_ARCHES:  # k-mer LR, CNN: no tokens, no method (lingo/baselines)
        with RunLogger(cfg.logger, run_dir, run_name(cfg), logged_config(cfg)) as logger:
            return record_result(cfg, run_dir, data, logger, **run_baseline(cfg, data, run_dir))
    tokenizer = build_tokenizer(cfg.tokenizer, cfg.model, cfg.method.prompt)
    splits = {"train": data.train, "dev": data.dev, "test": data.test}
    datasets = {k: tokenize_split(s, tokenizer, Path(cfg.cache_dir)) for k, s in splits.items()}
    report_lengths(datasets, splits, tokenizer)
    if main:
        write_atomic(
            run_dir / PREVIEW,
            "".join(
                f"--- train input {i} (label {shown_label(row['labels'])}, "
                f"{len(row['input_ids'])} tokens)\n"
                f"{tokenizer.preview(row['input_ids'])}\n"
                for i, row in enumerate(datasets["train"].select(range(min(3, len(data.train)))))
            ),
        )

    net = build_model(cfg.model, data.num_labels, tokenizer.vocab_size, tokenizer.pad_token_id,
                      cfg.seed, multi_label=data.multi_label)
    arch = resolve_arch(cfg.model.arch, net.config)  # auto: from the loaded model_type
    lengths = {k: token_lengths(ds) for k, ds in datasets.items()}
    check_positions(net, cfg.model, arch, int(max(n.max() for n in lengths.values())))
    method = method_unit(cfg.method, RunContext(
        arch=arch, seed=cfg.seed, new_token_ids=tuple(tokenizer.new_token_ids),
        run_dir=run_dir, resume_from=resume_from, title=run_name(cfg)))
    net = method.wrap(net)
    trainable, total = count_parameters(net)
    log.info("%s + %s: %s trainable of %s parameters", cfg.model.name, cfg.method.name,
             f"{trainable:,}", f"{total:,}")

    if resume_from is not None:
        log.info("resuming from %s", resume_from)
    with RunLogger(cfg.logger if main else None, run_dir, run_name(cfg),
                   logged_config(cfg)) as logger:
        args = training_arguments(cfg.trainer, checkpoint_dir, cfg.seed,
                                  cfg.task.selection_metric, logger.report_to)
        step_flops = run_step_flops(net, lengths["train"], cfg.trainer.batch_size,
                                    cfg.trainer.grad_accum * args.world_size, cfg.seed)
        run_state = RunStateCallback(resume_from)
        callbacks = [HistoryCallback(run_dir, cfg.task.selection_split, step_flops),
                     DynamicsCallback(net, run_dir, logger.log_values), *logger.callbacks(),
                     *method.callbacks()]
        callbacks += early_stopping(cfg.trainer)  # null patience (the default): none
        callbacks.append(run_state)  # last: its marker completes a checkpoint
        collator = PadCollator(tokenizer.pad_token_id, tokenizer.attend_to_padding)
        trainer, outcome = train_and_evaluate(net, args, datasets, collator, callbacks,
                                              resume_from, cfg.task.selection_split,
                                              cfg.trainer.head_lr)
        trainer.save_model(str(run_dir / "model"))
        if not main:
            return {}
        ranks = method.summary(net, trainer.state.best_model_checkpoint, logger)

        # beside metrics.json, which is written last: a completed run has them all
        if outcome.test_logits is not None:  # for bootstrap intervals (scripts/validate.py)
            save_predictions(run_dir / TEST_PREDICTIONS, outcome.test_logits,
                             outcome.test_labels)
            save_predictions(run_dir / DEV_PREDICTIONS, outcome.dev_logits, outcome.dev_labels)
        if outcome.per_label is not None:  # multi-label: per-label vectors beside metrics.json
            write_json(run_dir / PER_LABEL, {
                "labels": data.label_names,
                **{f"test/{k}": v for k, v in outcome.per_label.items()}})
        metrics = record_result(
            cfg, run_dir, data, logger, test=outcome.test, dev=outcome.dev, arch=arch,
            best_step=outcome.best_step, steps=outcome.steps, world_size=trainer.args.world_size,
            precision="bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",  # as resolved
            trainable_params=trainable, **ranks, total_params=total,
            train_seconds=round(run_state.train_seconds, 2),
            **(step_flops.summary(outcome.steps) if step_flops else {}),
        )
    shutil.rmtree(checkpoint_dir, ignore_errors=True)  # the selected model is in model/
    return metrics


def shown_label(label: Any) -> str:
    """A class id as it is; a multi-label vector as the indices of its positive labels."""
    if isinstance(label, list):
        return f"positives {[j for j, v in enumerate(label) if v]} of {len(label)}"
    return str(label)


def record_result(cfg: DictConfig, run_dir: Path, data: TaskData, logger: RunLogger,
                  test: dict[str, float], dev: dict[str, float], arch: str | None = None,
                  **run: Any) -> dict[str, Any]:
    """A completed run's metrics.json (a language model's, or a classical baseline's), also
    sent to the logger: ``run`` holds best_step, steps, world_size, parameters, train_seconds;
    ``arch``, model.arch as resolved (auto: from the loaded model)."""
    metrics = {
        **{f"test/{k}": v for k, v in test.items()},
        **{f"dev/{k}": v for k, v in dev.items()},
        **run,
        "n_train": len(data.train),
        "n_dev": len(data.dev),
        "n_test": len(data.test),
        "sequence_length": data.sequence_length,  # bp, declared or the median: predict's window
        "num_labels": data.num_labels,
        **identity(cfg),
        "arch": arch or cfg.model.arch,
        "train_split": data.train_split,
        "selection_metric": cfg.task.selection_metric,
        "selection_split": cfg.task.selection_split,
        "legacy": cfg.legacy,
        "status": "completed",
    }
    write_json(run_dir / METRICS, metrics)
    logger.finish(metrics)
    return metrics


def run_variant() -> str:
    """This job's overrides beyond its cell's names (lingo.results.job_variant)."""
    return job_variant(HydraConfig.get()) if HydraConfig.initialized() else ""


def identity(cfg: DictConfig) -> dict[str, Any]:
    """What a result is: recorded in every metrics.json, completed or not."""
    return {**config_identity(cfg), "variant": run_variant(), "git_commit": git_commit()}


def logged_config(cfg: DictConfig) -> dict[str, Any]:
    """The config a W&B run holds: the resolved config and the variant, so that a run that
    never finished (no summary) still falls into the right block of the tables."""
    return {**OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), "variant": run_variant()}


def run_name(cfg: DictConfig) -> str:
    return f"{cfg.task.name}/{cfg.model.name}-{cfg.method.name}-{cfg.tokenizer.name}/s{cfg.seed}"
