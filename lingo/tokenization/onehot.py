"""One token per nucleotide with dedicated new ids (``onehot``), or the paper code's ids."""

from typing import Self

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig
from lingo.tokenization.base import BASES, Encoded, length_settings
from lingo.tokenization.registry import register
from lingo.tokenization.text import TextTokenizer, load_text_tokenizer

# The paper's one-hot code (github zhanglab-aim/LINGO, finetune/DNA_llm_test_domain_1hot.py):
# token_dict (lines 221-231) gives A 5, T 6, C 7, G 8 (OPT's "the , to and"); any other
# character, N included, gets its "[UNK]" 1 (line 271), which is OPT's pad id; rows are padded
# with its "[PAD]" 0 (line 299).
PAPER_ONEHOT_IDS = {"A": 5, "T": 6, "C": 7, "G": 8}
PAPER_ONEHOT_UNK = 1
PAPER_ONEHOT_PAD = 0


@register
class OneHotTokenizer(TextTokenizer):
    """One token per nucleotide: dedicated new ids for A, C, G, T and N (their embedding rows are
    added and trained). ``paper_ids=True`` is the paper code's (DNA_llm_test_domain_1hot.py):
    ids 5-8 of the existing vocabulary, any other character 1; no BOS (the prompt is encoded
    with ``add_special_tokens=False``, lines 264-265, and the row is prefix + DNA + suffix, line
    287); never truncated, and padded with 0 up to ``max_length`` inside the row (lines
    295-299), so the padding is attended and the head of OPT (pad id 1) reads the row's last
    position, as there. What remains different: there the collator masks every id 1
    (``input_ids.ne(pad_token_id)``, line 332), so an N is masked; here it is attended."""

    name = "onehot"

    def __init__(self, hf, prompt: PromptConfig, max_length: int, truncate: str = "right",
                 protect_prompt: bool = True, paper_ids: bool = False) -> None:
        super().__init__(hf, prompt, max_length, truncate, protect_prompt)
        self.paper_ids = paper_ids
        if paper_ids:
            self.ids = dict(PAPER_ONEHOT_IDS)
            self.unk_id = PAPER_ONEHOT_UNK
            self.head, self.tail = [], []  # no BOS
            # the model's own pad id (OPT: 1), as the script's collator and model config had:
            # the row's 0s are not padding to the head, which reads the last position
            self.pad_token_id = hf.pad_token_id
        else:
            self.ids = self.add_tokens(list(BASES))

    @classmethod
    def from_config(cls, tokenizer: TokenizerConfig, model: ModelConfig,
                    prompt: PromptConfig) -> Self:
        return cls(load_text_tokenizer(model), prompt, paper_ids=tokenizer.paper_onehot,
                   **length_settings(tokenizer))

    def settings(self) -> str:
        paper = (f"|{sorted(self.ids.items())}|unk={self.unk_id}|no BOS|pad "
                 f"{PAPER_ONEHOT_PAD} to max_length, never truncated") if self.paper_ids else ""
        return f"{super().settings()}|paper_ids={self.paper_ids}{paper}"

    def base_spans(self, sequence: str) -> list[tuple[int, int]]:
        return [(i, i + 1) for i in range(len(sequence))]

    def dna_ids(self, sequence: str) -> list[int]:
        if self.paper_ids:
            return [self.ids.get(base, self.unk_id) for base in sequence]
        return [self.ids[base] for base in sequence]

    def encode_with_counts(self, sequences: list[str]) -> Encoded:
        if not self.paper_ids:
            return super().encode_with_counts(sequences)
        out, needed = [], []
        for sequence in sequences:
            prefix, dna = self.pieces(sequence)
            ids = prefix + dna + self.suffix_ids
            out.append(ids + [PAPER_ONEHOT_PAD] * (self.max_length - len(ids)))
            needed.append(len(dna))
        return Encoded(out, needed, [False] * len(out))

    def preview(self, ids: list[int]) -> str:
        """The paper code's padding shown as a count, after the suffix."""
        if not self.paper_ids:
            return super().preview(ids)
        n = len(ids)
        while n and ids[n - 1] == PAPER_ONEHOT_PAD:
            n -= 1
        padding = f" [+{len(ids) - n} x id {PAPER_ONEHOT_PAD}]" if n < len(ids) else ""
        return super().preview(ids[:n]) + padding
