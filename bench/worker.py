"""One side (ours or the baseline) on one task, for a list of methods, in its own process (so
that its peak resident memory is its own): ``python -m bench.worker SPEC.json OUT.json``.

SPEC keys: side (ours | baseline), task, model (a conf/model name, built with random weights),
methods, steps (measured optimizer steps), warmup (unmeasured steps before them), overrides
(extra Hydra overrides for ours, the fast-path switches), eval_rows (dev rows to time
evaluation on, with the first method; 0: none), auc (evaluate the whole dev split for its
AUC), lr (None: the config's), seed, delta_t (allocation interval for the AdaLoRA-type methods).
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from transformers.trainer_utils import IntervalStrategy

from bench import baseline
from bench.common import MeteredTrainer, StepMeter, compose_cfg, peak_rss_mb
from lingo.data import load_task
from lingo.methods import apply_method
from lingo.methods.adapters import adalora_schedule
from lingo.methods.targets import target_regex
from lingo.models import build_model
from lingo.models.build import random_config
from lingo.tokenization import build_tokenizer, tokenize_split
from lingo.training.callbacks import AllocationCallback
from lingo.training.collator import PadCollator
from lingo.training.trainer import build_trainer, planned_steps, training_arguments


def compose(spec: dict, method: str):
    cfg = _compose(spec, method, [])
    if method == "lora":  # LoRA at r = the AdaLoRA-type methods' init_r
        cfg = _compose(spec, method, [f"method.r={cfg.method.init_r}"])
    return cfg


def _compose(spec: dict, method: str, extra: list[str]):
    steps = spec["warmup"] + spec["steps"]
    overrides = [
        f"model={spec['model']}", "model.init=random", f"method={method}",
        f"task={spec['task']}", f"seed={spec['seed']}", f"trainer.max_steps={steps}",
        "trainer.eval_steps=1000000", "trainer.progress_bar=false", "logger=none",
    ]
    if method in ("adalora", "ars"):
        # an allocation event every delta_t steps inside the measured ones (tinit 0)
        overrides += [f"method.delta_t={spec['delta_t']}", "method.tinit=0"]
    if spec.get("lr"):
        overrides.append(f"trainer.lr={spec['lr']}")
    if spec["side"] == "ours":
        overrides += spec.get("overrides", [])
    return compose_cfg(*overrides, *extra)


def logits_auc(trainer, dataset) -> float:
    prediction = trainer.predict(dataset)
    logits = prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    logits = np.asarray(logits, dtype=np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return float(roc_auc_score(np.asarray(prediction.label_ids), probs[:, 1]))


def run_method(spec: dict, method: str, work: Path) -> dict:
    cfg = compose(spec, method)
    data = load_task(cfg.task, cfg.seed)
    tokenizer = build_tokenizer(cfg.tokenizer, cfg.model, cfg.method.prompt)
    total, warmup = planned_steps(len(data.train), cfg.trainer)
    adalora = (adalora_schedule(cfg.method, total, warmup)
               if cfg.method.peft == "adalora" else None)
    meter = StepMeter()
    if spec["side"] == "ours":
        datasets = {k: tokenize_split(getattr(data, k), tokenizer, Path(cfg.cache_dir))
                    for k in ("train", "dev")}
        net = build_model(cfg.model, data.num_labels, tokenizer.vocab_size,
                          tokenizer.pad_token_id, cfg.seed)
        net = apply_method(net, cfg.method, cfg.model.arch, total, warmup, cfg.seed)
        args = training_arguments(cfg.trainer, work / "checkpoints", cfg.seed,
                                  cfg.task.selection_metric, "none")
        # the bench times training steps only: no periodic evaluation or checkpoint
        args.eval_strategy = args.save_strategy = IntervalStrategy.NO
        args.load_best_model_at_end = False
        callbacks = [meter]
        if cfg.method.peft == "adalora" and cfg.method.allocate:
            callbacks.insert(0, AllocationCallback(cfg.method, work, None))
        collator = PadCollator(tokenizer.pad_token_id, tokenizer.attend_to_padding)
        trainer = build_trainer(net, args, datasets, collator, callbacks, "dev",
                                trainer_class=MeteredTrainer)
    else:
        tok_dir = Path(cfg.tokenizer_dir) / "opt"
        max_length = cfg.tokenizer.max_length
        datasets = {k: baseline.tokenize_whole_split(tok_dir, getattr(data, k).sequences,
                                                     getattr(data, k).labels.tolist(),
                                                     max_length)
                    for k in ("train", "dev")}
        # the same shape as ours, embedding rows included: a table of another size would
        # draw every later weight differently (another initialisation, not another recipe)
        shape = {**cfg.model.shape,
                 "vocab_size": random_config(cfg.model, tokenizer.vocab_size).vocab_size}
        net = baseline.build_model(shape, data.num_labels, tokenizer.pad_token_id, cfg.seed)
        m = cfg.method
        net = baseline.apply_peft(net, method, target_regex(cfg.model.arch, list(m.targets)),
                                  m.init_r if method != "lora" else m.r, m.lora_alpha,
                                  m.lora_dropout, adalora)
        t = cfg.trainer
        args = baseline.arguments(work / "checkpoints", t.batch_size, t.lr, t.warmup_ratio,
                                  t.weight_decay, t.max_steps, cfg.seed)
        trainer = baseline.PaperTrainer(model=net, args=args, train_dataset=datasets["train"],
                                        callbacks=[meter])
        trainer.allocate = adalora is not None
    trainer.meter = meter
    trainer.train()
    result = meter.summary(spec["warmup"])
    result["method"] = method
    if spec.get("eval_rows") and method == spec["methods"][0]:
        rows = datasets["dev"].select(range(min(spec["eval_rows"], len(datasets["dev"]))))
        trainer.evaluate(rows.select(range(min(len(rows), 4))))  # warm-up
        started = time.perf_counter()
        trainer.predict(rows)
        result["eval_seq_per_s"] = round(len(rows) / (time.perf_counter() - started), 3)
        result["eval_rows"] = len(rows)
        result["eval_batch_size"] = trainer.args.per_device_eval_batch_size
    if spec.get("auc"):
        result["dev_auc"] = round(logits_auc(trainer, datasets["dev"]), 4)
    return result


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text())
    results = []
    with tempfile.TemporaryDirectory(prefix="lingo-bench-") as tmp:
        for i, method in enumerate(spec["methods"]):
            work = Path(tmp) / f"{i}-{method}"
            work.mkdir()
            results.append(run_method(spec, method, work))
    Path(argv[1]).write_text(json.dumps({"spec": spec, "results": results,
                                         "peak_rss_mb": round(peak_rss_mb(), 1)}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
