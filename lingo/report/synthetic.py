"""Synthetic run directories (a ``metrics.json`` each), for the tests and the benchmark of
``make tables``: the same keys as a real run, random but seeded values."""

import random
from pathlib import Path

from lingo.methods import METHODS, ordered
from lingo.report.paper import PROMOTER_TASKS, YEAST_TASKS
from lingo.results import METRICS, write_json


def _params(method: str) -> int:
    """A plausible trainable-parameter count for OPT-125M and the method."""
    unit = METHODS[method]
    return 1_500_000 if unit.adaptive else 1_181_184 if unit.adapter else 125_000_000


def write_synthetic_runs(root: Path, count: int, seed: int = 0) -> list[Path]:
    """``count`` runs over the paper's models, methods and tasks, seeds 1, 2, ...: completed,
    except Lingo on the DNA models, skipped as a sweep records it."""
    rng = random.Random(seed)
    methods = [name for name in ordered() if METHODS[name].in_paper]
    combos = [(m, meth, t) for m in ("opt125m", "opt350m", "dnabert2", "nt500m")
              for meth in methods for t in (*YEAST_TASKS, *PROMOTER_TASKS)]
    folders = []
    for i in range(count):
        model, method, task = combos[i % len(combos)]
        seed_i = 1 + i // len(combos)
        folder = root / task / f"{model}-{method}-native" / f"seed{seed_i}-{i:05d}"
        metrics = {
            "test/auc": rng.uniform(0.7, 0.99), "test/mcc": rng.uniform(0.2, 0.8),
            "dev/auc": rng.uniform(0.7, 0.99), "dev/mcc": rng.uniform(0.2, 0.8),
            "trainable_params": _params(method), "model": model, "method": method,
            "task": task, "tokenizer": "native", "seed": seed_i, "legacy": None,
            "train_split": "train", "status": "completed",
        }
        if method == "lingo" and model in ("dnabert2", "nt500m"):  # as a sweep records it
            metrics = {k: metrics[k] for k in ("model", "method", "task", "tokenizer", "seed",
                                               "legacy", "train_split")}
            metrics["status"] = "skipped"
        if METHODS[method].adaptive:
            metrics["params_at_budget"] = _params(method) * 2 // 3
        write_json(folder / METRICS, metrics)
        folders.append(folder)
    return folders
