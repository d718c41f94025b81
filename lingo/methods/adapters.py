"""FMFT, the probe, LoRA and AdaLoRA through PEFT. The head is always trained (PEFT's SEQ_CLS
task type puts ``score``/``classifier`` in ``modules_to_save``)."""

import logging
import math

from peft import AdaLoraConfig, LoraConfig, PeftModel, TaskType, get_peft_model
from transformers import PreTrainedModel

from lingo.config import MethodConfig
from lingo.errors import LingoError
from lingo.methods.ars import ARSRankAllocator, RecordingRankAllocator
from lingo.methods.targets import target_regex
from lingo.models import peft_deprecation_silenced

log = logging.getLogger(__name__)
# The classification head's module names in every architecture (PEFT's SEQ_CLS names)
HEAD_MODULES = ("score", "classifier")


def is_head(parameter_name: str) -> bool:
    """``score.weight``, ``base_model.model.score.modules_to_save.default.weight``, ..."""
    return any(part in HEAD_MODULES for part in parameter_name.split("."))


def apply_method(
    net: PreTrainedModel,
    method: MethodConfig,
    arch: str,
    total_steps: int,
    warmup_steps: int,
    seed: int = 0,
    new_token_ids: list[int] | None = None,
) -> PreTrainedModel:
    """Wrap the backbone for the method. AdaLoRA's schedule gets the planned step counts here;
    the allocation callback re-checks them against the Trainer's real count at train start.
    AdaLoRA-type methods get their rank allocator installed here: PEFT's own (recording its
    events) or ARS (seeded from the run seed). Embedding rows of tokens the tokenizer added
    (one-hot, k-mer) are trained through PEFT's ``trainable_token_indices``."""
    if method.peft is None:
        if not method.train_backbone:  # the probe: a floor for every adapter
            for name, parameter in net.named_parameters():
                parameter.requires_grad_(is_head(name))
            if not any(p.requires_grad for p in net.parameters()):
                raise LingoError(f"method={method.name} trains the classification head alone, "
                                 f"and this model has none named {' or '.join(HEAD_MODULES)}")
        return net
    targets = target_regex(arch, list(method.targets))
    common = dict(
        task_type=TaskType.SEQ_CLS,
        target_modules=targets,
        lora_alpha=method.lora_alpha,
        lora_dropout=method.lora_dropout,
        trainable_token_indices=list(new_token_ids) if new_token_ids else None,
    )
    if method.peft == "lora":
        config = LoraConfig(r=method.r, **common)
    elif method.peft == "adalora":
        config = AdaLoraConfig(**common, **adalora_schedule(method, total_steps, warmup_steps))
    else:
        raise LingoError(f"method.peft={method.peft!r} is unknown; use null, lora or adalora")
    with peft_deprecation_silenced():
        peft_model = get_peft_model(net, config)
    if method.peft == "adalora":
        install_allocator(peft_model, method, seed)
    return peft_model


def install_allocator(peft_model: PeftModel, method: MethodConfig, seed: int) -> None:
    tuner = peft_model.base_model
    name = tuner.trainable_adapter_name
    args = (tuner.model, tuner.peft_config[name], name)
    if method.allocator == "ars":
        tuner.rankallocator = ARSRankAllocator(
            *args, p_drop=method.p_drop, p_revive=method.p_revive, seed=seed,
            sample_final=method.sample_final, zero_before_revive=method.zero_before_revive,
        )
    elif method.allocator in (None, "peft"):
        tuner.rankallocator = RecordingRankAllocator(*args)
    else:
        raise LingoError(f"method.allocator={method.allocator!r} is unknown; use peft or ars")


def adalora_schedule(method: MethodConfig, total_steps: int, warmup_steps: int) -> dict:
    """AdaLoRA's schedule in PEFT terms: tinit (default: the warmup), tfinal = final_ratio x T,
    deltaT as given or (``auto``) the interval that gives the budget phase the number of events
    nearest ``method.auto_events`` (of two, the longer interval)."""
    total_steps = method.total_step or total_steps
    tinit = warmup_steps if method.tinit is None else method.tinit
    tfinal = int(method.final_ratio * total_steps) if method.tfinal is None else method.tfinal
    if tinit >= total_steps - tfinal:
        raise LingoError(
            f"AdaLoRA has no budget phase: tinit={tinit} and tfinal={tfinal} leave no step of "
            f"{total_steps}; train longer or lower method.tinit / method.final_ratio"
        )
    schedule = dict(
        init_r=method.init_r,
        target_r=method.target_r,
        tinit=tinit,
        tfinal=tfinal,
        deltaT=method.delta_t,
        beta1=method.beta1,
        beta2=method.beta2,
        orth_reg_weight=method.orth_reg_weight,
        total_step=total_steps,
    )
    if method.delta_t == "auto":  # the interval whose event count is nearest auto_events
        window = total_steps - tfinal - tinit
        schedule["deltaT"] = min(range(window, 0, -1), key=lambda step: abs(
            budget_events({**schedule, "deltaT": step}) - method.auto_events))
    return schedule


def budget_events(schedule: dict, steps: int | None = None, every: int = 1) -> int:
    """Allocation events inside the budget phase (PEFT: every step t with tinit < t < T - tfinal
    and t % deltaT == 0); ARS draws its masks at these (and at T only with sample_final). The
    allocator is called at t = 0 .. steps - 1 (the Trainer's count before its increment), every
    ``every`` steps: a fixed T past the real step count (``legacy=paper_code``) loses events."""
    steps = schedule["total_step"] if steps is None else steps
    first = schedule["tinit"] + 1
    last = min(schedule["total_step"] - schedule["tfinal"], steps) - 1
    step = math.lcm(schedule["deltaT"], every)
    return max(0, last // step - (first - 1) // step)


def check_sampling(method: MethodConfig, schedule: dict, steps: int) -> int:
    """ARS's planned sampling events in a run of ``steps`` optimizer steps; a warning when
    there are none (the run is AdaLoRA's) or when ``delta_t=auto`` cannot come within one of
    ``auto_events`` (a short budget phase)."""
    final = schedule["total_step"] - schedule["tfinal"] < steps
    events = budget_events(schedule, steps, method.allocate_every) + int(
        method.sample_final and final)
    if method.allocator != "ars" or not method.allocate:
        return events
    if method.delta_t == "auto" and abs(events - method.auto_events) > 1:
        log.warning("delta_t=auto: a budget phase of %d steps allows %d sampling events, not "
                    "method.auto_events=%d", schedule["total_step"] - schedule["tfinal"]
                    - schedule["tinit"], events, method.auto_events)
    if events < 1:
        log.warning(
            "ARS will never sample: deltaT=%d leaves no allocation event between steps %d and "
            "%d of %d, so this run is AdaLoRA's; method.delta_t=auto samples "
            "method.auto_events times", schedule["deltaT"], schedule["tinit"],
            schedule["total_step"] - schedule["tfinal"], schedule["total_step"])
    return events
