"""lingo-explain variants: windows centred on each SNV, deltas, every skipped kind, the outputs
(TSV and annotated VCF) and the one-line errors; a fake scorer, so no model is trained."""

import csv
import logging
import os
import random
import re
from pathlib import Path

import numpy as np
import pysam
import pytest

from lingo.errors import LingoError
from lingo.explain import variants
from lingo.explain.variants import variant_effects

WINDOW = 21


class FakeRun:
    num_labels = 2
    path = Path("runs/fake")
    column = "fake"


class FakeScorer:
    """Label 0: count of A minus count of T; label 1: its negative. Records every call."""

    def __init__(self, length: int | None = WINDOW):
        self.length = length
        self.run = FakeRun()
        self.calls: list[list[str]] = []

    def log_odds(self, texts: list[str], progress=None) -> np.ndarray:
        self.calls.append(list(texts))
        score = np.array([t.count("A") - t.count("T") for t in texts], dtype=np.float64)
        return np.stack([score, -score], axis=1)


def genome() -> dict[str, str]:
    rng = random.Random(7)
    c1 = "".join(rng.choice("ACGT") for _ in range(300))
    c1 = c1[:85] + c1[85:95].lower() + c1[95:]  # soft-masked bases inside a scored window
    return {"c1": c1, "c2": "".join(rng.choice("ACGT") for _ in range(50))}


def other(base: str) -> str:
    return "A" if base.upper() != "A" else "T"


def expected_delta(ref: str, alt: str) -> float:
    """Only the centre base changes: its A/T count is the whole change of label 0."""
    return float((alt == "A") - (alt == "T") - (ref == "A") + (ref == "T"))


@pytest.fixture
def inputs(tmp_path):
    seqs = genome()
    fasta = tmp_path / "ref.fa"
    fasta.write_text("".join(f">{name} desc\n" + "".join(seq[i:i + 60] + "\n"
                                                         for i in range(0, len(seq), 60))
                             for name, seq in seqs.items()))
    c1, c2 = seqs["c1"].upper(), seqs["c2"]
    rows = [  # (chrom, pos, id, ref, alt): the expected outcome in the id
        ("c1", 100, "good1", c1[99], other(c1[99])),
        ("c1", 200, "good2", c1[199], other(c1[199])),
        ("c1", 150, "mismatch", other(c1[149]) if c1[149] != "A" else "C", "G"),
        ("chrZ", 10, "nocontig", "A", "C"),
        ("c1", 5, "paststart", c1[4], other(c1[4])),
        ("c2", 45, "pastend", c2[44], other(c2[44])),
        ("c1", 120, "indel", c1[119:121], c1[119]),
        ("c1", 130, "multi", c1[129], "A,C" if c1[129] not in "AC" else "G,T"),
        ("c1", 140, "noalt", c1[139], "."),
        ("c1", 160, "altN", c1[159], "N"),
        ("c1", 170, "symbolic", c1[169], "<DEL>"),
        ("c1", 175, "star", c1[174], "*"),
    ]
    vcf = tmp_path / "in.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=c1,length=300>\n##contig=<ID=c2,length=50>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\t.\t.\n" for c, p, i, r, a in rows))
    return vcf, fasta, seqs, rows


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_window_centred_and_deltas(inputs, tmp_path):
    vcf, fasta, seqs, rows = inputs
    scorer = FakeScorer()
    counts = variant_effects(scorer, vcf, fasta, tmp_path / "out", progress=False)
    assert counts == {"records": len(rows), "scored": 2, "skipped": len(rows) - 2}
    c1 = seqs["c1"].upper()
    ref_text = c1[89:110]  # pos 100 (0-based 99) at index 10 of the 21 bp window
    alt_text = c1[89:99] + other(c1[99]) + c1[100:110]
    assert len(scorer.calls) == 1
    assert scorer.calls[0][:2] == [ref_text, alt_text]
    table = {row["id"]: row for row in read_tsv(tmp_path / "out" / "variants.tsv")}
    for name, pos in [("good1", 100), ("good2", 200)]:
        row = table[name]
        want = expected_delta(c1[pos - 1], other(c1[pos - 1]))
        assert (row["status"], row["reason"]) == ("scored", "")
        assert float(row["delta_0"]) == want and float(row["delta_1"]) == -want
        assert float(row["alt_log_odds_0"]) - float(row["ref_log_odds_0"]) == want
        assert row["pos"] == str(pos) and row["chrom"] == "c1"


def test_window_option_overrides_and_even_window(inputs, tmp_path):
    vcf, fasta, seqs, _ = inputs
    scorer = FakeScorer(length=None)
    variant_effects(scorer, vcf, fasta, tmp_path / "out", window=20, progress=False)
    c1 = seqs["c1"].upper()
    assert scorer.calls[0][0] == c1[89:109]  # even: 10 bases before the variant, 9 after
    assert scorer.calls[0][1][10] == other(c1[99])


def test_chunks_give_the_same_scores(inputs, tmp_path, monkeypatch):
    vcf, fasta, _, _ = inputs
    whole = FakeScorer()
    variant_effects(whole, vcf, fasta, tmp_path / "a", progress=False)
    monkeypatch.setattr(variants, "CHUNK", 2)
    chunked = FakeScorer()
    variant_effects(chunked, vcf, fasta, tmp_path / "b", progress=False)
    assert [len(c) for c in chunked.calls] == [2, 2]
    assert (tmp_path / "a" / "variants.tsv").read_text() == \
        (tmp_path / "b" / "variants.tsv").read_text()


