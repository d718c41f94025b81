"""ARS (adaptive rank sampling) against PEFT's own AdaLoRA allocator, on a tiny real OPT.

With p_drop = p_revive = 0 ARS must be PEFT's AdaLoRA bit for bit; with p > 0 its Bernoulli
masks must have the right rates, be reproducible from the seed and survive a checkpoint.
"""

import copy
import io
import math

import pytest
import torch
import yaml
from peft.tuners.adalora import RankAllocator
from transformers import AutoModelForSequenceClassification

from lingo.config import MethodConfig, ModelConfig
from lingo.methods.adalora.allocator import (
    ARSRankAllocator,
    RecordingRankAllocator,
    matrix_name,
)
from lingo.models.build import random_config
from tests.conftest import REPO, wrap_method

VOCAB = 100
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
            word_embed_proj_dim=32, max_position_embeddings=64, dropout=0.0,
            attention_dropout=0.0)
TARGETS = ["Wq", "Wk", "Wv", "Wf1", "Wf2"]
N_MATRICES = 2 * len(TARGETS)  # 2 layers
INIT_R, TARGET_R = 6, 2
INIT_BGT, TARGET_BGT = INIT_R * N_MATRICES, TARGET_R * N_MATRICES  # 60, 20
TOTAL, WARMUP, DELTA_T, FINAL_RATIO = 40, 3, 3, 0.25  # tinit 3, tfinal 10: final event at 30
FINAL_STEP = TOTAL - int(FINAL_RATIO * TOTAL)
EVENT_STEPS = [*range(6, FINAL_STEP, DELTA_T), FINAL_STEP]  # 6, 9, ..., 27 and the final 30
ADAPTER = "default"


def tiny_opt(seed: int = 0):
    raw = yaml.safe_load((REPO / "conf" / "model" / "tiny_opt.yaml").read_text())
    raw.pop("tokenizer", None)
    config = random_config(ModelConfig(**raw), VOCAB, num_labels=2, pad_token_id=1, **TINY)
    torch.manual_seed(seed)
    return AutoModelForSequenceClassification.from_config(config)


def ada_method(name: str = "ars", p_drop: float = 0.0, p_revive: float = 0.0,
               sample_final: bool = False) -> MethodConfig:
    """``ars``, or ``adalora``: PEFT's own allocator, recording its events."""
    return MethodConfig(name=name, targets=TARGETS, init_r=INIT_R,
                        target_r=TARGET_R, delta_t=DELTA_T, final_ratio=FINAL_RATIO, beta1=0.85,
                        beta2=0.85, lora_dropout=0.0, p_drop=p_drop,
                        p_revive=p_revive, sample_final=sample_final)


def wrapped(name: str = "ars", seed: int = 0, **method_kwargs):
    """Same seed, same weights: the backbone, the head and the AdaLoRA A/B initialisation."""
    net = tiny_opt(seed)
    torch.manual_seed(seed)
    return wrap_method(net, ada_method(name, **method_kwargs), "opt", TOTAL, WARMUP,
                        seed=seed)


def batches(n: int, seed: int = 123) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    return [{"input_ids": torch.randint(2, VOCAB, (4, 8), generator=g),
             "labels": torch.randint(0, 2, (4,), generator=g)} for _ in range(n)]


def adapter_params(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()
            if any(k in n for k in ("lora_E", "lora_A", "lora_B"))}


def lora_e(model) -> dict[str, torch.Tensor]:
    """Every lora_E, named as the allocators name them (parameters of ``tuner.model``)."""
    net = model.base_model.model
    return {n: p.detach().clone() for n, p in net.named_parameters() if ".lora_E." in n}


