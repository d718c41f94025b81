"""A method is one unit: a module's Method subclass plus one YAML, read by the run and the
reports alike."""

import json
from pathlib import Path

import pytest
from torch import nn

from lingo.methods import METHODS, Method, get_method, labels, ordered, register
from lingo.report.paper import METHODS as TABLE_LABELS
from tests.conftest import REPO, run_train

TOY_YAML = """\
# A toy method: every weight trained but the token embeddings
defaults:
  - _adapter
  - _self_
name: toy
targets: []
"""


class FrozenEmbeddings(Method):
    """The whole toy method: what a contributor writes in one module."""

    name = "toy"
    label = "Toy (embeddings frozen)"
    order = 7
    in_paper = False

    def wrap(self, net: nn.Module) -> nn.Module:
        net.get_input_embeddings().weight.requires_grad_(False)
        return net

    def summary(self, net: nn.Module, best_checkpoint: str | None, logger) -> dict:
        return {"frozen_embedding_rows": net.get_input_embeddings().weight.shape[0]}


@pytest.fixture
def toy_method():
    register(FrozenEmbeddings)
    yield FrozenEmbeddings
    del METHODS[FrozenEmbeddings.name]


def test_every_method_yaml_names_a_registered_unit():
    names = {path.stem for path in (REPO / "conf" / "method").glob("[!_]*.yaml")}
    assert names == set(METHODS)
    assert ordered()[:6] == ["probe", "fmft", "lora", "adalora", "ars", "lingo"]
    assert labels() == TABLE_LABELS  # the tables' row labels are the registry's
    with pytest.raises(ValueError, match="registered twice"):
        register(METHODS["lora"])


@pytest.mark.slow
def test_a_toy_method_is_one_module_and_one_yaml(toy_method, run_env, tiny_promoters,
                                                 tmp_path: Path):
    conf = tmp_path / "conf" / "method"
    conf.mkdir(parents=True)
    (conf / "toy.yaml").write_text(TOY_YAML)
    assert get_method("toy") is toy_method and labels()["toy"] == toy_method.label
    run_dir = tmp_path / "run"
    done = run_train([f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "method=toy",
                      "model=tiny_opt", "task=gue_folder", f"task.path={tiny_promoters}",
                      "trainer.max_steps=2", "trainer.eval_steps=2", "logger=none",
                      "trainer.progress_bar=false", f"hydra.run.dir={run_dir}"], run_env)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["method"] == "toy"
    assert metrics["frozen_embedding_rows"] > 0  # the unit's summary, in metrics.json
    assert 0 < metrics["trainable_params"] < metrics["total_params"]  # its wrap


def test_an_unregistered_method_name_is_one_line():
    from lingo.errors import LingoError

    with pytest.raises(LingoError, match=r"method.name='toy2' has no implementation; the "
                                         r"methods are probe, fmft, lora, adalora, ars, lingo"):
        get_method("toy2")
