"""lingo.flops against torch's FlopCounterMode: one forward + backward with random weights.

Eager attention throughout: on CPU, FlopCounterMode counts nothing inside SDPA. Run with
``-s`` to see the table of ours vs counted.
"""

import pytest
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoModelForSequenceClassification, PreTrainedModel

from lingo.config import MethodConfig, ModelConfig
from lingo.flops import (
    AdapterSpec,
    adapter_from_model,
    attention_flops,
    count_flops,
    flops_adjusted_steps,
    forward_flops,
    model_train_flops,
    train_flops_per_step,
)
from lingo.models.build import random_config
from tests.conftest import REPO, wrap_method

PAPER_LORA = ["Wq", "Wk", "Wv", "Wf1", "Wf2"]  # the paper's LoRA baseline (conf/method/lora)
ALL = ["Wq", "Wk", "Wv", "Wo", "Wf1", "Wf2"]


def model_config(name: str) -> ModelConfig:
    raw = yaml.safe_load((REPO / "conf" / "model" / f"{name}.yaml").read_text())
    raw.pop("tokenizer", None)
    return ModelConfig(**raw)


def build(name: str, vocab_size: int = 1000) -> PreTrainedModel:
    config = random_config(model_config(name), vocab_size, num_labels=2, pad_token_id=1)
    torch.manual_seed(0)
    net = AutoModelForSequenceClassification.from_config(config, attn_implementation="eager")
    return net.train()


def adapt(net: PreTrainedModel, name: str, peft: str | None, targets: list[str],
          r: int = 8, init_r: int = 12, new_token_ids: list[int] | None = None
          ) -> PreTrainedModel:
    method = MethodConfig(name=peft or "fmft", targets=targets, r=r, init_r=init_r,
                          target_r=4, delta_t=10, final_ratio=0.25, beta1=0.85, beta2=0.85)
    return wrap_method(net, method, model_config(name).arch, total_steps=100, warmup_steps=10,
                        new_token_ids=new_token_ids)


def counted_train_flops(net: PreTrainedModel, batch_size: int, seq_len: int) -> int:
    """What torch executes for one training step (labels given: the loss, and AdaLoRA's
    orthogonality penalty, are computed)."""
    vocab = net.config.vocab_size
    ids = torch.randint(3, vocab, (batch_size, seq_len))  # no pad (1) or ESM mask (2) tokens
    labels = torch.randint(0, 2, (batch_size,))
    with FlopCounterMode(display=False) as counter:
        out = net(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels)
        out.loss.backward()
    return counter.get_total_flops()


def check(label: str, net: PreTrainedModel, batch_size: int, seq_len: int) -> float:
    ours = model_train_flops(net, batch_size, seq_len)
    counted = counted_train_flops(net, batch_size, seq_len)
    error = (ours - counted) / counted
    print(f"\n{label:<34} ours {ours:>18,}  counted {counted:>18,}  {100 * error:+.3f}%")
    assert abs(error) < 0.05, (label, ours, counted)
    return error


# ------------------------------------------------------------------------- tiny stand-ins


@pytest.mark.parametrize("name", ["tiny_opt", "tiny_bert", "tiny_esm"])
@pytest.mark.parametrize("peft,targets", [(None, ALL), ("lora", PAPER_LORA), ("adalora", ALL),
                                          ("lora", ["Wv", "Wo"])])
def test_tiny_models_match_flop_counter(name, peft, targets):
    net = adapt(build(name), name, peft, targets)
    check(f"{name} {peft or 'fmft'} {'+'.join(targets)}", net, batch_size=3, seq_len=40)


@pytest.mark.parametrize("name", ["tiny_opt", "tiny_esm"])
def test_trained_token_rows_give_the_embeddings_a_gradient(name):
    """Added tokens (one-hot, k-mer) train through PEFT's trainable_token_indices: the first
    layer then needs its input gradients too."""
    net = adapt(build(name), name, "lora", ["Wv"], new_token_ids=[5, 6])
    assert adapter_from_model(net).train_embeddings
    check(f"{name} lora Wv + token rows", net, batch_size=2, seq_len=24)


