"""Runs that share a base model: grouped, logged with why groups stay apart, and loaded as one
model whose adapters are switched."""

import json
import logging
from typing import Any

import torch
from omegaconf import OmegaConf

from lingo.predict.runs import Run

log = logging.getLogger(__name__)

MERGEABLE = ("LORA", "ADALORA")


def group_key(run: Run) -> tuple:
    """What runs on one base share: the base model, the vocabulary, the PEFT type and the
    number of labels; an FMFT run or a baseline is a whole model, never shared."""
    if run.peft_type is None:
        return (str(run.path),)
    model, tokenizer = run.cfg.model, run.tokenizer
    base = (
        model.arch, model.init, model.name_or_path, model.trust_remote_code,
        json.dumps(OmegaConf.to_container(model.shape), sort_keys=True) if model.shape else None,
        run.cfg.seed if model.init == "random" else None,
    )
    vocabulary = (type(tokenizer).__name__, tokenizer.vocabulary(), tokenizer.vocab_size,
                  tokenizer.pad_token_id)
    return (base, vocabulary, run.peft_type, run.num_labels)


def group_runs(runs: list[Run]) -> list[list[Run]]:
    """Runs on one base, in the order given; sets each run's ``group_key``."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        run.group_key = group_key(run)
        groups.setdefault(run.group_key, []).append(run)
    return list(groups.values())


def describe_group(group: list[Run]) -> str:
    first = group[0]
    m = first.cfg.model
    if first.baseline:
        return f"{m.name} baseline, {first.num_labels} labels"
    if first.peft_type is None:
        return f"{m.name} full model (fmft), {first.num_labels} labels"
    seed = f", seed {first.cfg.seed}" if m.init == "random" else ""
    return (f"{m.name} ({m.init}{seed}), {first.tokenizer.name} vocabulary, "
            f"{first.peft_type} adapters, {first.num_labels} labels")


def why_apart(a: Run, b: Run) -> str:
    if a.baseline or b.baseline:
        return "a classical baseline is a model of its own"
    if a.peft_type is None or b.peft_type is None:
        return "a full fine-tuned (fmft) model is a whole model of its own"
    (base_a, vocab_a, peft_a, labels_a), (base_b, vocab_b, peft_b, labels_b) = (
        a.group_key, b.group_key)
    reasons = []
    if base_a != base_b:
        reasons.append("the base models differ (model, weights or seed)")
    if vocab_a != vocab_b:
        reasons.append("the tokenizer vocabularies differ")
    if peft_a != peft_b:
        reasons.append(f"the PEFT types differ ({peft_a} vs {peft_b}; PEFT cannot combine "
                       "adapters of different types on one model)")
    if labels_a != labels_b:
        reasons.append(f"the heads differ ({labels_a} vs {labels_b} labels)")
    return "; ".join(reasons)


def log_grouping(groups: list[list[Run]]) -> None:
    log.info("%d run(s) in %d group(s), one base model loaded per group",
             sum(len(g) for g in groups), len(groups))
    for i, group in enumerate(groups, start=1):
        names = ", ".join(f"{r.column} ({r.path})" for r in group)
        why = " share the base, loaded once; adapters switched" if len(group) > 1 else ""
        log.info("group %d: %s: %s%s", i, describe_group(group), names, why)
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            log.info("groups %d and %d apart: %s", i + 1, j + 1,
                     why_apart(groups[i][0], groups[j][0]))


def load_group(
    group: list[Run], device: torch.device, merge: bool, index: int,
) -> tuple[Any, list[str | None]]:
    """The group's model and the adapter name of each run (None: a full model). A baseline's
    model is its CNN module or its fitted scikit-learn pipeline."""
    first = group[0]
    if first.baseline:  # before the imports below: a baseline's CLI call does without them
        if merge:
            log.info("--merge: group %d is a %s baseline; nothing to merge", index,
                     first.baseline)
        return load_baseline(first, device), [None]
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    from lingo.models import build_model, peft_deprecation_silenced

    if first.peft_type is None:
        net = AutoModelForSequenceClassification.from_pretrained(
            str(first.path / "model"), trust_remote_code=first.cfg.model.trust_remote_code,
            dtype=torch.float32)
        if merge:
            log.info("--merge: group %d is a full model (fmft); nothing to merge", index)
        return net.to(device).eval(), [None]
    tok = first.tokenizer
    base = build_model(first.cfg.model, first.num_labels, tok.vocab_size, tok.pad_token_id,
                       first.cfg.seed, multi_label=first.multi_label)
    names = [f"run{i}" for i in range(len(group))]
    with peft_deprecation_silenced():
        net = PeftModel.from_pretrained(base, str(first.path / "model"), adapter_name=names[0])
    for run, name in zip(group[1:], names[1:], strict=True):
        net.load_adapter(str(run.path / "model"), adapter_name=name)
    if merge:
        if len(group) > 1:
            log.info("--merge skipped for group %d: its %d adapters share one base, and merging "
                     "would fold one of them into it", index, len(group))
        elif first.peft_type not in MERGEABLE:
            log.info("--merge skipped for group %d: %s adapters cannot be merged", index,
                     first.peft_type)
        else:
            net = net.merge_and_unload()
            log.info("--merge: group %d's %s weights merged into the base", index,
                     first.peft_type)
            return net.to(device).eval(), [None]
    return net.to(device).eval(), names


def load_baseline(run: Run, device: torch.device) -> Any:
    """A baseline's saved model: the CNN (on ``device``) or the k-mer LR pipeline."""
    model_dir = run.path / "model"
    if run.baseline == "cnn":
        from lingo.baselines import cnn

        net, _ = cnn.load(model_dir)
        return net.to(device)
    import joblib

    from lingo.baselines.kmer_lr import MODEL_FILE

    return joblib.load(model_dir / MODEL_FILE)