def test_every_bad_record_skipped_with_reason(inputs, tmp_path, caplog):
    vcf, fasta, seqs, _ = inputs
    c1 = seqs["c1"].upper()
    with caplog.at_level(logging.INFO, logger="lingo.explain.variants"):
        variant_effects(FakeScorer(), vcf, fasta, tmp_path / "out", progress=False)
    table = {row["id"]: row for row in read_tsv(tmp_path / "out" / "variants.tsv")}
    reasons = {
        "mismatch": ["c1:150", f"FASTA has {c1[149]}"],
        "nocontig": ["chrZ", "c1, c2"],
        "paststart": ["21 bp window around c1:5", "6 bp before", "c1 is 300 bp"],
        "pastend": ["21 bp window around c2:45", "5 bp past", "c2 is 50 bp"],
        "indel": ["not an SNV"],
        "multi": ["2 ALT alleles", "bcftools norm -m-"],
        "noalt": ["no ALT allele"],
        "altN": ["A, C, G or T"],
        "symbolic": ["not an SNV"],
        "star": ["not an SNV"],
    }
    for name, parts in reasons.items():
        row = table[name]
        assert row["status"] == "skipped", name
        for part in parts:
            assert part in row["reason"], (name, row["reason"])
        assert row["delta_0"] == row["ref_log_odds_1"] == "", name
    assert {table[n]["status"] for n in ("good1", "good2")} == {"scored"}
    skip_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped")]
    assert len(skip_lines) == 7  # one per kind, not one per record
    assert any(line.startswith("skipped 3: not an SNV") for line in skip_lines)


def test_output_vcf_annotated(inputs, tmp_path):
    vcf, fasta, _, rows = inputs
    variant_effects(FakeScorer(), vcf, fasta, tmp_path / "out", progress=False)
    with pysam.VariantFile(str(tmp_path / "out" / "variants.vcf")) as reader:
        assert {"LINGO_STATUS", "LINGO_REASON", "LINGO_DELTA"} <= set(reader.header.info)
        records = list(reader)
    assert [r.id for r in records] == [row[2] for row in rows]
    table = {row["id"]: row for row in read_tsv(tmp_path / "out" / "variants.tsv")}
    for record in records:
        assert record.info["LINGO_STATUS"] == table[record.id]["status"]
        if record.info["LINGO_STATUS"] == "scored":
            delta = record.info["LINGO_DELTA"]
            assert len(delta) == 2 and "LINGO_REASON" not in record.info
            assert delta[0] == pytest.approx(float(table[record.id]["delta_0"]))
            assert delta[1] == pytest.approx(-delta[0])
        else:
            assert "LINGO_DELTA" not in record.info and record.info["LINGO_REASON"]
    # pysam reads a Number=1 String only up to a comma: check the raw INFO text
    lines = (tmp_path / "out" / "variants.vcf").read_text().splitlines()
    infos = [line.split("\t")[7] for line in lines if not line.startswith("#")]
    reasons = [f.split("=", 1)[1] for info in infos for f in info.split(";")
               if f.startswith("LINGO_REASON=")]
    assert len(reasons) == len(rows) - 2
    assert all(re.fullmatch(r"[^\s;,=]+", r) for r in reasons), reasons
    assert "contig_chrZ_is_not_in_the_FASTA_(it_has_c1_c2)" in reasons


def test_the_vcf_is_on_disk_before_it_takes_its_name(inputs, tmp_path, monkeypatch):
    """Written as every result is: a temporary file, flushed to disk, then renamed (a crash
    leaves the old file or the new one, never an empty one)."""
    events, fsync, replace = [], os.fsync, os.replace

    def synced(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def renamed(src, dst) -> None:
        events.append(("replace", str(src), str(dst)))
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", synced)
    monkeypatch.setattr(os, "replace", renamed)
    vcf, fasta, _, _ = inputs
    variant_effects(FakeScorer(), vcf, fasta, tmp_path / "out", progress=False)
    [(_, tmp, _)] = [e for e in events if e[0] == "replace" and e[2].endswith("variants.vcf")]
    assert events.index(("fsync", tmp)) < events.index(
        ("replace", tmp, str(tmp_path / "out" / "variants.vcf")))


@pytest.mark.parametrize(
    "which", ["vcf", "fasta", "fasta_not_fasta", "vcf_not_vcf", "window", "window_zero"])
def test_one_line_errors(inputs, tmp_path, which):
    vcf, fasta, _, _ = inputs
    scorer, window = FakeScorer(), None
    named = {"vcf": "nope.vcf", "fasta": "nope.fa", "fasta_not_fasta": "in.vcf",
             "vcf_not_vcf": "ref.fa", "window": "--window", "window_zero": "--window 0"}[which]
    if which == "vcf":
        vcf = tmp_path / "nope.vcf"
    elif which == "fasta":
        fasta = tmp_path / "nope.fa"
    elif which == "fasta_not_fasta":
        fasta = vcf
    elif which == "vcf_not_vcf":
        vcf = fasta
    elif which == "window":
        scorer = FakeScorer(length=None)
    else:
        window = 0
    with pytest.raises(LingoError) as err:
        variant_effects(scorer, vcf, fasta, tmp_path / "out", window=window, progress=False)
    message = str(err.value)
    assert named in message and "\n" not in message
    assert not (tmp_path / "out").exists()
