"""`make tables` (lingo.report): run directories -> Tables S2/S3/1 beside the paper, figures,
and a W&B run of job type `tables`; on synthetic run directories of known values."""

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from lingo.report.figures import ars_vs_lingo, pareto_front, parse_count
from lingo.report.histone import fig5b_points
from lingo.report.paper import paper_cells
from lingo.report.runs import collect_runs
from lingo.report.synthetic import write_synthetic_runs
from lingo.report.tables import SPECS, aggregate, human_count, problems, write_table
from lingo.results import write_json
from tests.conftest import REPO, Finished, run_command

S2, S3, TABLE1, HISTONE = SPECS


def run_report(env: Mapping[str, str], *args: str) -> Finished:
    """``python -m lingo.report *args``, in this process."""
    from lingo.report.__main__ import main

    return run_command(main, ["lingo.report", *args], env)


def run_dir(root: Path, name: str, **metrics) -> Path:
    base = {"model": "opt125m", "method": "lora", "task": "prom_tata", "tokenizer": "native",
            "seed": 1, "legacy": None, "train_split": "train", "status": "completed",
            "trainable_params": 1_181_184}
    write_json(root / name / "metrics.json", {**base, **metrics})
    return root / name


def unpadded(markdown: str) -> str:
    """A markdown table without the padding that aligns its columns: | a | b |."""
    return re.sub(r" {2,}", " ", markdown)


def cell(cells: pd.DataFrame, **keys) -> pd.Series:
    match = cells
    for key, value in keys.items():
        match = match[match[key] == value]
    assert len(match) == 1, keys
    return match.iloc[0]


def test_paper_numbers_are_read_as_printed():
    s2 = paper_cells("table_s2")
    assert len(s2) == 18 * 10 and s2["paper"].notna().all()
    zero = cell(s2, model="dnabert2", row="lora", task="h3k4me3")
    assert zero["paper"] == 0.0  # the paper's own zero stays a zero
    assert cell(s2, model="opt350m", row="lingo", task="h4")["paper"] == 0.753
    assert cell(paper_cells("table_s3"), model="opt125m", row="ars", task="prom_tata")[
        "paper_params"] == "1.0M"
    assert cell(paper_cells("table1"), model="opt350m", row="onehot", task="prom_tata")[
        "paper"] == 0.807
    assert parse_count("1.6M") == 1.6e6 and parse_count("125M") == 125e6


def test_cells_hold_mean_sd_counts_and_the_papers_value(tmp_path):
    for seed, auc in ((1, 0.80), (2, 0.90), (3, 0.85)):
        run_dir(tmp_path, f"lora{seed}", seed=seed, **{"test/auc": auc})
    run_dir(tmp_path, "ars1", method="ars", **{"test/auc": 0.95}, params_at_budget=700_000,
            trainable_params=1_500_000)
    run_dir(tmp_path, "ars2", method="ars", seed=2, status="failed", error="boom")
    run_dir(tmp_path, "fmft", method="fmft", status="failed", error="out of memory")
    run_dir(tmp_path, "dna_lingo", model="dnabert2", method="lingo", status="skipped")
    run_dir(tmp_path, "reduced", method="lora", train_split="dev", **{"test/auc": 0.6})
    cells = aggregate(S3, collect_runs(tmp_path))

    lora = cell(cells, setup="full", model="opt125m", row="lora", task="prom_tata")
    assert lora["mean"] == pytest.approx(0.85) and lora["n"] == 3
    assert lora["sd"] == pytest.approx(np.std([0.80, 0.90, 0.85], ddof=1))
    assert lora["paper"] == 0.853 and lora["diff"] == pytest.approx(0.85 - 0.853)
    assert lora["rank"] == 2
    ars = cell(cells, setup="full", model="opt125m", row="ars", task="prom_tata")
    assert ars["rank"] == 1 and ars["failed"] == 1 and ars["params"] == 700_000  # at budget
    fmft = cell(cells, setup="full", model="opt125m", row="fmft", task="prom_tata")
    assert fmft["n"] == 0 and fmft["failed"] == 1
    assert cell(cells, setup="full", model="dnabert2", row="lingo", task="prom_tata")[
        "skipped"] == 1
    nothing = cell(cells, setup="full", model="nt500m", row="lora", task="prom_all")
    assert nothing["n"] == 0 and np.isnan(nothing["mean"]) and nothing["paper"] == 0.921
    assert cell(cells, setup="reduced", model="opt125m", row="lora", task="prom_tata")[
        "mean"] == 0.6  # the reduced setup is its own group, never mixed with full data


