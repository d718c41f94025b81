"""AdaLoRA's schedule in PEFT's terms (tinit, tfinal, deltaT over T optimizer steps), planned
once, at train start, from the Trainer's own step count; and the allocation events it allows,
where ARS draws its masks."""

import logging
import math
from typing import Any

from lingo.config import MethodConfig
from lingo.errors import LingoError

log = logging.getLogger(__name__)


# PEFT checks a schedule when it builds the adapter, before there is a Trainer to count the steps:
# this one stands in until AllocationCallback plans the run's at train start
PLACEHOLDER = dict(tinit=0, tfinal=0, deltaT=1, total_step=1)


def rank_settings(method: MethodConfig) -> dict:
    """AdaLoRA's settings that do not depend on the step count, in PEFT terms."""
    return dict(init_r=method.init_r, target_r=method.target_r, beta1=method.beta1,
                beta2=method.beta2, orth_reg_weight=method.orth_reg_weight)


def adalora_schedule(method: MethodConfig, total_steps: int, warmup_steps: int) -> dict:
    """AdaLoRA's step plan in PEFT terms: tinit (default: the warmup), tfinal = final_ratio x T,
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
    schedule = dict(tinit=tinit, tfinal=tfinal, deltaT=method.delta_t, total_step=total_steps)
    if method.delta_t == "auto":  # the interval whose event count is nearest auto_events
        window = total_steps - tfinal - tinit
        schedule["deltaT"] = min(range(window, 0, -1), key=lambda step: abs(
            budget_events({**schedule, "deltaT": step}) - method.auto_events))
    return schedule


def plan_schedule(model: Any, method: MethodConfig, total_steps: int, warmup_steps: int) -> dict:
    """Sets the step plan on the adapter's PEFT config (in place of the placeholder)."""
    tuner = model.base_model
    config = tuner.peft_config[tuner.trainable_adapter_name]
    schedule = adalora_schedule(method, total_steps, warmup_steps)
    for key, value in schedule.items():
        setattr(config, key, value)
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
    """ARS's planned sampling events in a run of ``steps`` optimizer steps (for a method that
    samples: callback.AllocationCallback asks it only then); a warning when
    there are none (the run is AdaLoRA's) or when ``delta_t=auto`` cannot come within one of
    ``auto_events`` (a short budget phase)."""
    final = schedule["total_step"] - schedule["tfinal"] < steps
    events = budget_events(schedule, steps, method.allocate_every) + int(
        method.sample_final and final)
    if not method.allocate:
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
