"""The Histone (Human) task: DeepSEA loaders (release .mat files, CSV), the base-order check,
multi-label metrics, head, collator and selection, the bundle download, and a real run."""

import io
import json
import os
import tarfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.io import savemat
from scipy.special import logit

from lingo.config import TaskConfig, TrainerConfig
from lingo.data import deepsea as ds
from lingo.data import load_task
from lingo.errors import DataError
from lingo.metrics import classification_metrics, per_label_metrics
from lingo.training.collator import PadCollator
from lingo.training.trainer import early_stopping, training_arguments
from tests.conftest import REPO, run_train
from tests.predict.test_predict import run_predict
from tests.scripts.test_download_data import dd

CONF = REPO / "conf"
# the real DeepSEA files: under $LINGO_DATA_DIR as the runs read them, else ../shared/data
SHARED = Path(os.environ.get("LINGO_DATA_DIR") or REPO.parent / "shared" / "data") / "DeepSEA"
LENGTH = 200


def human_like(n: int, length: int = LENGTH, seed: int = 0) -> list[str]:
    """Random DNA with human-like dinucleotides: CpG rare, TpA somewhat rare."""
    rng = np.random.default_rng(seed)
    base = np.array([0.3, 0.2, 0.2, 0.3])  # A C G T
    codes = np.empty((n, length), dtype=np.int64)
    codes[:, 0] = rng.choice(4, size=n, p=base)
    for i in range(1, length):
        p = np.tile(base, (n, 1))
        p[codes[:, i - 1] == 1, 2] *= 0.25  # C then G
        p[codes[:, i - 1] == 3, 0] *= 0.6  # T then A
        p /= p.sum(axis=1, keepdims=True)
        codes[:, i] = (rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1)
    return ["".join("ACGT"[c] for c in row) for row in codes]


def onehot(sequences: list[str], order: str = "AGCT") -> np.ndarray:
    """n x 4 x L, rows in ``order``; N is a column of zeros."""
    x = np.zeros((len(sequences), 4, len(sequences[0])), dtype=np.uint8)
    for i, seq in enumerate(sequences):
        for j, base in enumerate(seq):
            if base != "N":
                x[i, order.index(base), j] = 1
    return x


def write_release(folder: Path, n: int = 60, order: str = "AGCT", n_names: int = 919,
                  seed: int = 0) -> tuple[dict, np.ndarray]:
    """train.mat (HDF5, axes reversed), valid.mat / test.mat (v5) of the documented layout."""
    folder.mkdir(parents=True, exist_ok=True)
    write_names(folder, label_names())
    rng = np.random.default_rng(seed)
    seqs, labels = {}, {}
    for k, split in enumerate(("train", "dev", "test")):
        seqs[split] = human_like(n, seed=seed + k)
        labels[split] = rng.integers(0, 2, size=(n, n_names)).astype(np.uint8)
    seqs["train"][0] = "N" * 5 + seqs["train"][0][5:]
    with h5py.File(folder / "train.mat", "w") as h5:
        h5["trainxdata"] = np.transpose(onehot(seqs["train"], order), (2, 1, 0))  # L x 4 x N
        h5["traindata"] = labels["train"].T  # 919 x N
    savemat(folder / "valid.mat", {"validxdata": onehot(seqs["dev"], order),
                                   "validdata": labels["dev"]})
    savemat(folder / "test.mat", {"testxdata": onehot(seqs["test"], order),
                                  "testdata": labels["test"]})
    return seqs, labels


def deepsea_task(folder: Path, **kwargs) -> TaskConfig:
    return TaskConfig(name="histone_human", display_name="Histone (Human)",
                      family="histone_human", source="deepsea", path=str(folder),
                      num_labels=104, selection_metric="cross_entropy",
                      sequence_length=kwargs.pop("sequence_length", LENGTH), **kwargs)


def assert_user_error(err: DataError, path: Path, row: int | None = None) -> None:
    message = str(err)
    assert str(path) in message and "Fix:" in message and "\n" not in message
    if row is not None:
        assert f"row {row}:" in message


# --- label names ---------------------------------------------------------------------------------


def label_names() -> list[str]:
    """919 names in DeepSEA's pattern: 815 others, then 104 histone marks (one with the
    non-breaking space real names have)."""
    others = [f"Cell{i}_{('CTCF', 'DNase', 'HDAC2', 'HNF4A')[i % 4]}_None" for i in range(815)]
    marks = [f"Cell{i}_H{('3K4me3', '3K27ac', '2AK5ac', '4K20me1')[i % 4]}_None"
             for i in range(104)]
    marks[3] = "Cell3_H4K20me1_\xa0None"
    return others + marks