def test_runs_with_overrides_of_their_own_or_copied_are_not_more_seeds(tmp_path):
    """A run with other settings (its own overrides, `variant`) is its own block, and a second
    completed run of one cell and seed (a copy of a sweep under the results) counts once."""
    run_dir(tmp_path / "a", "s1", seed=1, variant="", **{"test/auc": 0.90})
    run_dir(tmp_path / "a", "s2", seed=2, **{"test/auc": 0.80})  # recorded before variants
    run_dir(tmp_path / "a", "short", seed=1, variant="trainer.max_steps=30", **{"test/auc": 0.6})
    run_dir(tmp_path / "b", "s1", seed=1, variant="", **{"test/auc": 0.10})  # a copy
    runs = collect_runs(tmp_path)
    cells = aggregate(S3, runs)
    full = cell(cells, setup="full", model="opt125m", row="lora", task="prom_tata")
    assert full["n"] == 2 and full["mean"] == pytest.approx(0.85)
    short = cell(cells, setup="full: trainer.max_steps=30", model="opt125m", row="lora",
                 task="prom_tata")
    assert short["n"] == 1 and short["mean"] == 0.6 and short["paper"] == 0.853
    listed = problems(runs, S3)
    assert list(listed["run_dir"]) == [str(tmp_path / "b" / "s1")]
    assert list(listed["status"]) == ["duplicate"]
    assert str(tmp_path / "a" / "s1") in listed["error"].iloc[0]
    write_table(cells, listed, S3, tmp_path / "out")
    text = (tmp_path / "out" / "table_s3.md").read_text()
    assert "## full data (train split), as in the paper; with trainer.max_steps=30" in text
    assert text.index("as in the paper\n") < text.index("; with trainer.max_steps=30")


def test_tables_cli_writes_marked_tables_and_figures(tmp_path):
    results = tmp_path / "runs"
    write_synthetic_runs(results, 400)
    run_dir(results, "broken", method="ars", seed=9, status="failed", error="CUDA out of memory")
    (results / "killed").mkdir()
    (results / "killed" / "config.yaml").write_text(
        "model: {name: tiny_opt}\nmethod: {name: lingo}\ntask: {name: h3, train_split: auto}\n"
        "tokenizer: {name: native}\nseed: 1\nlegacy: null\n")
    done = run_report(os.environ, "--results", str(results), "--out", str(tmp_path / "out"),
                      "--wandb", "disabled")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 failed" in done.stdout and "1 incomplete" in done.stdout
    tables = tmp_path / "out" / "tables"
    for spec in SPECS:
        for suffix in ("md", "csv", "tex"):
            assert (tables / f"{spec.name}.{suffix}").stat().st_size > 0
    s3 = unpadded((tables / "table_s3.md").read_text())
    assert "| OPT-125M | ARS |" in s3 and "/ 0.928 (" in s3  # the paper's value beside ours
    assert "†1" in s3 and "CUDA out of memory" in s3  # the failed seed, marked and listed
    assert "| DNABERT-2 | Lingo | — | — | n/a | n/a | n/a |" in s3  # skipped by design
    s2 = unpadded((tables / "table_s2.md").read_text())
    assert "| tiny_opt | Lingo | — | — | ✗ [1] |" in s2 and "killed" in s2  # never finished
    assert "\\textbf{" in (tables / "table_s3.tex").read_text()
    table1 = pd.read_csv(tables / "table1.csv")
    papers = table1[table1["row"].isin(["bbpe", "onehot"])]  # no such runs: the paper's only
    assert (papers["n"] == 0).all() and papers["paper"].notna().all() and len(papers) == 12
    own = table1[table1["row"] == "native"]  # Lingo on the model's own tokens
    assert (own[own["model"].str.startswith("opt")]["n"] > 0).all()
    assert (own[~own["model"].str.startswith("opt")]["skipped"] > 0).all()
    figures = {p.name for p in (tmp_path / "out" / "figures").iterdir()}
    for name in ("fig2_fmft_pareto", "fig3_method_pareto", "fig4_radar", "fig4_average",
                 "fig4_top2", "fig5a_attention"):
        assert {f"{name}.png", f"{name}.pdf"} <= figures
    assert not (tmp_path / "out" / "wandb").exists()


