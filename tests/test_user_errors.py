"""What a new user gets wrong (issue 23): each malformed input ends in one line naming the file
and row, or the key, and the fix; nothing is silently accepted.

The issue's cases that other modules already test are listed in ``ELSEWHERE`` (their existence
is checked here) instead of being repeated.
"""

from __future__ import annotations

import gzip
import importlib
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from lingo.config import TRAINER_ALIASES, TrainerConfig, check_known_keys, check_overrides, validate
from lingo.data import Split, TaskData, load_task
from lingo.data.gue import read_split
from lingo.errors import DataError, LingoError
from tests.conftest import REPO
from tests.test_cli_errors import FAST, error_lines, train
from tests.test_config import CONF, _compose, compose_cfg  # noqa: F401 (fixture)
from tests.test_data import assert_user_error, rows, task_config, unique_sequences, write_csv

# the case -> (module, test) that covers it
ELSEWHERE = {
    "base X": ("tests.test_data", "test_bad_row_names_file_row_and_fix"),  # non_acgtn
    "empty sequence": ("tests.test_data", "test_bad_row_names_file_row_and_fix"),
    "missing label column": ("tests.test_data", "test_missing_column_is_row_1"),
    "label 7 in a binary task": ("tests.test_data", "test_bad_row_names_file_row_and_fix"),
    "a row with 1 field": ("tests.test_data", "test_bad_row_names_file_row_and_fix"),
    "missing dev.csv": ("tests.test_data", "test_missing_split_names_it"),
    "method=foo": ("tests.test_cli_errors", "test_unknown_option_gets_hydras_message"),
    "out-of-range method.p_drop": (
        "tests.test_config", "test_values_out_of_their_set_or_range_are_refused_before_loading"),
    "a missing task.path": ("tests.test_data", "test_a_missing_task_folder_says_so"),
    "DeepSEA label list of 103, a label value 2": ("tests.test_deepsea", "test_bad_csv_rows"),
    "predict on binary, empty and IUPAC FASTA": (
        "tests.test_predict", "test_bad_input_is_one_clear_error"),
    "a BOM": ("tests.test_data", "test_header_case_order_extra_columns_and_bom"),
    "CRLF": ("tests.test_data", "test_blank_lines_are_skipped"),
    "soft-masked lowercase": ("tests.test_data", "test_lowercase_is_uppercased_and_n_accepted"),
    "SIGKILL and resume": (
        "tests.test_training", "test_sigkill_then_same_command_resumes_to_the_same_metrics"),
    "a sweep with a bad job": (
        "tests.test_sweeps", "test_sweep_then_tables_marks_skipped_and_failed_jobs"),
    "a double launch": (
        "tests.test_training", "test_a_second_launch_of_a_run_in_progress_is_refused"),
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
    result = subprocess.run([sys.executable, "train.py", "--help"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
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
    with caplog.at_level(logging.WARNING, logger="lingo.data.splits"):
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
