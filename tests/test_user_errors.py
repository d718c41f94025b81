"""What a new user gets wrong (issue 23): each malformed input ends in one line naming the file
and row, or the key, and the fix; nothing is silently accepted.

The issue's cases that other modules already test are listed in ``ELSEWHERE`` (their existence
is checked here) instead of being repeated.
"""

from __future__ import annotations

import errno
import gzip
import importlib
import json
import logging
import os
import subprocess
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from lingo.config import TRAINER_ALIASES, TrainerConfig, check_known_keys, check_overrides, validate
from lingo.data import Split, TaskData, load_task
from lingo.data.gue import read_split
from lingo.errors import DataError, LingoError
from tests.conftest import REPO, run_train
from tests.data.test_data import (
    assert_user_error,
    make_folder,
    rows,
    task_config,
    unique_sequences,
    write_csv,
)
from tests.test_cli_errors import FAST, error_lines, train
from tests.test_config import CONF, _compose, compose_cfg  # noqa: F401 (fixture)

# the case -> (module, test) that covers it
ELSEWHERE = {
    "base X": ("tests.data.test_data", "test_bad_row_names_file_row_and_fix"),  # non_acgtn
    "empty sequence": ("tests.data.test_data", "test_bad_row_names_file_row_and_fix"),
    "missing label column": ("tests.data.test_data", "test_missing_column_is_row_1"),
    "label 7 in a binary task": ("tests.data.test_data", "test_bad_row_names_file_row_and_fix"),
    "a row with 1 field": ("tests.data.test_data", "test_bad_row_names_file_row_and_fix"),
    "missing dev.csv": ("tests.data.test_data", "test_missing_split_names_it"),
    "method=foo": ("tests.test_cli_errors", "test_unknown_option_gets_hydras_message"),
    "out-of-range method.p_drop": (
        "tests.test_config", "test_values_out_of_their_set_or_range_are_refused_before_loading"),
    "a missing task.path": ("tests.data.test_data", "test_a_missing_task_folder_says_so"),
    "DeepSEA label list of 103, a label value 2": ("tests.data.test_deepsea", "test_bad_csv_rows"),
    "predict on binary, empty and IUPAC FASTA": (
        "tests.predict.test_predict", "test_bad_input_is_one_clear_error"),
    "a BOM": ("tests.data.test_data", "test_header_case_order_extra_columns_and_bom"),
    "CRLF": ("tests.data.test_data", "test_blank_lines_are_skipped"),
    "soft-masked lowercase": (
        "tests.data.test_data", "test_lowercase_is_uppercased_and_n_accepted"),
    "SIGKILL and resume": ("tests.training.test_training",
                           "test_sigkill_then_same_command_resumes_to_the_same_metrics"),
    "a sweep with a bad job": (
        "tests.test_sweeps", "test_sweep_then_tables_marks_skipped_and_failed_jobs"),
    "a double launch": (
        "tests.training.test_training", "test_a_second_launch_of_a_run_in_progress_is_refused"),
}


@pytest.mark.parametrize("case", sorted(ELSEWHERE))
def test_the_cases_tested_elsewhere_are_there(case: str) -> None:
    module, test = ELSEWHERE[case]
    assert callable(getattr(importlib.import_module(module), test, None)), (case, module, test)


# --- keys the schema does not define -------------------------------------------------------


@pytest.mark.parametrize(("override", "nearest"), [
    ("+trainer.save_steps=30", "trainer.eval_steps"),  # Hydra's own hint for save_steps=30
    ("+foo=1", "output_root"),
    ("trainer.foo=1", "trainer.epochs"),  # Hydra refuses this one itself, in several lines
    ("+trainer.foo=1", "trainer.epochs"),
])
def test_an_unknown_key_is_one_line_exit_2_and_no_run(
    tmp_path: Path, override: str, nearest: str
) -> None:
    run_dir = tmp_path / "run"
    result = train(dict(os.environ), run_dir, *FAST, "task=demo", "trainer.max_steps=1",
                   f"output_root={tmp_path}", override)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    key = override.lstrip("+").split("=")[0]
    assert error_lines(result) == [
        f"error: unknown option {key} (the nearest known option: {nearest}); "
        "python train.py --cfg job lists every option"]
    assert not run_dir.exists()


def test_keys_inside_the_schema_pass_the_command_line_check() -> None:
    check_overrides(["-m", "+sweep=table1", "+model.shape.anything=1", "model=tiny_opt",
                     "legacy=paper_code", "experiment=demo", "seed=1,2", "method.prompt.prefix=x",
                     "task.table_s1.p=0.1", "hydra/launcher=slurm", "hydra.launcher.partition=gpu",
                     "--cfg", "job"], CONF)


