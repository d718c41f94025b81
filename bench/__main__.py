"""``make bench`` / ``python -m bench [--smoke] [--out DIR]``: every figure as a ratio against a
baseline measured in the same invocation; writes ``results.md`` and ``results.json``.

Sections: (1) training throughput, ours vs the paper-code baseline (bench/baseline.py), OPT-125M
shape, LoRA / AdaLoRA / ARS on prom_tata and H3; (2) equivalence: tiny_opt to convergence on
prom_tata, dev AUC, both sides, >= 2 seeds; (3) ARS overhead vs PEFT AdaLoRA and LoRA, the
three trained side by side, taking turns;
(4) evaluation throughput and peak memory; (5) ``make tables`` over 1,000 synthetic runs;
(6) GPU (skipped without CUDA); (7) ``lingo-predict``: merged vs not, one call vs three;
(8) ``lingo-explain mutagenesis`` vs each variant as a row of ``lingo-predict``.
``--smoke`` runs every section with a tiny model and 1-2 steps (the test's mode).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, small_gue_folder, today
from lingo.training.precision import describe_machine, resolve_precision

# "Ours" runs with the defaults (trainer.precision=auto: bf16 autocast where the CPU computes
# bf16 natively; eval batch 64; dynamic padding, cached tokenization, SDPA) plus the one fast
# path that is off by default, length-grouped batches (README "Performance").
FAST = ["trainer.group_by_length=true"]

FULL = dict(model="opt125m", tasks=["prom_tata", "h3"], methods=["lora", "adalora", "ars"],
            warmup=1, steps=5, eval_rows=32, equiv_model="tiny_opt", equiv_steps=1000,
            equiv_seeds=[1, 2, 3], equiv_lr=3e-3, tables=1000, predict_steps=20, predict_rows=None,
            alloc_reps=10, precision_reps=3, precision_tokens=8 * 170,
            overhead_tasks=["prom_tata"], overhead_steps=6, explain_rows=None, explain_lm_rows=2,
            explain_cnn_epochs=2, run_rows=None)
SMOKE = dict(FULL, model="tiny_opt", tasks=["prom_tata"], warmup=1, steps=1, eval_rows=4,
             equiv_steps=3, equiv_seeds=[1], tables=20, predict_steps=2, predict_rows=16,
             alloc_reps=2, precision_reps=1, precision_tokens=64, overhead_steps=1,
             explain_rows=3, explain_lm_rows=1, explain_cnn_epochs=1, run_rows=16)


def env() -> dict:
    e = dict(os.environ)
    e.setdefault("LINGO_DATA_DIR", str(REPO.parent / "shared" / "data"))
    e.setdefault("LINGO_TOKENIZER_DIR", str(REPO.parent / "shared" / "tokenizers"))
    e.setdefault("WANDB_MODE", "disabled")
    e["PYTHONPATH"] = f"{REPO}{os.pathsep}{e.get('PYTHONPATH', '')}"
    return e


def run_worker(spec: dict, tmp: Path, tag: str) -> dict:
    spec_path, out_path = tmp / f"{tag}.spec.json", tmp / f"{tag}.out.json"
    spec_path.write_text(json.dumps(spec))
    log = tmp / f"{tag}.log"
    with log.open("w") as handle:
        done = subprocess.run([sys.executable, "-m", "bench.worker", str(spec_path),
                               str(out_path)], cwd=REPO, env=env(), stdout=handle,
                              stderr=subprocess.STDOUT)
    if done.returncode:
        raise RuntimeError(f"bench worker {tag} failed:\n{log.read_text()[-3000:]}")
    return json.loads(out_path.read_text())


def run_task(p: dict, tmp: Path) -> list[str]:
    """The task of the runs that sections (7) and (8) train and then time: prom_tata, or in
    smoke mode a GUE folder of ``run_rows`` of its rows per split."""
    if not p["run_rows"]:
        return ["task=prom_tata"]
    source = Path(env()["LINGO_DATA_DIR"]) / "GUE" / "prom" / "prom_300_tata"
    folder = small_gue_folder(source, tmp / "run-task", p["run_rows"] // 2)
    return ["task=gue_folder", f"task.path={folder}"]


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


# ------------------------------------------------------------------------------ sections
def training(p: dict, tmp: Path, lines: list, out: dict) -> None:
    """(1) throughput, (4) eval throughput and peak memory."""
    per = {}
    for task in p["tasks"]:
        for side in ("baseline", "ours"):  # interleaved: both sides of a task back to back
            spec = dict(side=side, task=task, model=p["model"], methods=p["methods"],
                        steps=p["steps"], warmup=p["warmup"], seed=42, delta_t=2,
                        overrides=FAST, eval_rows=p["eval_rows"] if task == "prom_tata" else 0)
            per[task, side] = run_worker(spec, tmp, f"train-{task}-{side}")
    ratios = {}
    for task in p["tasks"]:
        base, ours = per[task, "baseline"], per[task, "ours"]
        for b, o in zip(base["results"], ours["results"], strict=True):
            key = f"{task}/{o['method']}"
            ratios[key] = ratio(o["tokens_per_s"], b["tokens_per_s"])
            lines.append(line(
                f"train_tokens_per_s/{key}", f"training throughput, {p['model']} {key} "
                "(real tokens/s)", o["tokens_per_s"], b["tokens_per_s"], "tokens/s",
                detail=f"{o['steps']} steps after {p['warmup']} warm-up; step s ours "
                       f"{o['step_seconds']} baseline {b['step_seconds']}"))
            lines.append(line(f"pad_fraction/{key}", f"pad fraction, {key}", o["pad_fraction"],
                              b["pad_fraction"], "fraction", higher_is_better=False))
        lines.append(line(f"peak_rss_mb/{task}", f"peak resident memory of a training run "
                          f"({task}, 3 methods in one process)", ours["peak_rss_mb"],
                          base["peak_rss_mb"], "MiB", higher_is_better=False))
        if task == "prom_tata" and "eval_seq_per_s" in ours["results"][0]:
            o, b = ours["results"][0], base["results"][0]
            lines.append(line("eval_seq_per_s", f"evaluation throughput, {p['model']} LoRA, "
                              f"{o['eval_rows']} dev rows (batch {o['eval_batch_size']} vs "
                              f"{b['eval_batch_size']})", o["eval_seq_per_s"],
                              b["eval_seq_per_s"], "sequences/s"))
    out["train_throughput_ratio"] = min(ratios.values())
    out["train_throughput_ratios"] = ratios


def overhead(p: dict, tmp: Path, lines: list, out: dict) -> None:
    """(3) ARS's step time against PEFT AdaLoRA's at the same init rank and LoRA's at r = init_r
    on the same matrices: ours, the three trained side by side in one process, taking turns
    (bench.common.Turns), so that a slow spell of the machine falls on all three. On prom_tata
    by default: its short sequences make a step cheapest there, so a fixed per-step cost of a
    method weighs most."""
    for task in p["overhead_tasks"]:
        # delta_t 1 and no final phase: an allocation event (importance, budget, masks) on every
        # step, the timed ones included (the worst case for ARS; the paper's delta_t is 100 or
        # 5,000); in a final phase the pattern is fixed, and both would skip the allocator
        spec = dict(side="ours", task=task, model=p["model"], methods=["lora", "adalora", "ars"],
                    steps=p["overhead_steps"], warmup=1, seed=42, delta_t=1,
                    overrides=[*FAST, "method.tfinal=0"], interleave=True)
        results = run_worker(spec, tmp, f"overhead-{task}")["results"]
        tokens = {r["method"]: r["real_tokens"] for r in results}
        if len(set(tokens.values())) != 1:
            raise RuntimeError(f"the methods trained on different batches: {tokens}")
        steps = {r["method"]: r["median_step_s"] for r in results}
        out.setdefault("median_step_s", {})[task] = steps
        out.setdefault("ars_vs_adalora", []).append(ratio(steps["ars"], steps["adalora"]))
        out.setdefault("ars_vs_lora", []).append(ratio(steps["ars"], steps["lora"]))
        seconds = "; ".join(f"{r['method']} {r['step_seconds']}" for r in results)
        detail = (f"median of {p['overhead_steps']} steps each, the same batches, an allocation "
                  "event on every step, interleaved in turns of 2 steps (the first of each "
                  f"untimed); step s {seconds}")
        lines.append(line(f"ars_step_s/{task}", f"ARS step time vs PEFT AdaLoRA, {task}, "
                          "init_r (ours)", steps["ars"], steps["adalora"], "s",
                          higher_is_better=False, detail=detail))
        lines.append(line(f"ars_vs_lora_step_s/{task}", f"ARS step time vs LoRA at r = init_r "
                          f"on the same matrices, {task} (ours)", steps["ars"], steps["lora"],
                          "s", higher_is_better=False, detail=detail))


def allocator(p: dict, lines: list, out: dict) -> None:
    """(3) the allocation hook alone, PEFT's vs ARS, interleaved on the same gradients."""
    from bench.allocator import allocator_seconds

    r = allocator_seconds(p["model"], "prom_tata", p["alloc_reps"])
    lines.append(line("allocation_event_ms", f"one allocation event (importance + masks), "
                      f"{r['matrices']} matrices, ARS vs PEFT AdaLoRA", r["ars_ms"],
                      r["adalora_ms"], "ms", higher_is_better=False))
    out["allocator"] = r
    # ARS and AdaLoRA train the same PEFT modules; only the allocator differs. So the step
    # ratio is bounded by AdaLoRA's median step plus the extra cost of one ARS event (which
    # includes its per-step importance update) on every step: a paired figure, free of the
    # step-to-step noise that the direct ratio of two medians keeps even when interleaved.
    extra = (r["ars_ms"] - r["adalora_ms"]) / 1000
    bounds = {}
    for task, steps in out.get("median_step_s", {}).items():
        if "adalora" in steps:
            bound_s = round(steps["adalora"] + extra, 4)
            bounds[task] = ratio(bound_s, steps["adalora"])
            lines.append(line(f"ars_step_paired_bound_s/{task}", f"ARS step time vs PEFT "
                              f"AdaLoRA, {task}, paired bound: AdaLoRA's median step + ARS's "
                              "extra allocation cost on every step", bound_s, steps["adalora"],
                              "s", higher_is_better=False))
    if bounds:
        out["ars_vs_adalora_paired_bound"] = max(bounds.values())


