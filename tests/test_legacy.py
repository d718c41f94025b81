"""`legacy=paper_code`: one switch for the paper code's procedure, marked in the results."""

import json

import pytest
import torch

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig
from lingo.methods.adalora.allocator import ARSRankAllocator
from lingo.tokenization import build_tokenizer
from tests.methods.test_ars_training import rank_history
from tests.test_config import _compose, compose_cfg, run_dir  # noqa: F401 (fixture)
from tests.training.test_training import train

LINGO_PROMPT = PromptConfig("Domain: DNA Promoter\nSequence: ", "\nAnnotation:")


def test_switch_sets_the_paper_codes_procedure(compose_cfg):  # noqa: F811
    ours = compose_cfg(["method=lingo", "task=h3"])
    our_dir = run_dir(ours)  # resolved now: `hydra:` resolves against the latest composition
    cfg = compose_cfg(["method=lingo", "task=h3", "legacy=paper_code"])
    m = cfg.method
    assert cfg.legacy == "paper_code" and ours.legacy is None
    assert (m.init_r, m.target_r, m.tinit, m.tfinal, m.delta_t, m.total_step) == (
        8, 4, 200, 200, 5000, 7485)
    assert list(m.targets) == ["Wq", "Wk", "Wv", "Wf1", "Wf2"]  # output_proj matched nothing
    assert (m.p_drop, m.p_revive, m.zero_before_revive) == (0.1, 0.1, True)
    assert (m.allocate, m.allocate_every, m.allocate_before_step) == (True, 50, True)
    assert m.prompt.prefix == "Domain: DNA Promoter\nSequence: "  # the promoter text on h3
    assert ours.method.prompt.prefix == "Domain: DNA Histone Modification\nSequence: "
    assert cfg.task.selection_split == "test" and ours.task.selection_split == "dev"
    assert cfg.trainer.precision == "fp16" and ours.trainer.precision == "auto"
    assert cfg.tokenizer.max_length == 128 and cfg.tokenizer.protect_prompt is False
    assert cfg.task.selection_metric == "mcc"
    assert run_dir(cfg) != our_dir
    assert compose_cfg(["method=adalora", "legacy=paper_code"]).method.allocate is False
    assert ours.method.p_drop == 0.05 and ours.method.allocate_every == 1


@pytest.mark.parametrize(("method", "task", "expected"), [
    # (epochs, eval/save steps, warmup steps, max tokens, selection metric, prefix, allocate)
    ("lingo", "h3", (5, 200, 50, 128, "mcc", "Domain: DNA Promoter\nSequence: ", True)),
    ("ars", "h3", (5, 200, 50, 128, "mcc", "", True)),
    ("lingo", "prom_tata", (10, 200, 50, 512, "mcc", "Domain: DNA Promoter\nSequence: ", True)),
    ("ars", "prom_tata", (10, 200, 50, 512, "mcc", "", True)),
    ("lingo", "prom_all", (4, 400, 50, 512, "mcc", "Domain: DNA Promoter\nSequence: ", True)),
    ("fmft", "prom_notata", (4, 400, 50, 70, "mcc", "", False)),
    # the DeepSEA script: plain Trainer (never allocates), no prompt, ratio warmup, 512 tokens
    ("lingo", "histone_human", (5, 2000, None, 512, "cross_entropy", "", False)),
])
def test_legacy_follows_each_tasks_script(compose_cfg, method, task, expected):  # noqa: F811
    """The paper's scripts differ by task and by whether the Lingo prompt is used
    (scripts/run_opt350m_domain.sh, finetune/scripts/run_opt350m.sh,
    scripts/run_opt350m_multilabel.sh): task.paper_code holds each task's values."""
    cfg = compose_cfg([f"method={method}", f"task={task}", "legacy=paper_code"])
    t = cfg.trainer
    assert (t.epochs, t.eval_steps, t.warmup_steps, cfg.tokenizer.max_length,
            cfg.task.selection_metric, cfg.method.prompt.prefix, cfg.method.allocate) == expected