def write_names(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ds.NAMES_FILE).write_text("\n".join(names) + "\n", encoding="utf-8")
    return folder / ds.NAMES_FILE


def test_histone_labels_are_chosen_by_name(tmp_path):
    with pytest.raises(DataError) as err:
        ds.read_label_names(tmp_path)  # not there: the fix names the download script
    assert_user_error(err.value, tmp_path / ds.NAMES_FILE)
    assert "download_data.py --what deepsea" in str(err.value)
    path = write_names(tmp_path, label_names())
    names, found = ds.read_label_names(tmp_path)
    assert found == path and len(names) == 919 and "\xa0" in names[818]  # lines, not spaces
    assert ds.histone_columns(names, path, 104) == list(range(815, 919))
    assert not any(ds._is_histone(n) for n in ("HeLa-S3_HDAC2_None", "HepG2_HNF4A_None",
                                               "K562_HSF1_None", "GM12878_DNase_None"))
    path = write_names(tmp_path, names[815:] + names[:815])
    names2, path2 = ds.read_label_names(tmp_path)
    assert ds.histone_columns(names2, path2, 104) == list(range(104))
    with pytest.raises(DataError) as err:
        ds.histone_columns(names2, path2, 100)
    assert_user_error(err.value, path2)


def test_the_real_names_select_labels_815_to_918():
    if not (SHARED / ds.NAMES_FILE).is_file():
        pytest.skip(f"DeepSEA's predictor_names.txt not found in {SHARED}")
    names, path = ds.read_label_names(SHARED)
    assert len(names) == 919 and ds.histone_columns(names, path, 104) == list(range(815, 919))
    assert any("\xa0" in names[i] for i in range(815, 919))


# --- release .mat files --------------------------------------------------------------------------


def test_release_loads_with_labels_selected_by_name(tmp_path):
    seqs, labels = write_release(tmp_path)
    data = load_task(deepsea_task(tmp_path), seed=1)
    assert data.train_split == "train" and data.multi_label
    assert data.label_names[0] == "Cell0_H3K4me3_None" and len(data.label_names) == 104
    for split in ("train", "dev", "test"):
        got = getattr(data, split)
        assert got.sequences == seqs[split]
        assert got.labels.dtype == np.float32 and got.labels.shape == (60, 104)
        np.testing.assert_array_equal(got.labels, labels[split][:, 815:919])
    assert data.train.sequences[0].startswith("NNNNN")  # all-zero columns


def test_hdf5_is_read_in_chunks(tmp_path):
    write_release(tmp_path, n=50)
    chunks = list(ds.iter_mat_chunks(tmp_path / "train.mat", "trainxdata", "traindata",
                                     chunk_rows=16))
    assert [(start, x.shape, y.shape) for start, x, y in chunks] == [
        (0, (16, 4, LENGTH), (16, 919)), (16, (16, 4, LENGTH), (16, 919)),
        (32, (16, 4, LENGTH), (16, 919)), (48, (2, 4, LENGTH), (2, 919))]
    split = ds.read_mat_split(tmp_path / "train.mat", "train", "trainxdata", "traindata",
                              list(range(815, 919)), 919, "AGCT", LENGTH, chunk_rows=16)
    assert len(split) == 50
    v5 = list(ds.iter_mat_chunks(tmp_path / "valid.mat", "validxdata", "validdata", 32))
    assert [x.shape[0] for _, x, _ in v5] == [32, 18]


@pytest.mark.parametrize(("written", "configured"), [("AGCT", "ACGT"), ("AGCT", "TGCA"),
                                                     ("ACGT", "AGCT")])
def test_base_order_is_checked(tmp_path, written, configured):
    write_release(tmp_path, n=120, order=written)  # 120 x 200 bp: enough pairs to judge
    with pytest.raises(DataError) as err:
        load_task(deepsea_task(tmp_path, onehot_bases=configured), seed=1)
    assert_user_error(err.value, tmp_path / "train.mat")
    assert f"task.onehot_bases={written}" in str(err.value)  # the order the data suggests
    data = load_task(deepsea_task(tmp_path, onehot_bases=written), seed=1)
    assert data.train.sequences[1] == human_like(120, seed=0)[1]


def test_composition_check_needs_enough_bases(caplog):
    codes = ds.onehot_codes(onehot(human_like(5), "ACGT"), Path("x.mat"))
    ds.check_composition(codes, "AGCT", Path("x.mat"))  # too few to judge: no error