def precision(p: dict, lines: list, out: dict) -> None:
    """Why ``trainer.precision=auto`` is bf16 only where native: bf16 autocast against fp32 on
    this CPU, one OPT-125M MLP block (768 -> 3072 -> 768) forward and backward over
    ``precision_tokens`` tokens (8 x 170: a training batch), interleaved, median of
    ``precision_reps``."""
    import torch

    torch.manual_seed(0)
    block = torch.nn.Sequential(torch.nn.Linear(768, 3072), torch.nn.ReLU(),
                                torch.nn.Linear(3072, 768))
    x = torch.randn(p["precision_tokens"], 768)

    def seconds(bf16: bool) -> float:
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = block(x).float().square().mean()
        loss.backward()
        return time.perf_counter() - started

    seconds(True), seconds(False)  # warm-up: oneDNN builds its kernels on first use
    times = {True: [], False: []}
    for _ in range(p["precision_reps"]):
        for bf16 in (True, False):
            times[bf16].append(seconds(bf16))
    bf16_ms, fp32_ms = (round(1000 * statistics.median(times[k]), 2) for k in (True, False))
    auto = resolve_precision("auto", torch.device("cpu"))
    native = auto == "bf16"
    out["precision"] = {"native_bf16": native, "bf16_ms": bf16_ms, "fp32_ms": fp32_ms,
                        "auto": auto}
    lines.append(line("bf16_vs_fp32_block_ms", "bf16 autocast vs fp32 step of one OPT-125M MLP "
                      f"block, {p['precision_tokens']} tokens (this CPU: "
                      f"{'native' if native else 'no native'} bf16, so auto = {auto})",
                      bf16_ms, fp32_ms, "ms",
                      higher_is_better=False))


