"""Target matrices per architecture, parameter counts, and the PEFT wrapping of each method."""

import re

import pytest
import torch
import yaml
from transformers import AutoModelForSequenceClassification

from lingo.config import PAPER_MATRICES, MethodConfig, ModelConfig
from lingo.errors import LingoError
from lingo.methods.targets import target_regex
from lingo.models import count_parameters
from lingo.models.build import random_config
from tests.conftest import REPO, wrap_method


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


def method(name: str, targets: list[str]) -> MethodConfig:
    return MethodConfig(name=name, targets=targets, init_r=12, target_r=6, delta_t=10,
                        final_ratio=0.25, beta1=0.85, beta2=0.85)


YEAST = ["Wq", "Wk", "Wv", "Wf1", "Wf2"]


def test_opt125m_lora_r8_has_the_papers_parameter_count():
    net = wrap_method(on_meta("opt125m"), method("lora", YEAST), "opt", 100, 10)
    trainable, _ = count_parameters(net)
    # 12 layers x r=8 x (3 x (768+768) + 2 x (768+3072)) + score head 768 x 2 (no bias)
    assert trainable == 12 * 8 * (3 * 1536 + 2 * 3840) + 768 * 2 == 1_181_184


def test_opt350m_lora_r8_count_is_the_caveat_in_paper_md():
    net = wrap_method(on_meta("opt350m"), method("lora", YEAST), "opt", 100, 10)
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
    full = wrap_method(net, method("fmft", YEAST), "opt", 100, 10)
    trainable, total = count_parameters(full)
    assert trainable == total
    ada = wrap_method(on_meta("tiny_opt"), method("adalora", YEAST), "opt", 100, 10)
    config = ada.peft_config["default"]
    assert (config.init_r, config.target_r, config.tinit, config.tfinal, config.total_step) == (
        12, 6, 10, 25, 100)
    trainable_names = [n for n, p in ada.named_parameters() if p.requires_grad]
    assert any("lora_E" in n for n in trainable_names)
    assert any("score" in n for n in trainable_names)


def test_adalora_without_budget_phase_is_refused():
    from lingo.methods.adalora.schedule import adalora_schedule

    with pytest.raises(LingoError, match="budget phase"):
        adalora_schedule(method("adalora", YEAST), 10, 8)


def test_llama_matrices_on_smollm2_shape():
    """Llama: Wq Wk Wv Wo Wf2 are one module per layer; Wf1 is the gated MLP's gate_proj and
    up_proj (both map the hidden size into the feed-forward width)."""
    net = on_meta("smollm2_135m", vocab_size=49152)
    layers = net.config.num_hidden_layers
    linear = [n for n, m in net.named_modules() if isinstance(m, torch.nn.Linear)]
    hits = {t: sorted(n for n in linear if re.fullmatch(target_regex("llama", [t]), n))
            for t in PAPER_MATRICES}
    for target in ("Wq", "Wk", "Wv", "Wo", "Wf2"):
        assert len(hits[target]) == layers, target
    assert len(hits["Wf1"]) == 2 * layers
    assert hits["Wf1"][:2] == ["model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"]
    assert hits["Wo"][0] == "model.layers.0.self_attn.o_proj"
    assert hits["Wf2"][0] == "model.layers.0.mlp.down_proj"
    assert len(set().union(*map(set, hits.values()))) == 7 * layers  # the head is not hit


def test_smollm2_lora_r8_parameter_count():
    net = wrap_method(on_meta("smollm2_135m", 49152), method("lora", YEAST), "llama",
                       100, 10)
    trainable, total = count_parameters(net)
    # 30 layers x r=8 x (q 576+576, k 576+192, v 576+192 (3 KV heads of 64),
    # gate and up 576+1536 each, down 1536+576) + the score head 576 x 2
    assert trainable == 30 * 8 * (1152 + 768 + 768 + 3 * 2112) + 576 * 2 == 2_166_912
    assert 134e6 < total - trainable < 135e6  # SmolLM2-135M: 134.5M


def tiny_gpt2():
    from transformers import AutoConfig

    config = AutoConfig.for_model("gpt2", n_embd=32, n_layer=2, n_head=2, n_positions=64,
                                  vocab_size=100, num_labels=2, pad_token_id=0)
    return AutoModelForSequenceClassification.from_config(config)


def test_gpt2_fused_attention_and_conv1d_modules():
    net = tiny_gpt2()
    names = [n for n, _ in net.named_modules()]
    hit = {t: [n for n in names if re.fullmatch(target_regex("gpt2", [t]), n)]
           for t in PAPER_MATRICES}
    assert hit["Wq"] == hit["Wk"] == hit["Wv"] == ["transformer.h.0.attn.c_attn",
                                                   "transformer.h.1.attn.c_attn"]
    assert hit["Wo"] == ["transformer.h.0.attn.c_proj", "transformer.h.1.attn.c_proj"]
    assert hit["Wf1"] == ["transformer.h.0.mlp.c_fc", "transformer.h.1.mlp.c_fc"]
    assert hit["Wf2"] == ["transformer.h.0.mlp.c_proj", "transformer.h.1.mlp.c_proj"]
    for name in ("lora", "adalora"):
        wrapped = wrap_method(tiny_gpt2(), method(name, list(PAPER_MATRICES)), "gpt2",
                               100, 10)
        out = wrapped(input_ids=torch.tensor([[5, 6, 7, 0]]), labels=torch.tensor([1]))
        out.loss.backward()  # PEFT adapts GPT-2's Conv1D (fan_in_fan_out)


