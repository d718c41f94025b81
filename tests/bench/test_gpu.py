"""On a CUDA device (marker gpu: left out of CI, run where a GPU is lent): training in bf16 and
fp16, and the GPU lines of `make bench`."""

import pytest
import torch

from tests.training.test_training import train

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_the_bench_gpu_lines_time_both_methods_and_their_mfu():
    from bench.gpu import gpu_lines, peak_flops

    rows = gpu_lines(models=("tiny_opt",), steps=2, warmup=1, seq_len=64, tokens_per_step=1024)
    assert [(r["method"], r["batch"]) for r in rows] == [("fmft", 8), ("fmft", 16), ("ars", 8),
                                                         ("ars", 16)]
    name = torch.cuda.get_device_name(0)
    for r in rows:
        assert r["gpu"] == name and r["step_s"] > 0 and r["train_flops"] > 0
        assert (r["mfu"] is None) == (peak_flops(name) is None)


@pytest.mark.parametrize(("precision", "expected"), [
    ("auto", "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"),
    ("fp16", "fp16")])  # the paper code's AMP (legacy=paper_code)
def test_a_tiny_run_trains_on_the_gpu(run_env, tmp_path, precision, expected):
    metrics = train(run_env, tmp_path / "run", "method=ars", "method.delta_t=2",
                    "trainer.max_steps=10", "trainer.eval_steps=5",
                    f"trainer.precision={precision}")
    assert metrics["status"] == "completed" and metrics["precision"] == expected
