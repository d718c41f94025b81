"""`trainer.precision` / `lingo-predict --precision`: auto is bf16 only where it is native."""

from pathlib import Path

import pytest
import torch

from lingo.config import TrainerConfig
from lingo.errors import LingoError
from lingo.training import trainer
from lingo.training.precision import describe_machine, native_bf16, resolve_precision

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def _cpu_has(monkeypatch, amx: bool, avx512_bf16: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)


@pytest.mark.parametrize(("amx", "avx512_bf16", "expected"), [
    (True, True, "bf16"), (False, True, "bf16"), (True, False, "bf16"), (False, False, "fp32")])
def test_auto_on_cpu_follows_its_bf16_instructions(monkeypatch, amx, avx512_bf16, expected):
    _cpu_has(monkeypatch, amx, avx512_bf16)
    assert resolve_precision("auto", CPU) == expected


def test_auto_on_gpu_follows_its_bf16_support(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_precision("auto", CUDA) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)  # V100, T4
    assert resolve_precision("auto", CUDA) == "fp32"
    with pytest.raises(LingoError, match="this GPU does not support bf16; use fp32 or auto"):
        resolve_precision("bf16", CUDA)


def test_an_explicit_choice_is_kept(monkeypatch):
    _cpu_has(monkeypatch, False, False)
    assert resolve_precision("bf16", CPU) == "bf16"  # emulated and slow, but asked for
    _cpu_has(monkeypatch, True, True)
    assert resolve_precision("fp32", CPU) == "fp32"


def test_fp16_is_amp_on_a_gpu_and_fp32_on_a_cpu(monkeypatch, tmp_path, caplog):
    """The paper code's --fp16 (legacy=paper_code): AMP with loss scaling where a GPU runs it;
    a CPU computes fp16 natively almost nowhere, so fp32 there, said in the log."""
    assert resolve_precision("fp16", CUDA) == "fp16"
    assert resolve_precision("fp16", CPU) == "fp32" and "fp32 on cpu" in caplog.text
    monkeypatch.setattr(trainer, "compute_device", lambda: CPU)
    args = trainer.training_arguments(TrainerConfig(precision="fp16"), tmp_path, 0, "mcc", "none")
    assert args.fp16 is False and args.bf16 is False


def test_warmup_is_a_ratio_or_a_number_of_steps(tmp_path):
    """trainer.warmup_steps (the paper code's --warmup_steps 50) replaces the ratio, in the
    Trainer's schedule and in AdaLoRA's tinit alike (planned from the Trainer's own count)."""
    from lingo.config import MethodConfig
    from lingo.methods.adalora.schedule import adalora_schedule

    method = MethodConfig(name="ars", targets=["Wq"], init_r=8, target_r=4, delta_t=10,
                          final_ratio=0.1, beta1=0.85, beta2=0.85)
    for config, warmup in ((TrainerConfig(max_steps=1000), 100),
                           (TrainerConfig(max_steps=1000, warmup_steps=50), 50)):
        args = trainer.training_arguments(config, tmp_path, 0, "mcc", "none")
        assert args.get_warmup_steps(1000) == warmup
        assert adalora_schedule(method, 1000, args.get_warmup_steps(1000))["tinit"] == warmup


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="reads Linux's /proc/cpuinfo")
def test_this_machine_is_reported_as_its_cpu_flags_say():
    """The kernel's view of the CPU, independent of torch's own query."""
    flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("flags")).split()
    assert native_bf16(CPU) is ("amx_tile" in flags or "avx512_bf16" in flags)


@pytest.mark.parametrize("native", [True, False])
def test_training_arguments_autocast_only_where_native(monkeypatch, tmp_path, native):
    monkeypatch.setattr(trainer, "compute_device", lambda: CPU)  # even on a GPU machine
    _cpu_has(monkeypatch, native, False)
    args = trainer.training_arguments(TrainerConfig(), tmp_path, 0, "auc", "none")
    assert args.bf16 is native and args.use_cpu
    assert trainer.training_arguments(TrainerConfig(precision="fp32"), tmp_path, 0, "auc",
                              "none").bf16 is False


@pytest.mark.parametrize("avx512_bf16", [True, False])
def test_the_machine_description_says_whether_bf16_is_native(monkeypatch, avx512_bf16):
    """Two CPUs of one model name can differ in exactly this (AMD EPYC Zen 3 vs Zen 4), and
    it changes timings several-fold: bench and validate record it beside their numbers."""
    _cpu_has(monkeypatch, False, avx512_bf16)
    text = describe_machine()
    assert ("no native bf16" in text) is not avx512_bf16 and torch.__version__ in text
