"""``model=cnn``: a small DeepSEA-style 1D CNN on one-hot DNA, trained from scratch.

Input: one-hot A, C, G, T channels; N (and the padding of a shorter sequence) is all zeros.
Conv blocks (conv, ReLU, max-pool, dropout), a global max over positions (any length), a dense
layer and one output per label: softmax cross-entropy for a single-label task, sigmoids and
binary cross-entropy for a multi-label one. Plain torch: Adam with ``trainer.lr`` and
``trainer.weight_decay``, ``trainer.batch_size``, up to ``trainer.epochs`` epochs
(``trainer.max_steps`` > 0 caps the steps); the selection split is evaluated after every epoch
(a line of ``history.jsonl``), the best epoch's weights are kept, and training stops after
``trainer.early_stopping_patience`` epochs without a gain (null: never). Test is evaluated
once, with the best weights.
Seeded: the same seed gives the same run on a CPU. Weights: ``model/model.safetensors`` and its
settings ``model/cnn.json`` (``load`` and ``predict_logits`` score new sequences).
"""

import copy
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from safetensors.torch import load_file, save_file
from torch import nn

from lingo.baselines.common import better, selection, settings
from lingo.data import TaskData, bases
from lingo.metrics import classification_metrics as scores
from lingo.results import HISTORY, TEST_PREDICTIONS, save_predictions, write_atomic, write_jsonl

log = logging.getLogger(__name__)

ARCH = {"channels": [64, 96, 128], "kernel_size": 9, "pool": 4, "dropout": 0.2, "hidden": 64}
WEIGHTS, SETTINGS = "model.safetensors", "cnn.json"


def one_hot(sequences: list[str], length: int) -> torch.Tensor:
    """(n, 4, length) float32, channels first (lingo.data.bases.one_hot)."""
    return torch.from_numpy(np.ascontiguousarray(bases.one_hot(sequences, length)
                                                 .transpose(0, 2, 1)))


class DnaCnn(nn.Module):
    def __init__(self, num_labels: int, multi_label: bool, channels: list[int], kernel_size: int,
                 pool: int, dropout: float, hidden: int) -> None:
        super().__init__()
        self.multi_label = multi_label
        self.input_length: int | None = None  # the one-hot length it trained at (set by load)
        blocks, width = [], 4
        for out in channels:
            blocks += [nn.Conv1d(width, out, kernel_size, padding="same"), nn.ReLU(),
                       nn.MaxPool1d(pool, ceil_mode=True), nn.Dropout(dropout)]
            width = out
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, num_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).amax(dim=-1))

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.multi_label:
            return nn.functional.binary_cross_entropy_with_logits(logits, labels.float())
        return nn.functional.cross_entropy(logits, labels)


@torch.no_grad()
def _logits(net: DnaCnn, x: torch.Tensor, batch_size: int) -> np.ndarray:
    net.eval()
    device = next(net.parameters()).device
    return torch.cat([net(b.to(device)).float().cpu() for b in x.split(batch_size)]).numpy()


def predict_logits(net: DnaCnn, sequences: list[str], length: int,
                   batch_size: int = 256) -> np.ndarray:
    """Logits per label for new sequences, one-hot at the run's ``length``."""
    return _logits(net, one_hot(sequences, length), batch_size)


def load(model_dir: Path) -> tuple[DnaCnn, dict[str, Any]]:
    """A saved CNN and its settings (``num_labels``, ``multi_label``, ``length``, shape)."""
    saved = json.loads((Path(model_dir) / SETTINGS).read_text())
    net = DnaCnn(saved["num_labels"], saved["multi_label"], **saved["shape"])
    net.load_state_dict(load_file(str(Path(model_dir) / WEIGHTS)))
    net.input_length = saved["length"]
    return net.eval(), saved


def train(cfg: DictConfig, data: TaskData, run_dir: Path) -> dict[str, Any]:
    shape, trainer = settings(cfg, ARCH), cfg.trainer
    torch.manual_seed(cfg.seed)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    multi_label = data.multi_label
    net = DnaCnn(data.num_labels, multi_label, **shape).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=trainer.lr,
                                 weight_decay=trainer.weight_decay)
    split_name, select_on = selection(cfg, data)
    metric = cfg.task.selection_metric
    length = max(len(s) for split in (data.train, data.dev, data.test) for s in split.sequences)
    x_train, y_train = one_hot(data.train.sequences, length), torch.from_numpy(data.train.labels)
    x_select = one_hot(select_on.sequences, length)
    shuffle = torch.Generator().manual_seed(cfg.seed)
    max_steps = trainer.max_steps if trainer.max_steps > 0 else math.inf
    log.info("cnn: %s parameters, %d train rows of %d bp, on %s",
             f"{sum(p.numel() for p in net.parameters()):,}", len(x_train), length, device)

    started = time.monotonic()
    rows, best, best_state, best_step, waited, step = [], None, None, 0, 0, 0
    for epoch in range(1, math.ceil(trainer.epochs) + 1):
        net.train()
        losses = []
        for batch in torch.randperm(len(x_train), generator=shuffle).split(trainer.batch_size):
            loss = net.loss(net(x_train[batch].to(device)), y_train[batch].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
            if step >= max_steps:
                break
        found = scores(_logits(net, x_select, trainer.eval_batch_size), select_on.labels)
        rows.append({"step": step, "epoch": epoch, "train_loss": float(np.mean(losses)),
                     **{f"{split_name}/{k}": v for k, v in found.items()}})
        write_jsonl(run_dir / HISTORY, rows)
        log.info("epoch %d (step %d): %s/%s=%.4f", epoch, step, split_name, metric, found[metric])
        if better(found[metric], best, metric):
            best, best_state, best_step, waited = found[metric], copy.deepcopy(net.state_dict()), \
                step, 0
        else:
            waited += 1
        if waited >= (trainer.early_stopping_patience or math.inf) or step >= max_steps:
            break
    train_seconds = time.monotonic() - started

    if best_state is not None:  # else no epoch had a defined metric: the last weights
        net.load_state_dict(best_state)
    best_row = next((r for r in rows if r["step"] == best_step), rows[-1])
    dev = ({k.removeprefix("dev/"): v for k, v in best_row.items() if k.startswith("dev/")}
           if split_name == "dev" else
           scores(predict_logits(net, data.dev.sequences, length, trainer.eval_batch_size),
                  data.dev.labels))
    test_logits = predict_logits(net, data.test.sequences, length, trainer.eval_batch_size)
    test = scores(test_logits, data.test.labels)
    save_predictions(run_dir / TEST_PREDICTIONS, test_logits, data.test.labels)  # intervals
    model_dir = run_dir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()},
              str(model_dir / WEIGHTS))
    write_atomic(model_dir / SETTINGS, json.dumps(
        {"num_labels": data.num_labels, "multi_label": multi_label, "length": length,
         "shape": shape}, indent=2) + "\n")
    params = sum(p.numel() for p in net.parameters())
    return {"test": test, "dev": dev, "best_step": best_step or step, "steps": step,
            "world_size": 1, "trainable_params": params, "total_params": params,
            "train_seconds": round(train_seconds, 2)}