def test_tables_log_a_wandb_run_of_job_type_tables(tmp_path):
    results = tmp_path / "runs"
    write_synthetic_runs(results, 120)
    done = run_report(os.environ, "--results", str(results), "--out", str(tmp_path / "out"),
                      "--wandb", "offline")
    assert done.returncode == 0, done.stderr[-2000:]
    records = wandb_records(next((tmp_path / "out" / "wandb").glob("offline-run-*")))
    run = next(r["run"] for r in records if r["type"] == "run")
    assert run["job_type"] == "tables"
    files = [f["path"] for r in records if r["type"] == "files" for f in r["files"]["files"]]
    assert any(p.startswith("media/table/table_s2") for p in files)
    assert any(p.startswith("media/images/fig4_top2") for p in files)
    logged = next(r["history"]["item"] for r in records if r["type"] == "history")
    assert logged["table_s3._type"] == "table-file"


def wandb_records(run_folder: Path) -> list[dict]:
    """The records of an offline run's binary .wandb log, decoded by wandb's own reader."""
    wandb = Path(sys.executable).parent / "wandb"
    done = subprocess.run([str(wandb), "leet", "inspect", "--json", str(run_folder)],
                          capture_output=True, text=True, timeout=120, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_source_wandb_offline_is_one_clear_error(tmp_path):
    done = run_report({"PATH": "/usr/bin:/bin", "WANDB_MODE": "offline"}, "--source", "wandb",
                      "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("error: SOURCE=wandb") and "Traceback" not in done.stderr


def test_pareto_front_keeps_points_no_cheaper_point_beats():
    params = np.array([1e6, 2e6, 5e6, 1e8, 3e6])
    metric = np.array([0.80, 0.78, 0.85, 0.95, 0.90])
    assert pareto_front(params, metric).tolist() == [0, 4, 3]


def test_ars_vs_lingo_is_scipys_one_sided_paired_t_test():
    rng = np.random.default_rng(0)
    ars = rng.uniform(0.3, 0.7, 10)
    lingo = ars + rng.normal(0.02, 0.01, 10)
    tasks = [f"t{i}" for i in range(10)]
    cells = pd.DataFrame({"model": "opt125m", "task": tasks * 2, "row": ["ars"] * 10 +
                          ["lingo"] * 10, "mean": np.r_[ars, lingo], "n": 3})
    test = ars_vs_lingo(cells).iloc[0]
    assert test["p_value"] == pytest.approx(
        stats.ttest_rel(lingo, ars, alternative="greater").pvalue)
    assert test["p_value"] < 0.01 and test["paper_p_value"] == 0.013 and test["tasks"] == 10


def test_counts_print_like_the_paper():
    assert [human_count(c) for c in (1_181_184, 125_000_000, 6_300_000, 12_345)] == [
        "1.2M", "125M", "6.3M", "12.3k"]


def test_results_notebook_runs_headless_on_the_tables(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    write_synthetic_runs(tmp_path / "runs", 200)
    assert run_report(os.environ, "--results", str(tmp_path / "runs"), "--out",
                      str(tmp_path / "out"), "--wandb", "disabled").returncode == 0
    notebook = nbformat.read(REPO / "notebooks" / "results.ipynb", as_version=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LINGO_REPORT_DIR", str(tmp_path / "out"))
        nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(REPO / "notebooks")}}
                                ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    rows = len(pd.read_csv(tmp_path / "out" / "tables" / "table_s2.csv"))
    assert f"'table_s2': {rows}" in str(outputs[0])  # it read the tables written above
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 6  # Fig 2, 3, 4 and 5a


def test_fig5b_puts_every_curve_in_the_opt125m_runs_steps(tmp_path):
    """NT-500M reads a 1000 bp sequence as ~169 6-mers, OPT-125M as ~550 BPE tokens: one unit
    of the x-axis is the OPT-125M run's own step, for every curve; a run's own record (an
    OPT-125M step at *its* tokens, 5.4 here) is only the fallback."""
    for model, per_step, own_ratio in (("opt125m", 100, 1.0), ("nt500m", 150, 5.4)):
        folder = run_dir(tmp_path, model, model=model, method="ars", task="histone_human",
                         flops_per_step=per_step)
        (folder / "history.jsonl").write_text("".join(json.dumps(
            {"step": s, "dev/auc": 0.6, "train_flops": s * per_step,
             "flops_adjusted_steps": s * own_ratio}) + "\n" for s in (10, 20)))
    runs = collect_runs(tmp_path)
    curves, label = fig5b_points(runs)
    x = {name.split()[0]: list(curve["flops_adjusted_steps"]) for name, curve in curves}
    assert x == {"OPT-125M": [10, 20], "NT-500M": [15, 30]} and "100 FLOPs each" in label
    curves, label = fig5b_points(runs[runs["model"] == "nt500m"])  # no OPT-125M run
    assert list(curves[0][1]["flops_adjusted_steps"]) == [54, 108] and "own tokens" in label


def test_histone_human_table_and_fig5_from_per_label_runs(tmp_path):
    """Fig 5b-e and the macro-AUC table from runs' per_label.json and history.jsonl."""
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.5, 0.9, 104)
    for model, method, noise in (("opt125m", "lingo", 0.02), ("nt500m", "ars", 0.05)):
        for seed in (1, 2):
            folder = run_dir(tmp_path / "runs", f"{model}-{seed}", model=model, method=method,
                             task="histone_human", seed=seed, train_split="dev",
                             **{"test/auc": 0.7 + seed / 100})
            per_label = (truth + rng.normal(0, noise, 104)).round(4).tolist()
            per_label[:10] = [None] * 10  # one class in the test split
            write_json(folder / "per_label.json", {"test/auc_per_label": per_label})
            (folder / "history.jsonl").write_text("".join(
                json.dumps({"step": s, "dev/auc": 0.5 + s / 100, "flops_adjusted_steps": s * 4.4})
                + "\n" for s in (10, 20, 30)))
    done = run_report(os.environ, "--results", str(tmp_path / "runs"), "--out",
                      str(tmp_path / "out"), "--wandb", "disabled")
    assert done.returncode == 0, done.stderr[-2000:]
    cells = pd.read_csv(tmp_path / "out" / "tables" / "histone_human.csv")
    ours = cells[(cells["model"] == "opt125m") & (cells["n"] > 0)].iloc[0]
    assert ours["mean"] == pytest.approx(0.715) and ours["paper"] == 0.757
    assert ours["setup"] == "reduced"
    figures = {p.name for p in (tmp_path / "out" / "figures").iterdir()}
    assert {"fig5a_attention.png", "fig5b_auc_vs_flops_reduced.png",
            "fig5cd_per_label_reduced.png", "fig5e_correlation_reduced.png"} <= figures
    corr = pd.read_csv(tmp_path / "out" / "tables" / "histone_human_correlation_reduced.csv",
                       index_col=0)
    assert corr.shape == (2, 2) and 0.5 < corr.iloc[0, 1] < 1.0  # both track the same labels


def test_the_variant_of_a_run_that_does_not_record_it_is_its_first_attempts(tmp_path):
    """Runs of an older Lingo (metrics.json without `variant`, Hydra's record in .hydra/) and
    unfinished runs (config.yaml only) are placed by the overrides of the attempt that started
    them, not by a later attempt's (a refused re-run with other settings, say)."""
    def hydra_record(folder: Path, *overrides: str) -> None:
        folder.mkdir(parents=True)
        (folder / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {
            "job": {"config": {"override_dirname": {"exclude_keys": ["seed", "model"]}}},
            "overrides": {"task": ["model=tiny_opt", *overrides]}}}))

    old = run_dir(tmp_path, "old", **{"test/auc": 0.7})  # no variant key
    hydra_record(old / ".hydra", "trainer.max_steps=30")
    hydra_record(old / ".hydra" / "2026-12-02_10-00-00-000000", "trainer.lr=1")  # later
    new = tmp_path / "unfinished"
    (new).mkdir()
    (new / "config.yaml").write_text(
        "model: {name: opt125m}\nmethod: {name: lora}\ntask: {name: prom_tata, train_split: "
        "auto}\ntokenizer: {name: native}\nseed: 2\nlegacy: null\n")
    hydra_record(new / ".hydra" / "2026-12-01_09-00-00-000000", "legacy=paper_code", "seed=2",
                 "trainer.eval_steps=5")
    hydra_record(new / ".hydra" / "2026-12-01_11-00-00-000000", "trainer.eval_steps=7")
    runs = collect_runs(tmp_path).set_index("run_dir")
    assert runs.loc[str(old), "variant"] == "trainer.max_steps=30"
    assert runs.loc[str(new), "variant"] == "trainer.eval_steps=5"  # setup keys left out
    assert runs.loc[str(new), "status"] == "incomplete"