@pytest.mark.parametrize(("method", "task", "tokens"), [
    # promoters: the Lingo launcher 512 (scripts/run_opt350m_domain.sh:108,135); ARS 512, as
    # its one upstream run (demos/DNA_llm_test.ipynb); FMFT 70 (finetune/scripts/
    # run_opt350m.sh:108,135), AdaLoRA 70 (scripts/run_llm_lora.sh:115,144); LoRA: no script
    ("lingo", "prom_all", 512), ("ars", "prom_all", 512), ("ars", "prom_notata", 512),
    ("fmft", "prom_all", 70), ("adalora", "prom_tata", 70), ("lora", "prom_all", 70),
    ("ars", "demo", 512),  # the synthetic task takes the promoter family's values
    # yeast: 128 in every launcher; DeepSEA: 512
    ("ars", "h3", 128), ("fmft", "h4ac", 128), ("adalora", "h3", 128),
    ("ars", "histone_human", 512), ("fmft", "histone_human", 512),
])
def test_legacy_max_length_follows_each_methods_run(compose_cfg, method, task, tokens):  # noqa: F811
    for model in ("opt125m", "opt350m"):
        cfg = compose_cfg([f"model={model}", f"method={method}", f"task={task}",
                           "legacy=paper_code"])
        assert cfg.tokenizer.max_length == tokens
    ours = compose_cfg([f"method={method}", f"task={task}"])
    assert ours.tokenizer.max_length == 512  # ours: the tokenizer's own limit


@pytest.mark.parametrize(("model", "task", "init_r", "split"), [
    # OPT-125M: finetune/train_llm.py (init_r=12, eval_dataset=test_dataset)
    ("opt125m", "prom_tata", 12, "test"), ("opt125m", "h3", 12, "test"),
    # OPT-350M: finetune/train_opt350m.py --use_lora True (init_r=16, eval_dataset=val_dataset)
    ("opt350m", "prom_all", 16, "dev"), ("opt350m", "h3k4me1", 16, "dev"),
    # no upstream AdaLoRA script: the Lingo script's rank, selected on test
    ("tiny_opt", "prom_tata", 8, "test"), ("nt500m", "prom_tata", 8, "test"),
    # DeepSEA: DNA_llm_multilabel_350m.py for every method (init_r=8, test)
    ("opt350m", "histone_human", 8, "test"), ("opt125m", "histone_human", 8, "test"),
])
def test_legacy_adalora_follows_its_script_per_model(compose_cfg, model, task, init_r,  # noqa: F811
                                                      split):
    cfg = compose_cfg([f"model={model}", "method=adalora", f"task={task}", "legacy=paper_code"])
    m = cfg.method
    assert (m.init_r, cfg.task.selection_split, m.allocate) == (init_r, split, False)
    assert m.target_r <= m.init_r
    # ARS and Lingo keep the Lingo script's init_r=8 on the same model and task
    for method in ("ars", "lingo") if model != "nt500m" else ("ars",):
        other = compose_cfg([f"model={model}", f"method={method}", f"task={task}",
                             "legacy=paper_code"])
        assert other.method.init_r == 8 and other.task.selection_split == "test"
    # without legacy: the task's Table S1 row, selected on dev
    ours = compose_cfg([f"model={model}", "method=adalora", f"task={task}"])
    assert ours.method.init_r == ours.task.table_s1.init_r
    assert ours.task.selection_split == "dev"


@pytest.mark.parametrize(("model", "task", "split"), [
    # finetune/train_opt350m.py (finetune/scripts/run_opt350m.sh, --use_lora False) and
    # finetune/train_opt125m.py: eval_dataset=val_dataset, the test split evaluated once
    ("opt350m", "prom_tata", "dev"), ("opt350m", "h3", "dev"), ("opt125m", "prom_all", "dev"),
    ("opt125m", "h4", "dev"),
    # no upstream FMFT script for these: test, as every other legacy run
    ("tiny_opt", "prom_tata", "test"), ("dnabert2", "h3", "test"),
    ("opt350m", "histone_human", "test"),
])
def test_legacy_fmft_selects_where_its_script_did(compose_cfg, model, task, split):  # noqa: F811
    cfg = compose_cfg([f"model={model}", "method=fmft", f"task={task}", "legacy=paper_code"])
    assert cfg.task.selection_split == split
    assert cfg.task.selection_metric == ("cross_entropy" if task == "histone_human" else "mcc")
    lora = compose_cfg([f"model={model}", "method=lora", f"task={task}", "legacy=paper_code"])
    assert lora.task.selection_split == "test"  # LoRA: no upstream script


