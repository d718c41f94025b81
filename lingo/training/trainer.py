"""The HF Trainer set-up: the paper's schedule, selection on dev, test once at the end."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import (
    EarlyStoppingCallback,
    EvalPrediction,
    PreTrainedModel,
    Trainer,
    TrainingArguments,
)

from lingo.config import TrainerConfig
from lingo.methods.heads import is_head
from lingo.metrics import classification_metrics, greater_is_better, per_label_metrics
from lingo.training.collator import PadCollator
from lingo.training.precision import compute_device, resolve_precision


def training_arguments(
    trainer: TrainerConfig, checkpoint_dir: Path, seed: int, selection_metric: str, report_to: str
) -> TrainingArguments:
    device = compute_device()
    precision = resolve_precision(trainer.precision, device)
    return TrainingArguments(
        output_dir=str(checkpoint_dir),
        per_device_train_batch_size=trainer.batch_size,
        per_device_eval_batch_size=trainer.eval_batch_size,
        gradient_accumulation_steps=trainer.grad_accum,
        num_train_epochs=trainer.epochs,
        max_steps=trainer.max_steps,
        learning_rate=trainer.lr,
        lr_scheduler_type="linear",
        # a float < 1 is a ratio of the total steps
        warmup_steps=trainer.warmup_ratio if trainer.warmup_steps is None
        else trainer.warmup_steps,
        weight_decay=trainer.weight_decay,
        eval_strategy="steps",
        eval_steps=trainer.eval_steps,
        save_strategy="steps",
        save_steps=trainer.eval_steps,
        save_total_limit=max(trainer.save_total_limit, 2),
        load_best_model_at_end=True,
        # a resumed run's callbacks continue where they were (early stopping's patience count)
        restore_callback_states_from_checkpoint=True,
        metric_for_best_model=selection_metric,
        greater_is_better=greater_is_better(selection_metric),  # cross_entropy: lower
        logging_steps=trainer.logging_steps,
        seed=seed,
        data_seed=seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device.type == "cpu",
        dataloader_num_workers=trainer.num_workers,
        # Length-grouped batches: less padding, but another sample order (so other results);
        # measured by `make bench` (README "Performance"), off by default.
        train_sampling_strategy="group_by_length" if trainer.group_by_length else "random",
        dataloader_pin_memory=torch.cuda.is_available(),
        remove_unused_columns=False,
        report_to=report_to,
        disable_tqdm=not trainer.progress_bar,
    )


def early_stopping(trainer: TrainerConfig) -> list:
    """The paper's DeepSEA protocol: stop after ``early_stopping_patience`` evaluations without
    a gain in the selection metric (none when null)."""
    if trainer.early_stopping_patience is None:
        return []
    return [EarlyStoppingCallback(early_stopping_patience=trainer.early_stopping_patience)]


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    logits = prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    return classification_metrics(np.asarray(logits), np.asarray(prediction.label_ids))


@dataclass
class Outcome:
    dev: dict[str, float]
    test: dict[str, float]
    best_step: int | None
    steps: int
    per_label: dict[str, list] | None = None  # multi-label: test AUC / AUPRC of each label
    test_logits: np.ndarray | None = None  # the selected model's test logits (row order)
    test_labels: np.ndarray | None = None
    dev_logits: np.ndarray | None = None  # and its dev logits (paired choices on dev)
    dev_labels: np.ndarray | None = None


class LingoTrainer(Trainer):
    """The HF Trainer; with ``head_lr`` set, the classification head's parameters train at that
    rate: the Trainer's own groups (weight decay or not) are split into backbone and head."""

    head_lr: float | None = None

    def create_optimizer(self, model=None):
        fresh = self.optimizer is None
        optimizer = super().create_optimizer(model)
        if not fresh or self.head_lr is None:
            return optimizer
        net = self.model if model is None else model
        head = {id(p) for name, p in net.named_parameters() if is_head(name)}
        groups = [
            {**group, "params": chosen, "lr": self.head_lr if in_head else group["lr"]}
            for group in optimizer.param_groups for in_head in (False, True)
            if (chosen := [p for p in group["params"] if (id(p) in head) == in_head])
        ]
        optimizer.param_groups.clear()  # no state yet: the groups are rebuilt, split
        for group in groups:
            optimizer.add_param_group(group)
        return optimizer


def build_trainer(
    net: PreTrainedModel,
    args: TrainingArguments,
    datasets: dict[str, Dataset],
    collator: PadCollator,
    callbacks: list,
    selection_split: str = "dev",
    trainer_class: type[LingoTrainer] = LingoTrainer,
    head_lr: float | None = None,
) -> LingoTrainer:
    """The Trainer of a run (also used by ``make bench``, which times this same path)."""
    trainer = trainer_class(
        model=net,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets[selection_split],
        data_collator=collator,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
    )
    trainer.head_lr = head_lr
    return trainer


def train_and_evaluate(
    net: PreTrainedModel,
    args: TrainingArguments,
    datasets: dict[str, Dataset],
    collator: PadCollator,
    callbacks: list,
    resume_from: Path | None,
    selection_split: str = "dev",
    head_lr: float | None = None,
) -> tuple[Trainer, Outcome]:
    """Train with selection on dev, then evaluate the selected checkpoint on dev and, once, on
    test. (``selection_split="test"`` is the paper code's procedure, for ``legacy=paper_code``.)"""
    trainer = build_trainer(net, args, datasets, collator, callbacks, selection_split,
                            head_lr=head_lr)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    dev = trainer.predict(datasets["dev"], metric_key_prefix="dev")
    prediction = trainer.predict(datasets["test"], metric_key_prefix="test")
    best = trainer.state.best_model_checkpoint
    labels = np.asarray(prediction.label_ids)
    logits = _logits(prediction.predictions)
    return trainer, Outcome(
        dev=_strip(dev.metrics, "dev_"),
        test=_strip(prediction.metrics, "test_"),
        best_step=int(best.rsplit("-", 1)[1]) if best else None,
        steps=trainer.state.global_step,
        per_label=per_label_metrics(logits, labels) if labels.ndim == 2 else None,
        test_logits=logits, test_labels=labels,
        dev_logits=_logits(dev.predictions), dev_labels=np.asarray(dev.label_ids),
    )


def _logits(predictions) -> np.ndarray:
    return np.asarray(predictions[0] if isinstance(predictions, tuple) else predictions)


def _strip(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    """Keep the metrics and the cross-entropy; drop the model's loss (for AdaLoRA-type methods
    it includes the orthogonal regulariser) and timing noise."""
    kept = {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}
    return {k: v for k, v in kept.items() if k in KEPT}


KEPT = ("cross_entropy", "auc", "mcc", "accuracy", "f1",
        "macro_auc", "macro_auprc", "missing_labels")  # the last three: multi-label only