def restore_e(model, saved: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for n, p in model.base_model.model.named_parameters():
            if n in saved:
                p.copy_(saved[n])


def flat(pattern: dict) -> torch.Tensor:
    return torch.tensor([bit for mask in pattern.values() for bit in mask], dtype=torch.bool)


def counts(pattern: dict) -> dict[str, int]:
    return {matrix_name(n): int(sum(mask)) for n, mask in pattern.items()}


def plain_allocator(tuner) -> RankAllocator:
    return RankAllocator(tuner.model, tuner.peft_config[ADAPTER], ADAPTER)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one thread is faster, and immune to a busy machine's thread contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- 1, 3, 8: twin training runs


@pytest.fixture(scope="module", params=["ars", "adalora"])
def twins(request):
    """The same training run twice: once with our allocator (ARS at p=0, or the recording
    PEFT one), once with PEFT's plain RankAllocator. Rank patterns captured after every step."""
    ours = wrapped(request.param)
    theirs = wrapped(request.param)
    tuner = theirs.base_model
    tuner.rankallocator = plain_allocator(tuner)
    assert type(ours.base_model.rankallocator) is (
        ARSRankAllocator if request.param == "ars" else RecordingRankAllocator)
    start = adapter_params(ours)
    assert all(torch.equal(start[n], p) for n, p in adapter_params(theirs).items())
    runs = {}
    for key, model in (("ours", ours), ("theirs", theirs)):
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        patterns = []
        for step, batch in enumerate(batches(TOTAL), start=1):
            model.train()
            model(**batch).loss.backward()
            opt.step()
            model.base_model.update_and_allocate(step)
            opt.zero_grad()
            patterns.append(copy.deepcopy(model.peft_config[ADAPTER].rank_pattern))
        runs[key] = (model, patterns)
    return request.param, runs


def test_p0_matches_peft_adalora_exactly(twins):
    _, runs = twins
    (ours, ours_patterns), (theirs, theirs_patterns) = runs["ours"], runs["theirs"]
    assert ours_patterns == theirs_patterns
    distinct = [p for i, p in enumerate(theirs_patterns) if p and p != theirs_patterns[i - 1]]
    assert len(distinct) >= 5  # several events, each changing the pattern
    assert sum(flat(theirs_patterns[-1])) == TARGET_BGT
    final = adapter_params(ours)
    other = adapter_params(theirs)
    assert final.keys() == other.keys() and len(final) == 3 * N_MATRICES
    for name, value in final.items():
        assert torch.equal(value, other[name]), name
    zeros = sum(int((v == 0).sum()) for n, v in final.items() if ".lora_E." in n)
    assert zeros == INIT_BGT - TARGET_BGT  # the final pattern is applied to the weights


def test_events_follow_peft_schedule_and_patterns(twins):
    kind, runs = twins
    ours, _ = runs["ours"]
    theirs, theirs_patterns = runs["theirs"]
    events = ours.base_model.rankallocator.events
    schedule = theirs.base_model.rankallocator  # PEFT's plain allocator
    assert [e["step"] for e in events] == EVENT_STEPS
    tinit, span = WARMUP, FINAL_STEP - WARMUP
    for event in events:
        step = event["step"]
        budget = schedule.budget_schedule(step)[0]
        assert event["budget"] == budget
        assert budget == int((INIT_BGT - TARGET_BGT) * (1 - (step - tinit) / span) ** 3
                             + TARGET_BGT)
        assert event["kept"] == budget  # p = 0 and no ties: exactly the budget
        assert (event["dropped"], event["revived"]) == (0, 0)
        assert event["final"] is (step == FINAL_STEP)
        # what PEFT stored in the config after this step, per matrix
        assert event["ranks"] == counts(theirs_patterns[step - 1])
        assert len(event["ranks"]) == N_MATRICES
    budgets = [e["budget"] for e in events]
    assert budgets == sorted(budgets, reverse=True) and budgets[0] < INIT_BGT
    assert events[-1]["kept"] == TARGET_R * N_MATRICES and events[-1]["final"] is True
    assert kind in ("ars", "adalora")


# ---------------------------------------------------------------- a warmed-up model


@pytest.fixture(scope="module")
def warmed_once():
    model = wrapped("adalora")
    tuner = model.base_model
    plain = plain_allocator(tuner)
    ars = ARSRankAllocator(tuner.model, tuner.peft_config[ADAPTER], ADAPTER, p_drop=0.0,
                           p_revive=0.0, seed=3)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for batch in batches(6):
        model(**batch).loss.backward()
        opt.step()
        plain.update_ipt(tuner.model)
        ars.update_ipt(tuner.model)
        opt.zero_grad()
    return model, plain, ars, lora_e(model)


@pytest.fixture
def warmed(warmed_once):
    """A trained-for-a-few-steps model and PEFT's allocator with its EMAs filled, plus an ARS
    allocator (p=0) that saw the same gradients. Every test starts from the same lora_E."""
    model, plain, ars, pristine = warmed_once
    restore_e(model, pristine)
    yield model, plain, ars
    restore_e(model, pristine)


def ars_from(model, source: RankAllocator, seed: int = 0, **kwargs) -> ARSRankAllocator:
    """A fresh ARS allocator with a copy of ``source``'s importance EMAs."""
    tuner = model.base_model
    kwargs = {"p_drop": 0.0, "p_revive": 0.0, **kwargs}
    ars = ARSRankAllocator(tuner.model, tuner.peft_config[ADAPTER], ADAPTER, seed=seed, **kwargs)
    for name in ("ipt", "exp_avg_ipt", "exp_avg_unc"):
        setattr(ars, name, {k: v.clone() for k, v in getattr(source, name).items()})
    return ars


def top_of(ars: ARSRankAllocator, model, budget: int) -> torch.Tensor:
    _, _, scores = ars.triplet_scores(model.base_model.model)
    threshold = torch.kthvalue(scores, scores.numel() - budget)[0]
    return scores > threshold


def test_mask_to_budget_equals_peft(warmed):
    model, plain, ars = warmed
    net = model.base_model.model
    for name in plain.exp_avg_ipt:  # ARS's EMA update is PEFT's on finite gradients
        assert torch.equal(plain.exp_avg_ipt[name], ars.exp_avg_ipt[name])
        assert torch.equal(plain.exp_avg_unc[name], ars.exp_avg_unc[name])
    _, _, scores = ars.triplet_scores(net)
    assert scores.numel() == INIT_BGT and scores.unique().numel() == INIT_BGT  # no ties
    before = lora_e(model)
    assert all(bool((v != 0).all()) for v in before.values())
    for budget in (1, 7, 20, 33, 59):
        restore_e(model, before)
        theirs = plain.mask_to_budget(net, budget)
        theirs_e = lora_e(model)
        restore_e(model, before)
        ours = ars.mask_to_budget(net, budget)
        ours_e = lora_e(model)
        assert ours == theirs, budget
        assert int(flat(ours).sum()) == budget
        for name, value in ours_e.items():
            assert torch.equal(value, theirs_e[name]), (budget, name)
        assert sum(int((v == 0).sum()) for v in ours_e.values()) == INIT_BGT - budget


# ---------------------------------------------------------------- 4: sampling rates


def within_4_sd(hits: int, n: int, p: float) -> bool:
    return abs(hits / n - p) <= 4 * math.sqrt(p * (1 - p) / n)


def test_sampling_rates(warmed):
    model, plain, _ = warmed
    ars = ars_from(model, plain, seed=1, p_drop=0.3, p_revive=0.2)
    top = torch.rand(200_000, generator=torch.Generator().manual_seed(9)) < 0.4
    keep, dropped, revived = ars.sample(top)
    n_top, n_rest = int(top.sum()), int((~top).sum())
    assert dropped == int((top & ~keep).sum()) and revived == int((~top & keep).sum())
    assert within_4_sd(dropped, n_top, 0.3), dropped / n_top
    assert within_4_sd(revived, n_rest, 0.2), revived / n_rest
    assert not within_4_sd(dropped, n_top, 0.25)  # the check is sharp enough to catch a bug
    keep2, _, _ = ars.sample(top)
    assert not torch.equal(keep, keep2)  # fresh draws at every event


def test_recorded_counts_match_the_masks(warmed):
    model, plain, _ = warmed
    net = model.base_model.model
    before = lora_e(model)
    ars = ars_from(model, plain, seed=2, p_drop=0.3, p_revive=0.2)
    total_dropped = total_revived = 0
    for budget in (50, 40, 30):
        restore_e(model, before)
        top = top_of(ars, model, budget)
        pattern = ars.mask_to_budget(net, budget)
        keep = flat(pattern)
        event = ars.events[-1]
        assert event["dropped"] == int((top & ~keep).sum())
        assert event["revived"] == int((~top & keep).sum())
        assert event["kept"] == int(keep.sum()) == budget - event["dropped"] + event["revived"]
        assert event["budget"] == budget and event["final"] is False
        after = lora_e(model)
        for name, value in after.items():
            mask = torch.tensor(pattern[name]).view(-1, 1)
            assert torch.equal(value, torch.where(mask, before[name], 0.0)), name
        total_dropped += event["dropped"]
        total_revived += event["revived"]
    assert total_dropped > 0 and total_revived > 0


def test_rates_over_many_allocation_events(warmed):
    """Over 300 real events (60 triplets each, budgets along the cubic schedule), the share of
    top values dropped and of the others revived match p within a binomial bound."""
    model, plain, _ = warmed
    net = model.base_model.model
    before = lora_e(model)
    ars = ars_from(model, plain, seed=5, p_drop=0.1, p_revive=0.05)
    n_top = n_rest = dropped = revived = 0
    for event in range(300):
        budget = 20 + int(40 * (1 - event / 300) ** 3)
        restore_e(model, before)
        ars.mask_to_budget(net, min(budget, INIT_BGT - 1))
        record = ars.events[-1]
        n_top += record["budget"]
        n_rest += INIT_BGT - record["budget"]
        dropped += record["dropped"]
        revived += record["revived"]
    assert within_4_sd(dropped, n_top, 0.1), dropped / n_top
    assert within_4_sd(revived, n_rest, 0.05), revived / n_rest
    assert not within_4_sd(dropped, n_top, 0.05)  # sharp enough to tell the two p apart


@pytest.mark.parametrize("sample_final", [False, True])
def test_final_event_is_exact_unless_sample_final(warmed, sample_final):
    model, plain, _ = warmed
    net = model.base_model.model
    before = lora_e(model)
    ars = ars_from(model, plain, seed=4, p_drop=0.3, p_revive=0.2, sample_final=sample_final)
    exact = plain.mask_to_budget(net, TARGET_BGT)
    restore_e(model, before)
    budget, pattern = ars.update_and_allocate(net, FINAL_STEP, force_mask=True)
    event = ars.events[-1]
    assert budget == TARGET_BGT and event["final"] is True and event["step"] == FINAL_STEP
    if sample_final:
        assert event["dropped"] + event["revived"] > 0
        assert event["kept"] == TARGET_BGT - event["dropped"] + event["revived"]
        assert pattern != exact
    else:
        assert (event["dropped"], event["revived"]) == (0, 0)
        assert event["kept"] == TARGET_BGT
        assert pattern == exact


# ---------------------------------------------------------------- 5: revived values are kept


def test_revived_values_are_not_zeroed_and_dropped_ones_are(warmed):
    model, plain, _ = warmed
    net = model.base_model.model
    before = lora_e(model)
    assert all(bool((v != 0).all()) for v in before.values())
    reviver = ars_from(model, plain, p_drop=0.0, p_revive=1.0)
    pattern = reviver.mask_to_budget(net, TARGET_BGT)
    assert all(all(mask) for mask in pattern.values())
    for name, value in lora_e(model).items():
        assert torch.equal(value, before[name]), name
    event = reviver.events[-1]
    assert (event["dropped"], event["revived"]) == (0, INIT_BGT - TARGET_BGT)
    restore_e(model, before)
    dropper = ars_from(model, plain, p_drop=1.0, p_revive=0.0)
    pattern = dropper.mask_to_budget(net, TARGET_BGT)
    assert not any(any(mask) for mask in pattern.values())
    assert all(bool((v == 0).all()) for v in lora_e(model).values())
    assert dropper.events[-1]["dropped"] == TARGET_BGT


# ---------------------------------------------------------------- 6: determinism and checkpoint


def test_same_seed_same_masks_other_seed_other_masks(warmed):
    model, plain, _ = warmed
    top = torch.rand(1000, generator=torch.Generator().manual_seed(5)) < 0.5
    a, b, c = (ars_from(model, plain, seed=s, p_drop=0.3, p_revive=0.2) for s in (7, 7, 8))
    for _ in range(3):
        keep_a, keep_b, keep_c = a.sample(top), b.sample(top), c.sample(top)
        assert torch.equal(keep_a[0], keep_b[0]) and keep_a[1:] == keep_b[1:]
        assert not torch.equal(keep_a[0], keep_c[0])


def test_state_dict_round_trip_continues_exactly(warmed):
    model, plain, _ = warmed
    net = model.base_model.model
    before = lora_e(model)
    a = ars_from(model, plain, seed=11, p_drop=0.3, p_revive=0.2)
    a.mask_to_budget(net, 45)  # one event: the generator has moved on
    a.skipped_steps = 2
    restore_e(model, before)
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    tuner = model.base_model
    b = ARSRankAllocator(tuner.model, tuner.peft_config[ADAPTER], ADAPTER, p_drop=0.3,
                         p_revive=0.2, seed=999)
    stranger = ars_from(model, plain, seed=999, p_drop=0.3, p_revive=0.2)  # no state loaded
    b.load_state_dict(torch.load(buffer, weights_only=False))
    assert b.events == a.events and len(b.events) == 1 and b.skipped_steps == 2
    for name in a.exp_avg_ipt:
        assert torch.equal(a.exp_avg_ipt[name], b.exp_avg_ipt[name])
        assert torch.equal(a.exp_avg_unc[name], b.exp_avg_unc[name])
    results = []
    for allocator in (a, b, stranger):
        restore_e(model, before)
        pattern = allocator.mask_to_budget(net, 35)
        results.append((pattern, lora_e(model)))
    (pa, ea), (pb, eb), (ps, _) = results
    assert pa == pb and a.events == b.events
    assert all(torch.equal(ea[n], eb[n]) for n in ea)
    assert ps != pa  # without the generator state the draws differ
    top = torch.rand(500, generator=torch.Generator().manual_seed(1)) < 0.5
    assert torch.equal(a.sample(top)[0], b.sample(top)[0])


# ---------------------------------------------------------------- 7: non-finite gradients


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_gradients_do_not_touch_the_emas(warmed, bad):
    model, plain, _ = warmed
    tuner = model.base_model
    ars = ars_from(model, plain, p_drop=0.1, p_revive=0.1)
    model.zero_grad()
    model(**batches(1, seed=77)[0]).loss.backward()
    ema = {k: v.clone() for k, v in ars.exp_avg_ipt.items()}
    unc = {k: v.clone() for k, v in ars.exp_avg_unc.items()}
    name, param = next((n, p) for n, p in tuner.model.named_parameters() if ".lora_B." in n)
    good = param.grad.clone()
    param.grad[0, 0] = bad
    ars.update_ipt(tuner.model)
    assert ars.skipped_steps == 1
    assert all(torch.equal(ema[k], ars.exp_avg_ipt[k]) for k in ema)
    assert all(torch.equal(unc[k], ars.exp_avg_unc[k]) for k in unc)
    param.grad.copy_(good)
    ars.update_ipt(tuner.model)
    assert ars.skipped_steps == 1
    assert not torch.equal(ema[name], ars.exp_avg_ipt[name])
    assert not torch.equal(unc[name], ars.exp_avg_unc[name])
    model.zero_grad()


# ---------------------------------------------------------------- 9: configuration


def test_invalid_probability_is_refused():
    with pytest.raises(ValueError, match="p_drop"):
        wrapped("ars", p_drop=1.5)
    with pytest.raises(ValueError, match="p_revive"):
        wrapped("ars", p_revive=-0.1)


def test_pruned_values_regrow_between_events_and_the_report_counts_them():
    """PEFT zeroes pruned singular values at an event and not again until the next one: in
    between they are trained like the others. The report (nonzero_pattern) counts what the
    model computes with; from the final event on, PEFT masks every step and the two agree."""
    from lingo.methods.adalora.rank_report import nonzero_pattern

    model = wrapped("adalora")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    seen = {}
    for step, batch in enumerate(batches(FINAL_STEP + 2), start=1):
        model.train()
        model(**batch).loss.backward()
        opt.step()
        model.base_model.update_and_allocate(step)
        opt.zero_grad()
        if step in (EVENT_STEPS[0], EVENT_STEPS[0] + 1, FINAL_STEP + 2):
            seen[step] = (flat(model.peft_config[ADAPTER].rank_pattern),
                          flat(nonzero_pattern(model)))
    allocated, nonzero = seen[EVENT_STEPS[0]]
    assert torch.equal(allocated, nonzero)  # right after the event: the pruned values are 0
    allocated, nonzero = seen[EVENT_STEPS[0] + 1]  # one step later, no event
    assert int(allocated.sum()) < int(nonzero.sum()) == INIT_BGT  # every one trained again
    allocated, nonzero = seen[FINAL_STEP + 2]
    assert torch.equal(allocated, nonzero) and int(nonzero.sum()) == TARGET_BGT