def test_arch_auto_follows_the_model_type():
    from transformers import AutoConfig

    from lingo.models.build import resolve_arch

    assert resolve_arch("auto", AutoConfig.for_model("llama")) == "llama"
    assert resolve_arch("auto", AutoConfig.for_model("mistral")) == "llama"
    assert resolve_arch("auto", AutoConfig.for_model("gpt2")) == "gpt2"
    assert resolve_arch("auto", AutoConfig.for_model("opt")) == "opt"
    assert resolve_arch("opt", AutoConfig.for_model("llama")) == "opt"  # explicit wins
    with pytest.raises(LingoError, match="model_type='bloom' has no mapping"):
        resolve_arch("auto", AutoConfig.for_model("bloom"))


@pytest.mark.parametrize(("name", "limit"), [("tiny_opt", 1024), ("tiny_bert", 1024),
                                             ("opt125m", 2048), ("nt500m", 1000),
                                             ("tiny_esm", 1024),
                                             ("smollm2_135m", None), ("dnabert2", None)])
def test_inputs_longer_than_the_position_table_are_refused(name, limit):
    """OPT, BERT and ESM with absolute positions (NT-500M's; ESM's start after the pad id, so
    1002 rows hold 1000 tokens) have a table of learned positions:
    a longer input is one message with the limit, not an index error inside torch's embedding.
    ALiBi (DNABERT-2: remote code, so its config's numbers alone) and rotary (Llama) models
    have no such table."""
    from types import SimpleNamespace

    from lingo.models.build import check_positions

    config = model_config(name)
    if name == "dnabert2":
        net = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=512))
    else:
        net = on_meta(name)
    table = net.config.max_position_embeddings
    if limit is None:
        check_positions(net, config, config.arch, 10 * table)
        return
    # as many as the table holds (ESM: after the pad id)
    check_positions(net, config, config.arch, limit)
    with pytest.raises(LingoError, match=f"has {limit} positions: set tokenizer.max_length="):
        check_positions(net, config, config.arch, limit + 1)


def test_a_half_precision_checkpoint_trains_from_fp32_weights(tmp_path):
    """facebook/opt-125m and opt-350m are saved in fp16, and transformers 5 loads a checkpoint
    in its saved dtype: the master weights must be fp32 (autocast computes in bf16 or fp16)."""
    from lingo.models import build_model

    net = AutoModelForSequenceClassification.from_config(
        random_config(model_config("tiny_opt"), 100, num_labels=2, pad_token_id=1)).half()
    net.save_pretrained(tmp_path)
    config = ModelConfig(name="opt_fp16", display_name="OPT fp16", arch="opt",
                         init="pretrained", name_or_path=str(tmp_path))
    loaded = build_model(config, num_labels=2, vocab_size=100, pad_token_id=1, seed=0)
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}


@pytest.mark.parametrize("steps, delta_t", [(40, 3), (60, 5000), (613, 7), (3065, 100)])
def test_budget_events_are_the_steps_where_peft_draws_masks(steps, delta_t):
    """The count ARS's warning and sampling_events rest on, against PEFT's own schedule: an
    event at t when t < T - tfinal (the tuner calls the allocator) and budget_schedule masks."""
    from lingo.methods.adalora.schedule import adalora_schedule, budget_events

    config = method("ars", YEAST)
    config.delta_t, config.final_ratio = delta_t, 0.15
    net = wrap_method(on_meta("tiny_opt", 4105), config, "opt", steps, steps // 10)
    schedule = adalora_schedule(config, steps, steps // 10)
    allocator = net.base_model.rankallocator
    assert {k: getattr(allocator.peft_config, k) for k in schedule} == schedule  # as planned
    peft_events = sum(allocator.budget_schedule(t)[1]
                      for t in range(1, steps + 1) if t < steps - schedule["tfinal"])
    assert budget_events(schedule) == peft_events


@pytest.mark.parametrize("steps, events", [(60, 5), (613, 5), (613, 25), (3065, 25),
                                           (50_000, 25), (50_000, 100)])
def test_delta_t_auto_gives_auto_events_in_the_budget_window(steps, events):
    from lingo.methods.adalora.schedule import adalora_schedule, budget_events

    config = method("ars", YEAST)
    config.delta_t, config.auto_events = "auto", events
    schedule = adalora_schedule(config, steps, steps // 10)
    assert abs(budget_events(schedule) - events) <= 1


def test_budget_events_count_only_steps_the_run_reaches_and_calls():
    """legacy=paper_code: a fixed T of 7,485 steps, deltaT 5000, the allocator every 50 steps:
    a run of 1,000 real steps never reaches the event at 5000."""
    from lingo.methods.adalora.schedule import budget_events

    schedule = {"tinit": 200, "tfinal": 200, "deltaT": 5000, "total_step": 7485}
    assert budget_events(schedule, steps=1000, every=50) == 0
    assert budget_events(schedule, steps=7485, every=50) == 1
    assert budget_events({**schedule, "deltaT": 30}, steps=7485, every=50) == len(
        [t for t in range(201, 7285) if t % 30 == 0 and t % 50 == 0])