def test_composition_on_the_real_sample():
    sample = SHARED / "histone104_test100.csv"
    if not sample.is_file():
        pytest.skip("the DeepSEA sample is not beside the project")
    split = ds.read_csv_split(sample, "sample", 104, 1000)
    codes = ds.onehot_codes(onehot(split.sequences, "AGCT"), sample)
    ds.check_composition(codes, "AGCT", sample)
    with pytest.raises(DataError, match=r"task\.onehot_bases=AGCT"):
        ds.check_composition(codes, "ACGT", sample)  # C and G swapped


def test_bad_release_files(tmp_path):
    write_release(tmp_path)
    with pytest.raises(DataError) as err:  # wrong sequence length
        load_task(deepsea_task(tmp_path, sequence_length=1000), seed=1)
    assert_user_error(err.value, tmp_path / "train.mat")
    assert "task.sequence_length" in str(err.value)
    x = onehot(human_like(30))
    x[3, :, 7] = 1  # several bases at one position
    savemat(tmp_path / "valid.mat", {"validxdata": x, "validdata": np.zeros((30, 919))})
    with pytest.raises(DataError) as err:
        load_task(deepsea_task(tmp_path), seed=1)
    assert_user_error(err.value, tmp_path / "valid.mat", row=4)
    y = np.zeros((30, 919))
    y[5, 820] = 2
    savemat(tmp_path / "valid.mat", {"validxdata": onehot(human_like(30)), "validdata": y})
    with pytest.raises(DataError) as err:
        load_task(deepsea_task(tmp_path), seed=1)
    assert_user_error(err.value, tmp_path / "valid.mat", row=6)
    assert "not 0 or 1" in str(err.value)
    savemat(tmp_path / "valid.mat", {"validxdata": onehot(human_like(30)),
                                     "validdata": np.zeros((30, 900))})
    with pytest.raises(DataError, match="900 labels per sample"):
        load_task(deepsea_task(tmp_path), seed=1)


# --- CSV layout ----------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("sequence,label\n" + "".join(f'{s},"{y}"\n' for s, y in rows))
    return path


@pytest.mark.parametrize(
    ("label", "length", "words"),
    [(str([0] * 103), LENGTH, "lists 103 values"), (str([0] * 103 + [2]), LENGTH, "not 0 or 1"),
     ("[0, 1", LENGTH, "not a list"), (str([0] * 104), LENGTH - 1, f"{LENGTH - 1} bp")],
)
def test_bad_csv_rows(tmp_path, label, length, words):
    good = human_like(3)
    rows = [(good[0], str([0] * 104)), (good[1][:length], label), (good[2], str([1] * 104))]
    path = write_csv(tmp_path / "sample.csv", rows)
    with pytest.raises(DataError) as err:
        ds.read_csv_split(path, "sample", 104, LENGTH)
    assert_user_error(err.value, path, row=3)
    assert words in str(err.value)


def test_sample_file_is_the_reduced_setup(tmp_path):
    rows = [(s, str([i % 2] * 104)) for i, s in enumerate(human_like(10))]
    write_csv(tmp_path / "histone104_test100.csv", rows)
    task = deepsea_task(tmp_path, sample_file="histone104_test100.csv")
    data = load_task(task, seed=1)
    assert (len(data.train), len(data.dev), len(data.test)) == (6, 2, 2)
    assert data.train_split == "dev" and data.train.labels.shape == (6, 104)
    again = load_task(task, seed=7)  # the same split for every run seed
    assert again.test.sequences == data.test.sequences
    assert set(data.train.sequences + data.dev.sequences + data.test.sequences) == {
        s for s, _ in rows}
    with pytest.raises(DataError) as err:
        load_task(deepsea_task(tmp_path, sample_file="absent.csv"), seed=1)
    assert "download_data.py --what deepsea" in str(err.value)


def test_real_sample_loads():
    if not (SHARED / "histone104_test100.csv").is_file():
        pytest.skip("the DeepSEA sample is not beside the project")
    task = deepsea_task(SHARED, sample_file="histone104_test100.csv", sequence_length=1000)
    data = load_task(task, seed=42)
    assert (len(data.train), len(data.dev), len(data.test)) == (60, 20, 20)
    assert data.test.labels.shape == (20, 104) and set(np.unique(data.test.labels)) <= {0, 1}


# --- metrics, head, collator, selection ----------------------------------------------------------


