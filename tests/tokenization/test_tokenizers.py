"""The tokenizer group on OPT's tokenizer: round trips on real GUE sequences, token counts,
new ids, the prompt under truncation, the paper code's one-hot and the factory's refusals.

Expected values come from the HF tokenizer files and the sequences themselves, never from the
tokenizer under test."""

import csv
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoTokenizer

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig
from lingo.errors import LingoError
from lingo.tokenization import build_tokenizer, tokenizer_names
from lingo.tokenization.kmer import KmerTokenizer
from lingo.training.collator import PadCollator
from tests.conftest import REPO
from tests.tokenization.test_tokenization import LINGO_PROMPT, PREFIX, SUFFIX, random_dna

ROWS = 50
TASKS = ("prom/prom_300_tata", "EMP/H3")
NO_PROMPT = PromptConfig()


# --------------------------------------------------------------------------- helpers


def read_sequences(data_dir: Path, task: str, n: int = ROWS) -> list[str]:
    with open(data_dir / "GUE" / task / "test.csv", newline="") as handle:
        rows = [row["sequence"] for _, row in zip(range(n), csv.DictReader(handle), strict=False)]
    assert len(rows) == n
    return rows


@pytest.fixture(scope="module")
def real_sequences(data_dir: Path) -> dict[str, list[str]]:
    return {task: read_sequences(data_dir, task) for task in TASKS}


@pytest.fixture(scope="module")
def opt_hf(tokenizer_dir: Path):
    return AutoTokenizer.from_pretrained(str(tokenizer_dir / "opt"), trust_remote_code=False)


def opt_model(tokenizer_dir: Path) -> ModelConfig:
    return ModelConfig(name="opt125m", arch="opt", tokenizer=str(tokenizer_dir / "opt"))


def build(tokenizer_dir: Path, name: str, prompt: PromptConfig = NO_PROMPT,
          max_length: int = 1024, **settings):
    cfg = TokenizerConfig(name=name, max_length=max_length, **settings)
    return build_tokenizer(cfg, opt_model(tokenizer_dir), prompt)


def n_specials(hf) -> tuple[int, int]:
    """(specials before, specials after) an input, read off the HF tokenizer itself."""
    plain = hf("GATTACA", add_special_tokens=False)["input_ids"]
    full = hf("GATTACA")["input_ids"]
    before = next(i for i in range(len(full)) if full[i : i + len(plain)] == plain)
    return before, len(full) - before - len(plain)


def kmers(sequence: str, k: int, stride: int) -> list[str]:
    return [sequence[i : i + k] for i in range(0, len(sequence) - k + 1, stride)]


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", ["native", "bbpe"])
def test_bpe_round_trip_on_real_sequences(
    tokenizer_dir: Path, real_sequences: dict, opt_hf, task: str, name: str
) -> None:
    sequences = real_sequences[task]
    tok = build(tokenizer_dir, name)
    encoded = tok.encode_with_counts(sequences)
    assert not any(encoded.truncated)
    for seq, ids, needed in zip(sequences, encoded.ids, encoded.dna_tokens, strict=True):
        assert ids[0] == opt_hf.eos_token_id and opt_hf.convert_ids_to_tokens(ids[0]) == "</s>"
        assert opt_hf.decode(ids[1:]) == seq
        assert needed == len(ids) - 1
        assert tok.decode(ids) == "</s>" + seq


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", ["onehot", "char"])
def test_per_nucleotide_round_trip_on_real_sequences(
    tokenizer_dir: Path, real_sequences: dict, task: str, name: str
) -> None:
    sequences = real_sequences[task]
    tok = build(tokenizer_dir, name)
    encoded = tok.encode_with_counts(sequences)
    assert not any(encoded.truncated)
    for seq, ids, needed in zip(sequences, encoded.ids, encoded.dna_tokens, strict=True):
        assert tok.decode(ids[1:]) == seq  # the DNA part alone
        assert tok.decode(ids) == "</s>" + seq
        assert needed == len(seq)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("k", [3, 6])
def test_kmer_round_trip_on_real_sequences(
    tokenizer_dir: Path, real_sequences: dict, task: str, k: int
) -> None:
    sequences = real_sequences[task]
    tok = build(tokenizer_dir, "kmer", k=k, stride=k)
    encoded = tok.encode_with_counts(sequences)
    assert not any(encoded.truncated)
    for seq, ids in zip(sequences, encoded.ids, strict=True):
        dropped = tok.dropped_bases(seq)
        assert dropped == len(seq) % k
        pieces = tok.decode(ids[1:]).split(" ")
        assert pieces == kmers(seq, k, k)
        assert "".join(pieces) == seq[: len(seq) - dropped]


