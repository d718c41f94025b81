"""Sweeps (`conf/sweep/`): Hydra multiruns into the same run directories as single runs."""

import json

import pytest
import yaml

from tests.conftest import REPO, Finished, run_train
from tests.report.test_report import run_report, unpadded


def test_table1_sweeps_the_papers_axes():
    sweep = yaml.safe_load((REPO / "conf" / "sweep" / "table1.yaml").read_text())
    params = sweep["hydra"]["sweeper"]["params"]
    # BBPE on OPT is OPT's own tokenizer: those cells are Table S3's Lingo runs (make tables)
    assert params == {"model": "opt125m,opt350m", "tokenizer": "onehot",
                      "task": "prom_all,prom_notata,prom_tata", "seed": "1,2,3"}
    assert sweep["defaults"] == [{"override /method": "lingo"}]
    assert sweep["hydra"]["mode"] == "MULTIRUN"
    assert sweep["logger"]["group"] == "table1"


@pytest.mark.slow
def test_table1_dry_run_on_the_tiny_model(run_env, tmp_path):
    done = run_train(["+sweep=table1", "hydra.sweeper.params.model=tiny_opt",
                      "hydra.sweeper.params.task=prom_tata", "hydra.sweeper.params.seed=1",
                      "trainer.max_steps=6", "trainer.eval_steps=3", "method.delta_t=2",
                      "logger=none", "trainer.progress_bar=false", f"output_root={tmp_path}"],
                     run_env)
    assert done.returncode == 0, done.stderr[-3000:]
    found = sorted(tmp_path.glob("runs/prom_tata/*/seed1-*/metrics.json"))
    metrics = [json.loads(p.read_text()) for p in found]
    assert [(m["model"], m["method"], m["tokenizer"]) for m in metrics] == [
        ("tiny_opt", "lingo", "onehot")]
    assert all(m["status"] == "completed" for m in metrics)
    onehot_preview = (found[0].parent / "inputs_preview.txt").read_text()
    assert "Sequence: " in onehot_preview and "\nAnnotation:" in onehot_preview


@pytest.mark.parametrize("name, tasks, runs", [("table_s2", 10, 720), ("table_s3", 3, 216)])
def test_tables_s2_s3_sweep_every_model_method_and_seed(name, tasks, runs):
    sweep = yaml.safe_load((REPO / "conf" / "sweep" / f"{name}.yaml").read_text())
    params = {k: v.split(",") for k, v in sweep["hydra"]["sweeper"]["params"].items()}
    assert params["model"] == ["dnabert2", "nt500m", "opt125m", "opt350m"]
    assert params["method"] == ["probe", "fmft", "lora", "adalora", "ars", "lingo"]
    assert len(params["task"]) == tasks and params["seed"] == ["1", "2", "3"]
    assert len(params["model"]) * len(params["method"]) * tasks * 3 == runs
    assert sweep["logger"]["group"] == name


def multirun(run_env: dict, root, *overrides: str) -> Finished:
    return run_train(["-m", "trainer.max_steps=4", "trainer.eval_steps=2", "method.delta_t=1",
                      "task.dev_subset=64", "trainer.progress_bar=false", f"output_root={root}",
                      *overrides], run_env)


@pytest.mark.slow
def test_sweep_then_tables_marks_skipped_and_failed_jobs(short_test_env, tmp_path):
    """The issue's acceptance run, on tiny models: every method on two tasks, each job its own
    offline W&B run in the sweep's group; the two classical baselines; a last sweep holds a
    broken job (a bad learning rate), which fails alone, and a combination the paper does not
    run, which is skipped."""
    env = short_test_env  # its 15 runs: 96 test rows each (train and dev whole)
    done = multirun(env, tmp_path, "model=tiny_opt", "method=fmft,lora,adalora,ars,lingo",
                    "task=prom_tata,h3", "seed=1", "logger.group=dry_run")
    assert done.returncode == 0, done.stderr[-3000:]
    baselines = multirun(env, tmp_path, "model=kmer_lr,cnn", "method=none",
                         "task=prom_tata,h3", "seed=1", "trainer.epochs=1", "logger=none")
    assert baselines.returncode == 0, baselines.stderr[-3000:]
    broken = multirun(env, tmp_path, "model=tiny_opt,tiny_bert", "method=lingo",
                      "task=prom_tata", "seed=2", "trainer.lr=-1,3e-4", "logger=none")
    assert broken.returncode != 0  # the sweep reports its failed job ...
    metrics = [json.loads(p.read_text()) for p in tmp_path.glob("runs/*/*/*/metrics.json")]
    status = sorted((m["model"], m["method"], m["task"], m["seed"], m["status"]) for m in metrics)
    assert status.count(("tiny_bert", "lingo", "prom_tata", 2, "skipped")) == 2
    assert status.count(("tiny_opt", "lingo", "prom_tata", 2, "failed")) == 1
    assert status.count(("tiny_opt", "lingo", "prom_tata", 2, "completed")) == 1  # ... after
    assert sum(s[-1] == "completed" for s in status) == 15  # running the others
    failed = next(m for m in metrics if m["status"] == "failed")
    assert "trainer.lr=-1" in failed["error"]
    wandb_runs = list(tmp_path.glob("runs/*/*/seed1-*/wandb/offline-run-*/run-*.wandb"))
    assert len(wandb_runs) == 10  # one offline W&B run per job of the first sweep

    tables = run_report(env, "--results", str(tmp_path / "runs"), "--out",
                        str(tmp_path / "report"))
    assert tables.returncode == 0, tables.stderr[-3000:]
    s3 = unpadded((tmp_path / "report" / "tables" / "table_s3.md").read_text())
    blocks = dict(block.split("\n", 1) for block in s3.split("\n## ")[1:])
    common = ("full data (train split), as in the paper; with method.delta_t=1 task.dev_subset=64 "
              "trainer.eval_steps=2")
    first = blocks[f"{common} trainer.max_steps=4"]  # the first sweep: seed 1
    assert "| tiny_opt | Lingo |" in first and "[1] |" in first
    # the last sweep's learning rates are other settings: blocks of their own, not more seeds
    broken_lr = blocks[f"{common} trainer.lr=-1 trainer.max_steps=4"]
    assert "| tiny_opt | Lingo | — | — | — | — | ✗ [1] |" in broken_lr
    assert "| tiny_bert | Lingo | — | — | — | — | n/a |" in broken_lr
    # ‡1: its 4 steps leave ARS's draws (steps 2, 3) after the selected checkpoint (step 2)
    assert "[1] ‡1 |" in blocks[f"{common} trainer.lr=0.0003 trainer.max_steps=4"]
    assert "trainer.lr=-1" in blocks["Failed, unfinished or duplicate runs"]
    s2 = unpadded((tmp_path / "report" / "tables" / "table_s2.md").read_text())
    assert "reduced setup" in s2 and "| tiny_opt | FMFT |" in s2  # h3: dev/test only here
    for table in (s2, s3):  # the classical baselines: rows of their own, no paper value
        assert "| Baseline: 6-mer LR | — |" in table and "| Baseline: CNN | — |" in table
    # the figures of each block, named after it
    assert (tmp_path / "report" / "figures" / "fig3_method_pareto_full_method.delta_t=1_"
            "task.dev_subset=64_trainer.eval_steps=2_trainer.max_steps=4.png").is_file()
    assert list((tmp_path / "report" / "wandb").glob("offline-run-*/run-*.wandb"))
