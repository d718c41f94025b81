"""``lingo-predict``: score new DNA with trained runs, many adapters on one base model.

    lingo-predict --run RUN_DIR [--run RUN_DIR ...] --input seqs.fa[.gz] --output out.csv

Input: FASTA (plain or gzipped, multi-line records; the header's first word is the row id) or
CSV/TSV with a ``sequence`` column and an optional ``id`` column (else the row's line number).
Lowercase is upper-cased; anything but A, C, G, T, N, an empty record, or a file that is neither
FASTA nor CSV/TSV ends the call with one line and exit code 2, and no output file.

Output: ``id``; per run ``<task>/p<label>`` (softmax probabilities) and ``<task>/pred`` (their
argmax, the training rule); for a multi-label run (``histone_human``) one sigmoid probability
per label and ``pred`` the labels at p >= 0.5 (indices, ``;``-separated); ``n_windows`` when a
sequence was windowed. Two runs on one task are
told apart by their run directory's name (``<task>:<dir>``).

Runs that share a base model (same model config, seed for random weights, vocabulary, PEFT type
and number of labels) are one group: the base is built once and the adapters are switched.
FMFT runs are full models: one group each. A sequence longer than the task's
``sequence_length`` (metrics.json) is scored in windows of that length, ``--stride`` bp apart
(the last window ends at the sequence's end), and the windows' probabilities are aggregated per
label: ``mean`` (the default: a distribution, so ``pred`` is its argmax as in training) or ``max``
(the strongest window per label; then a row's probabilities need not sum to 1).
"""

import argparse
import csv
import io
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from scipy.special import expit, softmax

from lingo.config import BASELINE_ARCHES, PRECISIONS
from lingo.data.gue import check_bases, csv_records, gunzipped
from lingo.errors import DataError, LingoError
from lingo.results import CONFIG, METRICS, PER_LABEL, read_metrics, write_atomic
from lingo.training.precision import compute_device, resolve_precision

log = logging.getLogger("lingo.predict")

ADAPTER_CONFIG = "adapter_config.json"
MERGEABLE = ("LORA", "ADALORA")


# --------------------------------------------------------------------------------------- input


@dataclass
class Record:
    id: str
    sequence: str


def read_sequences(path: Path) -> list[Record]:
    """FASTA (plain or gzipped) or CSV/TSV with a ``sequence`` column, detected by content
    (and the extension for the delimiter); every problem names the file, line and record."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "the input file does not exist", "give --input an existing file")
    data = gunzipped(path, path.read_bytes())
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(path, f"byte {data[err.start:err.start + 1]!r} is not text",
                        "give a FASTA or CSV/TSV text file (optionally gzipped)", line) from None
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        raise DataError(path, "the file is empty", "give FASTA records or a CSV with a "
                        "`sequence` column")
    if first.startswith(">"):
        records = _read_fasta(path, text)
    else:
        delimiter = _csv_delimiter(path, first)
        if delimiter is None:
            raise DataError(
                path,
                "the file is neither FASTA (its first line does not start with `>`) nor CSV/TSV "
                f"(its first line {first[:60]!r} has no `sequence` column)",
                "give FASTA records, or a CSV/TSV whose header has a `sequence` column",
                1,
            )
        records = _read_table(path, text, delimiter)
    if not records:
        raise DataError(path, "the file holds no sequences", "add at least one sequence")
    seen: set[str] = set()
    duplicated = {r.id for r in records if r.id in seen or seen.add(r.id)}
    if duplicated:
        log.warning("%d ids occur more than once in %s (e.g. %r); rows keep the input order",
                    len(duplicated), path, sorted(duplicated)[0])
    return records


def _csv_delimiter(path: Path, header: str) -> str | None:
    name = path.name.lower().removesuffix(".gz")
    candidates = ["\t", ","] if name.endswith(".tsv") or "\t" in header else [",", "\t"]
    for delimiter in candidates:
        columns = [c.strip().strip('"').lower() for c in header.split(delimiter)]
        if "sequence" in columns:
            return delimiter
    return None


def _clean(path: Path, line: int, record: str, sequence: str) -> str:
    return check_bases(sequence, path, line, what=f"record {record!r}", unit="record")


def _read_fasta(path: Path, text: str) -> list[Record]:
    records: list[Record] = []
    header: tuple[str, int] | None = None  # (id, line)
    parts: list[str] = []

    def close() -> None:
        if header is None:
            return
        record_id, line = header
        if not parts:
            raise DataError(path, f"record {record_id!r} has no sequence",
                            "remove the record or give its sequence", line)
        records.append(Record(record_id, "".join(parts)))

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            close()
            words = line[1:].split()
            if not words:
                raise DataError(path, "a FASTA header has no id",
                                "name the record after `>`", number)
            header, parts = (words[0], number), []
            continue
        if header is None:  # cannot happen: detection saw `>` first
            raise DataError(path, "sequence before the first `>` header",
                            "start the file with a `>id` line", number)
        parts.append(_clean(path, number, header[0], "".join(line.split())))
    close()
    return records


def _read_table(path: Path, text: str, delimiter: str) -> list[Record]:
    rows = csv_records(path, text, "one record per line", delimiter)
    _, header = next(rows)
    columns = [c.strip().lower() for c in header]
    seq_col = columns.index("sequence")
    id_col = columns.index("id") if "id" in columns else None
    records: list[Record] = []
    for start, row in rows:
        if not any(f.strip() for f in row):
            continue
        record_id = (row[id_col].strip() if id_col is not None and id_col < len(row) else "")
        record_id = record_id or str(start)
        sequence = row[seq_col].strip() if seq_col < len(row) else ""
        if not sequence:
            raise DataError(path, f"record {record_id!r} has an empty sequence",
                            "remove the row or fill it in", start)
        records.append(Record(record_id, _clean(path, start, record_id, sequence)))
    return records


def windows(sequence: str, length: int | None, stride: int) -> list[str]:
    """The whole sequence when it fits; else windows of ``length`` bp every ``stride`` bp, the
    last one ending at the sequence's end."""
    if length is None or len(sequence) <= length:
        return [sequence]
    starts = list(range(0, len(sequence) - length + 1, stride))
    if starts[-1] != len(sequence) - length:
        starts.append(len(sequence) - length)
    return [sequence[s : s + length] for s in starts]