def batches(p: dict, lines: list, out: dict) -> None:
    """Why ``trainer.group_by_length`` is off by default: where token count and label are
    correlated, HF's length-grouped sampler makes batches of one label more often. The spread
    of each batch's positive share, grouped vs random order, over the split the bench trains
    on (tokenized as ours tokenizes it), one epoch."""
    import numpy as np
    import torch
    from scipy.stats import pointbiserialr
    from transformers.trainer_pt_utils import get_length_grouped_indices

    from bench.common import compose_cfg
    from lingo.data import load_task
    from lingo.tokenization import build_tokenizer, tokenize_split
    from lingo.tokenization.dataset import token_lengths

    out["batches"] = {}
    for task in p["tasks"]:
        cfg = compose_cfg(f"model={p['model']}", f"task={task}")
        split = load_task(cfg.task, cfg.seed).train
        tokenizer = build_tokenizer(cfg.tokenizer, cfg.model, cfg.method.prompt)
        lengths = token_lengths(tokenize_split(split, tokenizer, Path(cfg.cache_dir))).tolist()
        labels = np.asarray(split.labels)
        size = cfg.trainer.batch_size

        def share_sd(order: list[int], labels=labels, size=size) -> float:
            full = len(order) - len(order) % size
            return float(labels[np.asarray(order[:full])].reshape(-1, size).mean(1).std())

        grouped = get_length_grouped_indices(lengths, size,
                                             generator=torch.Generator().manual_seed(0))
        shuffled = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0))
        r = float(pointbiserialr(labels, lengths).statistic)
        sd = {"grouped": round(share_sd(grouped), 3),
              "random": round(share_sd(shuffled.tolist()), 3)}
        out["batches"][task] = {"rows": len(lengths), "length_label_r": round(r, 3), **sd}
        lines.append(line(f"batch_label_share_sd/{task}", f"{task}: sd of the positive share "
                          f"of a batch of {size}, group_by_length vs random order "
                          f"({len(lengths)} rows; token count vs label r = {r:.2f})",
                          sd["grouped"], sd["random"], "sd", higher_is_better=False))


