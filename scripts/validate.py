"""`make validate` (version 2): a fair test of the paper's claims with a real pretrained language
model, offline: SmolLM2-135M (`make smollm2`) on GUE prom_300_tata.

Version 1 (validation/v1) trained every arm at one learning rate; its SVD arms (AdaLoRA, ARS,
Lingo) barely moved their adapters there and were close to linear probes. Version 2 gives each
adapter family its own rate, measures the floor, and reads every claim against it:

  phase lr    each family's adapter learning rate, chosen on dev: 300 steps, seed 42, the head
              at a fixed rate (--head-lr); LoRA at 1e-4, 3e-4, 1e-3 and PEFT AdaLoRA (standing
              for the SVD family) at 1e-3, 3e-3, 1e-2. The lowest dev cross-entropy over all dev
              rows wins; a lower rate whose paired difference to it includes 0 wins the tie.
  phase main  at the chosen rates, one epoch (613 steps of batch 8) of the full train split,
              seeds 42 and 43, the arms of MAIN_ARMS: pretrained LoRA, AdaLoRA, ARS and Lingo
              (both sampling: delta_t=auto), random-init Lingo and LoRA (their family's rate,
              which favours the pretrained arm if anything), the probe (head only) on the
              pretrained and the random-init model (each start's floor), and the 6-mer
              logistic regression and CNN baselines.

Every language-model arm trains in bf16 autocast, on a CPU (or GPU) that computes bf16
natively: where bf16 is emulated the script refuses them (the classical baselines run
anywhere). Each run is its own directory under validation/runs/<phase>/...: an interrupted
validate resumes its run, finished runs are skipped, and each run's result files are tracked by
git (.gitignore), so the arms can be finished in several sittings and on several machines.
The report, validation/results.md, reads each claim with paired bootstrap intervals over the
test rows and the seed spread, and says which hold, which fail and which this budget cannot
resolve; validation/delta_w.png and curves.png show the adapters' ΔW and dev AUC per step.

    python scripts/validate.py                       # both phases, every arm (many hours)
    python scripts/validate.py --phase lr            # the learning rates only
    python scripts/validate.py --arms kmer_lr cnn    # some arms of phase main
    python scripts/validate.py --report-only
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lingo.report.paired import (  # noqa: E402
    Difference,
    interval,
    paired_difference,
    positive_probability,
    row_cross_entropy,
)
from lingo.results import (  # noqa: E402
    CONFIG,
    DEV_PREDICTIONS,
    DYNAMICS,
    HISTORY,
    METRICS,
    TEST_PREDICTIONS,
    git_commit,
    read_jsonl,
    read_metrics,
    write_atomic,
    write_json,
)
from lingo.training.precision import compute_device, describe_machine, native_bf16  # noqa: E402

SVD = ["method.delta_t=auto"]  # the AdaLoRA family samples (ARS) or allocates 25 times
# family -> (its phase-lr method, the rates tried)
RATES = {"lora": ("method=lora", (1e-4, 3e-4, 1e-3)),
         "svd": ("method=adalora", (1e-3, 3e-3, 1e-2))}
# arm -> (description, learning-rate family or None, overrides; the language model's: --model)
MAIN_ARMS = {
    "lora": ("pretrained + LoRA", "lora", ["method=lora"]),
    "adalora": ("pretrained + PEFT AdaLoRA", "svd", ["method=adalora", *SVD]),
    "ars": ("pretrained + ARS (sampling)", "svd", ["method=ars", *SVD]),
    "lingo": ("pretrained + Lingo (ARS + prompt)", "svd", ["method=lingo", *SVD]),
    "random_lingo": ("random init + Lingo", "svd", ["model.init=random", "method=lingo", *SVD]),
    "random_lora": ("random init + LoRA", "lora", ["model.init=random", "method=lora"]),
    "probe": ("pretrained, head only (the floor)", None, ["method=probe"]),
    "random_probe": ("random init, head only (the random arms' floor)", None,
                     ["model.init=random", "method=probe"]),
    "kmer_lr": ("6-mer logistic regression", None, ["model=kmer_lr", "method=none"]),
    "cnn": ("CNN on one-hot DNA", None, ["model=cnn", "method=none"]),
}
BASELINES = ("kmer_lr", "cnn")
ADAPTERS = ("lora", "adalora", "ars", "lingo", "random_lingo", "random_lora")
# (a, b, the claim) read in the report, each as metric(a) - metric(b)
CLAIMS = [
    ("lingo", "lora", "Lingo (ARS + prompt) vs LoRA, both pretrained: the paper's main claim"),
    ("ars", "lora", "ARS vs LoRA, both pretrained"),
    ("ars", "adalora", "ARS's masks (ARS vs PEFT AdaLoRA, same events)"),
    ("lingo", "ars", "The prompt (Lingo vs ARS)"),
    ("lingo", "random_lingo", "Language pretraining, with Lingo"),
    ("lora", "random_lora", "Language pretraining, with LoRA"),
]
# what an arm's "did it train" is read against: its floor, and the LoRA arm of the same start
FLOOR = {arm: "random_probe" if arm.startswith("random_") else "probe" for arm in ADAPTERS}
SAME_START_LORA = {arm: "random_lora" if arm.startswith("random_") else "lora"
                   for arm in ADAPTERS}
TRAINED_CE = 0.60  # the bar for an SVD arm that trains: test cross-entropy at most this
TRAINED_DELTA_W = 3.0  # ... and its ΔW within this factor of LoRA's
WALL = "validate_wall.json"  # beside metrics.json: wall time, machine and date of the run
RESULT_FILES = (METRICS, HISTORY, DYNAMICS, TEST_PREDICTIONS, DEV_PREDICTIONS, CONFIG, WALL)


@dataclass
class Run:
    phase: str  # lr | main
    arm: str  # lora@0.0003 in phase lr; an arm of MAIN_ARMS in phase main
    seed: int
    run_dir: Path
    overrides: list[str]
    family: str | None = None
    rate: float | None = None
    language_model: bool = True
    result: dict = field(default_factory=dict)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phase", choices=["lr", "main", "all"], default="all")
    p.add_argument("--arms", nargs="+", choices=list(MAIN_ARMS), default=list(MAIN_ARMS),
                   help="phase main's arms to run (the report shows every finished one)")
    p.add_argument("--seeds", nargs="+", type=int, default=[42, 43], help="phase main's seeds")
    p.add_argument("--lr-seed", type=int, default=42)
    p.add_argument("--lr-steps", type=int, default=300, help="phase lr's optimizer steps")
    p.add_argument("--epochs", type=float, default=1.0, help="phase main's epochs")
    p.add_argument("--head-lr", type=float, default=3e-4, help="the head's rate, every arm")
    p.add_argument("--warmup", type=float, default=0.05, help="warmup share of the steps")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--precision", choices=["bf16", "fp32"], default="bf16",
                   help="bf16: the protocol (native bf16 only); fp32: a smoke run, marked")
    p.add_argument("--model", default="smollm2_135m", help="the language model (tests: tiny)")
    p.add_argument("--task", default="prom_tata")
    p.add_argument("--runs", type=Path, default=ROOT / "validation" / "runs")
    p.add_argument("--out", type=Path, default=ROOT / "validation")
    p.add_argument("--bootstrap", type=int, default=2000)
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--extra", nargs="*", default=[], help="more train.py overrides, every run")
    return p.parse_args(argv)


def _common(args: argparse.Namespace, language_model: bool) -> list[str]:
    common = [f"model={args.model}"] if language_model else []
    common += [f"task={args.task}", "task.train_split=train", "task.dev_subset=null",
               "trainer.progress_bar=false", "logger=csv", *args.extra]
    if language_model:  # the baselines keep their own trainer (the CNN: Adam, batch 64)
        common += [f"trainer.batch_size={args.batch_size}", f"trainer.warmup_ratio={args.warmup}",
                   f"trainer.head_lr={args.head_lr}", f"trainer.precision={args.precision}"]
    return common


def lr_runs(args: argparse.Namespace) -> list[Run]:
    steps = [f"trainer.max_steps={args.lr_steps}",
             f"trainer.eval_steps={max(1, args.lr_steps // 3)}"]
    runs = []
    for family, (method, rates) in RATES.items():
        for rate in rates:
            arm = f"{family}@{rate:g}"
            run_dir = args.runs / "lr" / arm / f"seed{args.lr_seed}"
            extra = SVD if family == "svd" else []
            runs.append(Run("lr", arm, args.lr_seed, run_dir, [
                method, *extra, *_common(args, True), *steps, f"trainer.lr={rate}",
                f"seed={args.lr_seed}", f"hydra.run.dir={run_dir}"], family, rate))
    return runs


def main_runs(args: argparse.Namespace, rates: dict[str, float | None],
              arms: list[str] | None = None) -> list[Run]:
    """Phase main's runs of ``arms`` (default: every arm) at the chosen ``rates``."""
    runs = []
    for arm in arms or list(MAIN_ARMS):
        _, family, overrides = MAIN_ARMS[arm]
        lm = arm not in BASELINES
        for seed in args.seeds:
            run_dir = args.runs / "main" / arm / f"seed{seed}"
            rate = rates.get(family) if family else None
            schedule = [f"trainer.epochs={args.epochs}"] if lm else []
            lr = [f"trainer.lr={rate}"] if rate is not None else []
            runs.append(Run("main", arm, seed, run_dir, [
                *overrides, *_common(args, lm), *schedule, *lr, f"seed={seed}",
                f"hydra.run.dir={run_dir}"], family, rate, lm))
    return runs


