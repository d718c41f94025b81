"""Every model x method x task combination composes and validates against the schema."""


import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf, open_dict

from lingo.config import (
    BASELINE_ARCHES,
    PAPER_MATRICES,
    LingoConfig,
    check_overrides,
    register_configs,
    validate,
)
from lingo.errors import LingoError, NotRun
from lingo.same_run import check_same_run
from tests.conftest import REPO

CONF = REPO / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))


MODELS, METHODS, TASKS = options("model"), options("method"), options("task")


@pytest.fixture(scope="module")
def compose_cfg():
    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield _compose


def _compose(overrides: list[str]):
    """Compose as ``train.py`` would, with ``hydra.*`` resolvable (run dir included)."""
    cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def run_dir(cfg) -> str:
    return str(cfg.hydra.run.dir)


def test_groups_hold_the_issue_options():
    assert {"opt125m", "opt350m", "dnabert2", "nt500m", "tiny_opt", "tiny_bert", "tiny_esm"} <= set(
        MODELS
    )
    assert {"fmft", "lora", "adalora"} <= set(METHODS)
    yeast = {"h3", "h3k4me1", "h3k4me2", "h3k4me3", "h3k9ac", "h3k14ac", "h3k36me3", "h3k79me3",
             "h4", "h4ac"}
    assert yeast | {"prom_all", "prom_notata", "prom_tata", "gue_folder", "demo", "synthetic_ctcf",
                    "histone_human"} == set(TASKS)


# One task of each family (its Table S1 row, prompt and source), with every model and method;
# every task with tiny_opt: a task's config does not depend on the model (2.5 s a model, not 25)
FAMILY_TASKS = ("prom_tata", "h3", "histone_human", "gue_folder", "demo")


@pytest.mark.parametrize("model", MODELS)
def test_every_combination_composes(compose_cfg, model):
    for method in METHODS:
        for task in TASKS if model == "tiny_opt" else FAMILY_TASKS:
            overrides = [f"model={model}", f"method={method}", f"task={task}"]
            if task == "gue_folder":
                overrides.append("task.path=/some/folder")
            if model == "hf_causal":
                overrides.append("model.name_or_path=HuggingFaceTB/SmolLM2-360M")
            cfg = compose_cfg(overrides)
            path = run_dir(cfg)
            if (cfg.model.arch in BASELINE_ARCHES) != (method == "none"):
                with pytest.raises(NotRun, match="method"):  # a baseline needs method=none
                    validate(cfg)
                continue
            if method == "lingo" and not cfg.model.natural_language:
                with pytest.raises(NotRun, match="method=ars"):  # as in the paper: skipped
                    validate(cfg)
                continue
            validate(cfg)
            with open_dict(cfg):
                cfg.pop("hydra")
            typed = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(LingoConfig), cfg))
            assert typed.model.name == model and typed.method.name == method
            assert typed.task.name == task
            assert set(typed.method.targets) <= set(PAPER_MATRICES)
            assert typed.task.selection_metric in ("auc", "mcc", "cross_entropy")
            assert path.startswith(f"outputs/runs/{task}/{model}-{method}-")


@pytest.mark.parametrize(
    ("task", "init_r", "target_r", "final_ratio", "delta_t", "targets"),
    [
        ("prom_tata", 8, 6, 0.15, 5000, ["Wq", "Wk", "Wv", "Wf1", "Wf2", "Wo"]),
        ("h3", 12, 6, 0.25, 100, ["Wq", "Wk", "Wv", "Wf1", "Wf2"]),
        ("h4ac", 12, 6, 0.30, 100, ["Wq", "Wk", "Wv", "Wf1", "Wf2"]),
    ],
)
def test_method_defaults_follow_table_s1(compose_cfg, task, init_r, target_r, final_ratio,
                                         delta_t, targets):
    cfg = compose_cfg(["method=adalora", f"task={task}"])
    m = cfg.method
    assert (m.init_r, m.target_r, m.final_ratio, m.delta_t) == (init_r, target_r, final_ratio,
                                                                delta_t)
    assert list(m.targets) == targets
    assert (m.r, m.lora_alpha, m.lora_dropout, m.orth_reg_weight) == (8, 32, 0.05, 0.5)
    assert cfg.trainer.batch_size == 8 and cfg.trainer.lr == 3e-5 and cfg.trainer.epochs == 5


def test_run_dir_is_a_function_of_the_overrides(compose_cfg):
    a = run_dir(compose_cfg(["model=tiny_opt", "trainer.max_steps=30"]))
    again = run_dir(compose_cfg(["trainer.max_steps=30", "model=tiny_opt"]))
    other = run_dir(compose_cfg(["model=tiny_opt", "trainer.max_steps=31"]))
    assert a == again != other
    assert "seed42-" in a


def test_unknown_option_is_refused(compose_cfg):
    with pytest.raises(ConfigCompositionException):
        compose_cfg(["trainer.foo=1"])


