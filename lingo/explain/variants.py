"""Variant effects: each SNV's change in a run's log-odds, from the window of reference bases
around it to the same window with the ALT base, as a TSV and as the input VCF annotated. A record
that cannot be scored is kept with the reason, never a crash, so one bad line costs one row."""

import csv
import io
import logging
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from lingo.errors import LingoError
from lingo.results import write_atomic, write_bytes_atomic

log = logging.getLogger(__name__)

CHUNK = 512  # texts per scorer call: a REF and an ALT window per record
BASES = frozenset("ACGT")


def window_start(pos0: int, window: int) -> int:
    """The window's first base (0-based): the variant sits at index ``window // 2`` of it, so an
    even window has one base more before the variant than after it."""
    return pos0 - window // 2


def variant_effects(scorer: Any, vcf: Path, fasta: Path, out_dir: Path, window: int | None = None,
                    progress: bool = True) -> dict[str, int]:
    """Score every SNV of ``vcf`` against ``fasta`` and write ``variants.tsv`` and
    ``variants.vcf`` in ``out_dir``; returns the counts of records, scored and skipped."""
    import pysam
    from tqdm.auto import tqdm

    length = window if window is not None else scorer.length
    if length is None:
        raise LingoError(f"{scorer.run.path} records no sequence length: give --window BP, the "
                         "bases around each variant to score")
    if length < 1:
        raise LingoError(f"--window {length}: use 1 or more (bp)")
    if scorer.length and length > scorer.length:
        if scorer.run.baseline == "cnn":
            raise LingoError(f"--window {length}: the CNN of {scorer.run.path} reads "
                             f"{scorer.length} bp and would cut the rest; use --window "
                             f"{scorer.length} or less")
        log.warning("--window %d is longer than the %d bp %s was trained on", length,
                    scorer.length, scorer.run.path)
    reference = _open_fasta(pysam, Path(fasta))
    reader, records = _read_vcf(pysam, Path(vcf))
    contigs = dict(zip(reference.references, reference.lengths, strict=True))
    checked = [_check(r, reference, contigs, length) for r in records]
    todo = [i for i, (status, _, _) in enumerate(checked) if status == "scored"]

    labels = scorer.run.num_labels
    ref_odds = np.full((len(records), labels), np.nan)
    alt_odds = np.full((len(records), labels), np.nan)
    with tqdm(total=2 * len(todo), desc="variants", unit="seq", disable=not progress or None,
              file=sys.stderr) as bar:
        for begin in range(0, len(todo), CHUNK // 2):
            rows = todo[begin:begin + CHUNK // 2]
            texts = [text for i in rows for text in _windows(reference, records[i], length)]
            odds = np.asarray(scorer.log_odds(texts), dtype=np.float64)
            ref_odds[rows], alt_odds[rows] = odds[0::2], odds[1::2]
            bar.update(len(texts))
    delta = alt_odds - ref_odds

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_tsv(out_dir / "variants.tsv", records, checked, ref_odds, alt_odds, delta)
    _write_vcf(pysam, out_dir / "variants.vcf", reader, records, checked, delta)

    counts = {"records": len(records), "scored": len(todo), "skipped": len(records) - len(todo)}
    log.info("%d records: %d scored, %d skipped (window %d bp); wrote %s", counts["records"],
             counts["scored"], counts["skipped"], length, out_dir)
    kinds = Counter(kind for status, kind, _ in checked if status == "skipped")
    for kind, n in kinds.most_common():
        first = next(reason for _, k, reason in checked if k == kind)
        log.info("skipped %d: %s (first: %s)", n, kind, first)
    return counts


def _windows(reference: Any, record: Any, length: int) -> tuple[str, str]:
    """The REF window around an SNV and the same window with its ALT base at the centre."""
    start = window_start(record.start, length)
    ref = reference.fetch(record.chrom, start, start + length).upper()
    centre = length // 2
    return ref, ref[:centre] + record.alts[0].upper() + ref[centre + 1:]


def _open_fasta(pysam: Any, path: Path) -> Any:
    if not path.is_file():
        raise LingoError(f"{path}: no such FASTA file; give --fasta the reference genome the "
                         "VCF was called against")
    try:
        return pysam.FastaFile(str(path))
    except (OSError, ValueError) as err:
        raise LingoError(
            f"{path}: cannot read or index it as FASTA ({err}); give a FASTA, plain or bgzipped, "
            "whose lines within a record are one length, in a folder you can write (for its "
            ".fai), or index it first with `samtools faidx`"
        ) from None


def _read_vcf(pysam: Any, path: Path) -> tuple[Any, list[Any]]:
    """The reader and all its records: read before the header is copied for the output, since
    htslib adds a contig the header lacks to it while reading."""
    if not path.is_file():
        raise LingoError(f"{path}: no such VCF file; give --vcf an existing VCF or BCF")
    verbosity = pysam.set_verbosity(0)  # the errors below say it once, in one line
    try:
        reader = pysam.VariantFile(str(path))
        return reader, list(reader)
    except (OSError, ValueError) as err:
        raise LingoError(f"{path}: cannot read it as VCF ({err}); give a VCF (plain or "
                         "bgzipped) or BCF file") from None
    finally:
        pysam.set_verbosity(verbosity)


def _check(record: Any, reference: Any, contigs: dict[str, int],
           length: int) -> tuple[str, str, str]:
    """(status, kind of reason, reason): ``scored`` with no reason, or ``skipped`` and why."""
    ref, alts, where = (record.ref or "").upper(), record.alts, f"{record.chrom}:{record.pos}"
    if not alts:
        return "skipped", "no ALT allele", f"{where} has no ALT allele"
    if len(alts) > 1:
        return ("skipped", "multi-allelic", f"{where} has {len(alts)} ALT alleles: split them "
                "with `bcftools norm -m-`")
    alt = alts[0].upper()
    if len(ref) != 1 or len(alt) != 1 or alt == "*":
        return "skipped", "not an SNV", f"{where} {ref}>{alt} is not an SNV"
    if ref not in BASES or alt not in BASES:
        return "skipped", "not ACGT", f"{where} {ref}>{alt}: REF and ALT must be A, C, G or T"
    if record.chrom not in contigs:
        some = ", ".join(list(contigs)[:3]) + (", ..." if len(contigs) > 3 else "")
        return ("skipped", "contig not in the FASTA",
                f"contig {record.chrom} is not in the FASTA (it has {some})")
    start, size = window_start(record.start, length), contigs[record.chrom]
    if start < 0 or start + length > size:
        side = (f"starts {-start} bp before its contig's start" if start < 0 else
                f"ends {start + length - size} bp past its contig's end")
        return ("skipped", "window past the contig's start or end",
                f"the {length} bp window around {where} {side} ({record.chrom} is {size} bp)")
    base = reference.fetch(record.chrom, record.start, record.start + 1).upper()
    if base != ref:
        return ("skipped", "REF differs from the FASTA",
                f"{where} REF {ref} but the FASTA has {base}: another reference build?")
    return "scored", "", ""


def _number(value: float) -> str:
    return "" if np.isnan(value) else repr(float(value))


def _write_tsv(path: Path, records: list[Any], checked: list[tuple[str, str, str]],
               ref_odds: np.ndarray, alt_odds: np.ndarray, delta: np.ndarray) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    header = ["chrom", "pos", "id", "ref", "alt", "status", "reason"]
    for j in range(delta.shape[1]):
        header += [f"ref_log_odds_{j}", f"alt_log_odds_{j}", f"delta_{j}"]
    writer.writerow(header)
    for i, (record, (status, _, reason)) in enumerate(zip(records, checked, strict=True)):
        row = [record.chrom, record.pos, record.id or ".", record.ref or ".",
               ",".join(record.alts) if record.alts else ".", status, reason]
        for j in range(delta.shape[1]):
            row += [_number(ref_odds[i, j]), _number(alt_odds[i, j]), _number(delta[i, j])]
        writer.writerow(row)
    write_atomic(path, buffer.getvalue())


def _write_vcf(pysam: Any, path: Path, reader: Any, records: list[Any],
               checked: list[tuple[str, str, str]], delta: np.ndarray) -> None:
    """The records annotated on the reader's header, which the output copies when it opens:
    INFO/END is added first where a symbolic allele needs it, as pysam does on writing."""
    header = reader.header
    for key, number, kind, text in [
        ("LINGO_STATUS", 1, "String", "lingo-explain variants: scored or skipped"),
        ("LINGO_REASON", 1, "String", "Why lingo-explain variants skipped the record"),
        ("LINGO_DELTA", ".", "Float", "ALT minus REF log-odds, one per label"),
    ]:
        if key not in header.info:
            header.info.add(key, number, kind, text)
    if "END" not in header.info and any("<" in a for r in records for a in r.alts or ()):
        header.info.add("END", 1, "Integer", "Stop position of the interval")  # as pysam would
    for i, (record, (status, _, reason)) in enumerate(zip(records, checked, strict=True)):
        for key in ("LINGO_REASON", "LINGO_DELTA"):
            record.info.pop(key, None)
        record.info["LINGO_STATUS"] = status
        if status == "scored":
            record.info["LINGO_DELTA"] = tuple(float(v) for v in delta[i])
        else:
            record.info["LINGO_REASON"] = re.sub(r"[\s;,=]+", "_", reason)

    def write(handle: BinaryIO) -> None:  # pysam writes through the handle and leaves it open
        with pysam.VariantFile(handle, "w", header=header) as out:
            for record in records:
                out.write(record)

    write_bytes_atomic(path, write)