@pytest.mark.parametrize("overrides", [
    ["+sweep=table_s2"], ["legacy=paper_code"], ["experiment=demo"],
    ["experiment=histone_human_paper"], ["model=tiny_opt", "+model.shape.anything=1"],
])
def test_overlays_and_free_form_dicts_add_no_unknown_key(
    compose_cfg, overrides: list[str]  # noqa: F811
) -> None:
    check_known_keys(compose_cfg(overrides))  # the hydra node included: Hydra's own


def test_validate_refuses_a_key_added_past_the_command_line(compose_cfg) -> None:  # noqa: F811
    """A sweep's params or the Compose API add keys that train.py's check never sees."""
    cfg = compose_cfg(["model=tiny_opt", "+trainer.save_steps=30"])
    with pytest.raises(LingoError, match=r"unknown option trainer.save_steps \(the nearest "
                       r"known option: trainer.eval_steps\)"):
        validate(cfg)


def test_the_trainer_aliases_name_real_options() -> None:
    fields = set(TrainerConfig.__dataclass_fields__)
    assert {alias.removeprefix("trainer.") for alias in TRAINER_ALIASES.values()} <= fields
    assert not {key.removeprefix("trainer.") for key in TRAINER_ALIASES} & fields


def test_help_hides_the_internal_options() -> None:
    result = run_train(["--help"], os.environ)
    assert result.returncode == 0, result.stderr
    groups = result.stdout.split("== Config ==")[0]
    assert "method: adalora, ars, fmft, lingo, lora, none" in groups
    assert "task: demo, gue_folder, h3," in groups
    assert "_adapter" not in groups and "_family" not in groups and "hydra/" not in groups


# --- data edge cases -----------------------------------------------------------------------


def test_a_row_with_more_fields_than_the_header_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "train.csv", ["ACGT,0", "ACGT,1,0"])
    with pytest.raises(DataError, match="the row has 3 fields, the header 2") as err:
        read_split(path, "train", num_labels=2)
    assert_user_error(err.value, path, row=3)
    assert "double quotes" in str(err.value)


