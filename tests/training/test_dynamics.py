"""lingo.training.dynamics and the per-group learning rates, in-process on tiny random OPTs."""

import pytest
import torch
from peft.tuners.lora import LoraLayer
from transformers import AutoModelForSequenceClassification, TrainingArguments

from lingo.config import MethodConfig, ModelConfig
from lingo.methods.heads import is_head
from lingo.models.build import random_config
from lingo.training.dynamics import LossSplit, adapter_delta_norm
from lingo.training.trainer import LingoTrainer
from tests.conftest import wrap_method

TINY = ModelConfig(name="t", display_name="t", arch="opt", init="random",
                   shape={"model_type": "opt", "hidden_size": 16, "num_hidden_layers": 2,
                          "ffn_dim": 32, "num_attention_heads": 2, "word_embed_proj_dim": 16,
                          "max_position_embeddings": 64})


def tiny(method: str) -> torch.nn.Module:
    torch.manual_seed(0)
    net = AutoModelForSequenceClassification.from_config(
        random_config(TINY, 40, num_labels=2, pad_token_id=1))
    config = MethodConfig(name=method, targets=["Wq", "Wv"], init_r=4, target_r=2,
                          delta_t=2, final_ratio=0.2, beta1=0.85, beta2=0.85)
    return wrap_method(net, config, "opt", total_steps=20, warmup_steps=2)


def batch(n: int = 4) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {"input_ids": torch.randint(3, 40, (n, 12), generator=generator),
            "labels": torch.tensor([0, 1] * (n // 2))}


def test_lora_delta_norm_is_the_sum_of_b_a_scale_norms():
    net = tiny("lora")
    assert adapter_delta_norm(net) == 0.0  # LoRA's B starts at zero
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, LoraLayer):
                layer.lora_B["default"].weight.normal_()
    expected = sum(torch.linalg.matrix_norm(layer.lora_B["default"].weight
                                            @ layer.lora_A["default"].weight
                                            * layer.scaling["default"]).item()
                   for layer in net.modules() if isinstance(layer, LoraLayer))
    assert adapter_delta_norm(net) == pytest.approx(expected, rel=1e-5)
    assert adapter_delta_norm(tiny("fmft")) is None  # no adapters


def test_svd_delta_norm_is_p_lambda_q_scale_over_rank():
    net = tiny("adalora")
    assert adapter_delta_norm(net) == 0.0  # Λ starts at zero (PEFT's AdaLoRA init)
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, LoraLayer):
                layer.lora_E["default"].fill_(1.0)
    layers = [m for m in net.modules() if isinstance(m, LoraLayer)]
    expected = sum(torch.linalg.matrix_norm(
        m.lora_B["default"] @ (m.lora_A["default"] * m.lora_E["default"])
        * m.scaling["default"] / (m.ranknum["default"] + 1e-5)).item() for m in layers)
    assert adapter_delta_norm(net) == pytest.approx(expected, rel=1e-5)


def test_loss_split_separates_the_task_loss_from_the_orthogonality_term():
    net = tiny("adalora")
    split = LossSplit(net.base_model)
    net.train()
    out = net(**batch())
    task = torch.nn.functional.cross_entropy(out.logits, batch()["labels"])
    values = split.read()
    assert values["task_loss"] == pytest.approx(task.item(), rel=1e-5)
    assert values["task_loss"] + values["orth_loss"] == pytest.approx(out.loss.item(), rel=1e-5)
    assert values["orth_loss"] > 0  # P, Q ~ N(0, 0.02) are far from orthogonal
    net.eval()
    net(**batch())
    assert split.read() == {}  # evaluation forwards are not training's


def test_probe_trains_the_head_alone():
    net = tiny("probe")
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    assert trainable == ["score.weight"]


@pytest.mark.parametrize("method", ["lora", "fmft"])
def test_head_lr_puts_the_head_in_groups_of_its_own(tmp_path, method):
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-4, weight_decay=0.01,
                             use_cpu=True, report_to="none")

    def groups(head_lr: float | None) -> list[tuple[float, float, list[str]]]:
        net = tiny(method)
        trainer = LingoTrainer(model=net, args=args)
        trainer.head_lr = head_lr
        optimizer = trainer.create_optimizer()
        assert trainer.create_optimizer() is optimizer  # built once
        names = {id(p): n for n, p in net.named_parameters()}
        return [(g["lr"], g["weight_decay"], [names[id(p)] for p in g["params"]])
                for g in optimizer.param_groups]

    plain, split = groups(None), groups(3e-3)
    assert {lr for lr, _, _ in plain} == {1e-4}  # head_lr unset: the Trainer's own groups
    for lr, _, params in split:
        heads = {is_head(n) for n in params}
        assert heads in ({True}, {False})  # no group mixes head and backbone
        assert lr == (3e-3 if heads == {True} else 1e-4)
    assert any(lr == 3e-3 for lr, _, _ in split)
    # every trainable parameter once, in a group of the weight decay the Trainer gave it
    decay = {n: wd for _, wd, params in plain for n in params}
    assert sorted(decay) == sorted(n for _, _, params in split for n in params)
    assert all(decay[n] == wd for _, wd, params in split for n in params)
    if method == "fmft":  # the backbone with and without decay; OPT's head (no bias) with
        assert len(split) == 3
