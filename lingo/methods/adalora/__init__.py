"""The AdaLoRA family: PEFT's SVD adapters P·Λ·Q with importance-based pruning to a cubic
budget (AdaLoRA), plus Bernoulli masks at each allocation event (ARS, allocator.py), plus a
natural-language prompt around the DNA (Lingo: the prompt is the tokenizer's, from
method.prompt). The schedule (schedule.py) is planned at train start by the allocation callback
(callback.py); the selected model's kept ranks are reported (rank_report.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lingo.methods.peft_adapter import adapter_settings, with_adapter
from lingo.methods.registry import Method, register
from lingo.results import RANK_HISTORY, RANK_PATTERN, RANK_PLOT, write_json

if TYPE_CHECKING:
    from torch import nn


@register
class AdaLoRA(Method):
    name = "adalora"
    label = "AdaLoRA"
    order = 3
    adapter = True
    adaptive = True

    def wrap(self, net: nn.Module) -> nn.Module:
        from peft import AdaLoraConfig

        from lingo.methods.adalora.schedule import PLACEHOLDER, rank_settings

        model = with_adapter(net, AdaLoraConfig(**adapter_settings(self.config, self.context),
                                                **rank_settings(self.config), **PLACEHOLDER))
        tuner = model.base_model
        name = tuner.trainable_adapter_name
        tuner.rankallocator = self.allocator(tuner.model, tuner.peft_config[name], name)
        return model

    def allocator(self, model: nn.Module, peft_config: Any, adapter_name: str) -> Any:
        """PEFT's own allocator, recording its events."""
        from lingo.methods.adalora.allocator import RecordingRankAllocator

        return RecordingRankAllocator(model, peft_config, adapter_name)

    def callbacks(self) -> list:
        from lingo.methods.adalora.callback import AllocationCallback

        return [AllocationCallback(self.config, self.context.run_dir, self.context.resume_from,
                                   samples=self.samples)]

    def summary(self, net: nn.Module, best_checkpoint: str | None, logger: Any) -> dict[str, Any]:
        """The selected model's pattern, its summary and heat map. Counted on the triplets the
        model computes with (``nonzero``), which are more than the allocator's last pattern
        (``rank_pattern``) when it was selected between two events of the budget phase."""
        from lingo.methods.adalora.callback import load_allocator_state
        from lingo.methods.adalora.rank_report import (
            full_pattern,
            nonzero_pattern,
            plot_rank_pattern,
            rank_summary,
        )

        run_dir = self.context.run_dir
        saved = load_allocator_state(Path(best_checkpoint)) if best_checkpoint else {}
        allocated = saved.get("rank_pattern") or full_pattern(net)
        pattern = nonzero_pattern(net)
        write_json(run_dir / RANK_PATTERN, {"rank_pattern": allocated, "nonzero": pattern})
        summary, grid = rank_summary(net, pattern, self.context.arch, list(self.config.targets))
        summary["allocated_rank_total"] = sum(sum(mask) for mask in allocated.values())
        tuner = net.base_model
        summary["delta_t"] = tuner.peft_config[tuner.trainable_adapter_name].deltaT  # as planned
        summary.update(self.sampling(tuner.rankallocator.events, best_checkpoint))
        plot_rank_pattern(grid, run_dir / RANK_PLOT, f"{self.context.title}: kept ranks")
        logger.log_files(images={"rank_pattern": run_dir / RANK_PLOT},
                         tables={"rank_history": run_dir / RANK_HISTORY})
        return summary

    def sampling(self, events: list[dict], best_checkpoint: str | None) -> dict[str, int]:
        """ARS's draws; AdaLoRA draws none."""
        return {}


@register
class ARS(AdaLoRA):
    """Adaptive rank sampling: AdaLoRA plus Bernoulli masks (allocator.ARSRankAllocator)."""

    name = "ars"
    label = "ARS"
    order = 4
    samples = True

    def allocator(self, model: nn.Module, peft_config: Any, adapter_name: str) -> Any:
        """ARS's, seeded from the run seed."""
        from lingo.methods.adalora.allocator import ARSRankAllocator

        c = self.config
        return ARSRankAllocator(model, peft_config, adapter_name, p_drop=c.p_drop,
                                p_revive=c.p_revive, seed=self.context.seed,
                                sample_final=c.sample_final,
                                zero_before_revive=c.zero_before_revive)

    def sampling(self, events: list[dict], best_checkpoint: str | None) -> dict[str, int]:
        """Events that drew masks (0: the run was AdaLoRA's), and those the selected model saw
        (checkpoint-N holds the events of steps < N)."""
        sampled = [e["step"] for e in events if e.get("sampled")]
        best = int(best_checkpoint.rsplit("-", 1)[1]) if best_checkpoint else None
        return {"sampling_events": len(sampled),
                "sampling_events_selected": sum(best is None or s < best for s in sampled)}


@register
class Lingo(ARS):
    """ARS with the task's natural-language prompt around the DNA (conf/method/lingo.yaml)."""

    name = "lingo"
    label = "Lingo"
    order = 5
