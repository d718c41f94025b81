"""bf16 autocast where the hardware computes in bf16, fp32 where it would only emulate it.

``auto``, the default of ``trainer.precision`` and ``lingo-predict --precision``, picks bf16 on a
CUDA GPU that supports it (Ampere and later) and on a CPU with AMX or AVX512-BF16 instructions
(Intel Sapphire Rapids and later, AMD Zen 4 and later), and fp32 elsewhere: `make bench`
measured bf16 autocast 1.7x faster than fp32 per training step on a CPU with AMX, and 6x slower
for the same matrix products on an AVX2-only CPU, where bf16 is emulated.
"""

import logging
import os
import platform
from pathlib import Path

import torch

from lingo.errors import LingoError

log = logging.getLogger(__name__)


def compute_device() -> torch.device:
    """Where the HF Trainer and lingo-predict run: the GPU when there is one."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bf16 matrices in hardware."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":  # torch has no public query; these are what oneDNN dispatches on
        return torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32``, ``bf16`` or ``fp16``: what a run asked for ``precision`` computes in on
    ``device``. fp16 is AMP with loss scaling on a GPU (the paper code's ``--fp16``); a CPU
    computes fp16 natively almost nowhere, so it runs fp32 there (logged, and recorded)."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision == "fp16" and device.type != "cuda":
        log.warning("precision fp16 (AMP, the paper code's --fp16) is for a GPU: fp32 on %s",
                    device.type)
        return "fp32"
    if precision == "bf16" and device.type == "cuda" and not native_bf16(device):
        raise LingoError("precision bf16: this GPU does not support bf16; use fp32 or auto")
    return precision


def describe_machine() -> str:
    """CPU model, cores, whether it computes bf16 natively, torch version (and the GPU when
    there is one): what a benchmark or a validation arm records beside its timings."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    bf16 = "native bf16" if native_bf16(torch.device("cpu")) else "no native bf16"
    text = f"{cpu}, {os.cpu_count()} cores, {bf16}, torch {torch.__version__}"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text
