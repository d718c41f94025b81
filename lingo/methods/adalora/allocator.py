"""Adaptive rank sampling (ARS): PEFT AdaLoRA's allocator plus the paper's Bernoulli masks.

At each budget-phase allocation event (t % ΔT == 0, before T) the paper's equation 4 applies to
every singular value λ of every adapted matrix: one in the top b(t) by importance is kept
unless a Bernoulli(p_drop) draw drops it; any other is pruned unless a Bernoulli(p_revive) draw
reintroduces it, keeping its current value (it is simply not zeroed). At T the final pattern is
the deterministic top-bT (``sample_final`` samples there too) and PEFT keeps it fixed after.

Importance, EMAs and the cubic budget are PEFT's own (inherited, not copied); with
p_drop = p_revive = 0 the masks equal PEFT's exactly.
"""

import re

import torch
from peft.tuners.adalora import AdaLoraConfig, RankAllocator
from torch import nn

LORA_E = re.compile(r"\.lora_E\.[^.]+$")


def matrix_name(lora_e_name: str) -> str:
    """``model.decoder.layers.0.fc1.lora_E.default`` -> ``model.decoder.layers.0.fc1``."""
    return LORA_E.sub("", lora_e_name)


class RecordingRankAllocator(RankAllocator):
    """PEFT's AdaLoRA allocator, unchanged, recording each allocation event (rank history)."""

    def __init__(self, model: nn.Module, peft_config: AdaLoraConfig, adapter_name: str) -> None:
        super().__init__(model, peft_config, adapter_name)
        self.events: list[dict] = []
        self._step = 0
        self._final = False

    def update_and_allocate(self, model, global_step, force_mask=False):
        self._step, self._final = global_step, force_mask
        return super().update_and_allocate(model, global_step, force_mask)

    def mask_to_budget(self, model, budget):
        pattern = super().mask_to_budget(model, budget)
        self._record(budget, pattern, dropped=0, revived=0)
        return pattern

    def _record(self, budget: int, pattern: dict, dropped: int, revived: int,
                sampled: bool = False) -> None:
        ranks = {matrix_name(name): int(sum(mask)) for name, mask in pattern.items()}
        self.events.append({
            "step": self._step,
            "budget": int(budget),
            "kept": sum(ranks.values()),
            "dropped": dropped,
            "revived": revived,
            "sampled": sampled,
            "final": self._final,
            "ranks": ranks,
        })

    def state_dict(self) -> dict:
        """What a checkpoint needs to continue exactly."""
        return {
            "ipt": (self.ipt, self.exp_avg_ipt, self.exp_avg_unc),
            "events": self.events,
        }

    def load_state_dict(self, state: dict) -> None:
        self.ipt, self.exp_avg_ipt, self.exp_avg_unc = state["ipt"]
        self.events = state["events"]


class ARSRankAllocator(RecordingRankAllocator):
    """ARS: see the module docstring. Draws come from a dedicated generator seeded from the run
    seed, so every DDP rank draws the same masks; its state is checkpointed."""

    def __init__(
        self,
        model: nn.Module,
        peft_config: AdaLoraConfig,
        adapter_name: str,
        p_drop: float,
        p_revive: float,
        seed: int,
        sample_final: bool = False,
        zero_before_revive: bool = False,
    ) -> None:
        super().__init__(model, peft_config, adapter_name)
        for name, p in (("p_drop", p_drop), ("p_revive", p_revive)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"method.{name}={p} is not a probability")
        self.p_drop, self.p_revive, self.sample_final = p_drop, p_revive, sample_final
        self.zero_before_revive = zero_before_revive
        self.generator = torch.Generator().manual_seed(seed)
        self.skipped_steps = 0

    def update_ipt(self, model):
        """PEFT's EMA update, skipped on a step whose adapter gradients are not all finite."""
        grads = [p.grad for n, p in model.named_parameters() if "lora_" in n and p.grad is not None]
        if not all(torch.isfinite(g).all() for g in grads):
            self.skipped_steps += 1
            return
        super().update_ipt(model)

    def triplet_scores(
        self, model: nn.Module
    ) -> tuple[list[str], list[nn.Parameter], torch.Tensor]:
        """Importance of every triplet, S = s(λ) + mean s(P column) + mean s(Q row), through
        PEFT's own element score and combination, in the order of the model's parameters."""
        params = dict(model.named_parameters())
        names = [n for n in params if f"lora_E.{self.adapter_name}" in n]
        scores = []
        for name in names:
            ipt_e = self._element_score(name)
            ipt_a = self._element_score(name.replace("lora_E", "lora_A")).mean(dim=1, keepdim=True)
            ipt_b = self._element_score(name.replace("lora_E", "lora_B")).mean(dim=0).view(-1, 1)
            scores.append(self._combine_ipt(ipt_e, torch.cat([ipt_a, ipt_b], dim=1)))
        return names, [params[n] for n in names], torch.cat(scores)

    def mask_to_budget(self, model, budget):
        names, values, scores = self.triplet_scores(model)
        if budget < scores.numel():
            threshold = torch.kthvalue(scores, k=scores.numel() - budget)[0].item()
            top = scores > threshold
        else:
            top = torch.ones_like(scores, dtype=torch.bool)
        top = top.cpu()
        keep, dropped, revived = self.sample(top)
        # The paper's code zeroed the pruned values before the revive draw: a revived value
        # stayed 0 and only the recorded pattern changed.
        nonzero = keep & top if self.zero_before_revive else keep
        pattern = {}
        with torch.no_grad():
            start = 0
            for name, value in zip(names, values, strict=True):
                rows = slice(start, start + value.shape[0])
                start += value.shape[0]
                value.masked_fill_(~nonzero[rows].view(-1, 1).to(value.device), 0.0)
                pattern[name] = keep[rows].tolist()
        self._record(budget, pattern, dropped, revived, sampled=self.samples())
        return pattern

    def samples(self) -> bool:
        """Whether this event draws masks: every budget-phase event, and T with sample_final."""
        return not self._final or self.sample_final

    def sample(self, top: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """Equation 4: keep = top·(1 − R) + (1 − top)·R, with R ~ Bernoulli(p_drop) on the top
        and Bernoulli(p_revive) elsewhere. Returns (keep, dropped count, revived count)."""
        if not self.samples():
            return top, 0, 0
        draw = torch.rand(top.shape, generator=self.generator)
        drop = top & (draw < self.p_drop)
        revive = ~top & (draw < self.p_revive)
        return (top & ~drop) | revive, int(drop.sum()), int(revive.sum())

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "generator": self.generator.get_state(),
            "skipped_steps": self.skipped_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.generator.set_state(state["generator"])
        self.skipped_steps = state["skipped_steps"]
