"""Sweeps (`conf/sweep/`): Hydra multiruns into the same run directories as single runs."""

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO


def test_table1_sweeps_the_papers_axes():
    sweep = yaml.safe_load((REPO / "conf" / "sweep" / "table1.yaml").read_text())
    params = sweep["hydra"]["sweeper"]["params"]
    assert params == {"model": "opt125m,opt350m", "tokenizer": "bbpe,onehot",
                      "task": "prom_all,prom_notata,prom_tata", "seed": "1,2,3"}
    assert sweep["defaults"] == [{"override /method": "lingo"}]
    assert sweep["hydra"]["mode"] == "MULTIRUN"
    assert sweep["logger"]["group"] == "table1"


@pytest.mark.slow
def test_table1_dry_run_on_the_tiny_model(run_env, tmp_path):
    cmd = [sys.executable, "train.py", "+sweep=table1", "hydra.sweeper.params.model=tiny_opt",
           "hydra.sweeper.params.task=prom_tata", "hydra.sweeper.params.seed=1",
           "trainer.max_steps=6", "trainer.eval_steps=3", "method.delta_t=2", "logger=none",
           "trainer.progress_bar=false", f"output_root={tmp_path}"]
    done = subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    found = sorted(tmp_path.glob("runs/prom_tata/*/seed1-*/metrics.json"))
    metrics = [json.loads(p.read_text()) for p in found]
    assert [(m["model"], m["method"], m["tokenizer"]) for m in metrics] == [
        ("tiny_opt", "lingo", "bbpe"), ("tiny_opt", "lingo", "onehot")]
    assert all(m["status"] == "completed" for m in metrics)
    onehot_preview = (found[1].parent / "inputs_preview.txt").read_text()
    assert "Sequence: " in onehot_preview and "\nAnnotation:" in onehot_preview
