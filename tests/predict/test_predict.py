
"""lingo-predict: input parsing and validation (fast), and real tiny runs on prom_tata (slow)."""

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from lingo.errors import DataError
from lingo.predict.cli import main
from lingo.predict.inputs import read_sequences
from lingo.predict.scoring import aggregate, windows
from tests.conftest import Finished, run_command
from tests.training.test_training import train

TATA = ("GUE", "prom", "prom_300_tata", "test.csv")


def fasta(records: list[tuple[str, str]], width: int = 60) -> str:
    return "".join(
        f">{name} some description\n"
        + "".join(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
        for name, seq in records
    )


def read_test_split(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(data_dir.joinpath(*TATA))


# ------------------------------------------------------------------------------- fast: input


def test_multiline_fasta_lowercase_and_gzip(tmp_path):
    text = fasta([("a", "acgtn" * 30), ("b", "ACGT")], width=7)
    plain = tmp_path / "x.fa"
    plain.write_text(text)
    packed = tmp_path / "x.fa.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        records = read_sequences(path)
        assert [r.id for r in records] == ["a", "b"]
        assert records[0].sequence == "ACGTN" * 30 and records[1].sequence == "ACGT"


def test_csv_and_tsv_with_and_without_ids(tmp_path):
    (tmp_path / "a.csv").write_text("id,sequence,label\nx,acgt,1\ny,GGCC,0\n")
    (tmp_path / "b.tsv").write_text("sequence\tother\nACGT\t1\n\nTTTT\t0\n")
    a = read_sequences(tmp_path / "a.csv")
    assert [(r.id, r.sequence) for r in a] == [("x", "ACGT"), ("y", "GGCC")]
    b = read_sequences(tmp_path / "b.tsv")
    assert [(r.id, r.sequence) for r in b] == [("2", "ACGT"), ("4", "TTTT")]  # line numbers


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.fa", ">a\nACGT\n>b\n>c\nACGT\n", "record 'b' has no sequence"),
        ("bad.fa", ">a\nACGT\n>b\nACGT\nACXT\n", "record 'b' holds 'X'"),
        ("bad.csv", "id,sequence\nr1,ACGT\nr2,AC-T\n", "record 'r2' holds '-'"),
        ("blank.csv", "id,sequence\nr1,\n", "record 'r1' has an empty sequence"),
        ("other.txt", "hello world\nthis is not DNA\n", "neither FASTA"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=expected.replace("(", r"\(")):
        read_sequences(path)


def test_bad_input_line_numbers(tmp_path):
    path = tmp_path / "bad.fa"
    path.write_text(">a\nACGT\n>b\nACGT\nACXT\n")
    with pytest.raises(DataError) as err:
        read_sequences(path)
    assert err.value.row == 5


def test_windows_cover_the_sequence():
    seq = "".join("ACGT"[i % 4] for i in range(25))
    assert windows(seq, 30, 15) == [seq]
    parts = windows(seq, 10, 5)
    assert [len(p) for p in parts] == [10] * 4
    assert parts[0] == seq[:10] and parts[-1] == seq[-10:]
    assert windows(seq, 10, 10)[-1] == seq[-10:]  # the last window ends at the end


def test_aggregate_max_is_at_least_mean():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    owner = np.array([0, 0, 1])
    high, mean = aggregate(probs, owner, 2, "max"), aggregate(probs, owner, 2, "mean")
    assert np.allclose(high, [[0.9, 0.8], [0.5, 0.5]])
    assert np.allclose(mean, [[0.55, 0.45], [0.5, 0.5]])


def test_a_run_that_did_not_complete_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text('{"status": "failed"}')
    inp = tmp_path / "x.fa"
    inp.write_text(">a\nACGT\n")
    out = tmp_path / "out.csv"
    assert main(["--run", str(run), "--input", str(inp), "--output", str(out)]) == 2
    assert "only a completed run can predict" in capsys.readouterr().err
    assert not out.exists()


def test_a_baseline_run_without_its_model_file_is_refused_by_name(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "metrics.json").write_text('{"status": "completed"}')
    (run / "config.yaml").write_text(
        "model: {name: kmer_lr, display_name: 6-mer LR, arch: kmer_lr}\n")
    inp = tmp_path / "x.fa"
    inp.write_text(">a\nACGT\n")
    assert main(["--run", str(run), "--input", str(inp), "--output", str(tmp_path / "o")]) == 2
    assert "model/ lacks kmer_lr.joblib: not a complete model=kmer_lr run" in (
        capsys.readouterr().err)


# ------------------------------------------------------------------------------- slow: runs


def _env(data_dir: Path, tokenizer_dir: Path, cache: Path) -> dict[str, str]:
    return {**os.environ, "LINGO_DATA_DIR": str(data_dir),
            "LINGO_TOKENIZER_DIR": str(tokenizer_dir), "LINGO_CACHE_DIR": str(cache),
            "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}


@pytest.fixture(scope="module")
def lora_runs(tmp_path_factory, data_dir, tokenizer_dir, shared_cache):
    """Two tiny LoRA runs on one random base (same seed): 30 and 10 steps, in fp32 like the
    predictions they are compared with (``auto`` is bf16 on a CPU with native bf16)."""
    root = tmp_path_factory.mktemp("runs")
    env = _env(data_dir, tokenizer_dir, shared_cache)
    a, b = root / "lora30", root / "lora10"
    fp32 = "trainer.precision=fp32"
    metrics_a = train(env, a, "method=lora", "trainer.max_steps=30", "trainer.eval_steps=10",
                      fp32)
    metrics_b = train(env, b, "method=lora", "trainer.max_steps=10", "trainer.eval_steps=10",
                      fp32)
    return (a, metrics_a), (b, metrics_b)


def run_predict(env: dict, *args: str) -> Finished:
    """``lingo-predict --no-progress *args``, in this process."""
    from lingo.predict.cli import main

    return run_command(main, ["lingo-predict", "--no-progress", *args], env)


@pytest.mark.slow
def test_predict_reproduces_the_runs_test_auc(lora_runs, data_dir, run_env, tmp_path):
    (run, metrics), _ = lora_runs
    split = read_test_split(data_dir)
    inp = tmp_path / "test.fa"
    inp.write_text(fasta([(f"s{i}", s) for i, s in enumerate(split["sequence"])], width=60))
    out = tmp_path / "out.csv"
    done = run_predict(run_env, "--run", str(run), "--input", str(inp), "--output", str(out),
                       "--precision", "fp32")
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(out)
    assert list(table.columns) == ["id", "prom_tata/p0", "prom_tata/p1", "prom_tata/pred"]
    assert list(table["id"]) == [f"s{i}" for i in range(len(split))]
    auc = roc_auc_score(split["label"], table["prom_tata/p1"])
    assert auc == pytest.approx(metrics["test/auc"], abs=1e-4)
    assert np.allclose(table["prom_tata/p0"] + table["prom_tata/p1"], 1.0)
    assert (table["prom_tata/pred"] == (table["prom_tata/p1"] > table["prom_tata/p0"])).all()

    # --merge folds the LoRA weights into the base: the same probabilities
    merged = tmp_path / "merged.csv"
    assert main(["--run", str(run), "--input", str(inp), "--output", str(merged),
                 "--precision", "fp32", "--merge", "--no-progress"]) == 0
    assert np.allclose(pd.read_csv(merged)["prom_tata/p1"], table["prom_tata/p1"], atol=1e-5)

    # a run made before options were removed (its config.yaml records method.peft and others)
    older = tmp_path / "older_run"
    shutil.copytree(run, older)
    config = (older / "config.yaml").read_text()
    assert "\nmethod:\n" in config
    (older / "config.yaml").write_text(config.replace(
        "\nmethod:\n", "\nmethod:\n  peft: lora\n  allocator: null\n  train_backbone: true\n"))
    again = tmp_path / "older.csv"
    assert main(["--run", str(older), "--input", str(inp), "--output", str(again),
                 "--precision", "fp32", "--no-progress"]) == 0
    assert np.allclose(pd.read_csv(again)["prom_tata/p1"], table["prom_tata/p1"])


@pytest.mark.slow
def test_two_runs_on_one_base_match_separate_calls(lora_runs, data_dir, tmp_path, caplog):
    (a, _), (b, _) = lora_runs
    split = read_test_split(data_dir).head(64)
    inp = tmp_path / "x.csv"
    split.assign(id=[f"r{i}" for i in range(len(split))]).to_csv(inp, index=False)
    both, only_a, only_b = tmp_path / "both.csv", tmp_path / "a.csv", tmp_path / "b.csv"
    common = ["--input", str(inp), "--precision", "fp32", "--no-progress"]
    with caplog.at_level("INFO", logger="lingo.predict"):
        assert main(["--run", str(a), "--run", str(b), "--output", str(both), *common]) == 0
    assert "1 group(s)" in caplog.text and "share the base, loaded once" in caplog.text
    assert main(["--run", str(a), "--output", str(only_a), *common]) == 0
    assert main(["--run", str(b), "--output", str(only_b), *common]) == 0
    together = pd.read_csv(both)
    col_a, col_b = f"prom_tata:{a.name}", f"prom_tata:{b.name}"  # one task twice: by dir name
    for col, alone in ((col_a, pd.read_csv(only_a)), (col_b, pd.read_csv(only_b))):
        for label in ("p0", "p1"):
            assert np.allclose(together[f"{col}/{label}"], alone[f"prom_tata/{label}"],
                               atol=1e-5)
        assert (together[f"{col}/pred"] == alone["prom_tata/pred"]).all()
    # the two adapters really differ (a switch that did nothing would pass the above)
    assert not np.allclose(together[f"{col_a}/p1"], together[f"{col_b}/p1"], atol=1e-6)


@pytest.mark.slow
def test_bad_inputs_exit_2_without_output(lora_runs, run_env, tmp_path):
    (run, _), _ = lora_runs
    bad = {
        "empty.fa": ">a\nACGT\n>empty\n>c\nACGT\n",
        "base.fa": ">a\nACGT\n>b\nACGTRACGT\n",
        "neither.txt": "just some text\nnot a table\n",
    }
    for name, content in bad.items():
        inp = tmp_path / name
        inp.write_text(content)
        out = tmp_path / f"{name}.csv"
        done = run_predict(run_env, "--run", str(run), "--input", str(inp), "--output", str(out))
        assert done.returncode == 2, done.stderr[-2000:]
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in done.stderr
        assert not out.exists() and not list(tmp_path.glob(f".{name}.csv*"))
    # gzipped, lowercase FASTA works
    inp = tmp_path / "ok.fa.gz"
    inp.write_bytes(gzip.compress(fasta([("x", "acgt" * 20), ("y", "ACGTN" * 10)]).encode()))
    out = tmp_path / "ok.csv"
    assert main(["--run", str(run), "--input", str(inp), "--output", str(out),
                 "--no-progress"]) == 0
    assert list(pd.read_csv(out)["id"]) == ["x", "y"]


@pytest.mark.slow
def test_long_sequences_are_windowed(lora_runs, data_dir, tmp_path, caplog):
    (run, metrics), _ = lora_runs
    length = metrics["sequence_length"]
    seqs = list(read_test_split(data_dir)["sequence"][:6])
    records = [(f"long{i}", seqs[2 * i] + seqs[2 * i + 1]) for i in range(3)]
    records.append(("short", seqs[0][: length // 2]))
    inp = tmp_path / "long.fa"
    inp.write_text(fasta(records))
    results = {}
    for how in ("max", "mean"):
        out = tmp_path / f"{how}.csv"
        with caplog.at_level("INFO", logger="lingo.predict"):
            assert main(["--run", str(run), "--input", str(inp), "--output", str(out),
                         "--aggregate", how, "--precision", "fp32", "--no-progress"]) == 0
        results[how] = pd.read_csv(out)
    high, mean = results["max"], results["mean"]
    # 2L bp, stride L/2: windows at 0, L/2, L, 3L/2 -> 3 windows (the last ends at the end)
    assert list(high["n_windows"]) == [3, 3, 3, 1]
    assert "10 windows for 4 sequences" in caplog.text
    for label in ("p0", "p1"):
        assert (high[f"prom_tata/{label}"] >= mean[f"prom_tata/{label}"] - 1e-12).all()
    short = high["id"] == "short"
    assert np.allclose(high.loc[short, "prom_tata/p1"], mean.loc[short, "prom_tata/p1"])
