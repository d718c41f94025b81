"""bf16 autocast where the hardware computes in bf16, fp32 where it would only emulate it.

``auto``, the default of ``trainer.precision`` and ``lingo-predict --precision``, picks bf16 on a
CUDA GPU that supports it (Ampere and later) and on a CPU with AMX or AVX512-BF16 instructions
(Intel Sapphire Rapids and later, AMD Zen 4 and later), and fp32 elsewhere: `make bench`
measured bf16 autocast 1.7x faster than fp32 per training step on a CPU with AMX, and 6x slower
for the same matrix products on an AVX2-only CPU, where bf16 is emulated.
"""

import torch

from lingo.errors import LingoError


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
    """``fp32`` or ``bf16``: what a run asked for ``precision`` computes in on ``device``."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision == "bf16" and device.type == "cuda" and not native_bf16(device):
        raise LingoError("precision bf16: this GPU does not support bf16; use fp32 or auto")
    return precision
