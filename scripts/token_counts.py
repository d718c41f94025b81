#!/usr/bin/env python3
"""Print a Markdown table of DNA tokens per sequence (mean and max) for each tokenizer on each
task family, over the real GUE test splits.

The counts are the DNA tokens alone (``encode_with_counts(...).dna_tokens``: no special tokens,
no prompt, before any truncation).

Usage::

    LINGO_DATA_DIR=../shared/data LINGO_TOKENIZER_DIR=../shared/tokenizers \\
        python scripts/token_counts.py
"""

import csv
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable without `pip install -e .`
    sys.path.insert(0, str(REPO))

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig  # noqa: E402
from lingo.tokenization import build_tokenizer  # noqa: E402

# (family label, GUE task folder): each family's test split
TASKS = [
    ("promoter (prom_300_tata)", "prom/prom_300_tata"),
    ("yeast histone (EMP/H3)", "EMP/H3"),
]

# (row label, tokenizer folder, model arch, natural language?, tokenizer settings)
TOKENIZERS = [
    ("OPT native (GPT-2 BPE)", "opt", "opt", True, dict(name="native")),
    ("OPT bbpe", "opt", "opt", True, dict(name="bbpe")),
    ("OPT onehot", "opt", "opt", True, dict(name="onehot")),
    ("OPT kmer k=6 stride 6", "opt", "opt", True, dict(name="kmer", k=6, stride=6)),
    ("OPT kmer k=6 stride 1", "opt", "opt", True, dict(name="kmer", k=6, stride=1)),
    ("OPT char", "opt", "opt", True, dict(name="char")),
    ("DNABERT-2 native (BPE 4,096)", "dnabert2", "dnabert2", False, dict(name="native")),
    ("NT-500M native (6-mers)", "nt500m_1000g", "esm", False, dict(name="native")),
]

MAX_LENGTH = 100_000  # far above any sequence here: nothing is truncated


def folder_from_env(variable: str, needs: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        sys.exit(f"error: set {variable} to the folder holding {needs}")
    path = Path(value)
    if not path.is_dir():
        sys.exit(f"error: {variable}={value} is not a folder (it should hold {needs})")
    return path


def read_sequences(path: Path) -> list[str]:
    if not path.is_file():
        sys.exit(f"error: {path} not found; check LINGO_DATA_DIR")
    with open(path, newline="") as handle:
        return [row["sequence"] for row in csv.DictReader(handle)]


def stats(counts: list[int]) -> str:
    return f"{sum(counts) / len(counts):.1f} | {max(counts)}"


def main() -> None:
    data_dir = folder_from_env("LINGO_DATA_DIR", "GUE/")
    tokenizer_dir = folder_from_env("LINGO_TOKENIZER_DIR", "opt/, dnabert2/ and nt500m_1000g/")
    sequences = {
        task: read_sequences(data_dir / "GUE" / task / "test.csv") for _, task in TASKS
    }

    header = ["tokenizer"]
    for family, _ in TASKS:
        header += [f"{family}: mean", "max"]
    rows = [header, ["---"] + ["---:"] * (len(header) - 1)]
    rows.append(["bases (bp)"] + [stats([len(s) for s in sequences[t]]) for _, t in TASKS])
    for label, folder, arch, natural, settings in TOKENIZERS:
        path = tokenizer_dir / folder
        if not path.is_dir():
            sys.exit(f"error: {path} not found; check LINGO_TOKENIZER_DIR")
        model = ModelConfig(name=folder, arch=arch, tokenizer=str(path),
                            natural_language=natural)
        tok = build_tokenizer(TokenizerConfig(max_length=MAX_LENGTH, **settings), model,
                              PromptConfig())
        cells = [stats(tok.encode_with_counts(sequences[t]).dna_tokens) for _, t in TASKS]
        rows.append([label, *cells])

    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print("DNA tokens per sequence on the GUE test splits "
          + ", ".join(f"{task} ({len(sequences[task])} sequences)" for _, task in TASKS)
          + "; special tokens and the prompt not counted, nothing truncated.")


if __name__ == "__main__":
    main()
