"""DDP helpers: one process writes the run directory; every rank must allocate the same ranks."""

import os

import torch
import torch.distributed as dist


def is_main_process() -> bool:
    """Rank 0 under torchrun (``RANK``), or the only process."""
    return int(os.environ.get("RANK", "0")) == 0


def assert_same_on_all_ranks(values: torch.Tensor, what: str) -> None:
    """Raise if any DDP rank holds different ``values`` (no-op without a process group)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    local = values.detach().to(torch.float64).cpu().contiguous()
    gathered = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, local)
    for rank, other in enumerate(gathered):
        if not torch.equal(other, local):
            raise RuntimeError(f"{what} differs between DDP ranks {dist.get_rank()} and {rank}")
