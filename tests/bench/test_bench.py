"""`make bench` keeps working: its smoke mode (tiny model, 1-2 steps per configuration) runs
every section and writes the results files with the documented schema. Speed itself is never
asserted here: it is measured by `make bench`, as ratios against a baseline."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_bench_smoke_writes_every_figure(run_env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
                          cwd=REPO, env=run_env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["smoke"] is True
    for key in ("machine", "date", "bench_seconds", "section_seconds", "train_throughput_ratio",
                "ars_vs_adalora_step_ratio", "ars_vs_lora_step_ratio", "train_throughput_ratios",
                "allocator", "precision", "batches", "equivalence", "tables", "gpu", "predict",
                "explain", "lines"):
        assert key in results, key
    assert set(results["section_seconds"]) == {"training", "overhead", "allocator", "precision",
                                               "batches", "equivalence", "tables", "gpu",
                                               "predict", "explain"}
    assert isinstance(results["train_throughput_ratio"], float)
    assert isinstance(results["ars_vs_adalora_step_ratio"], float)
    assert isinstance(results["ars_vs_adalora_paired_bound"], float)
    assert results["precision"]["auto"] == ("bf16" if results["precision"]["native_bf16"]
                                            else "fp32")
    equivalence = results["equivalence"]
    assert set(equivalence["dev_auc"]) == {"baseline", "ours", "ours_fast"}
    for arm, aucs in equivalence["dev_auc"].items():
        assert len(aucs) == len(equivalence["seeds"]) and all(0 <= a <= 1 for a in aucs), arm
    keys = {line["key"] for line in results["lines"]}
    for prefix in ("train_tokens_per_s/prom_tata/lora", "train_tokens_per_s/prom_tata/adalora",
                   "train_tokens_per_s/prom_tata/ars", "pad_fraction/prom_tata/ars",
                   "peak_rss_mb/prom_tata", "eval_seq_per_s", "ars_step_s/prom_tata",
                   "ars_vs_lora_step_s/prom_tata", "ars_step_paired_bound_s/prom_tata",
                   "allocation_event_ms", "bf16_vs_fp32_block_ms",
                   "batch_label_share_sd/prom_tata", "equivalence_dev_auc/ours",
                   "equivalence_dev_auc/ours_fast",
                   "tables_aggregation_s", "tables_cli_s", "gpu", "predict_merged_seq_per_s",
                   "predict_three_adapters_seq_per_s", "mutagenesis_seq_per_s/cnn",
                   "mutagenesis_seq_per_s/kmer_lr", "mutagenesis_seq_per_s/lora"):
        assert prefix in keys, prefix
    for line in results["lines"]:
        assert {"figure", "value", "baseline", "ratio", "machine", "date"} <= line.keys()
        assert line["machine"] == results["machine"] and line["date"] == results["date"]
        if isinstance(line["value"], float) and isinstance(line["baseline"], float):
            assert line["ratio"] == pytest.approx(line["value"] / line["baseline"], rel=1e-2)
    markdown = (tmp_path / "results.md").read_text()
    assert "train_throughput_ratio" in markdown and results["machine"] in markdown


def play_in_turns(max_steps: dict[int, int], fail_at: dict[int, int] | None = None):
    """Players stepping as trainers do under bench.worker.run_interleaved (wait for the turn,
    step, leave when done or on an error): the order in which steps ran, and each meter."""
    import threading
    from types import SimpleNamespace

    from bench.common import TurnMeter, Turns

    turns, order, lock = Turns(len(max_steps)), [], threading.Lock()
    meters = {i: TurnMeter(turns, i) for i in max_steps}

    def play(player: int) -> None:
        meter = meters[player]
        try:
            turns.wait(player)
            meter.on_train_begin(None, None, None)
            for step in range(1, max_steps[player] + 1):
                with lock:
                    order.append(player)
                if (fail_at or {}).get(player) == step:
                    raise RuntimeError("a trainer failed")
                meter.on_step_end(None, SimpleNamespace(global_step=step,
                                                        max_steps=max_steps[player]), None)
        except RuntimeError:
            pass
        finally:
            turns.leave(player)

    threads = [threading.Thread(target=play, args=(i,), daemon=True) for i in max_steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads), "the players deadlocked"
    return order, meters


def test_turns_interleave_trainers_and_time_only_warm_steps() -> None:
    """Three players take turns of two steps, in rounds that run through the permutations
    (0 1 2, then 0 2 1, then 1 0 2 ...); the first step of each turn (it follows another model's)
    is untimed; a player that finishes leaves the rotation."""
    max_steps = {0: 4, 1: 6, 2: 4}
    order, meters = play_in_turns(max_steps)
    assert order == [0, 0, 1, 1, 2, 2, 0, 0, 2, 2, 1, 1, 1, 1]
    for player, meter in meters.items():
        timed = [d is not None for d in meter.durations]
        assert timed == [False, True] * (max_steps[player] // 2)


def test_a_failed_player_leaves_the_turns_to_the_others() -> None:
    order, _ = play_in_turns({0: 4, 1: 4, 2: 4}, fail_at={1: 1})
    assert order == [0, 0, 1, 2, 2, 0, 0, 2, 2]


def test_the_gpu_lines_run_on_a_cpu_with_a_tiny_model():
    """bench/gpu.py only runs for real with CUDA; the same code, on the CPU, must train both
    methods at both batch sizes and account their FLOPs (no MFU without a GPU's peak)."""
    import torch

    from bench.gpu import gpu_lines

    rows = gpu_lines(torch.device("cpu"), models=("tiny_opt",), steps=1, warmup=1, seq_len=16,
                     tokens_per_step=256)
    assert [(r["method"], r["batch"]) for r in rows] == [("fmft", 8), ("fmft", 16), ("ars", 8),
                                                         ("ars", 16)]
    for r in rows:
        assert r["tokens_per_step"] == r["batch"] * 16 and r["step_s"] > 0
        assert r["mfu"] is None and r["gpu"] == "cpu"
    fmft, ars = rows[1]["train_flops"], rows[3]["train_flops"]
    assert 0 < ars < fmft  # ARS trains no backbone weights: no weight gradients for them