# ---------------------------------------------------------------------------------------- runs


@dataclass
class Run:
    path: Path
    cfg: DictConfig
    metrics: dict[str, Any]
    peft_type: str | None  # LORA, ADALORA, ... from model/adapter_config.json; None: full model
    tokenizer: Any
    column: str = ""  # the output columns' prefix (the task, or task:dir when ambiguous)
    group_key: tuple = field(default=())

    @property
    def task(self) -> str:
        return str(self.metrics.get("task") or self.cfg.task.name)

    @property
    def num_labels(self) -> int:
        return int(self.metrics.get("num_labels") or self.cfg.task.num_labels)

    @property
    def multi_label(self) -> bool:
        """One sigmoid per label (DeepSEA's histone marks): the run wrote per-label vectors."""
        return (self.path / PER_LABEL).is_file()

    @property
    def sequence_length(self) -> int | None:
        value = self.metrics.get("sequence_length")
        return int(value) if value else None


def load_run(path: Path) -> Run:
    from lingo.config import LingoConfig, register_configs
    from lingo.tokenization import build_tokenizer

    path = Path(path)
    if not path.is_dir():
        raise LingoError(f"--run {path}: no such directory")
    metrics = read_metrics(path)
    if not metrics or metrics.get("status") != "completed":
        state = f"has no {METRICS}" if not metrics else f"has status {metrics.get('status')!r}"
        raise LingoError(f"--run {path} {state}: only a completed run can predict (train it "
                         "to the end first, or point --run at the run directory itself)")
    model_dir = path / "model"
    if not (path / CONFIG).is_file() or not model_dir.is_dir():
        raise LingoError(f"--run {path} lacks {CONFIG} or model/: not a complete run directory")
    register_configs()
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(LingoConfig), OmegaConf.load(path / CONFIG))
    except Exception as err:
        raise LingoError(f"--run {path}: {CONFIG} does not match the config schema "
                         f"({type(err).__name__}: {str(err).splitlines()[0]})") from None
    if cfg.model.arch in BASELINE_ARCHES:
        raise LingoError(f"--run {path}: model={cfg.model.name} is a classical baseline; "
                         "lingo-predict scores language-model runs")
    adapter = model_dir / ADAPTER_CONFIG
    peft_type = json.loads(adapter.read_text()).get("peft_type") if adapter.is_file() else None
    if peft_type is None and not (model_dir / "config.json").is_file():
        raise LingoError(f"--run {path}: model/ holds neither a PEFT adapter nor a full model")
    tokenizer = build_tokenizer(cfg.tokenizer, cfg.model, cfg.method.prompt)
    run = Run(path, cfg, metrics, peft_type, tokenizer)
    if run.sequence_length is None:
        log.warning("%s: metrics.json has no sequence_length (an older run); sequences are "
                    "scored whole (truncated by the tokenizer), not windowed", path)
    model = cfg.model
    base = (
        model.arch, model.init, model.name_or_path, model.trust_remote_code,
        json.dumps(OmegaConf.to_container(model.shape), sort_keys=True) if model.shape else None,
        cfg.seed if model.init == "random" else None,
    )
    vocabulary = (type(tokenizer).__name__, tokenizer.vocabulary(), tokenizer.vocab_size,
                  tokenizer.pad_token_id)
    # FMFT runs are whole models: never shared
    run.group_key = (base, vocabulary, peft_type, run.num_labels) if peft_type else (str(path),)
    return run


