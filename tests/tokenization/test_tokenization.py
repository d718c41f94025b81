"""Tokenizers (native HF + prompt, k-mer), the tokenizer factory and the tokenized-split cache."""

import random
from itertools import product
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from transformers import AutoTokenizer

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig
from lingo.data.task_data import Split
from lingo.errors import LingoError
from lingo.tokenization import build_tokenizer, tokenize_split
from lingo.tokenization.dataset import report_lengths
from lingo.tokenization.kmer import KmerTokenizer
from lingo.tokenization.native import NativeTokenizer

PREFIX = "Domain: DNA Promoter\nSequence: "
SUFFIX = "\nAnnotation:"
LINGO_PROMPT = PromptConfig(prefix=PREFIX, suffix=SUFFIX)


def random_dna(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(n))


def hf_tokenizer(folder: Path):
    return AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)


def native(folder: Path, prompt: PromptConfig | None = None, max_length: int = 512):
    model = ModelConfig(name=folder.name, tokenizer=str(folder))
    return build_tokenizer(TokenizerConfig(name="native", max_length=max_length), model,
                           prompt or PromptConfig())


# --------------------------------------------------------------------------- native: specials


def test_opt_starts_with_eos_and_has_no_tail(tokenizer_dir: Path) -> None:
    hf = hf_tokenizer(tokenizer_dir / "opt")
    tok = native(tokenizer_dir / "opt")
    dna = random_dna(30, seed=1)
    [ids], truncated = tok.encode([dna])
    assert truncated == 0
    assert ids[0] == 2 == hf.convert_tokens_to_ids("</s>")
    assert ids[1:] == hf(dna, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == "</s>" + dna


def test_dnabert2_wraps_in_cls_sep(tokenizer_dir: Path) -> None:
    hf = hf_tokenizer(tokenizer_dir / "dnabert2")
    tok = native(tokenizer_dir / "dnabert2")
    dna = random_dna(60, seed=2)
    [ids], _ = tok.encode([dna])
    assert hf.convert_ids_to_tokens([ids[0], ids[-1]]) == ["[CLS]", "[SEP]"]
    assert ids[1:-1] == hf(dna, add_special_tokens=False)["input_ids"]
    assert "".join(hf.convert_ids_to_tokens(ids[1:-1])) == dna


def test_nt_starts_with_cls_and_has_no_tail(tokenizer_dir: Path) -> None:
    hf = hf_tokenizer(tokenizer_dir / "nt500m_1000g")
    tok = native(tokenizer_dir / "nt500m_1000g")
    dna = random_dna(24, seed=3)  # four 6-mers
    [ids], _ = tok.encode([dna])
    tokens = hf.convert_ids_to_tokens(ids)
    assert tokens == ["<cls>", dna[0:6], dna[6:12], dna[12:18], dna[18:24]]


def test_dnabert2_truncation_keeps_cls_and_sep(tokenizer_dir: Path) -> None:
    hf = hf_tokenizer(tokenizer_dir / "dnabert2")
    tok = native(tokenizer_dir / "dnabert2", max_length=16)
    dna = random_dna(300, seed=4)
    [ids], truncated = tok.encode([dna])
    assert truncated == 1
    assert len(ids) == 16
    assert hf.convert_ids_to_tokens([ids[0], ids[-1]]) == ["[CLS]", "[SEP]"]
    assert dna.startswith("".join(hf.convert_ids_to_tokens(ids[1:-1])))


# --------------------------------------------------------------------------- native: prompt


@pytest.mark.parametrize(
    "dna", ["ACGTTGCAAGGCTTAACGGATCCA", "A", "TTTT", "GATTACAN", random_dna(57, seed=5)]
)
def test_opt_prompt_equals_joint_tokenization(tokenizer_dir: Path, dna: str) -> None:
    """The prompt is tokenized as prefix+DNA then the suffix separately: for OPT's BPE that must
    equal the tokenization of the whole text (the newline starting the suffix splits it)."""
    hf = hf_tokenizer(tokenizer_dir / "opt")
    tok = native(tokenizer_dir / "opt", LINGO_PROMPT, max_length=512)
    [ids], truncated = tok.encode([dna])
    assert truncated == 0
    assert ids == hf(PREFIX + dna + SUFFIX)["input_ids"]


def _suffix_token_count(hf, ids: list[int]) -> int:
    """How many tokens at the end of ids decode to exactly the suffix (found by decoding)."""
    for n in range(1, len(ids)):
        if hf.decode(ids[-n:]) == SUFFIX:
            return n
    raise AssertionError(f"no tail of {ids} decodes to {SUFFIX!r}")


def test_opt_truncation_removes_only_dna(tokenizer_dir: Path) -> None:
    hf = hf_tokenizer(tokenizer_dir / "opt")
    max_length = 40
    tok = native(tokenizer_dir / "opt", LINGO_PROMPT, max_length=max_length)
    long_dna = random_dna(300, seed=6)
    short_dna = random_dna(12, seed=7)
    (short_ids, long_ids, long_ids2), truncated = tok.encode(
        [short_dna, long_dna, random_dna(300, seed=8)]
    )
    assert truncated == 2
    assert len(long_ids) == len(long_ids2) == max_length
    assert len(short_ids) < max_length

    # The whole text, untruncated, by the HF tokenizer itself.
    full = hf(PREFIX + long_dna + SUFFIX)["input_ids"]
    assert len(full) > max_length
    n_suffix = _suffix_token_count(hf, full)
    # Suffix intact at the end; the last token is the colon.
    assert long_ids[-n_suffix:] == full[-n_suffix:]
    assert hf.decode(long_ids[-1:]) == ":"
    # Everything before the suffix is the start of the untruncated text: prefix then DNA, cut.
    kept = max_length - n_suffix
    assert long_ids[:kept] == full[:kept]
    assert long_ids[0] == hf.convert_tokens_to_ids("</s>")
    text = hf.decode(long_ids[1:kept])
    assert text.startswith(PREFIX)
    kept_dna = text[len(PREFIX) :]
    assert 0 < len(kept_dna) < len(long_dna)
    assert long_dna.startswith(kept_dna)
    assert hf.decode(long_ids[1:]) == PREFIX + kept_dna + SUFFIX


def test_opt_no_room_for_dna_raises(tokenizer_dir: Path) -> None:
    hf = hf_tokenizer(tokenizer_dir / "opt")
    prompt_len = len(hf(PREFIX + SUFFIX)["input_ids"])  # with </s>
    for too_small in (prompt_len - 2, prompt_len - 1):
        tok = native(tokenizer_dir / "opt", LINGO_PROMPT, max_length=too_small)
        with pytest.raises(LingoError, match="max_length"):
            tok.encode([random_dna(100, seed=9)])
    # A few tokens more than the prompt leaves room for DNA, and the result fits exactly.
    max_length = prompt_len + 3
    tok = native(tokenizer_dir / "opt", LINGO_PROMPT, max_length=max_length)
    [ids], truncated = tok.encode([random_dna(100, seed=9)])
    assert truncated == 1 and len(ids) == max_length
    assert hf.decode(ids[1:]).startswith(PREFIX) and hf.decode(ids).endswith(SUFFIX)


def test_native_identity_tracks_prompt_and_max_length(tokenizer_dir: Path) -> None:
    folder = tokenizer_dir / "opt"
    base = native(folder, LINGO_PROMPT, 128)
    same = native(folder, PromptConfig(prefix=PREFIX, suffix=SUFFIX), 128)
    assert base.identity() == same.identity()
    assert base.fingerprint() == same.fingerprint()
    others = [
        native(folder, LINGO_PROMPT, 256),
        native(folder, PromptConfig(prefix=PREFIX, suffix=""), 128),
        native(folder, PromptConfig(prefix="Domain: DNA Enhancer\nSequence: ", suffix=SUFFIX), 128),
        native(folder, PromptConfig(), 128),
        native(tokenizer_dir / "dnabert2", PromptConfig(), 128),
    ]
    fingerprints = {base.fingerprint(), *(o.fingerprint() for o in others)}
    assert len(fingerprints) == 1 + len(others)
    identities = {base.identity(), *(o.identity() for o in others)}
    assert len(identities) == 1 + len(others)


def test_native_identity_holds_the_prompt_words_it_tokenizes(tokenizer_dir: Path) -> None:
    """method=lingo's prompt points at the task's words (${task.prompt.prefix}): the tokenized
    cache's key holds the words, so another task prompt is another entry, never a stale one."""
    folder = tokenizer_dir / "opt"
    cfg = OmegaConf.create({"words": PREFIX, "prompt": {"prefix": "${words}", "suffix": SUFFIX}})
    linked = native(folder, cfg.prompt, 128)
    assert linked.fingerprint() == native(folder, LINGO_PROMPT, 128).fingerprint()
    cfg.words = "Domain: DNA Enhancer\nSequence: "
    assert native(folder, cfg.prompt, 128).fingerprint() != linked.fingerprint()


# --------------------------------------------------------------------------- k-mer


def kmer_id(kmer: str) -> int:
    """Independent id: 3 specials, then the k-mers in ACGT lexicographic (base-4) order."""
    value = 0
    for base in kmer:
        value = value * 4 + "ACGT".index(base)
    return 3 + value


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_kmer_vocabulary(k: int) -> None:
    tok = KmerTokenizer(k, k, 512)
    assert tok.vocab_size == 3 + 4**k
    kmers = ["".join(p) for p in product("ACGT", repeat=k)]
    assert [tok.decode([kmer_id(m)]) for m in kmers] == kmers
    assert sorted(tok.decode([i]) for i in range(3)) == ["<cls>", "<pad>", "<unk>"]
    assert tok.decode([tok.pad_token_id]) == "<pad>"


def test_kmer_non_overlapping() -> None:
    seq = random_dna(20, seed=10)
    tok = KmerTokenizer(6, 6, 512)
    [ids], truncated = tok.encode([seq])
    expected = [seq[0:6], seq[6:12], seq[12:18]]  # the 2 bp tail is dropped
    assert truncated == 0
    assert len(ids) == 1 + 3
    assert tok.decode(ids[:1]) == "<cls>"
    assert ids[1:] == [kmer_id(m) for m in expected]
    assert tok.decode(ids) == " ".join(["<cls>", *expected])


def test_kmer_overlapping() -> None:
    seq = random_dna(20, seed=11)
    tok = KmerTokenizer(6, 1, 512)
    [ids], _ = tok.encode([seq])
    expected = [seq[i : i + 6] for i in range(20 - 6 + 1)]
    assert len(expected) == 15 and len(ids) == 16
    assert tok.decode(ids[:1]) == "<cls>"
    assert ids[1:] == [kmer_id(m) for m in expected]
    assert tok.decode(ids).split() == ["<cls>", *expected]


def test_kmer_stride_between_one_and_k() -> None:
    seq = random_dna(20, seed=12)
    [ids], _ = KmerTokenizer(4, 3, 512).encode([seq])
    starts = [0, 3, 6, 9, 12, 15]  # 15 + 4 = 19 <= 20; 18 + 4 > 20
    assert ids[1:] == [kmer_id(seq[s : s + 4]) for s in starts]


def test_kmer_with_n_is_unk() -> None:
    tok = KmerTokenizer(3, 1, 512)
    [ids], _ = tok.encode(["ACGNTTA"])
    assert tok.decode(ids).split() == ["<cls>", "ACG", "<unk>", "<unk>", "<unk>", "TTA"]
    [ids], _ = KmerTokenizer(3, 3, 512).encode(["ACGNTTGGA"])
    assert ids[1:] == [kmer_id("ACG"), tok.unk_id, kmer_id("GGA")]


def test_kmer_short_sequences() -> None:
    tok = KmerTokenizer(6, 6, 512)
    (short, exact, tail), truncated = tok.encode(["ACGTA", "ACGTAC", "ACGTACGTAC"])
    assert truncated == 0
    assert tok.decode(short) == "<cls>"
    assert tok.decode(exact) == "<cls> ACGTAC"
    assert tok.decode(tail) == "<cls> ACGTAC"


def test_kmer_truncation_counted() -> None:
    tok = KmerTokenizer(3, 3, 5)  # <cls> + at most 4 k-mers
    long_seq = random_dna(30, seed=13)  # 10 k-mers
    fits = random_dna(12, seed=14)  # exactly 4 k-mers: not truncated
    tail_only = random_dna(14, seed=15)  # 4 k-mers and a 2 bp tail: not truncated either
    out, truncated = tok.encode([long_seq, fits, tail_only, long_seq])
    assert truncated == 2
    assert [len(ids) for ids in out] == [5, 5, 5, 5]
    assert out[0][1:] == [kmer_id(long_seq[i : i + 3]) for i in range(0, 12, 3)]
    assert out[1][1:] == [kmer_id(fits[i : i + 3]) for i in range(0, 12, 3)]


def test_kmer_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        KmerTokenizer(0, 1, 10)
    with pytest.raises(ValueError):
        KmerTokenizer(3, 0, 10)
    with pytest.raises(ValueError):  # stride > k would skip bases between k-mers
        KmerTokenizer(3, 5, 10)


def test_kmer_identity() -> None:
    base = KmerTokenizer(6, 6, 512)
    assert base.fingerprint() == KmerTokenizer(6, 6, 512).fingerprint()
    others = [KmerTokenizer(7, 6, 512), KmerTokenizer(6, 1, 512), KmerTokenizer(6, 6, 256)]
    assert len({base.fingerprint(), *(o.fingerprint() for o in others)}) == 4


# --------------------------------------------------------------------------- build_tokenizer


def test_build_unknown_name() -> None:
    with pytest.raises(LingoError, match="bpe"):
        build_tokenizer(TokenizerConfig(name="bpe"), ModelConfig(name="m"), PromptConfig())


@pytest.mark.parametrize(
    "prompt", [PromptConfig(prefix="Sequence: "), PromptConfig(suffix="\nAnnotation:")]
)
def test_build_kmer_with_prompt_fails(prompt: PromptConfig) -> None:
    with pytest.raises(LingoError, match="kmer"):
        build_tokenizer(TokenizerConfig(name="kmer"), ModelConfig(name="m"), prompt)


def test_build_kmer() -> None:
    cfg = TokenizerConfig(name="kmer", max_length=64, k=4, stride=2)
    tok = build_tokenizer(cfg, ModelConfig(name="m"), PromptConfig())
    assert isinstance(tok, KmerTokenizer)
    assert (tok.k, tok.stride, tok.max_length, tok.vocab_size) == (4, 2, 64, 3 + 4**4)


def test_build_native_without_tokenizer_files() -> None:
    with pytest.raises(LingoError, match="LINGO_TOKENIZER_DIR"):
        build_tokenizer(
            TokenizerConfig(name="native"), ModelConfig(name="m", tokenizer=None), PromptConfig()
        )


def test_build_native_missing_folder(tmp_path: Path) -> None:
    model = ModelConfig(name="m", tokenizer=str(tmp_path / "absent"))
    with pytest.raises(LingoError):
        build_tokenizer(TokenizerConfig(name="native"), model, PromptConfig())


def test_build_native(tokenizer_dir: Path) -> None:
    model = ModelConfig(name="opt", tokenizer=str(tokenizer_dir / "opt"))
    tok = build_tokenizer(TokenizerConfig(name="native", max_length=77), model, LINGO_PROMPT)
    assert isinstance(tok, NativeTokenizer)
    assert tok.max_length == 77
    [ids], _ = tok.encode(["ACGT"])
    assert tok.decode(ids) == "</s>" + PREFIX + "ACGT" + SUFFIX


# --------------------------------------------------------------------------- tokenize_split


def make_split(n: int = 6, seed: int = 0, name: str = "train") -> Split:
    rng = np.random.default_rng(seed)
    sequences = [random_dna(int(rng.integers(10, 40)), seed=seed * 100 + i) for i in range(n)]
    labels = rng.integers(0, 2, size=n).astype(np.int64)
    return Split(name=name, sequences=sequences, labels=labels, source="test")


class Counting:
    """Counts the encode calls of a tokenizer (patched on the instance)."""

    def __init__(self, tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        inner = tokenizer.encode_with_counts

        def encode(sequences):
            self.calls += 1
            return inner(sequences)

        monkeypatch.setattr(tokenizer, "encode_with_counts", encode)


def entries(cache_dir: Path) -> set[str]:
    folder = cache_dir / "tokenized"
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


def test_tokenize_split_columns_and_rows(tmp_path: Path) -> None:
    split = make_split()
    tok = KmerTokenizer(3, 3, 8)
    expected_ids, _ = KmerTokenizer(3, 3, 8).encode(split.sequences)
    dataset = tokenize_split(split, tok, tmp_path)
    assert set(dataset.column_names) == {"input_ids", "labels", "dna_tokens", "truncated"}
    assert len(dataset) == len(split)
    assert dataset["input_ids"][:] == expected_ids
    assert dataset["labels"][:] == split.labels.tolist()


def test_tokenize_split_cache_hit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    split = make_split()
    tok = KmerTokenizer(3, 1, 16)
    counter = Counting(tok, monkeypatch)
    first = tokenize_split(split, tok, tmp_path)
    assert counter.calls == 1
    assert len(entries(tmp_path)) == 1
    second = tokenize_split(split, tok, tmp_path)
    assert counter.calls == 1  # served from the cache
    assert second.to_dict() == first.to_dict()
    # A fresh tokenizer with the same settings and an equal split (new objects) also hits.
    tok2 = KmerTokenizer(3, 1, 16)
    counter2 = Counting(tok2, monkeypatch)
    third = tokenize_split(make_split(), tok2, tmp_path)
    assert counter2.calls == 0
    assert third.to_dict() == first.to_dict()
    assert len(entries(tmp_path)) == 1


def test_tokenize_split_new_entry_on_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    split = make_split()
    tokenize_split(split, KmerTokenizer(3, 3, 16), tmp_path)
    seen = entries(tmp_path)
    assert len(seen) == 1

    variants = [
        (split, KmerTokenizer(3, 3, 8)),  # max_length
        (split, KmerTokenizer(3, 1, 16)),  # stride
        (make_split(seed=1), KmerTokenizer(3, 3, 16)),  # other rows
        (
            Split(split.name, split.sequences, 1 - split.labels, split.source),
            KmerTokenizer(3, 3, 16),
        ),  # same sequences, other labels
    ]
    for other_split, tok in variants:
        counter = Counting(tok, monkeypatch)
        dataset = tokenize_split(other_split, tok, tmp_path)
        assert counter.calls == 1
        now = entries(tmp_path)
        assert len(now) == len(seen) + 1
        seen = now
        assert dataset["labels"][:] == other_split.labels.tolist()
        assert (
            dataset["input_ids"][:]
            == type(tok)(tok.k, tok.stride, tok.max_length).encode(other_split.sequences)[0]
        )


def test_tokenize_split_native_prompt_changes_entry(
    tmp_path: Path, tokenizer_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    split = make_split()
    folder = tokenizer_dir / "opt"
    plain = tokenize_split(split, native(folder, PromptConfig(), 64), tmp_path)
    with_prompt = tokenize_split(split, native(folder, LINGO_PROMPT, 64), tmp_path)
    longer = tokenize_split(split, native(folder, LINGO_PROMPT, 128), tmp_path)
    assert len(entries(tmp_path)) == 3
    assert plain["input_ids"][:] != with_prompt["input_ids"][:]
    # The same prompt and length, loaded again, reuses the entry.
    again = native(folder, LINGO_PROMPT, 128)
    counter = Counting(again, monkeypatch)
    reused = tokenize_split(split, again, tmp_path)
    assert counter.calls == 0
    assert reused.to_dict() == longer.to_dict()


def test_tokenize_split_without_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    split = make_split()
    tok = KmerTokenizer(2, 2, 10)
    counter = Counting(tok, monkeypatch)
    first = tokenize_split(split, tok, None)
    second = tokenize_split(split, tok, None)
    assert counter.calls == 2  # nothing cached
    assert first.to_dict() == second.to_dict()
    assert first["input_ids"][:] == KmerTokenizer(2, 2, 10).encode(split.sequences)[0]
    assert list(tmp_path.iterdir()) == []


def test_run_warns_once_about_truncation(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tok = KmerTokenizer(3, 3, 3)
    splits = {
        "dev": Split("dev", ["ACGTACGTACGT", "ACG"], np.array([0, 1], dtype=np.int64), "t"),
        "test": Split("test", ["ACGTAC", "ACGT"], np.array([0, 1], dtype=np.int64), "t"),
    }
    datasets = {k: tokenize_split(s, tok, None) for k, s in splits.items()}
    assert datasets["dev"]["truncated"] == [True, False]
    assert datasets["dev"]["dna_tokens"] == [4, 1]
    with caplog.at_level("WARNING", logger="lingo.tokenization.dataset"):
        report_lengths(datasets, splits, tok)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("from 1 of 4 sequences (25.0%)" in w for w in warnings)
    assert any("1 of 4 sequences end in a tail shorter than k" in w for w in warnings)