@pytest.mark.parametrize("task", TASKS)
def test_overlapping_kmers_on_real_sequences(
    tokenizer_dir: Path, real_sequences: dict, task: str
) -> None:
    tok = build(tokenizer_dir, "kmer", k=6, stride=1)
    for seq in real_sequences[task]:
        [ids], truncated = tok.encode([seq])
        pieces = tok.decode(ids[1:]).split(" ")
        assert truncated == 0 and tok.dropped_bases(seq) == 0
        assert pieces == [seq[i : i + 6] for i in range(len(seq) - 5)]
        # the first base of each k-mer, then the last k-mer's tail, spell the sequence
        assert "".join(p[0] for p in pieces) + pieces[-1][1:] == seq


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("folder", ["dnabert2", "nt500m_1000g"])
def test_dna_model_native_round_trip(
    tokenizer_dir: Path, real_sequences: dict, task: str, folder: str
) -> None:
    hf = AutoTokenizer.from_pretrained(str(tokenizer_dir / folder), trust_remote_code=False)
    model = ModelConfig(name=folder, arch="esm", tokenizer=str(tokenizer_dir / folder),
                        natural_language=False)
    tok = build_tokenizer(TokenizerConfig(name="native", max_length=1024), model, NO_PROMPT)
    before, after = n_specials(hf)
    for seq in real_sequences[task]:
        encoded = tok.encode_with_counts([seq])
        [ids] = encoded.ids
        dna = ids[before : len(ids) - after]
        assert "".join(hf.convert_ids_to_tokens(dna)) == seq
        assert encoded.dna_tokens == [len(dna)]


# --------------------------------------------------------------------------- token counts


@pytest.mark.parametrize("length", [300, 500])
def test_token_counts(tokenizer_dir: Path, opt_hf, length: int) -> None:
    seq = random_dna(length, seed=length)
    before, after = n_specials(opt_hf)
    specials = before + after
    assert specials >= 1  # OPT's leading </s>
    expected_dna = {
        ("onehot", 6, 6): length,
        ("char", 6, 6): length,
        ("kmer", 6, 6): length // 6,
        ("kmer", 6, 1): length - 5,
        ("kmer", 4, 2): (length - 4) // 2 + 1,
    }
    for (name, k, stride), dna in expected_dna.items():
        tok = build(tokenizer_dir, name, k=k, stride=stride)
        encoded = tok.encode_with_counts([seq])
        assert encoded.dna_tokens == [dna], (name, k, stride)
        assert len(encoded.ids[0]) == dna + specials, (name, k, stride)
        assert encoded.truncated == [False]


@pytest.mark.parametrize("length", [300, 500])
def test_nt_native_counts_6mers(tokenizer_dir: Path, length: int) -> None:
    folder = tokenizer_dir / "nt500m_1000g"
    hf = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    model = ModelConfig(name="nt500m", arch="esm", tokenizer=str(folder), natural_language=False)
    tok = build_tokenizer(TokenizerConfig(name="native", max_length=1024), model, NO_PROMPT)
    seq = random_dna(length, seed=length + 1)
    # NT: non-overlapping 6-mers, then any tail shorter than 6 as single nucleotides
    whole = length // 6
    expected = kmers(seq, 6, 6)[:whole] + list(seq[6 * whole :])
    assert len(expected) == {300: 50, 500: 85}[length]
    encoded = tok.encode_with_counts([seq])
    [ids] = encoded.ids
    assert encoded.dna_tokens == [len(expected)]
    assert hf.convert_ids_to_tokens(ids) == ["<cls>", *expected]


# --------------------------------------------------------------------------- new ids


def test_onehot_new_ids_do_not_collide(tokenizer_dir: Path, opt_hf) -> None:
    existing = set(opt_hf.get_vocab().values())
    tok = build(tokenizer_dir, "onehot")
    new = tok.new_token_ids
    assert len(new) == len(set(new)) == len("ACGTN")
    assert min(new) >= len(opt_hf) and min(new) > max(existing)
    assert not existing & set(new)
    assert tok.vocab_size == len(opt_hf) + len(new)
    [ids], _ = tok.encode(["ACGTN"])
    assert sorted(ids[1:]) == sorted(new)  # each base (and N) its own new id
    assert [tok.decode([i]) for i in ids[1:]] == list("ACGTN")
    assert tok.pad_token_id == opt_hf.pad_token_id and tok.attend_to_padding is False


