"""lingo-explain's core: log-odds, saturation mutagenesis, integrated gradients, the scores
file and the planted-truth count (fast, on stand-in models)."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lingo.baselines.cnn import DnaCnn, one_hot
from lingo.errors import LingoError
from lingo.explain.attributions import attributions
from lingo.explain.mutagenesis import mutagenesis, variants
from lingo.explain.scorer import Scorer, log_odds
from lingo.explain.scores import BaseScores
from lingo.explain.truth import planted_hits, strongest_window
from lingo.predict.inputs import Record


class CountingScorer:
    """Log-odds of label 1: the number of A in the first half minus the T in the second; label
    0 its negative. A known answer for every variant."""

    def __init__(self, length: int | None = None) -> None:
        self.run = SimpleNamespace(num_labels=2, path=Path("counting"), column="counting")
        self.length = length
        self.calls: list[list[str]] = []

    def log_odds(self, texts: list[str], progress=None) -> np.ndarray:
        self.calls.append(texts)
        half = [t.count("A", 0, len(t) // 2) - t.count("T", len(t) // 2) for t in texts]
        return np.column_stack([-np.asarray(half, float), np.asarray(half, float)])

    check_records = Scorer.check_records


def test_log_odds_of_a_softmax_and_of_sigmoids():
    logits = np.array([[0.0, 2.0, 1.0], [1.0, -1.0, 0.5]])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(log_odds(logits, multi_label=False), np.log(p / (1 - p)))
    assert np.array_equal(log_odds(logits, multi_label=True), logits)  # a sigmoid's logit


def test_variants_are_every_substitution_once():
    found = variants("ACN")
    assert found[0] == "ACN"
    assert found[1:] == ["CCN", "GCN", "TCN", "AAN", "AGN", "ATN", "ACA", "ACC", "ACG", "ACT"]


def test_mutagenesis_deltas_table_and_scores():
    records = [Record("a", "ACGTACGT"), Record("b", "TTAA")]
    scorer = CountingScorer()
    table, scores = mutagenesis(scorer, records, progress=False)
    assert len(table) == 2 * 3 * (8 + 4)  # labels x alternatives x positions
    assert len(scorer.calls) == 1  # both sequences' variants in one call
    one = table[(table.id == "a") & (table.label == 1)].set_index(["position", "alt"]).delta
    assert one[(1, "A")] == 1  # an A put in the first half
    assert one[(0, "C")] == -1  # the A at 0 lost
    assert one[(6, "T")] == -1 and one[(7, "A")] == 1  # a T into the second half; one lost
    assert one[(3, "A")] == 1
    assert one[(5, "G")] == 0
    assert table[table.label == 0].delta.sum() == -table[table.label == 1].delta.sum()
    label1 = scores[1]
    assert label1.kind == "mutagenesis" and label1.values.shape == (2, 8, 4)
    assert label1.values[0, 1, 0] == 1 and label1.values[0, 1, 1] == 0  # 0 at the reference
    assert np.isnan(label1.values[1, 4:]).all()  # past the shorter sequence's end


def test_mutagenesis_guards_name_the_fix():
    with pytest.raises(LingoError, match="--max-sequences 1"):
        mutagenesis(CountingScorer(), [Record("a", "ACGT"), Record("b", "ACGT")], 1)
    with pytest.raises(LingoError, match="record 'long' has 9 bp, more than the 8 bp"):
        mutagenesis(CountingScorer(length=8), [Record("long", "A" * 9)], progress=False)


def test_scores_round_trip_and_a_bad_file(tmp_path):
    scores = BaseScores(["x", "y"], ["ACG", "AC"], np.arange(24, dtype=np.float32).reshape(
        2, 3, 4), "attributions", 1, "run")
    scores.values[1, 2] = np.nan
    scores.save(tmp_path / "s.npz")
    back = BaseScores.load(tmp_path / "s.npz")
    assert (back.ids, back.sequences, back.kind, back.label) == (["x", "y"], ["ACG", "AC"],
                                                                  "attributions", 1)
    assert np.array_equal(back.values, scores.values, equal_nan=True)
    assert back.importance()[0].tolist() == [0, 5, 10]  # the value at A, C, G
    (tmp_path / "bad.npz").write_text("not numpy")
    with pytest.raises(LingoError, match="not a scores file of lingo-explain"):
        BaseScores.load(tmp_path / "bad.npz")


def test_the_strongest_window_is_counted_against_the_planted_site():
    importance = np.zeros((3, 40))
    importance[0, 10:18] = 1  # on the site at 10
    importance[1, 30:38] = 1  # elsewhere
    importance[2, 12:20] = -2  # overlapping the site's end, centre inside
    assert strongest_window(importance).tolist() == [10, 30, 12]
    assert planted_hits(importance, np.array([10, 10, 10]), 8).tolist() == [True, False, True]


def test_integrated_gradients_of_a_cnn_add_up_to_the_change_in_log_odds():
    torch.manual_seed(0)
    net = DnaCnn(2, False, [8], 5, 2, 0.0, 8).eval()
    net.input_length = 30
    run = SimpleNamespace(baseline="cnn", num_labels=2, multi_label=False, path=Path("cnn"))
    scorer = Scorer(run, net, None, torch.device("cpu"), None, 8)
    records = [Record("a", "ACGTTTACGATACGATTTAGCATACGATCA"), Record("b", "ACGATTAC")]
    found = attributions(scorer, records, label=1, steps=200, progress=False)
    assert found.values.shape == (2, 30, 4) and np.isnan(found.values[1, 8:]).all()
    with torch.no_grad():
        logits = net(torch.cat([one_hot([r.sequence], 30) for r in records] +
                               [torch.zeros(1, 4, 30)])).numpy()
    odds = log_odds(logits, multi_label=False)[:, 1]
    completeness = np.nansum(found.importance(), axis=1)  # the values at the bases present
    assert np.allclose(completeness, odds[:2] - odds[2], atol=2e-2)
    assert ((found.values[0] != 0).sum(axis=1) == 4).mean() > 0.5  # hypothetical: all 4 bases


def test_a_kmer_lr_run_has_no_attributions():
    run = SimpleNamespace(baseline="kmer_lr", num_labels=2, path=Path("lr"))
    with pytest.raises(LingoError, match="use `lingo-explain mutagenesis`"):
        attributions(Scorer(run, None, None, torch.device("cpu"), None, 8),
                     [Record("a", "ACGT")], 1)


def test_token_spans_cover_the_bases_each_token_reads():
    from lingo.tokenization.kmer import KmerTokenizer

    overlapping = KmerTokenizer(k=3, stride=1, max_length=64)
    assert overlapping.base_spans("ACGTA") == [(0, 3), (1, 4), (2, 5)]
    apart = KmerTokenizer(k=3, stride=3, max_length=64)
    assert apart.base_spans("ACGTACGT") == [(0, 3), (3, 6)]  # the 2-bp tail is dropped

    class Lossy(KmerTokenizer):  # a tokenizer whose tokens spell fewer bases than it covers
        def base_spans(self, sequence):
            return super(KmerTokenizer, self).base_spans(sequence)

        def decode(self, ids):
            return "A"

    with pytest.raises(LingoError, match="cannot be mapped to bases"):
        Lossy(k=3, stride=3, max_length=64).base_spans("ACGTAC")


def test_the_cli_refuses_bad_input_in_one_line(tmp_path, capsys):
    from lingo.explain.cli import main

    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated")
    assert main(["motifs", "--scores", str(tmp_path / "bad.npz"), "--out", str(tmp_path)]) == 2
    assert "not a scores file of lingo-explain" in capsys.readouterr().err
    scores = BaseScores(["x"], ["ACGT"], np.zeros((1, 4, 4), np.float32), "mutagenesis", 1, "r")
    scores.save(tmp_path / "ok.npz")
    assert main(["motifs", "--scores", str(tmp_path / "ok.npz"), "--out", str(tmp_path),
                 "--release", "JASPAR1999"]) == 2
    assert "JASPAR release 'JASPAR1999' is not shipped with pyjaspar" in capsys.readouterr().err
    assert main(["motifs", "--scores", str(tmp_path / "ok.npz"), "--out", str(tmp_path),
                 "--iupac", "TAXA"]) == 2
    assert "'X' is not an IUPAC base" in capsys.readouterr().err
    missing = tmp_path / "none"
    assert main(["attributions", "--run", str(missing), "--input", str(tmp_path / "ok.npz"),
                 "--out", str(tmp_path), "--steps", "0"]) == 2
    assert "--steps 0: use 1 or more" in capsys.readouterr().err
