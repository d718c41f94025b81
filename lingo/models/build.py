"""Build a sequence classifier: the real ``from_pretrained`` path, or the architecture's shape
with random weights (tiny stand-ins, ``model.init=random``).

Heads: OPT, Llama and GPT-2 score the last non-pad token (for Lingo, the suffix's final ``:``);
BERT and ESM pool their CLS token. A GGUF checkpoint (``model.gguf_file``, lingo/models/gguf.py)
loads through the same ``from_pretrained``.
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

from lingo.config import ModelConfig
from lingo.errors import LingoError, hub_unreachable
from lingo.models.gguf import gguf_location

# model_type of a loaded config -> the arch whose module names it uses (model.arch=auto)
ARCH_OF_MODEL_TYPE = {"opt": "opt", "llama": "llama", "mistral": "llama", "qwen2": "llama",
                      "gpt2": "gpt2"}


@contextmanager
def peft_deprecation_silenced() -> Iterator[None]:
    """Around wrapping a model in PEFT: PEFT 0.21 reads transformers' deprecated
    ``is_gradient_checkpointing`` there (peft_model.py), a FutureWarning on every adapter run
    and prediction that only a PEFT release can fix. That one warning, nothing else."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated",
                                category=FutureWarning, module="transformers.modeling_utils")
        yield


def build_model(
    model: ModelConfig, num_labels: int, vocab_size: int, pad_token_id: int, seed: int,
    multi_label: bool = False,
) -> PreTrainedModel:
    """``multi_label``: one sigmoid per label, trained with binary cross-entropy (HF's
    ``problem_type="multi_label_classification"``); float 0/1 label vectors."""
    torch.manual_seed(seed)  # the head (and random backbones) start the same for a given seed
    common = dict(num_labels=num_labels, pad_token_id=pad_token_id)
    if multi_label:
        common["problem_type"] = "multi_label_classification"
    if model.init == "random":
        net = AutoModelForSequenceClassification.from_config(
            random_config(model, vocab_size, **common)
        )
    else:
        net = _from_pretrained(model, common)
    if net.get_input_embeddings().num_embeddings < vocab_size:
        net.resize_token_embeddings(vocab_size)
    return net


def check_available(model: ModelConfig) -> None:
    """Before the data is read and tokenized: the checkpoint's config resolves (a local folder,
    or the hub's cache offline), so a model never downloaded fails at once, not after minutes
    of work, with the message of :func:`lingo.errors.hub_unreachable`."""
    if model.init == "pretrained" or _reads_checkpoint_config(model):
        _load_config(model)


def _reads_checkpoint_config(model: ModelConfig) -> bool:
    """A random model takes its architecture from a checkpoint's config (no offline shape)."""
    return not model.shape and bool(model.gguf_file or
                                    (model.name_or_path and model.arch == "auto"))


def random_config(model: ModelConfig, vocab_size: int, **overrides: object) -> AutoConfig:
    if _reads_checkpoint_config(model):
        config = _load_config(model)  # the checkpoint's own architecture, weights not loaded
        for key, value in overrides.items():
            setattr(config, key, value)
        config.vocab_size = max(config.vocab_size, vocab_size)
        return config
    if not model.shape:
        raise LingoError(
            f"model={model.name} has no offline shape for random initialisation (its "
            "architecture is remote code); use model.init=pretrained"
        )
    shape = {**model.shape, **overrides}
    shape["vocab_size"] = max(int(shape.get("vocab_size", 0)), vocab_size)
    return AutoConfig.for_model(shape.pop("model_type"), **shape)


def _source(model: ModelConfig) -> tuple[str, dict]:
    """Where from_pretrained reads the model: (folder or hub name, extra keyword arguments)."""
    gguf = gguf_location(model)
    if gguf is not None:
        return gguf[0], {"gguf_file": gguf[1]}
    return model.name_or_path, {}


def _load_config(model: ModelConfig) -> AutoConfig:
    where, extra = _source(model)
    try:
        return AutoConfig.from_pretrained(where, trust_remote_code=model.trust_remote_code,
                                          **extra)
    except (OSError, ValueError) as err:
        raise hub_unreachable(where, "model", err) from err


def _from_pretrained(model: ModelConfig, common: dict) -> PreTrainedModel:
    where, extra = _source(model)
    try:
        # fp32 master weights whatever the checkpoint holds (OPT's are saved in fp16, which
        # transformers 5 would load as they are): autocast computes in bf16/fp16 from them
        net = AutoModelForSequenceClassification.from_pretrained(
            where, trust_remote_code=model.trust_remote_code, dtype=torch.float32, **extra,
            **common
        )
    except (OSError, ValueError) as err:
        raise hub_unreachable(where, "model", err) from err
    return _dequantized(net, where) if extra.get("gguf_file") else net


def _dequantized(net: PreTrainedModel, where: str) -> PreTrainedModel:
    """transformers marks a model read from a GGUF file as quantized, and its Trainer then
    refuses to train it; without the optional ``kernels`` package every weight was de-quantised
    to float on load. Check that, then drop the mark (the saved config carries no quantization)."""
    packed = [n for n, p in net.named_parameters() if not p.dtype.is_floating_point]
    if packed:
        raise LingoError(f"{where}: weights kept in GGUF blocks ({packed[0]}, ...): Lingo trains "
                         "float weights; uninstall the `kernels` package so they are de-quantised")
    quantizer = getattr(net, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(net)  # hf_quantizer, config, is_quantized
    for module in net.modules():
        if isinstance(module, PreTrainedModel) and getattr(module.config, "_is_quantized", False):
            module.config._is_quantized = False
    return net


def resolve_arch(arch: str, config: AutoConfig) -> str:
    """model.arch, or for ``auto`` (model=hf_causal) the arch of the loaded config's model_type;
    a model_type without a mapping of the paper's matrices is refused."""
    if arch != "auto":
        return arch
    kind = getattr(config, "model_type", None)
    if kind not in ARCH_OF_MODEL_TYPE:
        raise LingoError(
            f"model.arch=auto: model_type={kind!r} has no mapping of the paper's matrices "
            f"(Wq Wk Wv Wo Wf1 Wf2); supported: {', '.join(sorted(ARCH_OF_MODEL_TYPE))}, or "
            "set model.arch=<opt|bert|esm|llama|gpt2> when the module names match one of them"
        )
    return ARCH_OF_MODEL_TYPE[kind]


def count_parameters(net: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total): trainable is what the optimizer updates."""
    params = list(net.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def check_positions(net: PreTrainedModel, model: ModelConfig, arch: str, longest: int) -> None:
    """A model with a table of learned positions (OPT, GPT-2, BERT and ESM with absolute
    positions) cannot read more tokens than the table has: refused here with the limit, instead
    of an index error deep inside torch's embedding. ALiBi (DNABERT-2) and rotary positions
    (Llama, ESM's rotary variant) have no table. ``arch``: model.arch as resolved (auto: from
    the loaded model)."""
    config = net.config
    rotary = getattr(config, "position_embedding_type", "absolute") != "absolute"
    limit = getattr(config, "max_position_embeddings", None)
    if limit and getattr(config, "model_type", None) == "esm":  # positions start after the pad id
        limit -= (config.pad_token_id or 0) + 1
    if arch in ("dnabert2", "llama") or rotary or not limit or longest <= limit:
        return
    raise LingoError(f"the longest input is {longest} tokens and model={model.name} has "
                     f"{limit} positions: set tokenizer.max_length={limit} or lower")
