"""The ``lingo-predict`` command line (``python -m lingo.predict``): see :mod:`lingo.predict`."""

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from lingo.config import Precision
from lingo.errors import LingoError
from lingo.predict.table import predict

log = logging.getLogger(__package__)  # every lingo.predict module logs under it


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
    parser.add_argument("--stride", type=int, default=None,
                        help="window stride in bp (default: half the task's sequence_length)")
    parser.add_argument("--aggregate", choices=("mean", "max"), default="mean",
                        help="how window probabilities combine per label (default: mean)")
    add_model_options(parser, batch_size=32)
    return parser.parse_args(argv)


def add_model_options(parser: argparse.ArgumentParser, batch_size: int) -> None:
    """How the runs' models compute: the options lingo-predict and lingo-explain share."""
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--precision", choices=[p for p in Precision if p != Precision.fp16],
                        default="auto",
                        help="auto: bf16 where the GPU or CPU computes it natively, else fp32")
    parser.add_argument("--merge", action="store_true",
                        help="merge LoRA/AdaLoRA weights into the base (single-run groups)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_cli(logger: logging.Logger, work: Callable[[], object], output: Path) -> int:
    """``work`` with INFO logs on stderr; what the user can fix (a LingoError, an output that
    cannot be written) ends it with one line and exit code 2."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logger.setLevel(logging.INFO)
    try:
        work()
    except LingoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a folder that cannot be written, a full disk
        print(f"error: {err.filename or output}: {err.strerror or err}; write to a folder "
              "that is writable and has space", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_cli(log, lambda: predict(
        args.run, args.input, args.output, args.batch_size, args.stride, args.aggregate,
        args.precision, args.merge, progress=not args.no_progress), args.output)
