"""`python train.py` on bad input or a bad option: one clear message, never a traceback.

Every run here fails before training (while loading data or composing the config); each runs
in this process (tests.conftest.run_train).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Finished, run_train

FAST = ["model=tiny_opt", "method=lora", "tokenizer=kmer", "logger=none"]


def train(env: dict[str, str], run_dir: Path, *overrides: str, process: bool = False
          ) -> Finished:
    return run_train([*overrides, f"hydra.run.dir={run_dir}"], env, process)


def error_lines(result: Finished) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def write_split(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("sequence,label\n" + "".join(f"{line}\n" for line in lines))


def good_rows(n: int) -> list[str]:
    return [f"{'ACGT' * 10}{'ACGT'[i % 4]},{i % 2}" for i in range(n)]


def bad_char_folder(folder: Path) -> tuple[Path, str]:
    dev = folder / "dev.csv"
    write_split(dev, [*good_rows(5), "ACGTACGTXACGT,1", *good_rows(4)])  # the 7th line
    write_split(folder / "test.csv", good_rows(10))
    return dev, "row 7"


def missing_test_folder(folder: Path) -> tuple[Path, str | None]:
    write_split(folder / "dev.csv", good_rows(10))
    return folder / "test.csv", None


CASES = {"bad_char_in_dev": bad_char_folder, "missing_test": missing_test_folder}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_gue_folder_is_one_error_line(
    tmp_path: Path, run_env: dict[str, str], case: str
) -> None:
    folder = tmp_path / "task"
    bad_file, row = CASES[case](folder)
    run_dir = tmp_path / "run"
    result = train(run_env, run_dir, "task=gue_folder", f"task.path={folder}", *FAST)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert str(bad_file) in lines[0]
    assert "Fix:" in lines[0]
    if row is not None:
        assert row in lines[0]

    # (c) the run directory records the failure
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed"
    assert str(bad_file) in metrics["error"]
    assert lines[0] == f"error: {metrics['error']}"
    assert metrics["task"] == "gue_folder"
    assert metrics["model"] == "tiny_opt"
    assert "test/auc" not in metrics


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model=nope", "Could not find 'model/nope'"),
        ("method=foo", "Could not find 'method/foo'"),  # an unknown key: tests/test_user_errors
    ],
)
def test_unknown_option_gets_hydras_message(
    tmp_path: Path, run_env: dict[str, str], override: str, message: str
) -> None:
    run_dir = tmp_path / "run"
    key = override.split("=")[0]
    rest = [o for o in FAST if o.split("=")[0] != key]  # one value per option
    result = train(run_env, run_dir, "task=demo", *rest, override)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (run_dir / "metrics.json").exists()  # nothing ran
