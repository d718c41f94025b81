"""Tokenized splits as Arrow datasets, cached on disk by content: a second run does not
re-tokenize."""

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, load_from_disk

from lingo.data.task_data import Split
from lingo.tokenization.base import DNATokenizer

log = logging.getLogger(__name__)


def tokenize_split(split: Split, tokenizer: DNATokenizer, cache_dir: Path | None) -> Dataset:
    """Columns ``input_ids``, ``labels``, ``dna_tokens`` (DNA tokens the sequence needs) and
    ``truncated``; cached under ``cache_dir`` keyed by the rows' content and the tokenizer's
    identity (vocabulary, settings, prompt)."""
    key = f"{split.fingerprint()}-{tokenizer.fingerprint()}"
    target = cache_dir / "tokenized" / key if cache_dir else None
    if target is not None and (target / "dataset_info.json").is_file():
        log.info("%s split: tokenized cache hit (%s)", split.name, target)
        return load_from_disk(str(target))
    encoded = tokenizer.encode_with_counts(split.sequences)
    dataset = Dataset.from_dict({
        "input_ids": encoded.ids,
        "labels": split.labels.tolist(),
        "dna_tokens": encoded.dna_tokens,
        "truncated": encoded.truncated,
    })
    if target is None:
        return dataset
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        dataset.save_to_disk(str(staging))
    except OSError as err:  # a full disk: no partial entry left, and the folder named
        shutil.rmtree(staging, ignore_errors=True)
        raise OSError(err.errno, err.strerror, err.filename or str(target.parent)) from err
    try:
        staging.rename(target)
    except OSError:  # another run wrote the same entry first
        shutil.rmtree(staging, ignore_errors=True)
    return load_from_disk(str(target))


def token_lengths(dataset: Dataset) -> np.ndarray:
    """Each row's number of tokens, read from the Arrow column (no Python list per row)."""
    return pc.list_value_length(_column(dataset, "input_ids")).to_numpy(zero_copy_only=False)


def _column(dataset: Dataset, name: str) -> pa.ChunkedArray:
    """One column as Arrow, through the dataset's row selection."""
    return dataset.with_format("arrow")[:][name]


def report_lengths(datasets: dict[str, Dataset], splits: dict, tokenizer: DNATokenizer) -> None:
    """How many tokens the task's sequences need, and one warning for the whole run when
    truncation removes DNA (or k-mer tails are dropped), with the share of sequences affected."""
    needed = np.concatenate([_column(ds, "dna_tokens").to_numpy() for ds in datasets.values()])
    cut = sum(pc.sum(_column(ds, "truncated")).as_py() or 0 for ds in datasets.values())
    log.info(
        "%s tokenizer: DNA needs %.1f tokens per sequence on average (max %d); max_length %d",
        tokenizer.name, needed.mean(), needed.max(), tokenizer.max_length,
    )
    if cut:
        log.warning(
            "truncation (%s) removes DNA from %d of %d sequences (%.1f%%); raise "
            "tokenizer.max_length (now %d) to keep it",
            tokenizer.truncate, cut, len(needed), 100 * cut / len(needed), tokenizer.max_length,
        )
    tails = sum(tokenizer.dropped_bases(seq) > 0 for s in splits.values() for seq in s.sequences)
    if tails:
        log.warning("%d of %d sequences end in a tail shorter than k, which is dropped",
                    tails, len(needed))
