"""Target matrices per architecture, parameter counts, and the PEFT wrapping of each method."""

import re

import pytest
import torch
import yaml
from transformers import AutoModelForSequenceClassification

from lingo.config import PAPER_MATRICES, MethodConfig, ModelConfig
from lingo.errors import LingoError
from lingo.methods import apply_method, target_regex
from lingo.models import count_parameters
from lingo.models.build import random_config
from tests.conftest import REPO


def model_config(name: str) -> ModelConfig:
    raw = yaml.safe_load((REPO / "conf" / "model" / f"{name}.yaml").read_text())
    raw.pop("tokenizer", None)
    return ModelConfig(**raw)


def on_meta(name: str, vocab_size: int = 50265):
    """The architecture from its config, without weights (no memory, no download)."""
    with torch.device("meta"):
        return AutoModelForSequenceClassification.from_config(
            random_config(model_config(name), vocab_size, num_labels=2, pad_token_id=1)
        )


def method(name: str, targets: list[str], peft: str | None) -> MethodConfig:
    return MethodConfig(name=name, peft=peft, targets=targets, init_r=12, target_r=6, delta_t=10,
                        final_ratio=0.25, beta1=0.85, beta2=0.85)


YEAST = ["Wq", "Wk", "Wv", "Wf1", "Wf2"]


def test_opt125m_lora_r8_has_the_papers_parameter_count():
    net = apply_method(on_meta("opt125m"), method("lora", YEAST, "lora"), "opt", 100, 10)
    trainable, _ = count_parameters(net)
    # 12 layers x r=8 x (3 x (768+768) + 2 x (768+3072)) + score head 768 x 2 (no bias)
    assert trainable == 12 * 8 * (3 * 1536 + 2 * 3840) + 768 * 2 == 1_181_184


def test_opt350m_lora_r8_count_is_the_caveat_in_paper_md():
    net = apply_method(on_meta("opt350m"), method("lora", YEAST, "lora"), "opt", 100, 10)
    trainable, total = count_parameters(net)
    assert round(trainable / 1e6, 2) == 3.15  # the paper prints 6.3 M, which is r=16
    assert 330e6 < total < 340e6


@pytest.mark.parametrize("name", ["opt125m", "opt350m", "nt500m", "tiny_opt", "tiny_bert",
                                  "tiny_esm"])
def test_each_paper_matrix_hits_exactly_one_linear_per_layer(name):
    net = on_meta(name, vocab_size=4105)
    arch = model_config(name).arch
    layers = net.config.num_hidden_layers
    linear = [n for n, m in net.named_modules() if isinstance(m, torch.nn.Linear)]
    hits = {t: {n for n in linear if re.fullmatch(target_regex(arch, [t]), n)}
            for t in PAPER_MATRICES}
    for target, names in hits.items():
        assert len(names) == layers, (target, sorted(names))
    union = set().union(*hits.values())
    assert len(union) == 6 * layers  # no module claimed by two names (Wo vs Wf2 on BERT/ESM)


def test_dnabert2_fused_qkv_is_one_matrix():
    layer = "bert.encoder.layer.0."
    names = [layer + n for n in ("attention.self.Wqkv", "attention.output.dense",
                                 "mlp.gated_layers", "mlp.wo")]
    pattern = target_regex("dnabert2", ["Wq", "Wk", "Wv"])
    assert [n for n in names if re.fullmatch(pattern, n)] == names[:1]
    wo = target_regex("dnabert2", ["Wo"])
    assert [n for n in names if re.fullmatch(wo, n)] == names[1:2]


def test_unknown_matrix_name_is_a_clear_error():
    with pytest.raises(LingoError, match="Wz"):
        target_regex("opt", ["Wq", "Wz"])


def test_fmft_trains_everything_and_adalora_wraps_with_schedule():
    net = on_meta("tiny_opt")
    full = apply_method(net, method("fmft", YEAST, None), "opt", 100, 10)
    trainable, total = count_parameters(full)
    assert trainable == total
    ada = apply_method(on_meta("tiny_opt"), method("adalora", YEAST, "adalora"), "opt", 100, 10)
    config = ada.peft_config["default"]
    assert (config.init_r, config.target_r, config.tinit, config.tfinal, config.total_step) == (
        12, 6, 10, 25, 100)
    trainable_names = [n for n, p in ada.named_parameters() if p.requires_grad]
    assert any("lora_E" in n for n in trainable_names)
    assert any("score" in n for n in trainable_names)


def test_adalora_without_budget_phase_is_refused():
    with pytest.raises(LingoError, match="budget phase"):
        apply_method(on_meta("tiny_opt"), method("adalora", YEAST, "adalora"), "opt", 10, 8)