def test_a_gzip_split_is_read(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_bytes(gzip.compress(b"sequence,label\nacgt,0\nGGCC,1\n"))
    split = read_split(path, "train", num_labels=2)
    assert split.sequences == ["ACGT", "GGCC"] and split.labels.tolist() == [0, 1]
    path.write_bytes(gzip.compress(b"sequence,label\nACGT,0\n")[:-6])
    with pytest.raises(DataError, match="the gzip stream is damaged") as err:
        read_split(path, "train", num_labels=2)
    assert_user_error(err.value, path, row=None)


def test_a_label_written_as_a_float_says_what_a_label_looks_like(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dev.csv", ["ACGT,0", "ACGT,1.0"])
    with pytest.raises(DataError) as err:
        read_split(path, "dev", num_labels=3)
    assert_user_error(err.value, path, row=3)
    assert ("the label '1.0' is not a class id. Fix: write the label as a whole number from 0 "
            "to 2 (`1`, not `1.0` or a class name)") in str(err.value)


def task_data(lengths: list[int], declared: int | None = None) -> TaskData:
    split = Split("train", ["A" * n for n in lengths], np.zeros(len(lengths)), "train.csv")
    return TaskData(split, split, split, 2, "train", declared_length=declared)


def test_one_long_outlier_does_not_set_the_sequence_length(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="lingo.data.task_data"):
        assert task_data([300] * 9 + [5000]).sequence_length == 300
    assert ("1 of 10 training sequences are outliers, over twice the task's length of 300 bp "
            "(the longest 5000 bp); sequence_length records 300 bp") in caplog.text
    caplog.clear()
    assert task_data([1000] * 3, declared=1000).sequence_length == 1000
    assert task_data([200, 300, 400]).sequence_length == 300  # the median
    assert not caplog.text


def test_load_task_passes_on_the_declared_length(tmp_path: Path) -> None:
    sequences = unique_sequences(40)
    for name in ("dev", "test"):
        write_csv(tmp_path / f"{name}.csv", rows(sequences[:20], [0, 1] * 10))
    write_csv(tmp_path / "train.csv", rows(sequences[20:], [0, 1] * 10))
    assert load_task(task_config(tmp_path), seed=1).sequence_length == 8
    declared = load_task(task_config(tmp_path, sequence_length=10), seed=1)
    assert declared.sequence_length == 10


# --- one FutureWarning of PEFT's, silenced narrowly --------------------------------------------


def test_peft_deprecation_warning_is_silenced_at_the_call() -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import OPTConfig, OPTForSequenceClassification

    from lingo.models import peft_deprecation_silenced

    def wrap() -> None:
        net = OPTForSequenceClassification(OPTConfig(
            vocab_size=32, hidden_size=8, word_embed_proj_dim=8, ffn_dim=16,
            num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=16))
        get_peft_model(net, LoraConfig(task_type="SEQ_CLS", r=2, target_modules=["q_proj"]))

    with pytest.warns(FutureWarning, match="is_gradient_checkpointing"):
        wrap()  # PEFT still raises it: the day this fails, the helper can go
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with peft_deprecation_silenced():
            wrap()
            warnings.warn("another deprecation", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in caught if w.category is FutureWarning] == [
        "another deprecation"]


# --- stale results: the data a run read is fingerprinted --------------------------------------


def test_a_split_edited_after_the_run_is_refused_naming_it(
    tmp_path: Path, run_env: dict[str, str]
) -> None:
    folder = make_folder(tmp_path / "task", train=True)
    run_dir = tmp_path / "run"
    command = [*FAST, "task=gue_folder", f"task.path={folder}", "trainer.max_steps=1",
               "trainer.progress_bar=false", f"output_root={tmp_path}"]
    assert train(run_env, run_dir, *command).returncode == 0
    recorded = json.loads((run_dir / "data_files.json").read_text())
    assert sorted(Path(p).name for p in recorded) == ["dev.csv", "test.csv", "train.csv"]
    edited = folder / "train.csv"
    edited.write_text(edited.read_text().replace(",1\n", ",0\n", 1))  # one label, in place

    again = train(run_env, run_dir, *command)
    assert again.returncode == 2, again.stderr
    assert error_lines(again) == [
        f"error: {run_dir} was made from other data: {edited.resolve()} (same size, content "
        "changed); delete that directory to start over, or set hydra.run.dir=<another folder>"]
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"


def test_a_run_recorded_before_fingerprints_still_counts() -> None:
    """The committed validation runs have no data_files.json: their settings alone compare."""
    from lingo.same_run import check_same_run

    run_dir = next((REPO / "validation" / "v1" / "runs").glob("**/metrics.json")).parent
    assert not (run_dir / "data_files.json").exists()
    check_same_run(OmegaConf.load(run_dir / "config.yaml"), run_dir)


def test_fingerprints_are_cached_by_size_and_mtime(
    compose_cfg, tmp_path: Path  # noqa: F811
) -> None:
    from lingo.data.fingerprint import changed_files, files_fingerprint

    folder = make_folder(tmp_path / "task")
    data = load_task(task_config(folder), seed=1)
    assert [p.name for p in data.files] == ["dev.csv", "test.csv"]  # the reduced setup
    cache = tmp_path / "cache"
    recorded = files_fingerprint(data.files, cache)
    assert len(list((cache / "file_hashes").iterdir())) == 2
    assert changed_files(recorded, cache) == []
    test = folder / "test.csv"
    test.write_text(test.read_text() + "ACGTACGT,1\n")
    assert changed_files(recorded, cache) == [
        f"{test.resolve()} (size {recorded[str(test.resolve())]['size']} -> "
        f"{test.stat().st_size} bytes, content changed)"]
    test.unlink()
    assert changed_files(recorded, cache) == [f"{test.resolve()} (gone)"]
    assert load_task(compose_cfg(["task=demo"]).task, seed=1).files == ()  # synthetic: no files


# --- the OS refuses a write: one line, exit 2 -----------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """A tmpfs mounted at a folder of tmp_path (``ro``, or a small ``size=``): CI runs as
    root, where a permission bit stops no write. Skipped where no tmpfs can be mounted."""
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        try:
            result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                                    capture_output=True, text=True)
        except FileNotFoundError:
            pytest.skip("no mount command: a read-only or full folder needs a tmpfs mount")
        if result.returncode:
            pytest.skip(f"cannot mount a tmpfs ({result.stderr.strip()}): it needs root and a "
                        "kernel that allows it")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


@pytest.mark.parametrize(("options", "failure"), ids=["read_only", "full"], argvalues=[
    ("ro", "Read-only file system); set LINGO_CACHE_DIR (or cache_dir=) to a writable folder"),
    ("size=8k", "No space left on device); free space there, or set LINGO_CACHE_DIR (or "
                "cache_dir=) to a folder with space"),
])
def test_a_read_only_or_full_cache_is_one_line_exit_2(
    tmp_path: Path, tmpfs, options: str, failure: str
) -> None:
    cache = tmpfs("cache", options) / "lingo"
    run_dir = tmp_path / "run"
    result = train({**os.environ, "LINGO_CACHE_DIR": str(cache)}, run_dir, *FAST, "task=demo",
                   "trainer.max_steps=1", f"output_root={tmp_path}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    [line] = error_lines(result)
    assert line.startswith(f"error: {cache}") and failure in line, line
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (metrics["status"], f"error: {metrics['error']}") == ("failed", line)
    assert not list(cache.parent.rglob(".tmp-*"))  # no partial cache entry


def test_a_read_only_output_root_is_one_line_before_hydra_makes_the_run(
    tmp_path: Path, tmpfs
) -> None:
    """Hydra creates the run (or sweep) folder before Lingo runs: lingo.results.RunDirCheck
    (a Hydra callback) checks it first, so the user reads one line, not Hydra's traceback."""
    root = tmpfs("outputs", "ro")
    run_dir = root / "runs" / "demo"
    result = train(dict(os.environ), run_dir, *FAST, "task=demo", f"output_root={root}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    [line] = error_lines(result)
    assert line.startswith(f"error: {root}") and "Read-only file system" in line, line
    assert "set output_root= (or hydra.run.dir=) to a writable folder" in line
    sweep = train(dict(os.environ), root / "unused", "-m", *FAST, "task=demo", "seed=1,2",
                  f"output_root={root}")
    assert sweep.returncode == 2 and "Traceback" not in sweep.stderr, sweep.stderr
    assert "set output_root= (or hydra.sweep.dir=)" in error_lines(sweep)[0]


def test_a_full_run_directory_is_one_line(
    compose_cfg, tmp_path: Path, tmpfs, monkeypatch  # noqa: F811
) -> None:
    from lingo import entrypoint, pipeline
    from lingo.results import write_json

    run_dir = tmpfs("outputs", "size=8k") / "run"

    def fill(cfg, run_dir: Path) -> dict:
        write_json(run_dir / "metrics.json", {"pad": "x" * 100_000})
        return {}

    monkeypatch.setattr(pipeline, "run", fill)
    cfg = compose_cfg(["task=demo", f"cache_dir={tmp_path / 'cache'}"])
    with pytest.raises(LingoError) as err:
        entrypoint._run_on_storage(cfg, run_dir)
    assert str(err.value) == (
        f"{run_dir / 'metrics.json'}: cannot write there (No space left on device); free space "
        "there, or set output_root= (or hydra.run.dir= for this run alone) to a folder with space")
    assert list(run_dir.iterdir()) == []  # no temporary file left


def test_a_checkpoint_write_on_a_full_disk_is_told_by_its_errno() -> None:
    from safetensors import SafetensorError

    from lingo.errors import storage_errno

    full = SafetensorError("Error while serializing: I/O error: No space left on device "
                           "(os error 28)")
    assert storage_errno(full) == errno.ENOSPC
    assert storage_errno(OSError(errno.EROFS, "Read-only file system")) == errno.EROFS
    assert storage_errno(OSError(errno.ENOENT, "No such file")) is None  # a bug, shown in full
    assert storage_errno(RuntimeError("CUDA error (os error 28 is not it)")) is None


def test_a_sweep_names_every_failed_job_without_a_traceback(tmp_path: Path) -> None:
    result = train(dict(os.environ), tmp_path / "unused", "-m", *FAST, "task=demo",
                   "trainer.lr=-1,-2", f"output_root={tmp_path}")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    failed = {f"  {p.parent}: {json.loads(p.read_text())['error']}"
              for p in tmp_path.glob("runs/*/*/*/metrics.json")}
    assert len(failed) == 2
    report = result.stderr.split("error: 2 jobs of the sweep failed (each recorded in its "
                                 "metrics.json):\n")[1].splitlines()
    assert set(report[:2]) == failed


# --- the headline command without the model's weights -----------------------------------------


def test_a_model_never_downloaded_fails_first_and_leaves_nothing(
    tmp_path: Path, run_env: dict[str, str]
) -> None:
    env = {**run_env, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf"),
           "LINGO_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    outputs = tmp_path / "outputs"
    run_dir = outputs / "runs" / "prom_tata" / "opt350m-lingo-native" / "seed42"
    result = train(env, run_dir, "model=opt350m", "method=lingo", "task=prom_tata",
                   "logger=none", f"output_root={outputs}", process=True)  # the hub reads
    # its cache folders when first imported: an empty one, in a process of its own
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result)
    assert line.startswith("error: cannot load the model 'facebook/opt-350m'"), line
    assert "huggingface-cli download facebook/opt-350m" in line
    assert "tokenized cache" not in result.stdout + result.stderr  # nothing was tokenized
    assert not (outputs / "runs").exists()
    assert not (tmp_path / "cache").exists()
    # a folder of the user's own (hydra.run.dir=...) loses only what the attempt wrote
    own = tmp_path / "mine"
    own.mkdir()
    (own / "notes.txt").write_text("keep")
    result = train(env, own, "model=opt350m", "method=lingo", "task=prom_tata", "logger=none",
                   process=True)
    assert result.returncode == 2, result.stderr
    assert sorted(p.name for p in own.iterdir()) == ["notes.txt"]
