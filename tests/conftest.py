"""Shared fixtures: the real data and tokenizers beside the project (skipped when absent), and
``python train.py`` run in this process."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from contextlib import chdir, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from unittest import mock

import pytest

if TYPE_CHECKING:
    from torch import nn

    from lingo.config import MethodConfig

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Two xdist workers share the cores, and OpenMP threads that spin while they wait take the other
# worker's core: the demo run's 2 threads (149 s against 83 s, the same model), numba's parallel
# kernels in modisco-lite and memelite (the planted-truth tests: 88 s against 47 s). Passive
# waiting changes no result; set before torch or numba start a pool, and inherited by every
# process a test starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The slowest test files, longest first (45 s to 4.5 min each on 2 cores from a clean clone, the
# planted-truth file with the one-time compile of modisco-lite's and memelite's kernels; CI's log
# lists the slowest tests): they start first. pytest-xdist hands out whole files in collection
# order (`make test`: --dist loadfile --no-loadscope-reorder); by default it orders them by their
# number of tests, which started the bench's single 4-minute test last, on one worker, while the
# other had finished. A file missing here only starts later: the order changes no result.
SLOWEST_FIRST = ("explain/test_planted_truth.py", "bench/test_bench.py", "test_config.py",
                 "training/test_training.py", "scripts/test_validate.py", "test_slurm.py",
                 "methods/test_ars_training.py", "test_sweeps.py", "test_flops.py",
                 "training/test_distributed.py", "models/test_smollm2.py", "test_legacy.py",
                 "baselines/test_baselines.py")


def load_script(name: str) -> ModuleType:
    """A script of scripts/ (not a package) as a module, registered under ``lingo_<name>``
    (dataclasses need the module registered)."""
    spec = importlib.util.spec_from_file_location(f"lingo_{name}", REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, one thread per worker (and in the processes its tests start): two
    workers each running torch on both cores would fight over them, and spin-waiting OpenMP
    threads made such a suite slower than one process."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ["MKL_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files in SLOWEST_FIRST first, in its order; each file's tests stay together and in order."""
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    tests = Path(__file__).parent

    def place(item: pytest.Item) -> int:
        inside = item.path.is_relative_to(tests)  # not a doctest of lingo/, say
        return rank.get(item.path.relative_to(tests).as_posix(), len(rank)) if inside else len(rank)

    items.sort(key=place)


@dataclass
class Finished:
    """How ``python train.py ...`` ended: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def run_command(main: Callable[[], object], argv: list[str], env: Mapping[str, str]) -> Finished:
    """A command's ``main`` with ``sys.argv = argv`` and environment ``env``, in this process,
    from the repository root: its own code and exit code without a Python start-up and the
    imports of torch, transformers and PEFT per run. Tests of what only a process shows (a kill,
    a second launch, torchrun, SLURM) start one instead."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from lingo import entrypoint

    env = {k: v for k, v in env.items() if k != "HYDRA_FULL_ERROR"}  # it asks Hydra for traces
    out, err = io.StringIO(), io.StringIO()
    handlers, level = logging.root.handlers[:], logging.root.level  # Hydra configures logging
    entrypoint.FAILED_JOBS.clear()  # the sweep report of this process's failed jobs
    # a test module's composed config (Hydra's compose API) is set aside for the run
    composing = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    composed = HydraConfig.instance().cfg
    GlobalHydra.instance().clear()
    code = 0
    try:
        with (chdir(REPO), mock.patch.dict(os.environ, env, clear=True),
              mock.patch.object(sys, "argv", argv), redirect_stdout(out), redirect_stderr(err)):
            try:
                returned = main()
                code = returned if isinstance(returned, int) else 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        for handler in logging.root.handlers:
            if handler not in handlers:
                handler.close()
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)
        GlobalHydra.instance().clear()
        if composing is not None:
            GlobalHydra.instance().initialize(composing)
        HydraConfig.instance().cfg = composed
    return Finished(code, out.getvalue(), err.getvalue())