def test_kmer_new_ids_do_not_collide(tokenizer_dir: Path, opt_hf) -> None:
    k = 6
    existing = set(opt_hf.get_vocab().values())
    tok = build(tokenizer_dir, "kmer", max_length=4**k + 8, k=k, stride=k)
    new = tok.new_token_ids
    assert len(new) == len(set(new)) == 4**k + 1  # every k-mer and one unknown-k-mer id
    assert min(new) >= len(opt_hf) and not existing & set(new)
    assert tok.vocab_size == len(opt_hf) + len(new)
    # every k-mer to its own new id, and a k-mer with N to the remaining one
    every = "".join(
        "".join("ACGT"[(v >> (2 * (k - 1 - j))) & 3] for j in range(k)) for v in range(4**k)
    )
    [ids], truncated = tok.encode([every + "ACGNTA"])
    assert truncated == 0
    kmer_ids, unknown = ids[1:-1], ids[-1]
    assert len(kmer_ids) == 4**k == len(set(kmer_ids))
    assert set(kmer_ids) | {unknown} == set(new)
    assert unknown not in kmer_ids and unknown != opt_hf.unk_token_id


def test_char_uses_bare_single_letters(tokenizer_dir: Path, opt_hf) -> None:
    tok = build(tokenizer_dir, "char")
    assert tok.new_token_ids == [] and tok.vocab_size == len(opt_hf)
    [ids], _ = tok.encode(["ACGTN"])
    assert opt_hf.convert_ids_to_tokens(ids[1:]) == list("ACGTN")
    spaced = opt_hf.convert_tokens_to_ids([f"Ġ{b}" for b in "ACGTN"])
    assert not set(spaced) & set(ids[1:])  # not "ĠA"
    assert all(i < len(opt_hf) for i in ids)


# --------------------------------------------------------------------------- prompt + truncation

NAMES = ("native", "bbpe", "onehot", "char", "kmer")
SIDES = ("right", "left", "center")
def expected_parts(name: str, hf, seq: str, side: str) -> tuple[list[int], list[str]]:
    """(prefix ids as the model sees them, the DNA tokens as text) from HF and seq alone."""
    prefix = hf(PREFIX, add_special_tokens=False)["input_ids"]
    if name in ("onehot", "char"):
        return prefix, list(seq)
    if name == "kmer":
        return prefix, kmers(seq, 6, 6)
    if side != "right":  # the 5' end may be cut: the DNA is tokenized on its own
        return prefix, [hf.decode([i]) for i in hf(seq, add_special_tokens=False)["input_ids"]]
    joint = hf(PREFIX + seq, add_special_tokens=False)["input_ids"]  # BPE merges across
    n = 0
    while n < len(prefix) and joint[n] == prefix[n]:
        n += 1
    return joint[:n], [hf.decode([i]) for i in joint[n:]]


@pytest.mark.parametrize(
    ("name", "side"),
    [(name, side) for name in NAMES for side in SIDES],
)
def test_prompt_survives_truncation(tokenizer_dir: Path, opt_hf, name: str, side: str) -> None:
    max_length = 40
    seq = random_dna(300, seed=21)
    tok = build(tokenizer_dir, name, LINGO_PROMPT, max_length=max_length, truncate=side)
    [ids], truncated = tok.encode([seq])
    assert truncated == 1 and len(ids) == max_length

    # the prompt intact around the DNA
    text = tok.decode(ids)
    assert text.startswith("</s>" + PREFIX)
    assert text.endswith(SUFFIX)

    before, after = n_specials(opt_hf)
    prefix, dna_tokens = expected_parts(name, opt_hf, seq, side)
    suffix = opt_hf(SUFFIX, add_special_tokens=False)["input_ids"]
    budget = max_length - before - after - len(prefix) - len(suffix)
    assert 0 < budget < len(dna_tokens)
    assert ids[before : before + len(prefix)] == prefix
    assert ids[len(ids) - after - len(suffix) : len(ids) - after] == suffix
    kept = [tok.decode([i]) for i in ids[before + len(prefix) : len(ids) - after - len(suffix)]]
    assert len(kept) == budget

    n = len(dna_tokens)
    if side == "right":  # the 5' start
        assert kept == dna_tokens[:budget]
    elif side == "left":  # the 3' end
        assert kept == dna_tokens[n - budget :]
    else:  # the middle: as many tokens dropped on each side, give or take one
        windows = [dna_tokens[s : s + budget] for s in range(n - budget + 1)
                   if abs(s - (n - budget - s)) <= 1]
        assert kept in windows
    assert tok.dna_separator.join(kept).replace(" ", "") in seq