# The equivalence arms: the baseline, ours with the defaults (what a user trains with), and ours
# with the bench's fast switches (what section 1 times).
EQUIVALENCE_ARMS = {"baseline": ("baseline", []), "ours": ("ours", []), "ours_fast": ("ours", FAST)}


def equivalence(p: dict, tmp: Path, lines: list, out: dict) -> None:
    """(2) the same dev AUC within seed noise: tiny_opt + AdaLoRA on prom_tata, trained until
    its dev AUC has levelled off (at lr 3e-3, 1,000 steps are within about 0.02 of 2,000), by
    the baseline and by ours, over the same seeds."""
    aucs: dict[str, list[float]] = {arm: [] for arm in EQUIVALENCE_ARMS}
    for seed in p["equiv_seeds"]:
        for arm, (side, overrides) in EQUIVALENCE_ARMS.items():
            spec = dict(side=side, task="prom_tata", model=p["equiv_model"],
                        methods=["adalora"], warmup=1, steps=p["equiv_steps"] - 1, seed=seed,
                        delta_t=10, lr=p["equiv_lr"], overrides=overrides, auc=True)
            aucs[arm].append(run_worker(spec, tmp, f"equiv-{arm}-{seed}")["results"][0]["dev_auc"])
    mean = {k: round(statistics.mean(v), 4) for k, v in aucs.items()}
    spread = {k: round(max(v) - min(v), 4) for k, v in aucs.items()}
    paired = {k: [round(a - b, 4) for a, b in zip(v, aucs["baseline"], strict=True)]
              for k, v in aucs.items() if k != "baseline"}
    out["equivalence"] = {"seeds": p["equiv_seeds"], "dev_auc": aucs, "mean": mean,
                          "spread": spread, "difference_per_seed": paired,
                          "difference": {k: round(mean[k] - mean["baseline"], 4) for k in paired}}
    for arm, label in (("ours", "ours (defaults)"),
                       ("ours_fast", "ours (defaults + " + ", ".join(FAST) + ")")):
        lines.append(line(f"equivalence_dev_auc/{arm}", f"dev AUC, {p['equiv_model']} AdaLoRA "
                          f"on prom_tata, {p['equiv_steps']} steps at lr {p['equiv_lr']}, "
                          f"seeds {p['equiv_seeds']}: {label} vs the baseline",
                          mean[arm], mean["baseline"], "AUC",
                          detail=f"per seed {aucs[arm]} vs {aucs['baseline']}; difference per "
                                 f"seed {paired[arm]}; spread over seeds {spread[arm]} vs "
                                 f"{spread['baseline']}"))