def completed(run: Run) -> bool:
    return (read_metrics(run.run_dir) or {}).get("status") == "completed"


def check_precision(args: argparse.Namespace, runs: list[Run]) -> None:
    """Language-model arms only where bf16 is native: emulated, it is far slower, and arms in
    another precision would not compare."""
    todo = [r for r in runs if r.language_model and not completed(r)]
    if todo and args.precision == "bf16" and not native_bf16(compute_device()):
        sys.exit(f"[validate] {len(todo)} language-model runs need bf16, which this machine "
                 f"({describe_machine()}) only emulates: run them where bf16 is native (AVX512-"
                 "BF16, AMX, or a GPU); here, --arms kmer_lr cnn, or --precision fp32 for a "
                 "smoke run (marked as such in the report)")


def _settings(run: Run) -> list[str]:
    """The overrides that make a run what it is (its folder's place is not one of them)."""
    return [o for o in run.overrides if not o.startswith("hydra.run.dir=")]


def train(runs: list[Run]) -> None:
    for run in runs:
        if completed(run):
            recorded = _read(run.run_dir / WALL).get("overrides")
            if recorded is not None and recorded != _settings(run):
                changed = sorted(set(recorded) ^ set(_settings(run)))
                sys.exit(f"[validate] {run.run_dir} was trained with other settings "
                         f"({', '.join(changed)}: the run's and now); move it away to train "
                         "this arm again, or run with the settings it was made with")
            print(f"[validate] {run.arm} seed {run.seed}: done already ({run.run_dir})",
                  flush=True)
            continue
        print(f"[validate] {run.arm} seed {run.seed}: python train.py "
              f"{' '.join(run.overrides)}", flush=True)
        started = time.monotonic()
        done = subprocess.run([sys.executable, str(ROOT / "train.py"), *run.overrides], cwd=ROOT)
        wall = time.monotonic() - started
        if done.returncode != 0:
            sys.exit(f"[validate] {run.arm} seed {run.seed} failed (exit {done.returncode}); "
                     "run the same command again to resume it")
        previous = _read(run.run_dir / WALL).get("wall_seconds", 0.0)  # resumed: add up
        write_json(run.run_dir / WALL, {"wall_seconds": previous + wall,
                                        "cpu": describe_machine(),
                                        "finished": datetime.date.today().isoformat(),
                                        "overrides": _settings(run)})
        print(f"[validate] {run.arm} seed {run.seed}: {wall / 60:.1f} min", flush=True)


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def load(run: Run) -> Run | None:
    """A finished run with its predictions and curves; None when it has not finished."""
    if not completed(run):
        return None
    config = yaml.safe_load((run.run_dir / CONFIG).read_text()) if (
        run.run_dir / CONFIG).is_file() else {}
    result = {"metrics": read_metrics(run.run_dir), "wall": _read(run.run_dir / WALL),
              "lr": (config.get("trainer") or {}).get("lr") if run.language_model else None,
              "history": read_jsonl(run.run_dir / HISTORY),
              "dynamics": read_jsonl(run.run_dir / DYNAMICS)}
    for split, name in (("test", TEST_PREDICTIONS), ("dev", DEV_PREDICTIONS)):
        if (run.run_dir / name).is_file():
            saved = np.load(run.run_dir / name)
            result[split] = {"labels": saved["labels"], "prob": positive_probability(
                saved["logits"]), "loss": row_cross_entropy(saved["logits"], saved["labels"])}
    run.result = result
    return run


