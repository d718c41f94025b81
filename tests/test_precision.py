"""`trainer.precision` / `lingo-predict --precision`: auto is bf16 only where it is native."""

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


def test_this_machine_is_reported_as_its_torch_sees_it():
    expected = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    assert native_bf16(CPU) is expected


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