def tables(p: dict, tmp: Path, lines: list, out: dict) -> None:
    """(5) the report over synthetic runs: aggregation alone, and the whole CLI."""
    from lingo.report.runs import collect_runs
    from lingo.report.synthetic import write_synthetic_runs
    from lingo.report.tables import SPECS, aggregate

    root = tmp / "synthetic"
    write_synthetic_runs(root, p["tables"])
    started = time.perf_counter()
    runs = collect_runs(root)
    for spec in SPECS:
        aggregate(spec, runs)
    aggregation = time.perf_counter() - started
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lingo.report", "--results", str(root),
                           "--out", str(tmp / "report"), "--wandb", "disabled"], cwd=REPO,
                          env=env(), capture_output=True, text=True)
    cli = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"lingo.report failed:\n{done.stderr[-3000:]}")
    out["tables"] = {"runs": p["tables"], "aggregation_s": round(aggregation, 3),
                     "cli_s": round(cli, 3)}
    lines.append(line("tables_aggregation_s", f"make tables: collect + aggregate "
                      f"{p['tables']} synthetic runs", round(aggregation, 3), None, "s"))
    lines.append(line("tables_cli_s", f"make tables: whole CLI (tables + figures) over "
                      f"{p['tables']} synthetic runs", round(cli, 3), None, "s"))


def gpu(lines: list, out: dict) -> None:
    """(6) only with CUDA."""
    import torch

    if not torch.cuda.is_available():
        out["gpu"] = "skipped: no CUDA device"
        lines.append(line("gpu", "GPU step time / tokens/s / MFU (OPT-125M, OPT-350M; FMFT, "
                          "ARS; bf16)", None, None, "", detail="skipped: no CUDA device"))
        return
    from bench.gpu import gpu_lines

    rows = gpu_lines()
    out["gpu"] = rows
    for r in rows:
        lines.append(line(f"gpu/{r['model']}/{r['method']}/b{r['batch']}",
                          f"GPU {r['gpu']}: {r['model']} {r['method']} bf16, batch {r['batch']}"
                          f" x {r['seq_len']} tokens (step {r['step_s']} s, MFU {r['mfu']})",
                          r["tokens_per_s"], None, "tokens/s"))


def predict(p: dict, tmp: Path, lines: list, out: dict) -> None:
    """(7) three tiny LoRA runs on one base (same seed, three learning rates; one sweep), then
    ``lingo-predict`` over prom_tata's test split."""
    lrs, sweep = (1e-3, 5e-4, 2e-4), tmp / "predict-runs"
    cmd = [sys.executable, "train.py", "-m", "model=tiny_opt", "method=lora", *run_task(p, tmp),
           "seed=1", "trainer.lr=" + ",".join(map(str, lrs)),
           f"trainer.max_steps={p['predict_steps']}", f"trainer.eval_steps={p['predict_steps']}",
           "trainer.progress_bar=false", "logger=none", f"output_root={tmp / 'predict-outputs'}",
           f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${hydra.job.num}"]
    done = subprocess.run(cmd, cwd=REPO, env=env(), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"training the predict runs failed:\n{done.stderr[-3000:]}")
    runs = [sweep / str(i) for i in range(len(lrs))]
    test = Path(env()["LINGO_DATA_DIR"]) / "GUE" / "prom" / "prom_300_tata" / "test.csv"
    lines_in = test.read_text().splitlines()[: (p["predict_rows"] or 10**9) + 1]
    source = tmp / "predict-input.csv"
    source.write_text("\n".join(lines_in) + "\n")
    rows = len(lines_in) - 1

    def call(run_dirs: list[Path], *extra: str) -> float:
        args = [a for r in run_dirs for a in ("--run", str(r))]
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "lingo.predict", *args, "--input",
                               str(source), "--output", str(tmp / "predictions.csv"),
                               "--no-progress", *extra], cwd=REPO, env=env(),
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"lingo-predict failed:\n{done.stderr[-3000:]}")
        return time.perf_counter() - started

    unmerged = call(runs[:1])
    merged = call(runs[:1], "--merge")
    together = call(runs)
    apart = sum(call([r]) for r in runs)
    out["predict"] = {"rows": rows, "unmerged_s": round(unmerged, 3),
                      "merged_s": round(merged, 3), "three_in_one_s": round(together, 3),
                      "three_calls_s": round(apart, 3)}
    lines.append(line("predict_merged_seq_per_s", f"lingo-predict, one tiny LoRA run, {rows} "
                      "sequences (CLI wall time): --merge vs unmerged", round(rows / merged, 2),
                      round(rows / unmerged, 2), "sequences/s"))
    lines.append(line("predict_three_adapters_seq_per_s", "lingo-predict, one base with three "
                      "adapters in one call vs three calls (sequences x runs / s)",
                      round(3 * rows / together, 2), round(3 * rows / apart, 2), "sequences/s"))