def final_delta_w(run: Run) -> float | None:
    rows = [r for r in run.result.get("dynamics", []) if "delta_w" in r]
    return rows[-1]["delta_w"] if rows else None


def choose_rates(lr: list[Run], n_boot: int) -> tuple[dict[str, float | None], list[str]]:
    """Each family's rate: the lowest dev cross-entropy over all dev rows; a lower rate whose
    paired bootstrap difference to it includes 0 is a tie, and the lower rate wins it."""
    chosen, notes = {}, []
    for family in RATES:
        done = sorted((r for r in lr if r.family == family and r.result), key=lambda r: r.rate)
        if len(done) < len(RATES[family][1]):
            chosen[family] = None
            notes.append(f"- {family}: {len(done)} of {len(RATES[family][1])} rates finished; "
                         "no rate chosen yet.")
            continue
        best = min(done, key=lambda r: r.result["metrics"]["dev/cross_entropy"])
        labels = best.result["dev"]["labels"]
        pick, why = best, "the lowest dev cross-entropy"
        for lower in (r for r in done if r.rate < best.rate):
            d = paired_difference({0: lower.result["dev"]["loss"]},
                                  {0: best.result["dev"]["loss"]}, labels, n_boot,
                                  "cross_entropy")
            if d.low <= 0 <= d.high:
                pick = lower
                why = (f"a tie with {best.rate:g} (dev cross-entropy {d.mean:+.4f}, paired "
                       f"95% [{d.low:+.4f}, {d.high:+.4f}]): the lower rate")
                break
        chosen[family] = pick.rate
        notes.append(f"- {family}: **{pick.rate:g}**, {why}.")
    return chosen, notes


