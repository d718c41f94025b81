"""What training does to the weights, seen while it runs: ``dynamics.jsonl`` (and W&B), a line per
logging step with the summed ‖ΔW‖_F of the adapters (FMFT: of the backbone's distance from its
start) and, for AdaLoRA-type methods, the task loss and the orthogonality term apart.

An adapter that barely moves its ΔW trains a linear probe on a frozen backbone: these lines show
it long before a test AUC does."""

from pathlib import Path

import torch
from peft.tuners.lora import LoraLayer
from torch import nn
from transformers import TrainerCallback

from lingo.methods.heads import is_head
from lingo.results import DYNAMICS, read_jsonl, write_jsonl
from lingo.training.distributed import is_main_process


@torch.no_grad()
def adapter_delta_norm(net: nn.Module) -> float | None:
    """Summed ‖ΔW‖_F over the adapted matrices through PEFT's own ``get_delta_weight`` (LoRA:
    B·A·α/r; AdaLoRA's SVD form: P·Λ·Q·α/rank); None for a model without adapters."""
    norms = [torch.linalg.matrix_norm(layer.get_delta_weight(name).float())
             for layer in net.modules() if isinstance(layer, LoraLayer)
             for name in layer.active_adapters if name in layer.lora_A]
    return float(torch.stack(norms).sum()) if norms else None


class LossSplit:
    """AdaLoRA adds its orthogonality penalty to the model's loss in place, after calling the
    inner model's ``forward`` directly (PEFT's ``AdaLoraModel.forward``, so a module hook there
    never fires): the inner model's ``forward`` is wrapped to read the task loss before the
    penalty, a hook on the tuner reads the sum after. Means over the training forwards since
    the last read."""

    def __init__(self, tuner: nn.Module) -> None:
        self.task = self.total = 0.0
        self.count = 0
        inner = tuner.model
        forward = inner.forward

        def task_forward(*args, **kwargs):
            output = forward(*args, **kwargs)
            if inner.training and getattr(output, "loss", None) is not None:
                self.task = self.task + output.loss.detach()  # a new tensor: the value before +=
            return output

        inner.forward = task_forward
        tuner.register_forward_hook(self._outer)

    def _outer(self, module, args, output) -> None:
        if module.training and getattr(output, "loss", None) is not None:
            self.total = self.total + output.loss.detach()
            self.count += 1

    def read(self) -> dict[str, float]:
        if not self.count:
            return {}
        task, total = float(self.task) / self.count, float(self.total) / self.count
        self.task = self.total = 0.0
        self.count = 0
        return {"task_loss": task, "orth_loss": total - task}


class DynamicsCallback(TrainerCallback):
    """Writes ``dynamics.jsonl`` at each logging step (rebuilt on resume from the lines up to the
    checkpoint's step) and sends the same values to the run's logger."""

    def __init__(self, net: nn.Module, run_dir: Path, log_values=None) -> None:
        self.net = net
        self.path = run_dir / DYNAMICS
        self.log_values = log_values  # RunLogger.log_values, or None
        self.rows: list[dict] = []
        tuner = getattr(net, "base_model", None)
        self.split = LossSplit(tuner) if hasattr(tuner, "rankallocator") else None
        # FMFT and the probe: the backbone's start, to measure how far training moves it (rank
        # 0, CPU, fp32; the probe's stays put, which this shows)
        self.start = None if hasattr(net, "peft_config") or not is_main_process() else {
            name: p.detach().to("cpu", torch.float32, copy=True)
            for name, p in net.named_parameters() if not is_head(name)}

    def on_train_begin(self, args, state, control, **kwargs):
        self.rows = [row for row in read_jsonl(self.path) if row["step"] <= state.global_step]

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs or not is_main_process():  # an evaluation's line
            return
        values = self.measure()
        if self.split is not None:  # rank 0's batches (the Trainer's loss: every rank's)
            values.update(self.split.read())
        self.rows.append({"step": state.global_step, "loss": logs["loss"], **values})
        write_jsonl(self.path, self.rows)
        if self.log_values is not None:
            self.log_values({f"train/{k}": v for k, v in values.items()}, state.global_step)

    @torch.no_grad()
    def measure(self) -> dict[str, float]:
        if self.start is not None:
            return {"weight_distance": float(sum(
                torch.linalg.vector_norm(p.detach().float().cpu() - self.start[name])
                for name, p in self.net.named_parameters() if name in self.start))}
        delta = adapter_delta_norm(self.net)
        return {} if delta is None else {"delta_w": delta}