def explain(p: dict, tmp: Path, lines: list, out: dict) -> None:
    """(8) saturation mutagenesis of prom_tata's test sequences by ``lingo-explain`` against
    every variant written as a row and scored by plain ``lingo-predict`` (same batch size),
    CLI wall time: the CNN and k-mer LR on the whole split, an OPT-125M-shaped LoRA run (random
    weights: speed only) on 2 sequences."""
    from lingo.explain.mutagenesis import variants

    test = Path(env()["LINGO_DATA_DIR"]) / "GUE" / "prom" / "prom_300_tata" / "test.csv"
    header, *rows = test.read_text().splitlines()
    task = run_task(p, tmp)
    quick = ["method=none", *task, "logger=none", "trainer.progress_bar=false"]
    arms = (("cnn", ["model=cnn", *quick, f"trainer.epochs={p['explain_cnn_epochs']}"],
             p["explain_rows"]),
            ("kmer_lr", ["model=kmer_lr", *quick], p["explain_rows"]),
            ("lora", [f"model={p['model']}", "model.init=random", "method=lora", *task,
                      "logger=none", "trainer.progress_bar=false",
                      "trainer.max_steps=2", "trainer.eval_steps=2"], p["explain_lm_rows"]))
    out["explain"] = {}
    for name, overrides, count in arms:
        run_dir = tmp / f"explain-{name}"
        done = subprocess.run([sys.executable, "train.py", *overrides, "seed=1",
                               f"output_root={tmp / 'explain-outputs'}",
                               f"hydra.run.dir={run_dir}"], cwd=REPO, env=env(),
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"training the {name} run failed:\n{done.stderr[-3000:]}")
        kept = rows[: count or len(rows)]
        source = tmp / f"explain-{name}.csv"
        source.write_text("\n".join([header, *kept]) + "\n")
        as_rows = tmp / f"explain-{name}-variants.fa"
        with as_rows.open("w") as handle:
            for i, row in enumerate(kept):
                for j, text in enumerate(variants(row.split(",")[0])[1:]):
                    handle.write(f">s{i}v{j}\n{text}\n")
        n_variants = sum(3 * len(row.split(",")[0]) for row in kept)

        def timed(module: str, *args: str) -> float:
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", module, *args, "--batch-size", "128",
                                   "--no-progress"], cwd=REPO, env=env(),
                                  capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"{module} failed:\n{done.stderr[-3000:]}")
            return time.perf_counter() - started

        ours = timed("lingo.explain", "mutagenesis", "--run", str(run_dir), "--input",
                     str(source), "--out", str(tmp / f"explain-{name}-out"), "--figures", "0",
                     "--max-sequences", str(len(kept)))
        base = timed("lingo.predict", "--run", str(run_dir), "--input", str(as_rows),
                     "--output", str(tmp / f"explain-{name}-predicted.csv"))
        out["explain"][name] = {"sequences": len(kept), "variants": n_variants,
                                "mutagenesis_s": round(ours, 3), "predict_rows_s": round(base, 3)}
        lines.append(line(f"mutagenesis_seq_per_s/{name}", f"lingo-explain mutagenesis, {name}, "
                          f"{len(kept)} prom_tata test sequences ({n_variants:,} variants), CLI "
                          "wall time: vs each variant as a row of lingo-predict",
                          float(f"{len(kept) / ours:.4g}"), float(f"{len(kept) / base:.4g}"),
                          "sequences/s"))


# ------------------------------------------------------------------------------- output
MACHINE = describe_machine()
DATE = today()


