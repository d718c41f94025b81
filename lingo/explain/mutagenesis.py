"""Saturation mutagenesis: every position of a sequence set to each of the 3 other bases, and
the change in each label's log-odds. All variants of a batch of sequences go through the model
together, so a forward pass is full whatever the sequence length."""

import sys

import numpy as np
import pandas as pd

from lingo.data.bases import ALPHABET
from lingo.explain.scorer import Scorer
from lingo.explain.scores import BaseScores
from lingo.predict.inputs import Record

VARIANTS_PER_CALL = 4096  # texts handed to the scorer at once (it batches them itself)


def variants(sequence: str) -> list[str]:
    """The sequence itself, then every single-base substitution by A, C, G, T in position
    order (3 per position; an N position gets 4)."""
    out = [sequence]
    for p, ref in enumerate(sequence):
        out += [sequence[:p] + alt + sequence[p + 1 :] for alt in ALPHABET if alt != ref]
    return out


def mutagenesis(
    scorer: Scorer, records: list[Record], max_sequences: int | None = 100,
    progress: bool = True,
) -> tuple[pd.DataFrame, list[BaseScores]]:
    """The long-form table (id, position (0-based), ref, alt, label, delta) and, per label,
    the deltas as :class:`BaseScores` (0 at the reference base)."""
    from tqdm.auto import tqdm

    scorer.check_records(records, max_sequences, " (mutagenesis scores 3 variants per base, "
                         f"{3 * sum(len(r.sequence) for r in records):,} here)")
    length = max(len(r.sequence) for r in records)
    labels = scorer.run.num_labels
    values = np.full((labels, len(records), length, 4), np.nan, dtype=np.float32)
    per_call = max(1, VARIANTS_PER_CALL // (3 * length + 1))
    total = sum(1 + 3 * len(r.sequence) + r.sequence.count("N") for r in records)
    with tqdm(total=total, desc="mutagenesis", unit="variant", disable=not progress or None,
              file=sys.stderr) as bar:
        for start in range(0, len(records), per_call):
            chunk = records[start : start + per_call]
            texts = [variants(r.sequence) for r in chunk]
            found = scorer.log_odds([t for group in texts for t in group])
            offset = 0
            for i, (record, group) in enumerate(zip(chunk, texts, strict=True), start=start):
                odds = found[offset : offset + len(group)]
                offset += len(group)
                values[:, i, : len(record.sequence)] = _by_base(record.sequence, odds)
            bar.update(len(found))
    table = _long_form(records, values)
    run = str(scorer.run.path)
    scores = [BaseScores([r.id for r in records], [r.sequence for r in records], values[j],
                         "mutagenesis", j, run) for j in range(labels)]
    return table, scores


def _by_base(sequence: str, odds: np.ndarray) -> np.ndarray:
    """(labels, length, 4): each variant's log-odds minus the sequence's own."""
    out = np.zeros((odds.shape[1], len(sequence), 4), dtype=np.float32)
    row = 1
    for p, ref in enumerate(sequence):
        for b, alt in enumerate(ALPHABET):
            if alt != ref:
                out[:, p, b] = odds[row] - odds[0]
                row += 1
    return out


def _long_form(records: list[Record], values: np.ndarray) -> pd.DataFrame:
    labels, _, _, _ = values.shape
    parts = []
    for i, record in enumerate(records):
        seq = np.frombuffer(record.sequence.encode(), dtype="S1").astype(str)
        positions, bases = np.meshgrid(np.arange(len(seq)), np.arange(4), indexing="ij")
        alt = np.asarray(list(ALPHABET))[bases]
        keep = alt != seq[:, None]
        for label in range(labels):
            parts.append(pd.DataFrame({
                "id": record.id, "position": positions[keep], "ref": np.repeat(seq, 4)[
                    keep.ravel()], "alt": alt[keep], "label": label,
                "delta": values[label, i, : len(seq)][keep]}))
    return pd.concat(parts, ignore_index=True)