def test_multilabel_metrics_count_missing_labels():
    labels = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 1], [0, 0, 0]], dtype=np.float32)
    logits = np.array([[2.0, 0, -1], [-2, 0, 1], [1, 0, -1], [-1, 0, 0.5]])
    m = classification_metrics(logits, labels)
    assert m["missing_labels"] == 1  # label 1 has one class only
    # label 0: AUC 1; label 2: positives score 1, -1 against -1, 0.5 -> (1 + 1 + 0.5) / 4
    assert m["auc"] == m["macro_auc"] == pytest.approx((1.0 + 0.625) / 2)
    per = per_label_metrics(logits, labels)
    assert per["auc_per_label"][1] is None and per["auprc_per_label"][1] is None
    assert per["auc_per_label"][0] == 1.0 and len(per["auprc_per_label"]) == 3
    assert m["accuracy"] == pytest.approx(np.mean((logits >= 0) == labels))
    single = classification_metrics(logits, np.zeros((4, 3)))
    assert np.isnan(single["macro_auc"]) and single["missing_labels"] == 3


def test_multilabel_head_and_collator():
    from lingo.config import ModelConfig
    from lingo.models import build_model

    model = ModelConfig(name="t", display_name="t", arch="opt", init="random", shape={
        "model_type": "opt", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        "ffn_dim": 32, "word_embed_proj_dim": 16, "max_position_embeddings": 64})
    net = build_model(model, 104, 50, 1, seed=0, multi_label=True)
    assert net.config.problem_type == "multi_label_classification"
    batch = PadCollator(1)([{"input_ids": [5, 6, 7], "labels": [0.0] * 103 + [1.0]},
                            {"input_ids": [5], "labels": [1.0] * 104}])
    assert batch["labels"].dtype == torch.float32 and batch["labels"].shape == (2, 104)
    out = net(**batch)
    assert out.logits.shape == (2, 104) and out.loss.ndim == 0
    ints = PadCollator(1)([{"input_ids": [5], "labels": 1}])
    assert ints["labels"].dtype == torch.long


def test_selection_on_loss_and_early_stopping(tmp_path):
    args = training_arguments(TrainerConfig(), tmp_path, 0, "cross_entropy", "none")
    assert args.metric_for_best_model == "cross_entropy" and args.greater_is_better is False
    assert training_arguments(TrainerConfig(), tmp_path, 0, "auc", "none").greater_is_better
    assert early_stopping(TrainerConfig()) == []
    (stop,) = early_stopping(TrainerConfig(early_stopping_patience=10))
    assert stop.early_stopping_patience == 10


@pytest.fixture
def compose_cfg():
    from hydra import compose, initialize_config_dir

    from lingo.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield lambda overrides: compose("config", overrides=overrides)


def test_task_config_composes(compose_cfg):
    from lingo.config import validate

    cfg = compose_cfg(["task=histone_human", "model=tiny_opt", "method=lingo"])
    validate(cfg)
    assert cfg.task.num_labels == 104 and cfg.task.selection_metric == "cross_entropy"
    assert cfg.task.path.endswith("/DeepSEA") and cfg.task.onehot_bases == "AGCT"
    assert cfg.method.prompt.prefix == "Domain: DNA Histone Modification\nSequence: "
    assert (cfg.method.init_r, cfg.method.target_r, cfg.method.beta1) == (8, 6, 0.99)
    assert "Wo" in cfg.method.targets and cfg.trainer.early_stopping_patience is None
    paper = compose_cfg(["experiment=histone_human_paper", "model=tiny_opt"])
    assert paper.trainer.eval_steps == 10000 and paper.trainer.early_stopping_patience == 10
    bad = compose_cfg(["task=histone_human", "model=tiny_opt", "task.onehot_bases=AGCC"])
    with pytest.raises(Exception, match="onehot_bases"):
        validate(bad)


# --- the bundle download (no network) ------------------------------------------------------------


def make_bundle(path: Path, folder: Path) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name in ("train.mat", "valid.mat", "test.mat"):
            tf.add(folder / name, arcname=f"deepsea_train/{name}")
        info = tarfile.TarInfo("deepsea_train/README")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    return path


@pytest.fixture
def names_download(monkeypatch):
    """predictor_names.txt is fetched after unpacking; the test serves it without network."""
    fetched = []

    def fake_download(url, dest, **kwargs):
        fetched.append(url)
        write_names(dest.parent, label_names())
        return dest

    monkeypatch.setattr(dd, "download", fake_download)
    return fetched