def run_train(args: list[str], env: Mapping[str, str], process: bool = False) -> Finished:
    """``python train.py *args``, in this process (run_command); ``process``: in a process of
    its own, where what the environment sets when a library is first imported (the hub's
    offline mode, its cache) is under test."""
    if process:
        done = subprocess.run([sys.executable, "train.py", *args], cwd=REPO, env=dict(env),
                              capture_output=True, text=True, timeout=600)
        return Finished(done.returncode, done.stdout, done.stderr)
    import train

    return run_command(train.cli, ["train.py", *args], env)


def wrap_method(net: nn.Module, config: MethodConfig, arch: str, total_steps: int = 100,
                warmup_steps: int = 10, seed: int = 0,
                new_token_ids: list[int] | None = None) -> nn.Module:
    """``config.name``'s unit wraps ``net`` as a run does; an AdaLoRA-family schedule is planned
    for ``total_steps`` as the allocation callback plans it at train start."""
    from lingo.methods import METHODS, RunContext
    from lingo.methods.adalora.schedule import plan_schedule

    unit = METHODS[config.name](config, RunContext(arch, seed, tuple(new_token_ids or ())))
    wrapped = unit.wrap(net)
    if unit.adaptive:
        plan_schedule(wrapped, config, total_steps, warmup_steps)
    return wrapped


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
    from bench.common import small_gue_folder

    source = data_dir / "GUE" / "prom" / "prom_300_tata"
    return small_gue_folder(source, tmp_path / "tiny_promoters", per_class=8)


@pytest.fixture(scope="session")
def short_test_data(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``data_dir`` with the test splits of prom_tata and H3 cut to their first 96 rows (both
    classes among them), every other file linked as it is: train and dev are whole, so a run
    trains and selects its checkpoint as on the real data. For runs whose machinery, not their
    test scores, is under test: a run evaluates all of its test split once, and prom_tata's 613
    rows took 2.7 s of a 15 s tiny run."""
    kept = {}  # each cut file: its header and first 96 rows
    for task in ("prom/prom_300_tata", "EMP/H3"):
        file = data_dir / "GUE" / task / "test.csv"
        kept[file] = file.read_text().splitlines(keepends=True)[:97]
        labels = {row.strip().rsplit(",", 1)[-1] for row in kept[file][1:]}
        assert labels == {"0", "1"}, f"{file}: its first 96 rows hold labels {labels}"  # AUC

    def mirror(source: Path, target: Path) -> None:
        target.mkdir()
        for entry in source.iterdir():
            if entry in kept:
                (target / entry.name).write_text("".join(kept[entry]))
            elif any(file.is_relative_to(entry) for file in kept):
                mirror(entry, target / entry.name)
            else:
                (target / entry.name).symlink_to(entry.resolve())

    root = tmp_path_factory.mktemp("short-test-data") / "data"
    mirror(data_dir, root)
    return root


@pytest.fixture
def short_test_env(run_env: dict[str, str], short_test_data: Path) -> dict[str, str]:
    """``run_env`` on ``short_test_data``."""
    return {**run_env, "LINGO_DATA_DIR": str(short_test_data)}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Finished]:
    """``python train.py experiment=demo`` as a user starts it, in a process, with no file
    outside the repository: trained once per test session, whichever pytest-xdist worker asks
    first (the others wait on a file lock and read it); tests/test_demo.py checks it, the
    explanation tests read what it learned."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()  # an xdist worker's: its session's is above it
    shared = shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared
    run_dir, record = shared / "demo", shared / "demo.json"
    with FileLock(str(shared / "demo.lock")):
        if not record.is_file():
            env = {k: v for k, v in os.environ.items()  # the user's threads too: the model
                   if not k.startswith(("LINGO_", "WANDB_", "OMP_", "MKL_"))  # of the docs
                   or k == "OMP_WAIT_POLICY"}  # passive: see the top of this file
            env.update(HF_HUB_OFFLINE="1", LINGO_CACHE_DIR=str(shared / "demo-cache"))
            cmd = [sys.executable, "train.py", "experiment=demo", f"hydra.run.dir={run_dir}"]
            try:
                done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                                      timeout=900)
                ended = [done.returncode, done.stdout, done.stderr]
            except subprocess.TimeoutExpired as late:  # recorded: no other worker retries
                ended = [124, str(late.stdout or ""), f"timed out after 900 s: {late.stderr}"]
            record.write_text(json.dumps(ended))
    return run_dir, Finished(*json.loads(record.read_text()))


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
