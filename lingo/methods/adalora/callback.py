"""AdaLoRA's allocation as a Trainer callback: the schedule planned at train start, an
allocation call per optimizer step, the rank history and the allocator's state in checkpoints."""

from pathlib import Path

import torch
from transformers import TrainerCallback

from lingo.config import MethodConfig
from lingo.methods.adalora.schedule import check_sampling, plan_schedule
from lingo.results import RANK_HISTORY, write_jsonl
from lingo.training.checkpoints import saving_checkpoint
from lingo.training.distributed import assert_same_on_all_ranks, is_main_process

ALLOCATOR_STATE = "rank_allocator.pt"


class AllocationCallback(TrainerCallback):
    """Plans AdaLoRA's schedule once, at train start, from the Trainer's own step count (the
    adapter was built with a placeholder: PEFT wants one before there is a Trainer), then calls
    PEFT's ``update_and_allocate`` once per optimizer step, after the step and before the
    gradients are zeroed (``method.allocate*`` and ``method.total_step`` reproduce the paper
    code's schedule instead; ``method.allocate=false`` never allocates).

    Every allocation event is a line of ``rank_history.jsonl``. The rank pattern is kept here
    between steps, not in the PEFT config: PEFT trims a saved
    adapter to its pattern, and a checkpoint must keep every triplet (a pruned one can come back,
    and a resumed run must continue exactly). The pattern and the importance EMAs are saved with
    each checkpoint.
    """

    def __init__(self, method: MethodConfig, run_dir: Path, resume_from: Path | None,
                 samples: bool = False) -> None:
        self.method = method
        self.samples = samples  # ARS: warn when the schedule allows no draw
        self.history_path = run_dir / RANK_HISTORY
        self.resume_from = resume_from
        self.rank_pattern: dict | None = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        tuner = model.base_model
        schedule = plan_schedule(model, self.method, state.max_steps,
                                 args.get_warmup_steps(state.max_steps))
        if self.samples and is_main_process():
            check_sampling(self.method, schedule, state.max_steps)
        saved = load_allocator_state(self.resume_from) if self.resume_from else {}
        if saved:  # none in a checkpoint of a run that never allocates (method.allocate=false)
            tuner.rankallocator.load_state_dict(saved["allocator"])
            self.rank_pattern = saved["rank_pattern"]
        if self.method.allocate:
            self._write_history(tuner.rankallocator)

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if self.method.allocate_before_step:
            self._allocate(model, state.global_step)

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        if not self.method.allocate_before_step:
            self._allocate(model, state.global_step)

    def _allocate(self, model, step: int) -> None:
        if not self.method.allocate or step % self.method.allocate_every:
            return
        tuner = model.base_model
        config = tuner.peft_config[tuner.trainable_adapter_name]
        allocator = tuner.rankallocator
        events = len(allocator.events)
        config.rank_pattern = self.rank_pattern
        tuner.update_and_allocate(step)
        self.rank_pattern, config.rank_pattern = config.rank_pattern, None
        if len(allocator.events) != events:
            kept = [keep for mask in (self.rank_pattern or {}).values() for keep in mask]
            assert_same_on_all_ranks(torch.tensor(kept, dtype=torch.bool), "the rank pattern")
            self._write_history(allocator)

    def _write_history(self, allocator) -> None:
        if is_main_process():
            write_jsonl(self.history_path, allocator.events)

    def on_save(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero:
            return
        torch.save(
            {"allocator": model.base_model.rankallocator.state_dict(),
             "rank_pattern": self.rank_pattern},
            saving_checkpoint(args, state) / ALLOCATOR_STATE,
        )


def load_allocator_state(checkpoint: Path) -> dict:
    """The allocator state saved with a checkpoint; empty when none was (allocation off)."""
    path = checkpoint / ALLOCATOR_STATE
    return torch.load(path, weights_only=False) if path.is_file() else {}