def _ci(point: float, low: float, high: float) -> str:
    return f"{point:.3f} [{low:.3f}, {high:.3f}]"


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def _markdown(columns: dict[str, str], rows: list[list[object]]) -> str:
    """A markdown table; ``columns``: each header and its alignment (left, or right for
    numbers). The cells stay as written (tabulate would re-read numbers: 0.810 as 0.81)."""
    return pd.DataFrame(rows, columns=list(columns)).to_markdown(
        index=False, disable_numparse=True, colalign=list(columns.values()))


def lr_table(lr: list[Run], n_boot: int) -> str:
    rows: list[list[object]] = []
    for run in lr:
        if not run.result:
            rows.append([run.family, f"{run.rate:g}", "not run yet", "", "", ""])
            continue
        dev = run.result["dev"]
        last = (run.result["dynamics"] or [{}])[-1]
        rows.append([run.family, f"{run.rate:g}",
                     _ci(*interval(dev["loss"], dev["labels"], n_boot, "cross_entropy")),
                     _fmt(run.result["metrics"].get("dev/auc")), _fmt(final_delta_w(run)),
                     _fmt(last.get("task_loss", last.get("loss")))])
    return _markdown({"family": "left", "rate": "right", "dev cross-entropy [95% CI]": "left",
                      "dev AUC": "right", "ΔW at the end": "right",
                      "task loss at the end": "right"}, rows)


