"""One run, start to finish: data -> tokens -> model -> method -> training -> run directory."""

import json
import logging
import shutil
import sys
import traceback
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NoReturn

from datasets import disable_progress_bars, enable_progress_bars
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from transformers import set_seed
from transformers.utils.logging import disable_progress_bar, enable_progress_bar

from lingo.baselines import BASELINE_ARCHES, run_baseline
from lingo.config import validate
from lingo.data import TaskData, load_task
from lingo.data.fingerprint import changed_files, files_fingerprint
from lingo.errors import (
    LingoError,
    NotRun,
    RunBusy,
    Unavailable,
    storage_errno,
    storage_error,
)
from lingo.flops import run_step_flops
from lingo.methods import apply_method
from lingo.methods.rank_report import (
    full_pattern,
    nonzero_pattern,
    plot_rank_pattern,
    rank_summary,
)
from lingo.models import build_model, count_parameters
from lingo.models.build import check_available, check_positions, resolve_arch
from lingo.results import (
    CONFIG,
    DATA_FILES,
    DEV_PREDICTIONS,
    LOCK,
    METRICS,
    PER_LABEL,
    PREVIEW,
    RANK_HISTORY,
    RANK_PATTERN,
    RANK_PLOT,
    TEST_PREDICTIONS,
    config_identity,
    git_commit,
    job_variant,
    read_metrics,
    run_lock,
    save_predictions,
    write_atomic,
    write_json,
)
from lingo.tokenization import build_tokenizer, tokenize_split
from lingo.tokenization.dataset import report_lengths, token_lengths
from lingo.training.callbacks import (
    AllocationCallback,
    HistoryCallback,
    RunStateCallback,
    load_allocator_state,
)
from lingo.training.checkpoints import last_complete_checkpoint
from lingo.training.collator import PadCollator
from lingo.training.distributed import is_main_process
from lingo.training.dynamics import DynamicsCallback
from lingo.training.loggers import RunLogger
from lingo.training.trainer import (
    early_stopping,
    planned_steps,
    train_and_evaluate,
    training_arguments,
)

log = logging.getLogger(__name__)


def run(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    validate(cfg)
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
    cfg.model.arch = resolve_arch(cfg.model.arch, net.config)  # auto: from the model_type
    lengths = {k: token_lengths(ds) for k, ds in datasets.items()}
    check_positions(net, cfg.model, int(max(n.max() for n in lengths.values())))
    total_steps, warmup_steps = planned_steps(len(datasets["train"]), cfg.trainer)
    net = apply_method(net, cfg.method, cfg.model.arch, total_steps, warmup_steps, cfg.seed,
                       tokenizer.new_token_ids)
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
                     DynamicsCallback(net, run_dir, logger.log_values), *logger.callbacks()]
        if cfg.method.peft == "adalora" and cfg.method.allocate:
            callbacks.append(AllocationCallback(cfg.method, run_dir, resume_from))
        callbacks += early_stopping(cfg.trainer)  # null patience (the default): none
        callbacks.append(run_state)  # last: its marker completes a checkpoint
        collator = PadCollator(tokenizer.pad_token_id, tokenizer.attend_to_padding)
        trainer, outcome = train_and_evaluate(net, args, datasets, collator, callbacks,
                                              resume_from, cfg.task.selection_split,
                                              cfg.trainer.head_lr)
        trainer.save_model(str(run_dir / "model"))
        if not main:
            return {}
        ranks = report_ranks(cfg, net, trainer.state.best_model_checkpoint, run_dir, logger)

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
            cfg, run_dir, data, logger, test=outcome.test, dev=outcome.dev,
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
                  test: dict[str, float], dev: dict[str, float], **run: Any) -> dict[str, Any]:
    """A completed run's metrics.json (a language model's, or a classical baseline's), also
    sent to the logger: ``run`` holds best_step, steps, world_size, parameters, train_seconds."""
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
        "train_split": data.train_split,
        "selection_metric": cfg.task.selection_metric,
        "selection_split": cfg.task.selection_split,
        "legacy": cfg.legacy,
        "status": "completed",
    }
    write_json(run_dir / METRICS, metrics)
    logger.finish(metrics)
    return metrics


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
    now = _result_settings(OmegaConf.to_container(cfg, resolve=True))
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


