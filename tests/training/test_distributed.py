"""DDP: real `torchrun --nproc_per_node=2` with gloo on the CPU; ranks must allocate alike."""

import json
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lingo.training.distributed import assert_same_on_all_ranks
from tests.conftest import REPO
from tests.methods.test_ars_training import SCHEDULE, rank_history


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check(rank: int, port: int, differ: bool, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        values = torch.tensor([True, rank == 1 and differ, False])
        assert_same_on_all_ranks(values, "the rank pattern")
        results.put((rank, "same"))
    except RuntimeError as err:
        results.put((rank, str(err)))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("differ", [False, True])
def test_rank_check_sees_a_difference_between_ranks(differ):
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_check, args=(rank, port, differ, results)) for rank in (0, 1)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    outcome = dict(results.get(timeout=5) for _ in procs)
    if differ:
        assert all("differs between DDP ranks" in message for message in outcome.values())
    else:
        assert outcome == {0: "same", 1: "same"}


@pytest.mark.slow
def test_torchrun_two_ranks_draw_identical_masks(short_test_env, tmp_path):
    run_dir = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={_free_port()}", "train.py", "model=tiny_opt", "task=prom_tata",
           "method=ars", "method.p_drop=0.2", "method.p_revive=0.2", "logger=none",
           "trainer.progress_bar=false", f"hydra.run.dir={run_dir}", *SCHEDULE]
    env = {**short_test_env, "OMP_NUM_THREADS": "1"}
    env.pop("RANK", None)
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # Every event passed the cross-rank check (a mismatch raises and fails the run).
    history = rank_history(run_dir)
    assert len(history) == 11 and sum(e["dropped"] + e["revived"] for e in history) > 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["steps"] == 40
    assert metrics["world_size"] == 2