def test_adapter_is_read_from_the_peft_modules():
    assert adapter_from_model(build("tiny_opt")) is None
    lora = adapter_from_model(adapt(build("tiny_bert"), "tiny_bert", "lora", PAPER_LORA, r=4))
    assert lora == AdapterSpec("lora", 4, tuple(PAPER_LORA))
    # AdaLoRA runs at init_r throughout: pruning zeroes Λ, P and Q keep their shapes
    ada = adapter_from_model(adapt(build("tiny_esm"), "tiny_esm", "adalora", ["Wo"], init_r=6))
    assert ada == AdapterSpec("adalora", 6, ("Wo",))


# ---------------------------------------------------------------- full-size architectures


@pytest.mark.slow
@pytest.mark.parametrize("name,peft,targets", [
    ("opt125m", None, ALL), ("opt125m", "lora", PAPER_LORA),
    ("opt350m", None, ALL), ("opt350m", "adalora", PAPER_LORA),
    ("nt500m", None, ALL), ("nt500m", "lora", ALL),
])
def test_full_size_architectures_match_flop_counter(name, peft, targets):
    vocab = model_config(name).shape["vocab_size"]
    net = adapt(build(name, vocab), name, peft, targets)
    check(f"{name} {peft or 'fmft'}", net, batch_size=2, seq_len=64)


# ------------------------------------------------------------------------ analytic shape


def test_fmft_backward_is_twice_the_forward_and_peft_is_cheaper():
    config = random_config(model_config("opt125m"), 50272, num_labels=2)
    fmft, _ = count_flops(config, 8, 128)
    assert fmft.backward == 2 * fmft.forward
    assert train_flops_per_step(config, 8, 128) == 3 * forward_flops(config, 8, 128)
    lora = train_flops_per_step(config, 8, 128, AdapterSpec("lora", 8))
    assert 2 * fmft.forward < lora < fmft.total  # frozen weights: input grads only


def test_opt125m_forward_is_about_two_flops_per_parameter_per_token():
    config = random_config(model_config("opt125m"), 50272, num_labels=2)
    body = 12 * 12 * 768 * 768  # non-embedding parameters: 12 layers x (4 d² + 2·d·4d)
    assert forward_flops(config, 1, 1) == pytest.approx(2 * body, rel=0.01)


def test_attention_flops_grow_quadratically_with_sequence_length():
    one = attention_flops(256, hidden_size=768, num_layers=12)
    assert attention_flops(512, hidden_size=768, num_layers=12) == 4 * one
    assert attention_flops(256, hidden_size=768, num_layers=12, batch_size=3) == 3 * one
    assert one == 12 * 2 * 2 * 256 * 256 * 768
    config = random_config(model_config("opt125m"), 50272, num_labels=2)
    # the model's forward: linear in s, plus exactly this quadratic term
    linear = forward_flops(config, 1, 256) - attention_flops(256, 768, 12)
    assert forward_flops(config, 1, 512) - attention_flops(512, 768, 12) == 2 * linear


def test_flops_adjusted_steps_scale_by_compute_relative_to_the_reference():
    assert flops_adjusted_steps(1000, 3e12, 1e12) == 3000
    assert flops_adjusted_steps(1000, 1e12, 1e12) == 1000
    small = random_config(model_config("opt125m"), 50272, num_labels=2)
    large = random_config(model_config("opt350m"), 50272, num_labels=2)
    reference = train_flops_per_step(small, 8, 128)
    assert flops_adjusted_steps(100, train_flops_per_step(large, 8, 128), reference) > 250


def test_dnabert2_unpads_its_linear_layers():
    config = random_config(model_config("tiny_bert"), 4096, num_labels=2)
    config.auto_map = {"AutoModel": "zhihan1996/DNABERT-2-117M--bert_layers.BertModel"}
    full = forward_flops(config, 2, 100)
    short = forward_flops(config, 2, 100, lengths=[100, 50])
    assert short < full
    config.auto_map = None  # a plain BERT computes every padded position
    assert forward_flops(config, 2, 100, lengths=[100, 50]) == forward_flops(config, 2, 100)