def test_legacy_onehot_is_the_paper_scripts(compose_cfg):  # noqa: F811
    """finetune/scripts/run_opt_350m_1hot.sh: --model_max_length 512 on promoters, 128 on
    the yeast tasks (a length the script pads to and never truncates at)."""
    for task, tokens in (("prom_tata", 512), ("h3", 128)):
        cfg = compose_cfg(["method=lingo", f"task={task}", "tokenizer=onehot",
                           "legacy=paper_code"])
        assert cfg.tokenizer.paper_onehot is True and cfg.tokenizer.max_length == tokens
        assert cfg.method.prompt.prefix == "Domain: DNA Promoter\nSequence: "


def test_paper_truncation_cuts_the_suffix(tokenizer_dir):
    model = ModelConfig(name="opt", display_name="OPT", arch="opt",
                        tokenizer=str(tokenizer_dir / "opt"))
    ours = build_tokenizer(TokenizerConfig(name="native", max_length=40), model, LINGO_PROMPT)
    paper = build_tokenizer(TokenizerConfig(name="native", max_length=40, protect_prompt=False),
                            model, LINGO_PROMPT)
    dna = "ACGTTGCAAGCT" * 40
    (kept,), cut = ours.encode([dna])
    (legacy,), legacy_cut = paper.encode([dna])
    assert cut == legacy_cut == 1 and len(kept) == len(legacy) == 40
    assert ours.decode(kept).endswith("\nAnnotation:")
    assert "Annotation" not in paper.decode(legacy)
    assert ours.fingerprint() != paper.fingerprint()


def test_revive_only_in_the_pattern_when_zeroed_first():
    """p_revive=1, p_drop=0: every pruned value is revived in the pattern; ours keeps its value,
    the paper code's bookkeeping leaves it zeroed."""
    allocators = {}
    for zero_first in (False, True):
        allocator = ARSRankAllocator.__new__(ARSRankAllocator)
        allocator.p_drop, allocator.p_revive, allocator.sample_final = 0.0, 1.0, False
        allocator.zero_before_revive = zero_first
        allocator.generator = torch.Generator().manual_seed(0)
        allocator.events, allocator._step, allocator._final = [], 1, False
        allocators[zero_first] = allocator
    for zero_first, allocator in allocators.items():
        values = torch.nn.Parameter(torch.arange(1.0, 5.0).view(4, 1))
        scores = torch.tensor([4.0, 3.0, 2.0, 1.0])
        allocator.triplet_scores = lambda model, v=values, s=scores: (["m.lora_E.default"], [v], s)
        pattern = allocator.mask_to_budget(None, budget=2)
        assert pattern == {"m.lora_E.default": [True, True, True, True]}
        expected = [1.0, 2.0, 0.0, 0.0] if zero_first else [1.0, 2.0, 3.0, 4.0]
        assert values.view(-1).tolist() == expected
        assert allocator.events[-1]["revived"] == 2


@pytest.mark.slow
def test_legacy_run_is_marked_and_allocates_every_50_steps_before_the_step(short_test_env,
                                                                           tmp_path):
    metrics = train(short_test_env, tmp_path / "run", "method=ars", "task=prom_tata",
                    "legacy=paper_code", "method.tinit=0", "method.total_step=200",
                    "method.tfinal=50", "method.delta_t=50", "trainer.max_steps=120",
                    "trainer.eval_steps=60")
    assert metrics["legacy"] == "paper_code" and metrics["selection_split"] == "test"
    assert [e["step"] for e in rank_history(tmp_path / "run")] == [50, 100]
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "legacy: paper_code" in config
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "completed"