def trained(arm_runs: dict[str, dict[int, Run]], arm: str,
            n_boot: int) -> tuple[bool | None, str]:
    """An adapter arm has adapted when its paired test-AUC difference to its floor (the probe
    of the same start: pretrained or random) is above 0 at every seed both ran. An SVD arm
    trains when, besides, its ΔW is within 3x of the LoRA arm's of the same start, and, for the
    pretrained ones, its test cross-entropy is at most 0.60 (a random backbone's floor is
    higher: version 1's random-init LoRA ended at 0.610). None: its floor has not run yet."""
    runs, floor = arm_runs.get(arm, {}), FLOOR[arm]
    d = _difference(arm_runs, arm, floor, n_boot)
    if d is None:
        return None, f"not known yet: no {floor} run to read it against"
    adapted = bool(d.low > 0 and all(p > 0 for p, _, _ in d.per_seed.values()))
    words = (f"AUC − {floor} {d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]: "
             + ("adapted" if adapted else f"**has not adapted** (not above {floor})"))
    if MAIN_ARMS[arm][1] == "svd":
        lora = arm_runs.get(SAME_START_LORA[arm], {})
        ratios = [final_delta_w(lora[s]) / final_delta_w(runs[s]) for s in runs
                  if s in lora and final_delta_w(runs[s]) and final_delta_w(lora[s])]
        ce = [runs[s].result["metrics"].get("test/cross_entropy", np.inf) for s in runs]
        ce_ok = arm.startswith("random_") or max(ce) <= TRAINED_CE
        svd_ok = bool(ratios) and max(ratios) <= TRAINED_DELTA_W and ce_ok
        words += (f"; {SAME_START_LORA[arm]}'s ΔW / its ΔW "
                  f"{', '.join(f'{x:.1f}' for x in ratios) or '–'}, test cross-entropy "
                  f"{', '.join(f'{x:.3f}' for x in ce)}: "
                  + ("trains" if svd_ok else "**does not meet the training bar** (ΔW within "
                     f"{TRAINED_DELTA_W:g}x of {SAME_START_LORA[arm]}'s"
                     + ("" if arm.startswith("random_") else f", cross-entropy ≤ {TRAINED_CE}")
                     + ")"))
        adapted = adapted and svd_ok
    return adapted, words


def _difference(arm_runs: dict[str, dict[int, Run]], a: str, b: str,
                n_boot: int) -> Difference | None:
    ra = {s: r for s, r in arm_runs.get(a, {}).items() if "test" in r.result}
    rb = {s: r for s, r in arm_runs.get(b, {}).items() if "test" in r.result}
    if not ra or not rb:
        return None
    labels = next(iter(ra.values())).result["test"]["labels"]
    return paired_difference({s: r.result["test"]["prob"] for s, r in ra.items()},
                             {s: r.result["test"]["prob"] for s, r in rb.items()}, labels, n_boot)