def name_columns(runs: list[Run]) -> None:
    """``<task>``; two runs on one task: ``<task>:<run dir name>`` (then ``:<n>`` if needed)."""
    tasks = [r.task for r in runs]
    for run in runs:
        run.column = run.task if tasks.count(run.task) == 1 else f"{run.task}:{run.path.name}"
    columns = [r.column for r in runs]
    for i, run in enumerate(runs):
        if columns.count(run.column) > 1:
            run.column = f"{run.column}:{i + 1}"


def group_runs(runs: list[Run]) -> list[list[Run]]:
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.group_key, []).append(run)
    return list(groups.values())


def describe_group(group: list[Run]) -> str:
    first = group[0]
    m = first.cfg.model
    if first.peft_type is None:
        return f"{m.name} full model (fmft), {first.num_labels} labels"
    seed = f", seed {first.cfg.seed}" if m.init == "random" else ""
    return (f"{m.name} ({m.init}{seed}), {first.tokenizer.name} vocabulary, "
            f"{first.peft_type} adapters, {first.num_labels} labels")


def why_apart(a: Run, b: Run) -> str:
    if a.peft_type is None or b.peft_type is None:
        return "a full fine-tuned (fmft) model is a whole model of its own"
    (base_a, vocab_a, peft_a, labels_a), (base_b, vocab_b, peft_b, labels_b) = (
        a.group_key, b.group_key)
    reasons = []
    if base_a != base_b:
        reasons.append("the base models differ (model, weights or seed)")
    if vocab_a != vocab_b:
        reasons.append("the tokenizer vocabularies differ")
    if peft_a != peft_b:
        reasons.append(f"the PEFT types differ ({peft_a} vs {peft_b}; PEFT cannot combine "
                       "adapters of different types on one model)")
    if labels_a != labels_b:
        reasons.append(f"the heads differ ({labels_a} vs {labels_b} labels)")
    return "; ".join(reasons)


def log_grouping(groups: list[list[Run]]) -> None:
    log.info("%d run(s) in %d group(s), one base model loaded per group",
             sum(len(g) for g in groups), len(groups))
    for i, group in enumerate(groups, start=1):
        names = ", ".join(f"{r.column} ({r.path})" for r in group)
        why = " share the base, loaded once; adapters switched" if len(group) > 1 else ""
        log.info("group %d: %s: %s%s", i, describe_group(group), names, why)
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            log.info("groups %d and %d apart: %s", i + 1, j + 1,
                     why_apart(groups[i][0], groups[j][0]))