def test_cells_carry_provenance_and_mark_mixed_precision_and_no_sampling(tmp_path):
    run_dir(tmp_path, "ars1", method="ars", seed=1, precision="bf16", git_commit="aaa",
            sampling_events=0, **{"test/auc": 0.8})
    run_dir(tmp_path, "ars2", method="ars", seed=2, precision="fp32", git_commit="bbb",
            sampling_events=3, sampling_events_selected=0, **{"test/auc": 0.9})  # all later
    run_dir(tmp_path, "lingo1", method="lingo", precision="bf16", git_commit="aaa",
            sampling_events=25, **{"test/auc": 0.9})
    run_dir(tmp_path, "lora1", precision="bf16", git_commit="aaa", **{"test/auc": 0.85})
    cells = aggregate(S3, collect_runs(tmp_path))
    ars = cell(cells, setup="full", model="opt125m", row="ars", task="prom_tata")
    assert ars["run_dirs"] == f"{tmp_path / 'ars1'};{tmp_path / 'ars2'}"
    assert ars["commits"] == "aaa;bbb" and ars["precisions"] == "bf16;fp32"
    assert ars["no_sampling"] == 2
    lingo = cell(cells, setup="full", model="opt125m", row="lingo", task="prom_tata")
    assert lingo["no_sampling"] == 0 and lingo["precisions"] == "bf16"
    assert cell(cells, setup="full", model="opt125m", row="lora", task="prom_tata")[
        "no_sampling"] == 0  # LoRA records no sampling_events: never marked
    write_table(cells, problems(collect_runs(tmp_path), S3), S3, tmp_path / "out")
    md = unpadded((tmp_path / "out" / "table_s3.md").read_text())
    rows = {line.split(" | ")[1]: line for line in md.splitlines() if "| OPT-125M |" in line}
    assert "±0.071 [2] ‡2 ◇ / " in rows["ARS"]  # never sampled, two precisions
    assert "‡" not in rows["Lingo"] and "◇" not in rows["Lingo"]
    csv = pd.read_csv(tmp_path / "out" / "table_s3.csv")
    assert set(csv.columns) >= {"run_dirs", "commits", "precisions", "no_sampling"}