def _claim_line(d: Difference | None, a: str, b: str, what: str, void: list[str]) -> str:
    if d is None:
        return f"- {what}: not measured yet."
    seeds = "; ".join(f"seed {s} {p:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                      for s, (p, lo, hi) in d.per_seed.items())
    line = (f"- {what}: test AUC {a} − {b} = {d.mean:+.3f} (mean over {len(d.per_seed)} "
            f"seed{'s' if len(d.per_seed) > 1 else ''}), paired bootstrap 95% "
            f"[{d.low:+.3f}, {d.high:+.3f}]; {seeds}; seed spread {d.spread:.3f}: "
            f"{d.verdict(a, b)}.")
    if void:
        line += f" **Void as a test of the claim: {', '.join(void)} did not train.**"
    return line


def reading(arm_runs: dict[str, dict[int, Run]], n_boot: int) -> list[str]:
    """Each claim in words and numbers, every language-model arm against the CNN, and each
    adapter against the probe: a comparison with an arm that did not train is void."""
    status = {arm: trained(arm_runs, arm, n_boot) for arm in ADAPTERS if arm in arm_runs}
    lines = ["### Did each adapter train?", ""]
    lines += [f"- {arm}: {words}." for arm, (_, words) in status.items()]
    lines += ["", "### The claims", ""]
    for a, b, what in CLAIMS:
        void = [x for x in (a, b) if x in status and status[x][0] is False]
        unknown = [x for x in (a, b) if x in status and status[x][0] is None]
        line = _claim_line(_difference(arm_runs, a, b, n_boot), a, b, what, void)
        if unknown and not line.endswith("not measured yet."):
            line += f" (Whether {' and '.join(unknown)} trained is not known yet.)"
        lines.append(line)
    lines += ["", "### Every language-model arm against the CNN", ""]
    for arm in (*ADAPTERS, "probe", "random_probe"):
        if arm in arm_runs:
            lines.append(_claim_line(_difference(arm_runs, arm, "cnn", n_boot), arm, "cnn",
                                     f"{arm} vs the CNN", []))
    return lines


def main_table(arm_runs: dict[str, dict[int, Run]], n_boot: int) -> str:
    rows: list[list[object]] = []
    for arm, runs in arm_runs.items():
        for seed, run in runs.items():
            m, test = run.result["metrics"], run.result.get("test")
            wall = run.result["wall"].get("wall_seconds")
            if test is None:
                rows.append([f"{arm}: {MAIN_ARMS[arm][0]}", seed, "", "",
                             "no test predictions saved: rerun this arm", "", "", "", "", ""])
                continue
            rows.append([
                f"{arm}: {MAIN_ARMS[arm][0]}", seed, _fmt(run.result["lr"], "g"),
                m.get("steps", "–"), _ci(*interval(test["prob"], test["labels"], n_boot)),
                _ci(*interval(test["prob"], test["labels"], n_boot, "mcc")),
                _fmt(m.get("test/cross_entropy")), _fmt(final_delta_w(run)),
                m.get("sampling_events", "–"), _fmt(wall and wall / 60, ".1f")])
    return _markdown({"arm": "left", "seed": "right", "rate": "right", "steps": "right",
                      "test AUC [95% CI]": "left", "test MCC [95% CI]": "left",
                      "test cross-entropy": "right", "ΔW at the end": "right",
                      "sampling events": "right", "wall min": "right"}, rows)


def provenance(runs: list[Run]) -> str:
    rows: list[list[object]] = []
    for run in runs:
        m, wall = run.result["metrics"], run.result["wall"]
        rows.append([run.phase, run.arm, run.seed, wall.get("cpu", "–"), m.get("precision", "–"),
                     f"`{(m.get('git_commit') or '–')[:12]}`", wall.get("finished", "–")])
    return _markdown({"phase": "left", "arm": "left", "seed": "right", "machine": "left",
                      "precision": "left", "commit": "left", "finished": "left"}, rows)


def plot(lr: list[Run], main: list[Run], out: Path) -> None:
    """delta_w.png: each adapter run's ΔW per step; curves.png: phase main's dev AUC."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, runs, title in ((axes[0], lr, "phase lr (seed 42)"), (axes[1], main, "phase main")):
        for run in runs:
            points = [(r["step"], r["delta_w"]) for r in run.result["dynamics"] if "delta_w" in r]
            if points:
                ax.plot(*zip(*points, strict=True), label=f"{run.arm} s{run.seed}")
        ax.set(xlabel="optimizer step", ylabel="summed ‖ΔW‖_F", yscale="log", title=title)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "delta_w.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for run in main:
        points = [(h["step"], h["dev/auc"]) for h in run.result["history"] if "dev/auc" in h]
        if run.arm in BASELINES:
            ax.axhline(run.result["metrics"].get("dev/auc", np.nan), ls=":", color="grey")
        elif points:
            ax.plot(*zip(*points, strict=True), marker=".", label=f"{run.arm} s{run.seed}")
    ax.set(xlabel="optimizer step", ylabel="dev AUC (all dev rows)",
           title="SmolLM2-135M on prom_300_tata (dotted: the baselines)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=120)
    plt.close(fig)


def report(args: argparse.Namespace, lr: list[Run], main: list[Run],
           rate_notes: list[str]) -> str:
    """``lr`` and ``main``: every planned run, finished (with its result) or not."""
    arm_runs: dict[str, dict[int, Run]] = {}
    for run in main:
        if run.result:
            arm_runs.setdefault(run.arm, {})[run.seed] = run
    missing = [f"{r.phase}/{r.arm} seed {r.seed}" for r in (*lr, *main) if not r.result]
    done = [r for r in (*lr, *main) if r.result]
    precisions = sorted({r.result["metrics"].get("precision") for r in done if r.language_model})
    notes = []
    if missing:
        notes.append(f"- **Not run yet**: {', '.join(missing)}. `make validate` runs them "
                     "(finished runs are skipped); nothing below that needs them is read.")
    if len(precisions) > 1:
        notes.append(f"- **Language-model arms in different precisions** ({', '.join(precisions)})"
                     ": their differences may come from that too.")
    if precisions and precisions != ["bf16"]:
        notes.append("- **Not version 2's protocol**: the language-model arms did not train in "
                     "bf16 (a smoke run).")
    text = [
        f"# Validation v2: {args.model} (pretrained, offline) on {args.task}",
        "",
        f"Written by `python scripts/validate.py` on {datetime.date.today().isoformat()}, commit "
        f"`{git_commit()[:12]}`. The full train split, checkpoints selected on all dev "
        f"rows, test once. Batch {args.batch_size}, warmup {args.warmup:.0%} then linear decay, "
        f"the head at {args.head_lr:g} in every arm, the adapters at their family's rate; "
        "AdaLoRA, ARS and Lingo allocate 25 times in the budget phase (`method.delta_t=auto`). "
        f"Intervals: {args.bootstrap} paired bootstrap resamples of the rows (percentile).",
        "", *notes, "",
        f"## Phase lr: each family's rate ({args.lr_steps} steps, seed {args.lr_seed})", "",
        lr_table(lr, args.bootstrap), "", *rate_notes, "",
        f"## Phase main: {args.epochs:g} epoch(s), seeds {', '.join(map(str, args.seeds))}", "",
        main_table(arm_runs, args.bootstrap), "",
        "## Reading", "", *reading(arm_runs, args.bootstrap), "",
        "What a budget of one epoch and two seeds cannot resolve is said above as `not "
        "resolved`; the paper trained 5 epochs (3,065 steps) on OPT-125M/350M, and SmolLM2-135M "
        "here is read from a 4-bit GGUF (de-quantised): this tests the paper's claims with "
        "another natural-language model, not its numbers.", "",
        "## Provenance", "", provenance(done), "",
        "Figures: `delta_w.png` (ΔW per step, both phases), `curves.png` (dev AUC per step).",
        "",
    ]
    return "\n".join(text)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    os.environ.setdefault("WANDB_MODE", "offline")
    lr = lr_runs(args)
    if not args.report_only and args.phase in ("lr", "all"):
        check_precision(args, lr)
        train(lr)
    lr = [load(r) or r for r in lr]
    rates, rate_notes = choose_rates(lr, args.bootstrap)
    if not args.report_only and args.phase in ("main", "all"):
        asked = main_runs(args, rates, args.arms)
        waiting = [r for r in asked if r.family and rates[r.family] is None]
        if waiting:
            sys.exit(f"[validate] {', '.join(sorted({r.arm for r in waiting}))} need phase lr's "
                     "rates: run --phase lr first")
        check_precision(args, asked)
        train(asked)
    main = [load(r) or r for r in main_runs(args, rates)]
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(args, lr, main, rate_notes)
    write_atomic(args.out / "results.md", text)
    plot([r for r in lr if r.result], [r for r in main if r.result], args.out)
    print(text)


if __name__ == "__main__":
    main()
