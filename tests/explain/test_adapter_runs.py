"""lingo-explain on language-model adapter runs: two LoRA runs on one base load it once and
write a folder each; merging a lone adapter changes no delta; attributions through PEFT."""

import numpy as np
import pandas as pd
import pytest

from lingo.explain.cli import main
from lingo.explain.scores import BaseScores
from tests.training.test_training import train

pytestmark = pytest.mark.slow


def test_lora_runs_share_a_base_and_merging_changes_nothing(run_env, data_dir, tmp_path,
                                                            caplog):
    runs = [tmp_path / "lora_a", tmp_path / "lora_b"]
    for run, steps in zip(runs, (6, 3), strict=True):
        train(run_env, run, "method=lora", f"trainer.max_steps={steps}",
              f"trainer.eval_steps={steps}", "trainer.precision=fp32")
    test = pd.read_csv(data_dir / "GUE" / "prom" / "prom_300_tata" / "test.csv").head(2)
    source = tmp_path / "two.csv"
    test.assign(id=["x", "y"]).to_csv(source, index=False)
    common = ["--input", str(source), "--precision", "fp32", "--figures", "0", "--no-progress"]
    with caplog.at_level("INFO"):
        assert main(["mutagenesis", "--run", str(runs[0]), "--run", str(runs[1]), "--out",
                     str(tmp_path / "both"), *common]) == 0
    assert "2 run(s) in 1 group(s)" in caplog.text  # one base, adapters switched
    folders = sorted(p.name for p in (tmp_path / "both").iterdir())
    assert folders == ["prom_tata_lora_a", "prom_tata_lora_b"]
    a, b = (BaseScores.load(tmp_path / "both" / f / "mutagenesis_label1.npz") for f in folders)
    assert a.values.shape == (2, 300, 4) and not np.allclose(a.values, b.values)
    assert main(["mutagenesis", "--run", str(runs[0]), "--merge", "--out",
                 str(tmp_path / "merged"), *common]) == 0
    merged = BaseScores.load(tmp_path / "merged" / "mutagenesis_label1.npz")
    assert np.allclose(merged.values, a.values, atol=1e-4)
    assert main(["attributions", "--run", str(runs[0]), "--steps", "8", "--out",
                 str(tmp_path / "ig"), *common]) == 0
    found = BaseScores.load(tmp_path / "ig" / "attributions_label1.npz")
    assert np.isfinite(found.importance()).all() and np.abs(found.importance()).sum() > 0
