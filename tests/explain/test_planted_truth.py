"""What the explanations find against a planted truth: the demo's TATAWAWR (tiny OPT, 6-mers)
and a CTCF matrix from JASPAR 2024 (the CNN). The numbers measured are in docs/explain.md."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from lingo.explain.cli import main
from lingo.explain.scores import BaseScores
from lingo.explain.truth import planted_hits, planted_records
from tests.conftest import run_train

pytestmark = pytest.mark.slow

CTCF = ("MA0139.", "MA1929.", "MA1930.")  # CTCF's matrices in JASPAR 2024


def _explain(run_dir, tmp_path, command: str, count: int, *extra: str):
    """``lingo-explain <command>`` on the run's first ``count`` planted test positives: the
    label-1 scores, the planted sites and the motif's width."""
    records, sites, width = planted_records(run_dir, count)
    table = tmp_path / "positives.csv"
    pd.DataFrame({"id": [r.id for r in records], "sequence": [r.sequence for r in records]}
                 ).to_csv(table, index=False)
    out = tmp_path / command
    assert main([command, "--run", str(run_dir), "--input", str(table), "--out", str(out),
                 "--max-sequences", str(len(records)), "--figures", "1", "--no-progress",
                 *extra]) == 0
    return BaseScores.load(out / f"{command}_label1.npz"), sites, width


def _motifs(scores_file, out, *extra: str) -> list[dict]:
    assert main(["motifs", "--scores", str(scores_file), "--out", str(out), *extra]) == 0
    assert (out / "motifs.md").is_file() and (out / "motif_0.png").is_file()
    return json.loads((out / "motifs.json").read_text())["motifs"]


def test_the_demo_model_points_at_its_planted_tata_box(demo_run, tmp_path):
    run_dir, done = demo_run
    assert done.returncode == 0, done.stderr[-2000:]
    mutagenesis, sites, width = _explain(run_dir, tmp_path, "mutagenesis", 40)
    hits = planted_hits(mutagenesis.importance(), sites, width)
    assert hits.mean() >= 0.9, hits.mean()  # measured: 0.925 (37 of 40)
    table = pd.read_parquet(tmp_path / "mutagenesis" / "mutagenesis.parquet")
    assert len(table) == 40 * 200 * 3 * 2  # sequences x positions x alternatives x labels
    assert list((tmp_path / "mutagenesis" / "figures").glob("*_label1.png"))
    attributions, _, _ = _explain(run_dir, tmp_path, "attributions", 40, "--steps", "32")
    hits = planted_hits(attributions.importance(), sites, width)
    assert hits.mean() >= 0.9, hits.mean()  # measured: 0.95 (38 of 40)
    found = _motifs(tmp_path / "mutagenesis" / "mutagenesis_label1.npz", tmp_path / "motifs",
                    "--iupac", "TATAWAWR")
    assert any(m["target_id"] == "IUPAC:TATAWAWR" and m["q_value"] < 0.05
               for motif in found for m in motif["matches"]), found


def test_the_cnn_finds_the_planted_ctcf_matrix(tmp_path):
    run_dir = tmp_path / "ctcf"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LINGO_CACHE_DIR": str(tmp_path / "cache")}
    done = run_train(["model=cnn", "method=none", "task=synthetic_ctcf", "logger=none",
                      "trainer.progress_bar=false", f"hydra.run.dir={run_dir}"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((run_dir / "metrics.json").read_text())["test/auc"] > 0.95  # 0.979
    attributions, sites, width = _explain(run_dir, tmp_path, "attributions", 250)
    hits = planted_hits(attributions.importance(), sites, width)
    assert hits.mean() >= 0.9, hits.mean()  # measured: 0.984
    top = _motifs(tmp_path / "attributions" / "attributions_label1.npz", tmp_path / "motifs")[0]
    assert any(m["target_id"].startswith(CTCF) and m["q_value"] < 0.05
               for m in top["matches"]), top["matches"]
    core = np.asarray(top["positions"]) - sites[np.asarray(top["examples"])]
    assert np.median(np.abs(core)) <= width  # its seqlets sit on the planted sites
    _variants_hit_the_site(run_dir, tmp_path, width)


def _variants_hit_the_site(run_dir, tmp_path, width: int) -> None:
    """``lingo-explain variants`` on a reference made of planted positives (100 random bp either
    side): SNVs inside a planted CTCF site move the log-odds more than SNVs 40 bp away."""
    records, sites, _ = planted_records(run_dir, 10)
    rng = np.random.default_rng(0)
    flank = lambda: "".join(rng.choice(list("ACGT"), 100))  # noqa: E731
    contigs = {f"s{i}": flank() + r.sequence + flank() for i, r in enumerate(records)}
    (tmp_path / "ref.fa").write_text("".join(f">{k}\n{v}\n" for k, v in contigs.items()))
    rows, inside = [], []
    for (name, seq), site in zip(contigs.items(), sites, strict=True):
        for pos0, is_inside in ((100 + site + width // 2, True), (100 + site - 40, False)):
            ref = seq[pos0]
            alt = "A" if ref != "A" else "C"
            rows.append(f"{name}\t{pos0 + 1}\t.\t{ref}\t{alt}\t.\t.\t.")
            inside.append(is_inside)
    header = "".join(f"##contig=<ID={k},length={len(v)}>\n" for k, v in contigs.items())
    (tmp_path / "snv.vcf").write_text("##fileformat=VCFv4.2\n" + header + "#CHROM\tPOS\tID\t"
                                      "REF\tALT\tQUAL\tFILTER\tINFO\n" + "\n".join(rows) + "\n")
    assert main(["variants", "--run", str(run_dir), "--vcf", str(tmp_path / "snv.vcf"),
                 "--fasta", str(tmp_path / "ref.fa"), "--out", str(tmp_path / "variants"),
                 "--no-progress"]) == 0
    table = pd.read_csv(tmp_path / "variants" / "variants.tsv", sep="\t")
    assert (table.status == "scored").all(), table.reason.dropna().tolist()
    effect = table.delta_1.abs().to_numpy()
    inside = np.asarray(inside)
    assert np.median(effect[inside]) > 5 * np.median(effect[~inside]), (effect, inside)