def test_download_script_unpacks_the_bundle(tmp_path, names_download):
    write_release(tmp_path / "src", n=20)
    bundle = make_bundle(tmp_path / "bundle.tar.gz", tmp_path / "src")
    data_dir = tmp_path / "data"
    (data_dir / "DeepSEA").mkdir(parents=True)
    (data_dir / "DeepSEA" / "histone104_test100.csv").write_text("kept")
    assert dd.main(["--what", "deepsea", "--archive", str(bundle), "--data-dir",
                    str(data_dir), "-q"]) == 0
    out = data_dir / "DeepSEA"
    assert {p.name for p in out.iterdir()} >= {"train.mat", "valid.mat", "test.mat",
                                               "predictor_names.txt", "histone104_test100.csv"}
    assert (out / "histone104_test100.csv").read_text() == "kept"
    assert names_download == [dd.PREDICTOR_NAMES_URL]
    assert dd.main(["--what", "deepsea", "--archive", str(bundle), "--data-dir",
                    str(data_dir), "-q"]) == 0  # complete: skipped
    assert sorted(p.name for p in data_dir.iterdir()) == ["DeepSEA"]


def test_download_script_rejects_a_wrong_bundle(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    for name in ("train.mat", "valid.mat", "test.mat"):
        (tmp_path / "src" / name).write_text("not matlab")
    bundle = make_bundle(tmp_path / "bundle.tar.gz", tmp_path / "src")
    assert dd.main(["--what", "deepsea", "--archive", str(bundle), "--data-dir",
                    str(tmp_path / "data"), "-q"]) == 2
    assert "does not look like the DeepSEA bundle" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_download_script_fetch_is_mocked(tmp_path, monkeypatch, names_download):
    write_release(tmp_path / "src", n=20)
    bundle = make_bundle(tmp_path / "bundle.tar.gz", tmp_path / "src")
    seen = []

    def fake_fetch(spec, sources, dest, *, timeout, quiet):
        seen.append((spec.kind, sources))
        dest.parent.mkdir(parents=True, exist_ok=True)  # as download() does
        dest.write_bytes(bundle.read_bytes())
        return dest

    monkeypatch.setattr(dd, "fetch", fake_fetch)
    assert dd.main(["--what", "deepsea", "--data-dir", str(tmp_path / "data"), "-q"]) == 0
    assert seen == [("tar", dd.DEEPSEA_SOURCES)]
    assert dd.DEEPSEA_SOURCES[0][1].endswith("deepsea_train_bundle.v0.9.tar.gz")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["DeepSEA"]


# --- a real run ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_train_on_the_real_sample(run_env, tmp_path):
    if not (SHARED / "histone104_test100.csv").is_file():
        pytest.skip("the DeepSEA sample is not beside the project")
    run_dir = tmp_path / "run"
    proc = run_train(["model=tiny_opt", "method=lingo", "task=histone_human",
                      "logger=none", "trainer.progress_bar=false", "trainer.max_steps=6",
                      "trainer.eval_steps=3", "trainer.early_stopping_patience=1",
                      "trainer.precision=fp32",  # as lingo-predict below (auto: bf16 where native)
         f"hydra.run.dir={run_dir}"], run_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train_split"] == "dev" and metrics["n_test"] == 20
    assert metrics["test/auc"] == metrics["test/macro_auc"]
    assert 0 < metrics["test/missing_labels"] < 104
    assert metrics["selection_metric"] == "cross_entropy"
    per_label = json.loads((run_dir / "per_label.json").read_text())
    assert len(per_label["test/auc_per_label"]) == len(per_label["labels"]) == 104
    missing = sum(v is None for v in per_label["test/auc_per_label"])
    assert missing == metrics["test/missing_labels"]
    # lingo-predict scores the same 20 test rows with one sigmoid per label, as training did
    task = deepsea_task(SHARED, sample_file="histone104_test100.csv", sequence_length=1000)
    test = load_task(task, seed=1).test
    fasta = tmp_path / "test.fa"
    fasta.write_text("".join(f">row{i}\n{s}\n" for i, s in enumerate(test.sequences)))
    out = tmp_path / "scores.csv"
    done = run_predict(run_env, "--run", str(run_dir), "--input", str(fasta), "--output",
                       str(out), "--precision", "fp32")
    assert done.returncode == 0, done.stderr[-3000:]
    scores = pd.read_csv(out)
    probs = scores[[f"histone_human/p{j}" for j in range(104)]].to_numpy()
    assert ((probs > 0) & (probs < 1)).all() and not np.allclose(probs.sum(axis=1), 1.0)
    again = per_label_metrics(logit(probs), test.labels)["auc_per_label"]
    for ours, trained in zip(again, per_label["test/auc_per_label"], strict=True):
        assert (ours is None) == (trained is None)
        assert ours is None or abs(ours - trained) < 1e-4
