"""One side (ours or the baseline) on one task, for a list of methods, in its own process (so
that its peak resident memory is its own): ``python -m bench.worker SPEC.json OUT.json``.

SPEC keys: side (ours | baseline), task, model (a conf/model name, built with random weights),
methods, steps (measured optimizer steps), warmup (unmeasured steps before them), overrides
(extra Hydra overrides for ours, the fast-path switches), eval_rows (dev rows to time
evaluation on, with the first method; 0: none), auc (evaluate the whole dev split for its
AUC), lr (None: the config's), seed, delta_t (allocation interval for the AdaLoRA-type methods),
interleave (train the methods side by side, taking turns of two steps, the second timed;
default: one after the other, so that peak memory is one method's at a time).
"""

import json
import math
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from transformers import set_seed
from transformers.trainer_utils import IntervalStrategy

from bench import baseline
from bench.common import MeteredTrainer, StepMeter, TurnMeter, Turns, compose_cfg, peak_rss_mb
from lingo.data import load_task
from lingo.methods import METHODS, RunContext, get_method
from lingo.methods.adalora.schedule import adalora_schedule, rank_settings
from lingo.methods.targets import target_regex
from lingo.models import build_model
from lingo.models.build import random_config
from lingo.tokenization import build_tokenizer, tokenize_split
from lingo.training.collator import PadCollator
from lingo.training.trainer import build_trainer, training_arguments

# LoRA at r = the AdaLoRA-type methods' init_r, on their matrices (on prom_tata W_o too)
LORA_AS_ARS = ["method.r=${method.init_r}", "method.targets=${task.table_s1.targets}"]


def compose(spec: dict, method: str):
    steps = spec["warmup"] + spec["steps"]
    if spec.get("interleave"):
        steps *= TurnMeter.steps_per_turn  # only the last step of each turn is timed
    overrides = [
        f"model={spec['model']}", "model.init=random", f"method={method}",
        f"task={spec['task']}", f"seed={spec['seed']}", f"trainer.max_steps={steps}",
        "trainer.eval_steps=1000000", "trainer.progress_bar=false", "logger=none",
    ]
    if method == "lora":
        overrides += LORA_AS_ARS
    if method in ("adalora", "ars"):
        # an allocation event every delta_t steps inside the measured ones (tinit 0)
        overrides += [f"method.delta_t={spec['delta_t']}", "method.tinit=0"]
    if spec.get("lr"):
        overrides.append(f"trainer.lr={spec['lr']}")
    if spec["side"] == "ours":
        overrides += spec.get("overrides", [])
    return compose_cfg(*overrides)


def logits_auc(trainer, dataset) -> float:
    prediction = trainer.predict(dataset)
    logits = prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    logits = np.asarray(logits, dtype=np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return float(roc_auc_score(np.asarray(prediction.label_ids), probs[:, 1]))


def prepare(spec: dict, method: str, work: Path, meter: StepMeter) -> tuple:
    """One method's trainer, timed by ``meter``, and its tokenized splits."""
    cfg = compose(spec, method)
    data = load_task(cfg.task, cfg.seed)
    tokenizer = build_tokenizer(cfg.tokenizer, cfg.model, cfg.method.prompt)
    if spec["side"] == "ours":
        datasets = {k: tokenize_split(getattr(data, k), tokenizer, Path(cfg.cache_dir))
                    for k in ("train", "dev")}
        net = build_model(cfg.model, data.num_labels, tokenizer.vocab_size,
                          tokenizer.pad_token_id, cfg.seed)
        unit = get_method(method)(cfg.method, RunContext(cfg.model.arch, cfg.seed,
                                                         run_dir=work))
        net = unit.wrap(net)
        args = training_arguments(cfg.trainer, work / "checkpoints", cfg.seed,
                                  cfg.task.selection_metric, "none")
        # the bench times training steps only: no periodic evaluation or checkpoint
        args.eval_strategy = args.save_strategy = IntervalStrategy.NO
        args.load_best_model_at_end = False
        callbacks = [*unit.callbacks(), meter]  # AdaLoRA's allocation plans its schedule
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
        m, t = cfg.method, cfg.trainer
        # the paper's code builds AdaLoRA with its schedule: planned from the bench's fixed steps
        adalora = ({**rank_settings(m), **adalora_schedule(
            m, t.max_steps, math.ceil(t.max_steps * t.warmup_ratio))}
            if METHODS[method].adaptive else None)
        net = baseline.apply_peft(net, method, target_regex(cfg.model.arch, list(m.targets)),
                                  m.init_r if method != "lora" else m.r, m.lora_alpha,
                                  m.lora_dropout, adalora)
        args = baseline.arguments(work / "checkpoints", t.batch_size, t.lr, t.warmup_ratio,
                                  t.weight_decay, t.max_steps, cfg.seed)
        trainer = baseline.PaperTrainer(model=net, args=args, train_dataset=datasets["train"],
                                        callbacks=[meter])
        trainer.allocate = adalora is not None
    trainer.meter = meter
    return trainer, datasets


def run_method(spec: dict, method: str, work: Path) -> dict:
    trainer, datasets = prepare(spec, method, work, StepMeter())
    trainer.train()
    return summarise(spec, method, trainer, datasets)


def summarise(spec: dict, method: str, trainer, datasets: dict) -> dict:
    result = trainer.meter.summary(spec["warmup"])
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


def run_interleaved(spec: dict, works: list[Path]) -> list[dict]:
    """Every method's trainer in its own thread, taking turns (``Turns``, ``TurnMeter``): each
    method's steps then sample the same spells of a noisy machine, and a step-time ratio
    between methods compares like with like. Every method is built before any trains, and
    each reseeds at its start, in its turn, so that all draw the same batches: the
    length-grouped sampler draws its order from the global RNG when training starts."""
    turns = Turns(len(spec["methods"]))
    built = [prepare(spec, method, work, TurnMeter(turns, i))
             for i, (method, work) in enumerate(zip(spec["methods"], works, strict=True))]
    errors: list[BaseException] = []

    def play(player: int) -> None:
        try:
            turns.wait(player)
            set_seed(spec["seed"])
            built[player][0].train()
        except BaseException as error:  # re-raised in the main thread
            errors.append(error)
        finally:
            turns.leave(player)

    threads = [threading.Thread(target=play, args=(i,)) for i in range(len(built))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [summarise(spec, method, trainer, datasets)
            for method, (trainer, datasets) in zip(spec["methods"], built, strict=True)]


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text())
    with tempfile.TemporaryDirectory(prefix="lingo-bench-") as tmp:
        works = [Path(tmp) / f"{i}-{method}" for i, method in enumerate(spec["methods"])]
        for work in works:
            work.mkdir()
        if spec.get("interleave"):
            results = run_interleaved(spec, works)
        else:
            results = [run_method(spec, method, work)
                       for method, work in zip(spec["methods"], works, strict=True)]
    Path(argv[1]).write_text(json.dumps({"spec": spec, "results": results,
                                         "peak_rss_mb": round(peak_rss_mb(), 1)}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
