"""FMFT, LoRA and AdaLoRA through PEFT. The head is always trained (PEFT's SEQ_CLS task type
puts ``score``/``classifier`` in ``modules_to_save``)."""

from peft import AdaLoraConfig, LoraConfig, PeftModel, TaskType, get_peft_model
from transformers import PreTrainedModel

from lingo.config import MethodConfig
from lingo.errors import LingoError
from lingo.methods.ars import ARSRankAllocator, RecordingRankAllocator
from lingo.methods.targets import target_regex


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
    """AdaLoRA's schedule in PEFT terms: tinit (default: the warmup), tfinal = final_ratio x T."""
    total_steps = method.total_step or total_steps
    tinit = warmup_steps if method.tinit is None else method.tinit
    tfinal = int(method.final_ratio * total_steps) if method.tfinal is None else method.tfinal
    if tinit >= total_steps - tfinal:
        raise LingoError(
            f"AdaLoRA has no budget phase: tinit={tinit} and tfinal={tfinal} leave no step of "
            f"{total_steps}; train longer or lower method.tinit / method.final_ratio"
        )
    return dict(
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
