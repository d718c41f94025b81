"""`make bench` keeps working: its smoke mode (tiny model, 1-2 steps per configuration) runs
every section and writes the results files with the documented schema. Speed itself is never
asserted here: it is measured by `make bench`, as ratios against a baseline."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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
                "lines"):
        assert key in results, key
    assert set(results["section_seconds"]) == {"training", "allocator", "precision", "batches",
                                               "equivalence", "tables", "gpu", "predict"}
    assert isinstance(results["train_throughput_ratio"], float)
    assert isinstance(results["ars_vs_adalora_step_ratio"], float)
    assert isinstance(results["ars_vs_adalora_paired_bound"], float)
    assert results["precision"]["auto"] == ("bf16" if results["precision"]["native_bf16"]
                                            else "fp32")
    keys = {line["key"] for line in results["lines"]}
    for prefix in ("train_tokens_per_s/prom_tata/lora", "train_tokens_per_s/prom_tata/adalora",
                   "train_tokens_per_s/prom_tata/ars", "pad_fraction/prom_tata/ars",
                   "peak_rss_mb/prom_tata", "eval_seq_per_s", "ars_step_s/prom_tata",
                   "ars_vs_lora_step_s/prom_tata", "ars_step_paired_bound_s/prom_tata",
                   "allocation_event_ms", "bf16_vs_fp32_block_ms",
                   "batch_label_share_sd/prom_tata", "equivalence_dev_auc",
                   "tables_aggregation_s", "tables_cli_s", "gpu", "predict_merged_seq_per_s",
                   "predict_three_adapters_seq_per_s"):
        assert prefix in keys, prefix
    for line in results["lines"]:
        assert {"figure", "value", "baseline", "ratio", "machine", "date"} <= line.keys()
        assert line["machine"] == results["machine"] and line["date"] == results["date"]
        if isinstance(line["value"], float) and isinstance(line["baseline"], float):
            assert line["ratio"] == pytest.approx(line["value"] / line["baseline"], rel=1e-2)
    markdown = (tmp_path / "results.md").read_text()
    assert "train_throughput_ratio" in markdown and results["machine"] in markdown
