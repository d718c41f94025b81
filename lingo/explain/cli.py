"""The ``lingo-explain`` command line (``python -m lingo.explain``): see :mod:`lingo.explain`."""

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

from lingo.errors import LingoError
from lingo.explain.scorer import Scorer, scorers
from lingo.explain.scores import BaseScores
from lingo.predict.cli import add_model_options, run_cli
from lingo.predict.inputs import read_sequences
from lingo.results import write_atomic, write_bytes_atomic

log = logging.getLogger(__package__)  # every lingo.explain module logs under it


def _runs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", action="append", required=True, type=Path, metavar="DIR",
                        help="a completed run directory, any kind (repeat for several runs)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="output folder (a sub-folder per run when several are given)")
    add_model_options(parser, batch_size=128)


def _sequences(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, type=Path, metavar="FILE",
                        help="FASTA (plain or .gz) or CSV/TSV with a `sequence` column")
    parser.add_argument("--max-sequences", type=int, default=100,
                        help="refuse more input sequences than this (default 100)")
    parser.add_argument("--label", type=int, default=None,
                        help="the label explained (mutagenesis scores every label; this one is "
                             "drawn); default: the last, a binary task's positive")
    parser.add_argument("--figures", type=int, default=10, metavar="N",
                        help="a heat map and logo for the first N sequences (default 10)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="lingo-explain",
        description="What a trained run learned: saturation mutagenesis, variant effects, "
                    "integrated-gradients attributions, and motifs matched to JASPAR.")
    sub = parser.add_subparsers(dest="command", required=True)
    mut = sub.add_parser("mutagenesis", help="every base x the 3 others: change in log-odds")
    _runs(mut)
    _sequences(mut)
    mut.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                     help="the long-form table's format (default parquet)")
    att = sub.add_parser("attributions", help="integrated gradients per base (Captum)")
    _runs(att)
    _sequences(att)
    att.add_argument("--steps", type=int, default=50, help="integration steps (default 50)")
    var = sub.add_parser("variants", help="SNV effects from a VCF and a reference FASTA")
    _runs(var)
    var.add_argument("--vcf", required=True, type=Path)
    var.add_argument("--fasta", required=True, type=Path, help="the reference (indexed or not)")
    var.add_argument("--window", type=int, default=None,
                     help="bp scored around each SNV (default: the run's sequence_length)")
    mot = sub.add_parser("motifs", help="modisco-lite motifs, matched to JASPAR by TOMTOM")
    mot.add_argument("--scores", required=True, type=Path, metavar="FILE.npz",
                     help="what `mutagenesis` or `attributions` wrote")
    mot.add_argument("--out", required=True, type=Path, metavar="DIR")
    mot.add_argument("--release", default="JASPAR2024", help="JASPAR release (pyjaspar's)")
    mot.add_argument("--window", type=int, default=21,
                     help="modisco's seqlet window in bp (default 21)")
    mot.add_argument("--iupac", action="append", default=[], metavar="MOTIF",
                     help="also match this IUPAC consensus (e.g. TATAWAWR; repeatable)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_cli(log, lambda: COMMANDS[args.command](args), args.out)


def _each_run(args: argparse.Namespace, work: Callable[[Scorer, Path], None]) -> None:
    """``work`` for every run, in ``--out`` (one run) or ``--out/<run's column>``."""
    for scorer in scorers(args.run, args.precision, args.merge, args.batch_size):
        out = args.out if len(args.run) == 1 else args.out / scorer.run.column.replace(":", "_")
        out.mkdir(parents=True, exist_ok=True)
        work(scorer, out)


def _figures(scores: BaseScores, out: Path, count: int) -> None:
    from lingo.explain.plots import sequence_figure

    for i in range(min(count, len(scores.ids))):
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in scores.ids[i])
        sequence_figure(scores, i, out / "figures" / f"{i}_{name}_label{scores.label}.png")


def mutagenesis_command(args: argparse.Namespace) -> None:
    from lingo.explain.mutagenesis import mutagenesis

    records = read_sequences(args.input)

    def work(scorer: Scorer, out: Path) -> None:
        label = scorer.label(args.label)
        table, per_label = mutagenesis(scorer, records, args.max_sequences,
                                       not args.no_progress)
        path = out / f"mutagenesis.{args.format}"
        if args.format == "csv":
            write_atomic(path, table.to_csv(index=False))
        else:
            write_bytes_atomic(path, lambda handle: table.to_parquet(handle, index=False))
        for scores in per_label:
            scores.save(out / f"mutagenesis_label{scores.label}.npz")
        _figures(per_label[label], out, args.figures)
        log.info("%s: %d variants x %d labels -> %s", scorer.run.column,
                 len(table) // scorer.run.num_labels, scorer.run.num_labels, out)

    _each_run(args, work)


def attributions_command(args: argparse.Namespace) -> None:
    from lingo.explain.attributions import attributions

    if args.steps < 1:
        raise LingoError(f"--steps {args.steps}: use 1 or more (50 is Captum's default)")
    records = read_sequences(args.input)

    def work(scorer: Scorer, out: Path) -> None:
        label = scorer.label(args.label)
        scores = attributions(scorer, records, label, args.steps, args.max_sequences,
                              not args.no_progress)
        scores.save(out / f"attributions_label{label}.npz")
        _figures(scores, out, args.figures)
        log.info("%s: integrated gradients of label %d for %d sequences -> %s",
                 scorer.run.column, label, len(records), out)

    _each_run(args, work)


def variants_command(args: argparse.Namespace) -> None:
    from lingo.explain.variants import variant_effects

    _each_run(args, lambda scorer, out: variant_effects(
        scorer, args.vcf, args.fasta, out, args.window, not args.no_progress))


def motifs_command(args: argparse.Namespace) -> None:
    from lingo.data.jaspar import jaspar_matrices
    from lingo.data.synthetic import iupac_matrix
    from lingo.explain.motifs import discover, match_jaspar, write_report

    if args.window < 1:
        raise LingoError(f"--window {args.window}: use 1 or more (bp; 21 is the default)")
    extra = [(f"IUPAC:{m}", m, iupac_matrix(m)) for m in args.iupac]
    jaspar_matrices(args.release)  # an unknown release is refused before modisco runs
    scores = BaseScores.load(args.scores)
    found = discover(scores, window=args.window)
    match_jaspar(found, args.release, extra=extra)
    write_report(found, args.out, scores)
    log.info("%d motif(s) from %s -> %s", len(found), args.scores, args.out / "motifs.md")


COMMANDS = {"mutagenesis": mutagenesis_command, "attributions": attributions_command,
            "variants": variants_command, "motifs": motifs_command}