def report_ranks(
    cfg: DictConfig, net, best_checkpoint: str | None, run_dir: Path, logger: RunLogger
) -> dict[str, Any]:
    """Adaptive methods: the selected model's pattern, its summary and heat map. Counted on the
    triplets the model computes with (``nonzero``), which are more than the allocator's last
    pattern (``rank_pattern``) when it was selected between two events of the budget phase."""
    if cfg.method.peft != "adalora":
        return {}
    saved = load_allocator_state(Path(best_checkpoint)) if best_checkpoint else {}
    allocated = saved.get("rank_pattern") or full_pattern(net)
    pattern = nonzero_pattern(net)
    write_json(run_dir / RANK_PATTERN, {"rank_pattern": allocated, "nonzero": pattern})
    summary, grid = rank_summary(net, pattern, cfg.model.arch, list(cfg.method.targets))
    summary["allocated_rank_total"] = sum(sum(mask) for mask in allocated.values())
    tuner = net.base_model
    summary["delta_t"] = tuner.peft_config[tuner.trainable_adapter_name].deltaT  # as resolved
    if cfg.method.allocator == "ars":  # events that drew masks: 0 means the run was AdaLoRA's
        sampled = [e["step"] for e in tuner.rankallocator.events if e.get("sampled")]
        summary["sampling_events"] = len(sampled)
        # those the selected model saw (checkpoint-N holds the events of steps < N)
        best = int(best_checkpoint.rsplit("-", 1)[1]) if best_checkpoint else None
        summary["sampling_events_selected"] = sum(best is None or s < best for s in sampled)
    plot_rank_pattern(grid, run_dir / RANK_PLOT, f"{run_name(cfg)}: kept ranks")
    logger.log_files(images={"rank_pattern": run_dir / RANK_PLOT},
                     tables={"rank_history": run_dir / RANK_HISTORY})
    return summary


def run_variant() -> str:
    """This job's overrides beyond its cell's names (lingo.results.job_variant)."""
    return job_variant(HydraConfig.get()) if HydraConfig.initialized() else ""


def identity(cfg: DictConfig) -> dict[str, Any]:
    """What a result is: recorded in every metrics.json, completed or not."""
    return {**config_identity(cfg), "variant": run_variant(), "git_commit": git_commit()}


def logged_config(cfg: DictConfig) -> dict[str, Any]:
    """The config a W&B run holds: the resolved config and the variant, so that a run that
    never finished (no summary) still falls into the right block of the tables."""
    return {**OmegaConf.to_container(cfg, resolve=True), "variant": run_variant()}


def run_name(cfg: DictConfig) -> str:
    return f"{cfg.task.name}/{cfg.model.name}-{cfg.method.name}-{cfg.tokenizer.name}/s{cfg.seed}"


def main_or_exit(cfg: DictConfig) -> float | None:
    """The entrypoint's body: a user error is one line on stderr and exit code 2; any failure
    is recorded in the run directory's metrics.json as ``status: failed``. In a sweep, a
    combination the paper does not run is recorded as ``status: skipped`` (exit 0), and a failed
    job is raised to Hydra, which runs the sweep's other jobs and then reports them."""
    hydra = HydraConfig.get()
    run_dir = Path(hydra.runtime.output_dir)
    sweeping = hydra.mode == RunMode.MULTIRUN
    try:
        with run_lock(run_dir) if is_main_process() else nullcontext():
            metrics = _run_and_record(cfg, run_dir, sweeping)  # its outcome, under the lock
    except RunBusy as err:  # the run belongs to the other process: nothing recorded here
        _fail(cfg, run_dir, err, sweeping, record=False)
    if not metrics:  # skipped, or a DDP rank other than 0
        return None
    print(f"results: {run_dir / METRICS}")
    print(f"test/auc={metrics.get('test/auc')}, test/mcc={metrics.get('test/mcc')}")
    return metrics.get(f"dev/{cfg.task.selection_metric}")