class _Tuner:
    """Stands in for PEFT's AdaLoRA model: records when the allocation is called."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.peft_config = {"default": type("Config", (), {"rank_pattern": None})()}
        self.trainable_adapter_name = "default"
        self.rankallocator = type("Allocator", (), {"events": []})()

    def update_and_allocate(self, step: int) -> None:
        self.calls.append(step)


@pytest.mark.parametrize(
    ("before_step", "every", "pre_calls", "post_calls"),
    [(False, 1, [], [0, 1, 2, 3, 50, 100]), (True, 50, [0, 50, 100], [])],
)
def test_allocation_hook_and_interval(tmp_path, before_step, every, pre_calls, post_calls):
    from types import SimpleNamespace

    from lingo.config import MethodConfig
    from lingo.methods.adalora.callback import AllocationCallback

    method = MethodConfig(name="ars", targets=["Wq"], init_r=8, target_r=4, delta_t=1,
                          final_ratio=0.1, beta1=0.85, beta2=0.85,
                          allocate_every=every, allocate_before_step=before_step)
    callback = AllocationCallback(method, tmp_path, None)
    pre, post = _Tuner(), _Tuner()
    for step in (0, 1, 2, 3, 50, 100):
        state = SimpleNamespace(global_step=step)
        callback.on_pre_optimizer_step(None, state, None, model=SimpleNamespace(base_model=pre))
        callback.on_optimizer_step(None, state, None, model=SimpleNamespace(base_model=post))
    assert (pre.calls, post.calls) == (pre_calls, post_calls)


@pytest.mark.slow
def test_legacy_adalora_never_allocates_and_completes(short_test_env, tmp_path):
    metrics = train(short_test_env, tmp_path / "run", "method=adalora", "task=prom_tata",
                    "legacy=paper_code", "trainer.max_steps=10", "trainer.eval_steps=5")
    assert metrics["status"] == "completed" and metrics["legacy"] == "paper_code"
    assert not (tmp_path / "run" / "rank_history.jsonl").exists()
    pattern = json.loads((tmp_path / "run" / "rank_pattern.json").read_text())["rank_pattern"]
    assert all(all(mask) for mask in pattern.values())  # nothing was ever pruned
    assert metrics["final_rank_total"] == 8 * len(pattern)
    history = (tmp_path / "run" / "history.jsonl").read_text()
    assert '"test/auc"' in history and '"dev/auc"' not in history  # selected on test


def test_a_run_that_never_allocates_resumes_from_a_checkpoint_without_allocator_state(
        tmp_path):
    """legacy=paper_code's AdaLoRA baselines and DeepSEA job never allocate: their checkpoints
    hold no rank_allocator.pt, and the allocation callback (which plans their schedule) resumes
    from one all the same, writing no rank history."""
    from types import SimpleNamespace

    from transformers import AutoModelForSequenceClassification

    from lingo.config import MethodConfig
    from lingo.methods.adalora.callback import AllocationCallback
    from lingo.models.build import random_config
    from tests.conftest import wrap_method
    from tests.methods.test_methods import model_config

    net = AutoModelForSequenceClassification.from_config(
        random_config(model_config("tiny_opt"), 100, num_labels=2, pad_token_id=1))
    method = MethodConfig(name="adalora", targets=["Wq"], init_r=8, target_r=4, delta_t=10,
                          final_ratio=0.1, beta1=0.85, beta2=0.85, allocate=False)
    net = wrap_method(net, method, "opt")
    checkpoint = tmp_path / "checkpoints" / "checkpoint-20"
    checkpoint.mkdir(parents=True)
    callback = AllocationCallback(method, tmp_path, checkpoint)
    callback.on_train_begin(SimpleNamespace(get_warmup_steps=lambda steps: 5), SimpleNamespace(
        max_steps=200), None, model=net)
    assert net.peft_config["default"].total_step == 200  # planned from the Trainer's count
    assert callback.rank_pattern is None and not (tmp_path / "rank_history.jsonl").exists()


def test_the_paper_codes_per_method_values_are_one_function():
    """lingo.config.paper_code_setting, which conf/legacy/paper_code.yaml reads for every value
    that depends on the method and model (the composed values: the tests above)."""
    from omegaconf import OmegaConf

    from lingo.config import PaperCodeJob, paper_code_setting

    job = PaperCodeJob(method_max_length={"ars": 512},
                       method_init_r={"adalora": {"opt125m": 12}},
                       method_selection_split={"fmft": {"opt125m": "dev"}})

    def setting(name: str, method: str, model: str = "opt125m", allocate: bool = True):
        root = OmegaConf.create({"method": {"name": method}, "model": {"name": model},
                                 "task": {"paper_code": OmegaConf.structured(job)}})
        root.task.paper_code.allocate = allocate
        return paper_code_setting(name, _root_=root)

    assert setting("max_length", "ars") == 512
    assert setting("max_length", "lingo") == job.prompt_max_length
    assert setting("max_length", "lora") == job.max_length
    assert (setting("init_r", "adalora"), setting("init_r", "adalora", "opt350m")) == (12, 8)
    assert (setting("selection_split", "fmft"), setting("selection_split", "lora")) == (
        "dev", "test")
    assert setting("allocate", "lingo") is True and setting("allocate", "adalora") is False
    assert setting("allocate", "ars", allocate=False) is False  # DeepSEA's plain Trainer
    with pytest.raises(ValueError, match="no setting 'epochs'"):
        setting("epochs", "ars")
