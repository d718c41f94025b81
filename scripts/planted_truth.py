"""What lingo-explain finds in a synthetic run against the motif planted in it: the numbers and
figures of docs/explain.md.

    python scripts/planted_truth.py RUN_DIR OUT_DIR [--count 40] [--command mutagenesis ...]

Writes the run's first ``count`` positive test sequences as ``OUT_DIR/positives.csv``, runs
``lingo-explain`` on them (mutagenesis, attributions, then motifs over the first command's
scores; a demo run's TATAWAWR is matched as an IUPAC matrix besides JASPAR), and prints, per
command, the share of sequences whose strongest 8-bp window is centred in the planted motif.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd

from lingo.data.synthetic import JASPAR_ID
from lingo.explain.cli import main as explain
from lingo.explain.scores import BaseScores
from lingo.explain.truth import planted_hits, planted_records
from lingo.predict.runs import load_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=40, help="positive test sequences")
    parser.add_argument("--command", action="append", choices=("mutagenesis", "attributions"),
                        help="default: both")
    args = parser.parse_args(argv)
    records, sites, width = planted_records(args.run, args.count)
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "positives.csv"
    pd.DataFrame({"id": [r.id for r in records], "sequence": [r.sequence for r in records]}
                 ).to_csv(table, index=False)
    commands = args.command or ["mutagenesis", "attributions"]
    for command in commands:
        if explain([command, "--run", str(args.run), "--input", str(table), "--out",
                    str(args.out / command), "--max-sequences", str(len(records)),
                    "--figures", "3"]):
            return 2
        scores = BaseScores.load(args.out / command / f"{command}_label1.npz")
        hits = planted_hits(scores.importance(), sites, width)
        print(f"{command}: strongest 8-bp window centred in the planted motif in "
              f"{hits.sum()} of {len(hits)} positive test sequences ({hits.mean():.1%})")
    motif = load_run(args.run).cfg.task.synthetic["motif"]
    iupac = [] if JASPAR_ID.fullmatch(motif) else ["--iupac", motif]
    return explain(["motifs", "--scores", str(args.out / commands[0] /
                                               f"{commands[0]}_label1.npz"),
                    "--out", str(args.out / "motifs"), *iupac])


if __name__ == "__main__":
    sys.exit(main())
