"""lingo-predict's output table: every run's probabilities and predictions for the input's
records (runs on one base scored on one loaded model), written as one CSV."""

import csv
import io
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lingo.errors import LingoError
from lingo.predict.groups import group_runs, load_group, log_grouping
from lingo.predict.inputs import read_sequences
from lingo.predict.runs import load_runs
from lingo.predict.scoring import aggregate, n_batches, predicted, score_run
from lingo.results import write_atomic
from lingo.training.precision import compute_device, resolve_precision

log = logging.getLogger(__name__)


def predict(
    run_dirs: list[Path], input_path: Path, output: Path, batch_size: int = 32,
    stride: int | None = None, how: str = "mean", precision: str = "auto", merge: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Score ``input_path`` with every run and write ``output``; returns a summary."""
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise LingoError(f"--batch-size {batch_size}: use 1 or more")
    if stride is not None and stride < 1:
        raise LingoError(f"--stride {stride}: use 1 or more (bp)")
    records = read_sequences(Path(input_path))
    log.info("%d sequences from %s", len(records), input_path)
    runs = load_runs(run_dirs)
    groups = group_runs(runs)
    log_grouping(groups)
    device = compute_device()
    precision = resolve_precision(precision, device)
    dtype = torch.bfloat16 if precision == "bf16" else None
    log.info("device %s, precision %s", device, precision)

    columns: dict[str, list] = {"id": [r.id for r in records]}
    counts: dict[str, np.ndarray] = {}
    total = sum(n_batches(r, records, stride, batch_size) for r in runs)
    with tqdm(total=total, desc="predict", unit="batch", disable=not progress or None,
              file=sys.stderr) as bar:
        for index, group in enumerate(groups, start=1):
            net, adapters = load_group(group, device, merge, index)
            for run, adapter in zip(group, adapters, strict=True):
                if adapter is not None:
                    net.set_adapter(adapter)
                probs, owner = score_run(net, run, records, stride, batch_size, device, dtype,
                                         bar)
                agg = aggregate(probs, owner, len(records), how)
                for label in range(run.num_labels):
                    columns[f"{run.column}/p{label}"] = agg[:, label].tolist()
                columns[f"{run.column}/pred"] = predicted(agg, run.multi_label)
                counts[run.column] = np.bincount(owner, minlength=len(records))
                windowed = int((counts[run.column] > 1).sum())
                log.info("%s: %d windows for %d sequences (%d windowed, %s-aggregated)",
                         run.column, len(owner), len(records), windowed, how)
            del net
    if any((c > 1).any() for c in counts.values()):
        distinct = {tuple(c) for c in counts.values()}
        if len(distinct) == 1:
            columns["n_windows"] = next(iter(counts.values())).tolist()
        else:  # tasks of different lengths: one count per run
            for name, c in counts.items():
                columns[f"{name}/n_windows"] = c.tolist()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(zip(*columns.values(), strict=True))
    write_atomic(Path(output), buffer.getvalue())
    log.info("wrote %s (%d rows, %d columns)", output, len(records), len(columns))
    return {"groups": [[str(r.path) for r in g] for g in groups],
            "windows": {k: int(v.sum()) for k, v in counts.items()}}