# --------------------------------------------------------------------------- legacy one-hot


def test_legacy_onehot_reuses_the_paper_ids(tokenizer_dir: Path, opt_hf) -> None:
    """finetune/DNA_llm_test_domain_1hot.py (github zhanglab-aim/LINGO): token_dict maps
    A 5, T 6, C 7, G 8 and anything else to "[UNK]" 1; no BOS before the DNA."""
    tok = build(tokenizer_dir, "onehot", max_length=8, paper_onehot=True)
    [ids], _ = tok.encode(["ATCGNA"])
    # the paper code's ids: the words "the , to and" of OPT's vocabulary, then N as 1
    words = opt_hf.convert_tokens_to_ids(["Ġthe", ",", "Ġto", "Ġand"])
    assert words == [5, 6, 7, 8]
    assert ids == [5, 6, 7, 8, 1, 5, 0, 0]  # A T C G N A, then padding with 0
    assert 1 == opt_hf.pad_token_id != opt_hf.eos_token_id  # N gets OPT's pad id; no </s>
    assert tok.new_token_ids == [] and tok.vocab_size == len(opt_hf)
    # the model's pad id stays OPT's: the script's collator and model config had 1
    assert tok.pad_token_id == opt_hf.pad_token_id and tok.attend_to_padding is False
    assert tok.fingerprint() != build(tokenizer_dir, "onehot", max_length=8).fingerprint()


def test_legacy_onehot_pads_to_max_length_and_never_truncates(tokenizer_dir: Path,
                                                              opt_hf) -> None:
    """The script's rows: prompt prefix + DNA + suffix, padded with 0 up to
    --model_max_length and never truncated (a longer row keeps every base)."""
    legacy = build(tokenizer_dir, "onehot", LINGO_PROMPT, max_length=64, paper_onehot=True)
    prefix = opt_hf(PREFIX, add_special_tokens=False)["input_ids"]
    suffix = opt_hf(SUFFIX, add_special_tokens=False)["input_ids"]
    short, long = "ACGT" * 3, "ACGT" * 30
    encoded = legacy.encode_with_counts([short, long])
    dna = [5, 7, 8, 6] * 3  # A C G T
    row = prefix + dna + suffix
    assert encoded.ids[0] == row + [0] * (64 - len(row))
    assert encoded.ids[1] == prefix + [5, 7, 8, 6] * 30 + suffix  # longer than 64: kept whole
    assert encoded.dna_tokens == [12, 120] and encoded.truncated == [False, False]
    assert legacy.preview(encoded.ids[0]).endswith(f"{SUFFIX} [+{64 - len(row)} x id 0]")

    # in a batch the row's 0s are attended (they are not the pad id) and the last non-pad
    # token, where OPT's head reads, is the last position, as with the script
    batch = PadCollator(legacy.pad_token_id, legacy.attend_to_padding)(
        [{"input_ids": encoded.ids[0], "labels": 0}, {"input_ids": encoded.ids[0], "labels": 1}])
    assert torch.equal(batch["attention_mask"], torch.ones(2, 64, dtype=torch.long))
    last = (torch.arange(64) * (batch["input_ids"] != legacy.pad_token_id)).argmax(-1)
    assert last.tolist() == [63, 63]

    ours = build(tokenizer_dir, "onehot", LINGO_PROMPT, max_length=64)
    [kept], cut = ours.encode([long])
    assert len(kept) == 64 and cut == 1 and kept[0] == opt_hf.eos_token_id


def test_collator_attends_to_padding_only_when_asked(opt_hf) -> None:
    features = [{"input_ids": [5, 6], "labels": 1}, {"input_ids": [5], "labels": 0}]
    pad = opt_hf.pad_token_id
    assert PadCollator(0, True)(features)["attention_mask"].tolist() == [[1, 1], [1, 1]]
    batch = PadCollator(pad, False)(features)
    assert batch["attention_mask"].tolist() == [[1, 1], [1, 0]]
    assert batch["input_ids"].tolist() == [[5, 6], [5, pad]]


