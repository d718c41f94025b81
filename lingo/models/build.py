"""Build a sequence classifier: the real ``from_pretrained`` path, or the architecture's shape
with random weights (tiny stand-ins, ``model.init=random``).

Heads: OPT scores the last non-pad token (for Lingo, the suffix's final ``:``); BERT and ESM
pool their CLS token.
"""

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

from lingo.config import ModelConfig
from lingo.errors import LingoError, hub_unreachable


def build_model(
    model: ModelConfig, num_labels: int, vocab_size: int, pad_token_id: int, seed: int
) -> PreTrainedModel:
    torch.manual_seed(seed)  # the head (and random backbones) start the same for a given seed
    common = dict(num_labels=num_labels, pad_token_id=pad_token_id)
    if model.init == "random":
        net = AutoModelForSequenceClassification.from_config(
            random_config(model, vocab_size, **common)
        )
    elif model.init == "pretrained":
        net = _from_pretrained(model, common)
    else:
        raise LingoError(f"model.init={model.init!r}; use pretrained or random")
    if net.get_input_embeddings().num_embeddings < vocab_size:
        net.resize_token_embeddings(vocab_size)
    return net


def random_config(model: ModelConfig, vocab_size: int, **overrides: object) -> AutoConfig:
    if not model.shape:
        raise LingoError(
            f"model={model.name} has no offline shape for random initialisation (its "
            "architecture is remote code); use model.init=pretrained"
        )
    shape = {**model.shape, **overrides}
    shape["vocab_size"] = max(int(shape.get("vocab_size", 0)), vocab_size)
    return AutoConfig.for_model(shape.pop("model_type"), **shape)


def _from_pretrained(model: ModelConfig, common: dict) -> PreTrainedModel:
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            model.name_or_path, trust_remote_code=model.trust_remote_code, **common
        )
    except (OSError, ValueError) as err:
        raise hub_unreachable(model.name_or_path, "model", err) from err


def count_parameters(net: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total): trainable is what the optimizer updates."""
    params = list(net.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
