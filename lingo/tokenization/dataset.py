"""Tokenized splits as Arrow datasets, cached on disk by content: a second run does not
re-tokenize."""

import logging
import shutil
import tempfile
from pathlib import Path

from datasets import Dataset, load_from_disk

from lingo.data.splits import Split
from lingo.tokenization.base import DNATokenizer

log = logging.getLogger(__name__)


def tokenize_split(split: Split, tokenizer: DNATokenizer, cache_dir: Path | None) -> Dataset:
    """Columns ``input_ids`` and ``labels``; cached under ``cache_dir`` keyed by the rows' content
    and the tokenizer's identity (vocabulary, settings, prompt)."""
    key = f"{split.fingerprint()}-{tokenizer.fingerprint()}"
    target = cache_dir / "tokenized" / key if cache_dir else None
    if target is not None and (target / "dataset_info.json").is_file():
        log.info("%s split: tokenized cache hit (%s)", split.name, target)
        return load_from_disk(str(target))
    ids, truncated = tokenizer.encode(split.sequences)
    if truncated:
        log.warning(
            "%s split: truncation removed DNA from %d of %d sequences (%.1f%%); raise "
            "tokenizer.max_length (now %d) to keep it",
            split.name, truncated, len(split), 100 * truncated / len(split), tokenizer.max_length,
        )
    dataset = Dataset.from_dict({"input_ids": ids, "labels": split.labels.tolist()})
    if target is None:
        return dataset
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    dataset.save_to_disk(str(staging))
    try:
        staging.rename(target)
    except OSError:  # another run wrote the same entry first
        shutil.rmtree(staging, ignore_errors=True)
    return load_from_disk(str(target))