def load_group(group: list[Run], device: torch.device, merge: bool, index: int):
    """The group's model and the adapter name of each run (None: a full model)."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    from lingo.models import build_model, peft_deprecation_silenced

    first = group[0]
    if first.peft_type is None:
        net = AutoModelForSequenceClassification.from_pretrained(
            str(first.path / "model"), trust_remote_code=first.cfg.model.trust_remote_code,
            dtype=torch.float32)
        if merge:
            log.info("--merge: group %d is a full model (fmft); nothing to merge", index)
        return net.to(device).eval(), [None]
    tok = first.tokenizer
    base = build_model(first.cfg.model, first.num_labels, tok.vocab_size, tok.pad_token_id,
                       first.cfg.seed, multi_label=first.multi_label)
    names = [f"run{i}" for i in range(len(group))]
    with peft_deprecation_silenced():
        net = PeftModel.from_pretrained(base, str(first.path / "model"), adapter_name=names[0])
    for run, name in zip(group[1:], names[1:], strict=True):
        net.load_adapter(str(run.path / "model"), adapter_name=name)
    if merge:
        if len(group) > 1:
            log.info("--merge skipped for group %d: its %d adapters share one base, and merging "
                     "would fold one of them into it", index, len(group))
        elif first.peft_type not in MERGEABLE:
            log.info("--merge skipped for group %d: %s adapters cannot be merged", index,
                     first.peft_type)
        else:
            net = net.merge_and_unload()
            log.info("--merge: group %d's %s weights merged into the base", index,
                     first.peft_type)
            return net.to(device).eval(), [None]
    return net.to(device).eval(), names


# ----------------------------------------------------------------------------------- inference


def score_run(
    net, run: Run, records: list[Record], stride: int | None, batch_size: int,
    device: torch.device, dtype: torch.dtype | None, progress,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-window probabilities of one run: (probabilities [n_windows, labels], owner index)."""
    from lingo.training.collator import PadCollator

    length = run.sequence_length
    step = stride or (max(1, length // 2) if length else 1)
    if length and step > length:
        raise LingoError(f"--stride {step} exceeds {run.column}'s sequence_length {length}: "
                         "bases between windows would never be scored")
    owner, texts = [], []
    for i, record in enumerate(records):
        for window in windows(record.sequence, length, step):
            owner.append(i)
            texts.append(window)
    ids, truncated = run.tokenizer.encode(texts)
    if truncated:
        log.warning("%s: the tokenizer's max_length (%d) cuts DNA from %d of %d inputs",
                    run.column, run.tokenizer.max_length, truncated, len(texts))
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    collate = PadCollator(run.tokenizer.pad_token_id, run.tokenizer.attend_to_padding)
    logits = np.zeros((len(ids), run.num_labels), dtype=np.float64)
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.bfloat16,
                                                enabled=dtype is not None):
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = collate([{"input_ids": ids[i], "labels": 0} for i in rows])
            out = net(input_ids=batch["input_ids"].to(device),
                      attention_mask=batch["attention_mask"].to(device))
            logits[rows] = out.logits.float().cpu().numpy()
            progress.update(1)
    probs = expit(logits) if run.multi_label else softmax(logits, axis=1)  # as in training
    return probs, np.asarray(owner)


def predicted(probs: np.ndarray, multi_label: bool) -> list:
    """The training metrics' rule: the argmax class; multi-label, the labels at p >= 0.5
    (their indices, ``;``-separated)."""
    if not multi_label:
        return probs.argmax(axis=1).tolist()
    return [";".join(str(j) for j in np.flatnonzero(row >= 0.5)) for row in probs]


def aggregate(probs: np.ndarray, owner: np.ndarray, n: int, how: str) -> np.ndarray:
    out = np.full((n, probs.shape[1]), -np.inf if how == "max" else 0.0)
    if how == "max":
        np.maximum.at(out, owner, probs)
    else:
        np.add.at(out, owner, probs)
        out /= np.bincount(owner, minlength=n)[:, None]
    return out


def n_batches(run: Run, records: list[Record], stride: int | None, batch_size: int) -> int:
    length = run.sequence_length
    step = stride or (max(1, length // 2) if length else 1)
    total = sum(len(windows(r.sequence, length, step)) if length and step <= length else 1
                for r in records)
    return -(-total // batch_size)


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
    resolved = [Path(p).resolve() for p in run_dirs]
    twice = {str(p) for p in resolved if resolved.count(p) > 1}
    if twice:
        raise LingoError(f"--run {sorted(twice)[0]} is given twice")
    records = read_sequences(Path(input_path))
    log.info("%d sequences from %s", len(records), input_path)
    runs = [load_run(Path(p)) for p in run_dirs]
    name_columns(runs)
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="lingo-predict",
        description="Score DNA sequences with trained Lingo runs (adapters sharing a base "
                    "model are loaded on it once).",
    )
    parser.add_argument("--run", action="append", required=True, type=Path, metavar="DIR",
                        help="a completed run directory (repeat for several runs)")
    parser.add_argument("--input", required=True, type=Path, metavar="FILE",
                        help="FASTA (plain or .gz) or CSV/TSV with a `sequence` column")
    parser.add_argument("--output", required=True, type=Path, metavar="FILE.csv")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--stride", type=int, default=None,
                        help="window stride in bp (default: half the task's sequence_length)")
    parser.add_argument("--aggregate", choices=("mean", "max"), default="mean",
                        help="how window probabilities combine per label (default: mean)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto: bf16 where the GPU or CPU computes it natively, else fp32")
    parser.add_argument("--merge", action="store_true",
                        help="merge LoRA/AdaLoRA weights into the base (single-run groups)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    try:
        predict(args.run, args.input, args.output, args.batch_size, args.stride,
                args.aggregate, args.precision, args.merge, progress=not args.no_progress)
    except LingoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