def line(key: str, figure: str, value, baseline, unit: str, higher_is_better: bool = True,
         detail: str = "") -> dict:
    r = None
    if isinstance(value, int | float) and isinstance(baseline, int | float) and baseline:
        r = ratio(value, baseline)
    return {"key": key, "figure": figure, "value": value, "baseline": baseline, "ratio": r,
            "unit": unit, "higher_is_better": higher_is_better, "detail": detail,
            "machine": MACHINE, "date": DATE}


def markdown(results: dict) -> str:
    head = (f"# `make bench` results\n\n{results['machine']}, {results['date']}"
            f"{' (smoke mode: not a measurement)' if results['smoke'] else ''}; "
            f"whole bench {results['bench_seconds']} s ("
            + ", ".join(f"{k} {v:.0f} s" for k, v in results["section_seconds"].items())
            + "). Ratio = ours / baseline, measured in "
            "the same invocation. Ours: the defaults and " + ", ".join(f"`{f}`" for f in FAST)
            + ".\n\n"
            f"- train_throughput_ratio (worst configuration): {results['train_throughput_ratio']}"
            f"\n- ars_vs_adalora_step_ratio: {results['ars_vs_adalora_step_ratio']} (paired "
            f"bound: {results.get('ars_vs_adalora_paired_bound')})\n"
            f"- ars_vs_lora_step_ratio: {results['ars_vs_lora_step_ratio']}\n\n"
            "| figure | ours | baseline | ratio | unit | machine | date |\n"
            "|---|---:|---:|---:|---|---|---|\n")
    rows = []
    for r in results["lines"]:
        figure = r["figure"] + (f" — {r['detail']}" if r["detail"] else "")
        value = "—" if r["value"] is None else r["value"]
        base = "—" if r["baseline"] is None else r["baseline"]
        rows.append(f"| {figure} | {value} | {base} | {r['ratio'] if r['ratio'] else '—'} | "
                    f"{r['unit']} | {r['machine']} | {r['date']} |")
    return head + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny model, 1-2 steps: seconds")
    parser.add_argument("--out", type=Path, default=REPO / "bench")
    parser.add_argument("--sections", help="comma-separated subset (development)",
                        default="training,overhead,allocator,precision,batches,equivalence,"
                        "tables,gpu,predict,explain")
    args = parser.parse_args(argv)
    p = SMOKE if args.smoke else FULL
    sections = set(args.sections.split(","))
    os.environ.update({k: v for k, v in env().items() if k not in os.environ})
    lines: list[dict] = []
    out: dict = {}
    section_seconds: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lingo-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for name, section in (("training", lambda: training(p, tmp, lines, out)),
                              ("overhead", lambda: overhead(p, tmp, lines, out)),
                              ("allocator", lambda: allocator(p, lines, out)),
                              ("precision", lambda: precision(p, lines, out)),
                              ("batches", lambda: batches(p, lines, out)),
                              ("equivalence", lambda: equivalence(p, tmp, lines, out)),
                              ("tables", lambda: tables(p, tmp, lines, out)),
                              ("gpu", lambda: gpu(lines, out)),
                              ("predict", lambda: predict(p, tmp, lines, out)),
                              ("explain", lambda: explain(p, tmp, lines, out))):
            if name in sections:
                t0 = time.perf_counter()
                section()
                section_seconds[name] = round(time.perf_counter() - t0, 1)
                print(f"bench: {name} done in {section_seconds[name]:.0f} s", flush=True)
    results = {
        "machine": MACHINE, "date": DATE, "smoke": args.smoke, "fast_switches": FAST,
        "params": p, "bench_seconds": round(time.perf_counter() - started, 1),
        "section_seconds": section_seconds,
        "train_throughput_ratio": out.get("train_throughput_ratio"),
        "ars_vs_adalora_step_ratio": max(out["ars_vs_adalora"]) if "ars_vs_adalora" in out
        else None,
        "ars_vs_lora_step_ratio": max(out["ars_vs_lora"]) if "ars_vs_lora" in out else None,
        **{k: v for k, v in out.items() if k not in ("ars_vs_adalora", "ars_vs_lora")},
        "lines": lines,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "results.md").write_text(markdown(results))
    print(f"bench: {args.out / 'results.md'} ({results['bench_seconds']} s)")


if __name__ == "__main__":
    main()
