"""Data loading: GUE CSV validation, the reduced setup (no train split) and the demo task."""

from __future__ import annotations

import itertools
import math
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from lingo.config import TaskConfig
from lingo.data import load_task
from lingo.data.gue import read_split
from lingo.data.synthetic import make_demo_splits, motif_regex
from lingo.errors import DataError, LingoError

HEADER = "sequence,label"
DEMO = dict(length=200, motif="TATAWAWR", min_offset=20, max_offset=60)


def write_csv(path: Path, lines: list[str], header: str | None = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = [header] if header is not None else []
    path.write_text("".join(f"{line}\n" for line in text + lines))
    return path


def unique_sequences(n: int, length: int = 8) -> list[str]:
    return ["".join(p) for p in itertools.islice(itertools.product("ACGT", repeat=length), n)]


def rows(sequences: list[str], labels: list[int]) -> list[str]:
    return [f"{s},{y}" for s, y in zip(sequences, labels, strict=True)]


def task_config(folder: Path | None, train_split: str = "auto", **kwargs: object) -> TaskConfig:
    return TaskConfig(
        name="tmp_task", display_name="tmp", family="custom",
        path=None if folder is None else str(folder),
        selection_metric="auc", train_split=train_split, **kwargs,
    )


def assert_user_error(err: DataError, path: Path, row: int | None) -> None:
    message = str(err)
    assert str(path) in message
    assert "Fix:" in message
    assert "\n" not in message  # printed as one line
    if row is not None:
        assert f"row {row}:" in message


# --- read_split: every bad input is one DataError naming the file, the row and the fix ----------

BAD_ROWS = {
    # name: (lines below the header, the bad row's line number, words in the problem)
    "non_acgtn": (["ACGT,0", "ACGT,1", "ACXT,0"], 4, "'X'"),
    "iupac_code": (["ACGT,0", "ACRT,1"], 3, "'R'"),
    "empty_sequence": (["ACGT,0", ",1"], 3, "empty"),
    "blank_sequence": (["ACGT,0", "   ,1"], 3, "empty"),
    "label_too_big": (["ACGT,0", "ACGT,1", "ACGT,2"], 4, "'2'"),
    "label_negative": (["ACGT,-1"], 2, "'-1'"),
    "label_not_a_number": (["ACGT,0", "ACGT,yes"], 3, "'yes'"),
    "label_missing": (["ACGT,0", "ACGT"], 3, "1 fields"),
    "row_after_blank_lines": (["ACGT,0", "", "", "ACGU,1"], 5, "'U'"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_row_names_file_row_and_fix(tmp_path: Path, case: str) -> None:
    lines, row, problem = BAD_ROWS[case]
    path = write_csv(tmp_path / "dev.csv", lines)
    with pytest.raises(DataError) as info:
        read_split(path, "dev", num_labels=2)
    assert_user_error(info.value, path, row)
    assert problem in str(info.value)
    assert info.value.row == row


def test_label_within_more_classes_is_accepted(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dev.csv", ["ACGT,0", "ACGT,2", "ACGT,1"])
    split = read_split(path, "dev", num_labels=3)
    assert split.labels.tolist() == [0, 2, 1]
    with pytest.raises(DataError, match=r"row 3: the label '2'"):
        read_split(path, "dev", num_labels=2)


@pytest.mark.parametrize("header", ["seq,label", "sequence,target", "sequence", "ACGT,0"])
def test_missing_column_is_row_1(tmp_path: Path, header: str) -> None:
    path = write_csv(tmp_path / "train.csv", ["ACGT,0"], header=header)
    with pytest.raises(DataError) as info:
        read_split(path, "train", num_labels=2)
    assert_user_error(info.value, path, row=1)
    assert "`sequence,label`" in str(info.value)


def test_missing_file_names_the_split_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "test.csv"
    with pytest.raises(DataError) as info:
        read_split(path, "test", num_labels=2)
    assert_user_error(info.value, path, row=None)
    assert "test split is missing" in str(info.value)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty") as info:
        read_split(empty, "dev", num_labels=2)
    assert_user_error(info.value, empty, row=1)
    header_only = write_csv(tmp_path / "header_only.csv", [])
    with pytest.raises(DataError, match="no rows") as info:
        read_split(header_only, "dev", num_labels=2)
    assert_user_error(info.value, header_only, row=None)


def test_not_utf8_is_a_data_error_with_row(tmp_path: Path) -> None:
    path = tmp_path / "dev.csv"
    path.write_bytes(b"sequence,label\nACGT,0\nAC\xffGT,1\n")
    with pytest.raises(DataError, match="UTF-8") as info:
        read_split(path, "dev", num_labels=2)
    assert_user_error(info.value, path, row=3)


def test_lowercase_is_uppercased_and_n_accepted(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dev.csv", ["acgtn,1", "AcGt,0", "NNNN,0", " ttga , 1 "])
    split = read_split(path, "dev", num_labels=2)
    assert split.sequences == ["ACGTN", "ACGT", "NNNN", "TTGA"]
    assert split.labels.tolist() == [1, 0, 0, 1]
    assert split.labels.dtype == np.int64
    assert split.name == "dev"
    assert split.source == str(path)


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "dev.csv"
    path.write_text("sequence,label\n\nACGT,0\n   \nGGCC,1\r\n\r\nTTAA,0\n\n")
    split = read_split(path, "dev", num_labels=2)
    assert split.sequences == ["ACGT", "GGCC", "TTAA"]
    assert split.labels.tolist() == [0, 1, 0]


def test_header_case_order_extra_columns_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "dev.csv"
    path.write_bytes("\ufeffid, Label ,Sequence\n1,1,acgt\n2,0,ggcc\n".encode())
    split = read_split(path, "dev", num_labels=2)
    assert split.sequences == ["ACGT", "GGCC"]
    assert split.labels.tolist() == [1, 0]


def test_data_error_survives_pickling(tmp_path: Path) -> None:
    err = DataError(tmp_path / "dev.csv", "the sequence is empty", "fill it in", 7)
    copy = pickle.loads(pickle.dumps(err))
    assert isinstance(copy, DataError)
    assert str(copy) == str(err)
    assert copy.row == 7


# --- load_task: train_split auto / train / dev -------------------------------------------------


def make_folder(folder: Path, n_dev: int = 50, n_test: int = 12, train: bool = False) -> Path:
    sequences = unique_sequences(n_dev + n_test + 30)
    dev_labels = [0] * 30 + [1] * (n_dev - 30)  # imbalanced 30:20, so stratification shows
    write_csv(folder / "dev.csv", rows(sequences[:n_dev], dev_labels))
    write_csv(folder / "test.csv", rows(sequences[n_dev:n_dev + n_test], [0, 1] * (n_test // 2)))
    if train:
        write_csv(folder / "train.csv", rows(sequences[n_dev + n_test:], [0, 1] * 15))
    return folder


def test_auto_without_train_is_the_reduced_setup(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "task")
    dev_file = read_split(folder / "dev.csv", "dev", 2)
    test_file = read_split(folder / "test.csv", "test", 2)
    data = load_task(task_config(folder), seed=3)

    assert data.train_split == "dev"
    assert data.num_labels == 2
    assert (len(data.train), len(data.dev), len(data.test)) == (40, 10, 12)
    # disjoint, and together exactly the dev file
    train_rows = set(zip(data.train.sequences, data.train.labels.tolist(), strict=True))
    held_rows = set(zip(data.dev.sequences, data.dev.labels.tolist(), strict=True))
    assert not train_rows & held_rows
    assert train_rows | held_rows == set(
        zip(dev_file.sequences, dev_file.labels.tolist(), strict=True)
    )
    # stratified: both parts keep dev's 3:2 label ratio
    assert Counter(data.train.labels.tolist()) == {0: 24, 1: 16}
    assert Counter(data.dev.labels.tolist()) == {0: 6, 1: 4}
    # test is reported as is
    assert data.test.sequences == test_file.sequences
    assert data.test.labels.tolist() == test_file.labels.tolist()


def test_reduced_setup_is_seeded(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "task")
    first = load_task(task_config(folder), seed=7)
    again = load_task(task_config(folder), seed=7)
    other = load_task(task_config(folder), seed=8)
    assert first.train.sequences == again.train.sequences
    assert first.dev.sequences == again.dev.sequences
    assert first.train.fingerprint() == again.train.fingerprint()
    assert set(first.dev.sequences) != set(other.dev.sequences)


def test_dev_fraction_sets_the_held_out_share(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "task")
    data = load_task(task_config(folder, dev_fraction=0.4), seed=0)
    assert (len(data.train), len(data.dev)) == (30, 20)
    assert Counter(data.dev.labels.tolist()) == {0: 12, 1: 8}
    with pytest.raises(LingoError, match="dev_fraction"):
        load_task(task_config(folder, dev_fraction=1.0), seed=0)


def test_auto_with_train_uses_it(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "task", train=True)
    for split in ("auto", "train"):
        data = load_task(task_config(folder, train_split=split), seed=0)
        assert data.train_split == "train"
        assert (len(data.train), len(data.dev), len(data.test)) == (30, 50, 12)
        assert data.train.source == str(folder / "train.csv")


def test_explicit_dev_ignores_train_file(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "task", train=True)
    data = load_task(task_config(folder, train_split="dev"), seed=0)
    assert data.train_split == "dev"
    assert (len(data.train), len(data.dev)) == (40, 10)
    assert "dev.csv" in data.train.source


def test_explicit_train_without_train_file_names_it(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "task")
    with pytest.raises(DataError) as info:
        load_task(task_config(folder, train_split="train"), seed=0)
    assert_user_error(info.value, folder / "train.csv", row=None)


@pytest.mark.parametrize("missing", ["dev.csv", "test.csv"])
def test_missing_split_names_it(tmp_path: Path, missing: str) -> None:
    folder = make_folder(tmp_path / "task")
    (folder / missing).unlink()
    with pytest.raises(DataError) as info:
        load_task(task_config(folder), seed=0)
    assert_user_error(info.value, folder / missing, row=None)


def test_bad_row_in_test_is_reported(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "task")
    with (folder / "test.csv").open("a") as handle:
        handle.write("ACGT,0\nAC-GT,1\n")
    with pytest.raises(DataError) as info:
        load_task(task_config(folder), seed=0)
    assert_user_error(info.value, folder / "test.csv", row=15)  # header + 12 rows + 2


def test_unknown_train_split_and_no_path(tmp_path: Path) -> None:
    from omegaconf import OmegaConf
    from omegaconf.errors import ValidationError

    schema = OmegaConf.structured(task_config(make_folder(tmp_path / "task")))
    with pytest.raises(ValidationError, match=r"Invalid value 'valid', expected one of "
                                              r"\[auto, train, dev\]"):  # Hydra's, composing
        schema.train_split = "valid"
    with pytest.raises(LingoError, match=r"task\.path"):
        load_task(task_config(None), seed=0)


def test_unstratifiable_dev_is_a_data_error(tmp_path: Path) -> None:
    folder = tmp_path / "task"
    write_csv(folder / "dev.csv", rows(unique_sequences(6), [0, 0, 0, 0, 0, 1]))
    write_csv(folder / "test.csv", ["ACGT,0", "ACGT,1"])
    with pytest.raises(DataError) as info:
        load_task(task_config(folder), seed=0)
    assert_user_error(info.value, folder / "dev.csv", row=None)
    assert "train.csv" in str(info.value)


def test_structured_config_works_too(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "task")
    cfg = OmegaConf.merge(
        OmegaConf.structured(TaskConfig),
        {"name": "t", "display_name": "t", "family": "custom", "selection_metric": "mcc",
         "path": str(folder)},
    )
    data = load_task(cfg, seed=1)
    assert data.train_split == "dev"
    assert len(data.train) + len(data.dev) == 50


# --- the synthetic demo task --------------------------------------------------------------------


def demo(seed: int, n: tuple[int, int, int] = (60, 20, 20), **shape: object):
    return make_demo_splits(seed, *n, **{**DEMO, **shape})


def test_demo_is_deterministic_per_seed() -> None:
    first, again, other = demo(5), demo(5), demo(6)
    for a, b in zip(first, again, strict=True):
        assert a.sequences == b.sequences
        assert a.labels.tolist() == b.labels.tolist()
    assert first[0].sequences != other[0].sequences
    assert first[2].sequences != other[2].sequences


def test_demo_splits_differ_from_each_other() -> None:
    train, dev, test = demo(0)
    assert not set(train.sequences) & set(dev.sequences)
    assert not set(dev.sequences) & set(test.sequences)
    assert [s.name for s in (train, dev, test)] == ["train", "dev", "test"]


@pytest.mark.parametrize(("length", "min_offset", "max_offset"), [(200, 20, 60), (120, 30, 40)])
def test_demo_motif_placement(length: int, min_offset: int, max_offset: int) -> None:
    pattern = motif_regex(DEMO["motif"])
    splits = demo(11, (100, 30, 31), length=length, min_offset=min_offset, max_offset=max_offset)
    offsets = []
    for split, n in zip(splits, (100, 30, 31), strict=True):
        assert len(split) == n
        assert split.labels.dtype == np.int64
        assert set(split.labels.tolist()) <= {0, 1}
        assert abs(int(split.labels.sum()) * 2 - n) <= 1  # balanced (n odd: off by one)
        for seq, label in zip(split.sequences, split.labels.tolist(), strict=True):
            assert len(seq) == length
            assert set(seq) <= set("ACGT")
            starts = [m.start() for m in pattern.finditer(seq)]
            if label == 1:
                assert len(starts) == 1, seq
                offsets.append(length - starts[0])
                assert min_offset <= length - starts[0] <= max_offset
            else:
                assert starts == [], seq
    assert len(set(offsets)) > 1  # the position varies


def test_motif_regex_expands_iupac() -> None:
    pattern = motif_regex("TATAWAWR")
    assert pattern.search("GGTATAAAAGCC")
    assert pattern.search("TATATATG")
    assert not pattern.search("TATACAAA")  # W is A or T
    assert not pattern.search("TATAAAAC")  # R is A or G
    assert len(pattern.findall("TATATATATAAA")) == 3  # overlapping matches count


def test_load_task_synthetic() -> None:
    cfg = TaskConfig(
        name="demo", display_name="demo", family="synthetic", source="synthetic",
        selection_metric="auc", synthetic={"n_train": 40, "n_dev": 10, "n_test": 10, **DEMO},
    )
    data = load_task(cfg, seed=2)
    assert data.train_split == "train"
    assert (len(data.train), len(data.dev), len(data.test)) == (40, 10, 10)
    assert data.train.sequences == demo(2, (40, 10, 10))[0].sequences


# --- real GUE data (skipped when ../shared/data is absent) --------------------------------------


def test_real_prom_tata(data_dir: Path) -> None:
    folder = data_dir / "GUE" / "prom" / "prom_300_tata"
    data = load_task(task_config(folder), seed=42)
    assert data.train_split == "train"
    assert (len(data.train), len(data.dev), len(data.test)) == (4904, 613, 613)
    assert {len(s) for s in data.train.sequences} == {300}
    assert set(data.train.labels.tolist()) == {0, 1}
    assert set("".join(data.dev.sequences)) <= set("ACGTN")


def test_real_emp_reduced_setup(data_dir: Path) -> None:
    folder = data_dir / "GUE" / "EMP" / "H3"
    assert not (folder / "train.csv").exists()
    dev_rows = sum(1 for line in (folder / "dev.csv").read_text().splitlines()[1:] if line)
    test_rows = sum(1 for line in (folder / "test.csv").read_text().splitlines()[1:] if line)
    data = load_task(task_config(folder), seed=42)
    assert data.train_split == "dev"
    assert len(data.train) + len(data.dev) == dev_rows
    assert len(data.dev) == math.ceil(0.2 * dev_rows)  # dev_fraction=0.2 held out
    assert len(data.test) == test_rows
    dev_ratio = data.dev.labels.mean()
    assert abs(data.train.labels.mean() - dev_ratio) < 0.01  # stratified


def test_a_class_never_trained_on_is_refused(tmp_path: Path) -> None:
    """task.num_labels=3 on binary data: class 2 could never be predicted, and AUC would be
    undefined; one message with the labels found and the fix."""
    folder = make_folder(tmp_path / "task", train=True)
    with pytest.raises(DataError) as err:
        load_task(task_config(folder, num_labels=3), seed=0)
    assert_user_error(err.value, folder / "train.csv", None)
    assert "hold the labels 0, 1 only (none of 2)" in str(err.value)
    assert "set task.num_labels=2" in str(err.value)
    write_csv(folder / "train.csv", rows(unique_sequences(30), [0, 2] * 15))  # a gap: 1
    with pytest.raises(DataError) as err:
        load_task(task_config(folder, num_labels=3), seed=0)
    assert "(none of 1)" in str(err.value) and "set task.num_labels" not in str(err.value)


@pytest.mark.parametrize("selection_split", ["dev", "test"])
def test_a_selection_split_of_one_class_is_refused(tmp_path: Path, selection_split) -> None:
    folder = make_folder(tmp_path / "task", train=True)
    sequences = unique_sequences(200)[150:]
    write_csv(folder / f"{selection_split}.csv", rows(sequences[:12], [0] * 12))
    with pytest.raises(DataError) as err:
        load_task(task_config(folder, selection_split=selection_split), seed=0)
    assert_user_error(err.value, folder / f"{selection_split}.csv", None)
    assert "the selection metric is undefined" in str(err.value)


def test_a_dev_subset_of_one_class_is_refused(tmp_path: Path) -> None:
    """task.dev_subset draws the rows that select: the check applies to them."""
    folder = make_folder(tmp_path / "task", train=True)
    with pytest.raises(LingoError, match=r"task\.dev_subset=1: use at least 2 rows"):
        load_task(task_config(folder, dev_subset=1), seed=0)
    assert len(load_task(task_config(folder, dev_subset=2), seed=0).dev) == 2  # stratified


def test_a_missing_task_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_task(task_config(tmp_path / "nowhere"), seed=0)
    assert_user_error(err.value, tmp_path / "nowhere", None)
    assert "no such folder" in str(err.value) and "LINGO_DATA_DIR" in str(err.value)