def _run_and_record(cfg: DictConfig, run_dir: Path, sweeping: bool) -> dict[str, Any]:
    """``run``; a run that is not one, or fails, is recorded in its metrics.json, except one
    whose model or tokenizer cannot be loaded: nothing was trained, and its directory goes."""
    try:
        return _run_on_storage(cfg, run_dir)
    except NotRun as err:
        if not sweeping:
            _fail(cfg, run_dir, err, sweeping)
        _record_outcome(cfg, run_dir, "skipped", str(err))
        print(f"skipped: {err}", file=sys.stderr)
        return {}
    except Unavailable as err:
        _fail(cfg, run_dir, err, sweeping, record=not _remove_attempt(cfg, run_dir))
    except LingoError as err:
        _fail(cfg, run_dir, err, sweeping)
    except Exception as err:
        _record_outcome(cfg, run_dir, "failed",
                        "".join(traceback.format_exception_only(err)).strip())
        raise


def _run_on_storage(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """``run``; a write the storage refuses (read-only, no permission, full) is a user error
    naming the path and the setting that moves it, not the OS's traceback."""
    try:
        return run(cfg, run_dir)
    except Exception as err:
        code = storage_errno(err)
        if code is None:
            raise
        path = Path(getattr(err, "filename", None) or run_dir).resolve()
        cache = Path(cfg.cache_dir).resolve()
        setting = ("LINGO_CACHE_DIR (or cache_dir=)" if path == cache or cache in path.parents
                   else "output_root= (or hydra.run.dir= for this run alone)")
        raise storage_error(path, code, setting) from None


# This process's failed sweep jobs, "run directory: error", for the sweep's closing report
FAILED_JOBS: list[str] = []


class SweepJobFailed(CompactHydraException):
    """A failed job of a sweep, raised to Hydra: Hydra runs the other jobs, then raises the
    first failed job's exception and prints its message alone (no traceback, as for any
    CompactHydraException). Read then, the message names every job that failed in this process
    (the local launcher's sweep); a job run in another process names itself."""

    def __str__(self) -> str:
        failed = FAILED_JOBS if self.args[0] in FAILED_JOBS else [self.args[0]]
        return (f"error: {len(failed)} job{'s' if len(failed) > 1 else ''} of the sweep failed "
                "(each recorded in its metrics.json):\n" + "\n".join(f"  {f}" for f in failed))


def _fail(cfg: DictConfig, run_dir: Path, err: LingoError, sweeping: bool,
          record: bool = True) -> NoReturn:
    """A user error: recorded in the run directory (``record``), then one line and exit code 2,
    or in a sweep, the job failed for Hydra's closing report."""
    if record:
        _record_outcome(cfg, run_dir, "failed", str(err))
    if not sweeping:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"failed: {err}", file=sys.stderr)
    FAILED_JOBS.append(f"{run_dir}: {err}")
    raise SweepJobFailed(FAILED_JOBS[-1]) from None


def _remove_attempt(cfg: DictConfig, run_dir: Path) -> bool:
    """Removes what this attempt wrote (Hydra's record of it, its log, the lock) and then the
    run directory and the folders made for it under output_root where they are left empty, so
    that ``make tables`` lists no run that never trained. Anything else in them stays: False
    where the directory holds an earlier attempt, which keeps its record."""
    hydra = HydraConfig.get()
    record = run_dir / (hydra.output_subdir or ".")  # .hydra/<time>: one folder per attempt
    attempts = record.parent
    if attempts == run_dir or not attempts.is_dir() or list(attempts.iterdir()) != [record]:
        return False
    shutil.rmtree(record, ignore_errors=True)
    for written in (run_dir / f"{hydra.job.name}.log", run_dir / LOCK):
        written.unlink(missing_ok=True)
    for folder in (attempts, run_dir):
        if any(folder.iterdir()):  # a file this attempt did not write: kept, with its folder
            return True
        folder.rmdir()
    root = Path(cfg.output_root).resolve()
    for parent in run_dir.resolve().parents:
        if root not in parent.parents or any(parent.iterdir()):
            break
        parent.rmdir()
    return True


def _record_outcome(cfg: DictConfig, run_dir: Path, status: str, error: str) -> None:
    """Never over a completed result: a refused re-run must not cost the earlier one."""
    if not is_main_process():
        return
    done = read_metrics(run_dir)
    if done and done.get("status") == "completed":
        return
    try:
        write_json(run_dir / METRICS, {**identity(cfg), "status": status, "error": error})
    except Exception as err:  # reporting must never hide the original error
        log.warning("could not record the outcome in %s (%s)", run_dir / METRICS, err)
