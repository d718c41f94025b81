"""Scoring with one run: windows of the task's length, softmax (or sigmoid) probabilities,
their aggregation per sequence, and the training metrics' prediction rule."""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from scipy.special import expit, softmax

from lingo.errors import LingoError
from lingo.predict.inputs import Record
from lingo.predict.runs import Run

if TYPE_CHECKING:
    from tqdm import tqdm

log = logging.getLogger(__name__)


def windows(sequence: str, length: int | None, stride: int) -> list[str]:
    """The whole sequence when it fits; else windows of ``length`` bp every ``stride`` bp, the
    last one ending at the sequence's end."""
    if length is None or len(sequence) <= length:
        return [sequence]
    starts = list(range(0, len(sequence) - length + 1, stride))
    if starts[-1] != len(sequence) - length:
        starts.append(len(sequence) - length)
    return [sequence[s : s + length] for s in starts]


def window_step(length: int | None, stride: int | None) -> int:
    """``--stride``, else half the task's ``sequence_length`` (1 for a run without one)."""
    return stride or (max(1, length // 2) if length else 1)


def score_run(
    net: Any, run: Run, records: list[Record], stride: int | None, batch_size: int,
    device: torch.device, dtype: torch.dtype | None, progress: "tqdm",
) -> tuple[np.ndarray, np.ndarray]:
    """Per-window probabilities of one run: (probabilities [n_windows, labels], owner index)."""
    length = run.sequence_length
    step = window_step(length, stride)
    if length and step > length:
        raise LingoError(f"--stride {step} exceeds {run.column}'s sequence_length {length}: "
                         "bases between windows would never be scored")
    owner, texts = [], []
    for i, record in enumerate(records):
        for window in windows(record.sequence, length, step):
            owner.append(i)
            texts.append(window)
    return probabilities(net, run, texts, batch_size, device, dtype, progress), np.asarray(owner)


def probabilities(
    net: Any, run: Run, texts: list[str], batch_size: int, device: torch.device,
    dtype: torch.dtype | None, progress: "tqdm",
) -> np.ndarray:
    """The run's probabilities for each DNA text [len(texts), labels], as in training: softmax,
    or one sigmoid per label for a multi-label run."""
    out = logits(net, run, texts, batch_size, device, dtype, progress)
    return expit(out) if run.multi_label else softmax(out, axis=1)


def logits(
    net: Any, run: Run, texts: list[str], batch_size: int, device: torch.device,
    dtype: torch.dtype | None, progress: "tqdm",
) -> np.ndarray:
    """The run's logits for each DNA text [len(texts), labels] (float64): a language model's
    in batches of similar lengths, in any order; a baseline's from the bases themselves."""
    if run.baseline == "kmer_lr":
        from lingo.baselines.kmer_lr import predict_logits

        out = predict_logits(net, texts, run.num_labels)
        progress.update(-(-len(texts) // batch_size))
        return out.astype(np.float64)
    if run.baseline == "cnn":
        from lingo.baselines.cnn import one_hot

        x = one_hot(texts, net.input_length)
        return _batched(net, len(texts), run.num_labels, batch_size, device, dtype, progress,
                        lambda rows: {"x": x[rows]}, lambda out: out)
    from lingo.training.collator import PadCollator

    ids, truncated = run.tokenizer.encode(texts)
    if truncated:
        log.warning("%s: the tokenizer's max_length (%d) cuts DNA from %d of %d inputs",
                    run.column, run.tokenizer.max_length, truncated, len(texts))
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    collate = PadCollator(run.tokenizer.pad_token_id, run.tokenizer.attend_to_padding)

    def batch(rows: list[int]) -> dict[str, torch.Tensor]:
        padded = collate([{"input_ids": ids[i], "labels": 0} for i in rows])
        return {"input_ids": padded["input_ids"], "attention_mask": padded["attention_mask"]}

    return _batched(net, len(texts), run.num_labels, batch_size, device, dtype, progress,
                    batch, lambda out: out.logits, order)


def _batched(
    net: torch.nn.Module, n: int, num_labels: int, batch_size: int, device: torch.device,
    dtype: torch.dtype | None, progress: "tqdm",
    inputs: Callable[[list[int]], dict[str, torch.Tensor]],
    output: Callable[[Any], torch.Tensor], order: list[int] | None = None,
) -> np.ndarray:
    order = list(range(n)) if order is None else order
    out = np.zeros((n, num_labels), dtype=np.float64)
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.bfloat16,
                                                enabled=dtype is not None):
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            found = output(net(**{k: v.to(device) for k, v in inputs(rows).items()}))
            out[rows] = found.float().cpu().numpy()
            progress.update(1)
    return out


def predicted(probs: np.ndarray, multi_label: bool) -> list:
    """The training metrics' rule: the argmax class; multi-label, the labels at p >= 0.5
    (their indices, ``;``-separated)."""
    if not multi_label:
        return probs.argmax(axis=1).tolist()
    return [";".join(str(j) for j in np.flatnonzero(row >= 0.5)) for row in probs]


def aggregate(probs: np.ndarray, owner: np.ndarray, n: int, how: str) -> np.ndarray:
    """Each of the ``n`` sequences' window probabilities combined per label: mean or max."""
    out = np.full((n, probs.shape[1]), -np.inf if how == "max" else 0.0)
    if how == "max":
        np.maximum.at(out, owner, probs)
    else:
        np.add.at(out, owner, probs)
        out /= np.bincount(owner, minlength=n)[:, None]
    return out


def n_batches(run: Run, records: list[Record], stride: int | None, batch_size: int) -> int:
    """The batches :func:`score_run` takes (the progress bar's total)."""
    length = run.sequence_length
    step = window_step(length, stride)
    total = sum(len(windows(r.sequence, length, step)) if length and step <= length else 1
                for r in records)
    return -(-total // batch_size)