def test_tokenizer_dir_resolves_tiny_tokenizers(compose_cfg, monkeypatch, tmp_path):
    (tmp_path / "opt").mkdir()
    monkeypatch.setenv("LINGO_TOKENIZER_DIR", str(tmp_path))
    assert compose_cfg(["model=tiny_opt"]).model.tokenizer == str(tmp_path / "opt")
    assert compose_cfg(["model=opt125m"]).model.tokenizer == str(tmp_path / "opt")
    monkeypatch.delenv("LINGO_TOKENIZER_DIR")
    assert compose_cfg(["model=tiny_opt"]).model.tokenizer is None
    assert compose_cfg(["model=opt350m"]).model.tokenizer == "facebook/opt-350m"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("method.p_drop=1.5", "method.p_drop=1.5 is outside [0.0, 1.0]"),
        ("method.delta_t=0", "method.delta_t=0: use a number of steps >= 1, or auto"),
        ("method.delta_t=often", "method.delta_t='often': use a number of steps >= 1, or auto"),
        ("method.auto_events=0", "method.auto_events=0 is outside [1, inf]"),
        ("trainer.head_lr=-1", "trainer.head_lr=-1.0: use a rate >= 0, or null"),
        ("method.target_r=20", "exceeds method.init_r"),
        ("trainer.warmup_ratio=50", "for a number of steps use trainer.warmup_steps"),
        ("trainer.warmup_steps=-1", "trainer.warmup_steps=-1: use a count >= 0"),
        ("trainer.logging_steps=0", "trainer.logging_steps=0 is outside [1, inf]"),
    ],
)
def test_values_out_of_their_set_or_range_are_refused_before_loading(compose_cfg, override,
                                                                    message):
    cfg = compose_cfg(["method=ars", override])
    with pytest.raises(LingoError) as err:
        validate(cfg)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("override", "values"),
    [
        ("trainer.precision=fp8", "auto, fp32, bf16, fp16"),
        ("task.selection_metric=loss", "auc, mcc, accuracy, f1, cross_entropy"),
        ("logger.mode=onlin", "offline, online, disabled"),
        ("model.arch=gpt3", "opt, bert, esm, dnabert2, llama, gpt2, auto, kmer_lr, cnn"),
    ],
)
def test_a_value_outside_its_set_is_refused_when_composing(compose_cfg, override, values):
    """The schema's Enums: Hydra refuses the value wherever it comes from (a YAML, a sweep);
    on the command line train.py says so first, in one line, with every value of a sweep."""
    key, value = override.split("=")
    with pytest.raises(ConfigCompositionException) as err:
        compose_cfg(["method=ars", override])
    hydra_says = str(err.value.__cause__)
    assert f"Invalid value '{value}', expected one of [{values}]" in hydra_says
    assert f"full_key: {key}" in hydra_says
    for args in ([override], ["-m", f"{key}={value},{values.split(', ')[0]}"]):
        with pytest.raises(LingoError) as err:
            check_overrides(args, CONF)
        assert str(err.value) == f"{key}='{value}' is not one of: {values}"
    check_overrides([f"{key}=${{oc.env:X}}"], CONF)  # an interpolation: Hydra's to check


def test_a_run_directory_refuses_other_result_settings(compose_cfg, tmp_path):
    def job(*overrides: str):
        """The config a job sees: no ``hydra`` node."""
        cfg = compose_cfg(["model=tiny_opt", *overrides])
        with open_dict(cfg):
            cfg.pop("hydra")
        return cfg

    (tmp_path / "config.yaml").write_text(
        OmegaConf.to_yaml(job("data_dir=/data/reduced"), resolve=True))
    check_same_run(job("data_dir=/data/reduced", "logger=none", "trainer.progress_bar=false"),
                   tmp_path)  # nothing that changes the result
    with pytest.raises(LingoError, match=r"\(data_dir: '/data/reduced' -> '/data/full', "
                       r"task.path: '/data/reduced/GUE"):
        check_same_run(job("data_dir=/data/full"), tmp_path)
    with pytest.raises(LingoError, match=r"\(trainer.lr: 3e-05 -> 0.0001\)"):
        check_same_run(job("data_dir=/data/reduced", "trainer.lr=1e-4"), tmp_path)
    # a run made before an option existed (here trainer.warmup_steps) is still the same run
    older = OmegaConf.to_container(job("data_dir=/data/reduced"), resolve=True)
    del older["trainer"]["warmup_steps"]
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(older))
    check_same_run(job("data_dir=/data/reduced"), tmp_path)
    # an Enum-typed setting reads as its value
    with pytest.raises(LingoError, match=r"\(trainer.precision: 'auto' -> 'bf16'\)"):
        check_same_run(job("data_dir=/data/reduced", "trainer.precision=bf16"), tmp_path)


@pytest.mark.parametrize(("overrides", "message"), [
    (["method=_adapter"], "no value for method.name"),  # a shared base, hidden by --help
    (["model=hf_causal"], "model=hf_causal needs model.name_or_path=<hub name or local folder>"),
    (["trainer.epochs=0"], "trainer.epochs=0.0 trains nothing"),
    (["trainer.eval_steps=0"], "trainer.eval_steps=0.0: use a fraction"),
    (["trainer.save_total_limit=0"], "trainer.save_total_limit=0 is outside"),
    (["model=cnn", "method=none", "legacy=paper_code"], "which the paper's code does not have"),
])
def test_configs_that_cannot_run_are_one_message(compose_cfg, overrides, message):
    with pytest.raises(LingoError) as err:
        validate(compose_cfg(overrides))
    assert message in str(err.value) and "\n" not in str(err.value)