# --------------------------------------------------------------------------- factory


def test_bbpe_refused_on_a_non_opt_model(tokenizer_dir: Path) -> None:
    folder = tokenizer_dir / "nt500m_1000g"
    model = ModelConfig(name="nt500m", arch="esm", tokenizer=str(folder), natural_language=False)
    with pytest.raises(LingoError, match="bbpe"):
        build_tokenizer(TokenizerConfig(name="bbpe"), model, NO_PROMPT)
    # the same model with its own tokenizer builds
    assert build_tokenizer(TokenizerConfig(name="native"), model, NO_PROMPT).vocab_size == len(
        AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    )


def test_every_tokenizer_yaml_has_its_registered_class() -> None:
    """A tokenizer is a YAML file under conf/tokenizer/ plus one module that registers it."""
    names = {OmegaConf.load(path).name for path in (REPO / "conf" / "tokenizer").glob("*.yaml")}
    assert names == set(tokenizer_names()) == {"native", "bbpe", "onehot", "kmer", "char"}
    with pytest.raises(LingoError, match="tokenizer='bpe' is unknown; use one of bbpe, char"):
        build_tokenizer(TokenizerConfig(name="bpe"), ModelConfig(name="tiny"), NO_PROMPT)


def test_kmer_without_model_tokenizer_is_builtin() -> None:
    cfg = TokenizerConfig(name="kmer", max_length=64, k=6, stride=6)
    tok = build_tokenizer(cfg, ModelConfig(name="tiny", tokenizer=None), NO_PROMPT)
    assert isinstance(tok, KmerTokenizer) and tok.hf is None
    assert tok.vocab_size == 3 + 4**6  # <pad> <cls> <unk>, then every 6-mer
    seq = random_dna(30, seed=31)
    [ids], _ = tok.encode([seq])
    assert tok.decode(ids).split() == ["<cls>", *kmers(seq, 6, 6)]
    assert all(3 <= i < tok.vocab_size for i in ids[1:])


@pytest.mark.parametrize("name", NAMES)
def test_prompt_refused_on_dna_models(tokenizer_dir: Path, name: str) -> None:
    folder = tokenizer_dir / "nt500m_1000g"
    model = ModelConfig(name="nt500m", arch="esm", tokenizer=str(folder), natural_language=False)
    with pytest.raises(LingoError, match="prompt"):
        build_tokenizer(TokenizerConfig(name=name), model, LINGO_PROMPT)
    # and accepted on a natural-language model
    assert build_tokenizer(TokenizerConfig(name=name), opt_model(tokenizer_dir), LINGO_PROMPT)


@pytest.mark.parametrize(("name", "pieces"), [("onehot", "A C G T T G"), ("char", "A C G T T G"),
                                              ("kmer", "ACGTTG CAAGCT")])
def test_preview_shows_dna_token_by_token(tokenizer_dir: Path, name: str, pieces: str) -> None:
    tok = build(tokenizer_dir, name, LINGO_PROMPT)
    [ids], _ = tok.encode(["ACGTTGCAAGCT"])
    preview = tok.preview(ids)
    assert preview.startswith("</s>" + PREFIX + pieces)
    assert preview.endswith(SUFFIX)
    if name != "kmer":  # decode itself stays lossless: the DNA reads back unchanged
        assert tok.decode(ids) == "</s>" + PREFIX + "ACGTTGCAAGCT" + SUFFIX


def test_legacy_cut_of_the_suffix_alone_is_not_dna_loss(tokenizer_dir: Path, opt_hf) -> None:
    dna = "ACGTTGCAAGCT"
    prefix_and_dna = len(opt_hf(PREFIX + dna)["input_ids"])  # with </s>
    tok = build(tokenizer_dir, "native", LINGO_PROMPT, prefix_and_dna + 1, protect_prompt=False)
    (ids,), truncated = tok.encode([dna])
    assert len(ids) == prefix_and_dna + 1 and truncated == 0  # only the suffix was cut
    tok = build(tokenizer_dir, "native", LINGO_PROMPT, prefix_and_dna - 1, protect_prompt=False)
    (_,), truncated = tok.encode([dna])
    assert truncated == 1
