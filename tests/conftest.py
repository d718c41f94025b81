"""Shared fixtures: the real data and tokenizers beside the project (skipped when absent)."""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def load_script(name: str) -> ModuleType:
    """A script of scripts/ (not a package) as a module, registered under ``lingo_<name>``
    (dataclasses need the module registered)."""
    spec = importlib.util.spec_from_file_location(f"lingo_{name}", REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _folder(variable: str, default: Path) -> Path | None:
    value = os.environ.get(variable)
    path = Path(value) if value else default
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding GUE/ (and DeepSEA/): $LINGO_DATA_DIR, else ../shared/data."""
    path = _folder("LINGO_DATA_DIR", SHARED / "data")
    if path is None or not (path / "GUE").is_dir():
        pytest.skip("real GUE data not found: set LINGO_DATA_DIR to the folder holding GUE/")
    return path


@pytest.fixture(scope="session")
def tokenizer_dir() -> Path:
    """The folder holding opt/, dnabert2/, nt500m_1000g/: $LINGO_TOKENIZER_DIR, else
    ../shared/tokenizers."""
    path = _folder("LINGO_TOKENIZER_DIR", SHARED / "tokenizers")
    if path is None or not (path / "opt").is_dir():
        pytest.skip("offline tokenizer files not found: set LINGO_TOKENIZER_DIR")
    return path


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tokenization cache for the whole session: runs on the same split tokenize once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def tiny_promoters(data_dir: Path, tmp_path: Path) -> Path:
    """A GUE folder of 16 real prom_300_tata rows per split (8 of each class): for runs whose
    machinery, not their numbers, is under test (task=gue_folder task.path=<it>)."""
    folder = tmp_path / "tiny_promoters"
    folder.mkdir()
    for split in ("train", "dev", "test"):
        header, *rows = (data_dir / "GUE" / "prom" / "prom_300_tata" / f"{split}.csv"
                         ).read_text().splitlines()
        kept = [r for r in rows if r.endswith(",0")][:8] + [r for r in rows if r.endswith(",1")][:8]
        (folder / f"{split}.csv").write_text("\n".join([header, *kept]) + "\n")
    return folder


@pytest.fixture
def run_env(data_dir: Path, tokenizer_dir: Path, shared_cache: Path) -> dict[str, str]:
    """Environment for a `python train.py` subprocess: real data, offline, outputs in tmp."""
    return {
        **os.environ,
        "LINGO_DATA_DIR": str(data_dir),
        "LINGO_TOKENIZER_DIR": str(tokenizer_dir),
        "LINGO_CACHE_DIR": str(shared_cache),
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "offline",
    }