def test_table1_reads_opts_lingo_runs_as_its_bbpe_cells(tmp_path):
    """OPT's own tokenizer is GPT-2's BBPE: Table S3's Lingo runs fill Table 1's BBPE row, and a
    seed also trained with tokenizer=bbpe counts once."""
    run_dir(tmp_path, "own1", method="lingo", arch="opt", seed=1, **{"test/auc": 0.8})
    run_dir(tmp_path, "own2", method="lingo", arch="opt", seed=2, **{"test/auc": 0.9})
    run_dir(tmp_path, "bbpe1", method="lingo", arch="opt", seed=1, tokenizer="bbpe",
            **{"test/auc": 0.8})
    run_dir(tmp_path, "onehot1", method="lingo", arch="opt", tokenizer="onehot",
            **{"test/auc": 0.7})
    run_dir(tmp_path, "dna", model="nt500m", method="lingo", arch="esm", status="skipped")
    cells = aggregate(TABLE1, collect_runs(tmp_path))
    bbpe = cell(cells, setup="full", model="opt125m", row="bbpe", task="prom_tata")
    assert bbpe["n"] == 2 and bbpe["mean"] == pytest.approx(0.85)
    assert cell(cells, setup="full", model="opt125m", row="onehot", task="prom_tata")["n"] == 1
    assert "native" not in set(cells["row"])  # no DNA model's Lingo cell in Table 1
    listed = problems(collect_runs(tmp_path), TABLE1)
    assert list(listed["status"]) == ["duplicate"]  # the seed run both ways: listed, once
    assert listed["run_dir"].iloc[0] in (str(tmp_path / "bbpe1"), str(tmp_path / "own1"))
