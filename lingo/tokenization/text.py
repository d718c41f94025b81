"""Tokenizers built around the model's own text tokenizer: it supplies the special tokens and
tokenizes the prompt; DNA becomes its own tokens (new ids, or existing single letters)."""

from abc import abstractmethod
from typing import TYPE_CHECKING, Self

from lingo.config import ModelConfig, PromptConfig, TokenizerConfig
from lingo.errors import LingoError, hub_unreachable
from lingo.tokenization.base import DNATokenizer, length_settings

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

PROBE = "ACGTACGT"
BUILTIN = ("<pad>", "<cls>", "<unk>")  # specials when there is no text tokenizer (the demo)


def load_text_tokenizer(model: ModelConfig) -> "PreTrainedTokenizerBase":
    # imported here, not above: reading the registry's names loads no torch or transformers
    from transformers import AutoTokenizer

    from lingo.models.gguf import gguf_location

    gguf = None if model.tokenizer else gguf_location(model)
    if gguf is not None:  # the tokenizer stored in the GGUF file (it adds no BOS/EOS)
        try:
            hf = AutoTokenizer.from_pretrained(gguf[0], gguf_file=gguf[1])
        except (OSError, ValueError) as err:
            raise hub_unreachable(f"{gguf[0]}/{gguf[1]}", "tokenizer", err) from err
        if hf.pad_token_id is None:
            hf.pad_token = hf.eos_token
        return hf
    if not model.tokenizer:
        raise LingoError(
            f"model={model.name} uses the tokenizer files of the model it stands for, and none "
            "were found: set LINGO_TOKENIZER_DIR to the folder holding opt/, dnabert2/ and "
            "nt500m_1000g/ (or model.tokenizer=<folder>), or use tokenizer=kmer"
        )
    try:
        hf = AutoTokenizer.from_pretrained(model.tokenizer, trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise hub_unreachable(model.tokenizer, "tokenizer", err) from err
    if hf.pad_token_id is None:
        hf.pad_token = hf.eos_token
    return hf


def hf_vocabulary(hf: "PreTrainedTokenizerBase") -> str:
    backend = getattr(hf, "backend_tokenizer", None)
    if backend is not None:
        return backend.to_str()
    merges = sorted(getattr(hf, "bpe_ranks", {}).items())  # a slow BPE tokenizer
    return repr(sorted(hf.get_vocab().items())) + repr(merges)


class TextTokenizer(DNATokenizer):
    """Holds the text tokenizer (``hf``; None for the built-in vocabulary of the offline demo),
    its special tokens around an input, the prompt's ids, and any DNA tokens added as new ids."""

    def __init__(
        self,
        hf: "PreTrainedTokenizerBase | None",
        prompt: PromptConfig,
        max_length: int,
        truncate: str = "right",
        protect_prompt: bool = True,
    ) -> None:
        super().__init__(max_length, truncate, protect_prompt)
        self.hf = hf
        # the prompt's words, resolved (method=lingo points at ${task.prompt.prefix}) and as
        # plain str: read per sequence, and part of the tokenized cache's key
        self.prefix_text, self.suffix_text = str(prompt.prefix), str(prompt.suffix)
        self.added: dict[int, str] = {}
        if hf is None:
            if self.prefix_text or self.suffix_text:
                raise LingoError(
                    f"tokenizer={self.name} without the model's text tokenizer has no words for "
                    "the prompt; set LINGO_TOKENIZER_DIR, or use a method without a prompt"
                )
            self.base_size = len(BUILTIN)
            self.pad_token_id, self.head = 0, [1]
            self.unk_id = 2
            self.prefix_ids: list[int] = []
            return
        self.base_size = len(hf)
        self.pad_token_id = hf.pad_token_id
        self.unk_id = hf.unk_token_id
        with_special = hf(PROBE)["input_ids"]
        plain = hf(PROBE, add_special_tokens=False)["input_ids"]
        at = next(i for i in range(len(with_special)) if with_special[i : i + len(plain)] == plain)
        self.head, self.tail = with_special[:at], with_special[at + len(plain) :]
        self.prefix_ids = self.text_ids(self.prefix_text)
        self.suffix_ids = self.text_ids(self.suffix_text)

    @classmethod
    def from_config(cls, tokenizer: TokenizerConfig, model: ModelConfig,
                    prompt: PromptConfig) -> Self:
        """With the model's own text tokenizer (files or hub)."""
        return cls(load_text_tokenizer(model), prompt, **length_settings(tokenizer))

    def text_ids(self, text: str) -> list[int]:
        return self.hf(text, add_special_tokens=False)["input_ids"] if text else []

    def add_tokens(self, tokens: list[str]) -> dict[str, int]:
        """Give each DNA token a dedicated new id after the vocabulary."""
        ids = {token: self.base_size + i for i, token in enumerate(tokens)}
        self.added.update({i: token for token, i in ids.items()})
        self.new_token_ids = list(ids.values())
        return ids

    @property
    def vocab_size(self) -> int:
        return self.base_size + len(self.new_token_ids)

    def vocabulary(self) -> str:
        base = "builtin" if self.hf is None else hf_vocabulary(self.hf)
        return f"{base}|{sorted(self.added.items())}"

    def settings(self) -> str:
        prompt = {"prefix": self.prefix_text, "suffix": self.suffix_text}
        return f"{super().settings()}|{prompt!r}"

    def pieces(self, sequence: str) -> tuple[list[int], list[int]]:
        return self.prefix_ids, self.dna_ids(sequence)

    @abstractmethod
    def dna_ids(self, sequence: str) -> list[int]:
        """The DNA's tokens, without the prompt."""

    def decode(self, ids: list[int]) -> str:
        """Text tokens through the text tokenizer, added DNA tokens as their letters (without
        added tokens, as with native, char or the paper's one-hot ids, this is the text
        tokenizer's own decode: the paper's ids read as the words "the , to and")."""
        if self.hf is None:
            return " ".join(self.added.get(i) or BUILTIN[i] for i in ids)
        parts: list[str] = []
        run: list[int] = []
        dna_run: list[str] = []

        def flush() -> None:
            if run:
                parts.append(self._decode_text(run))
                run.clear()
            if dna_run:
                parts.append(self.dna_separator.join(dna_run))
                dna_run.clear()

        for i in ids:
            if i in self.added:
                if run:
                    flush()
                dna_run.append(self.added[i])
            else:
                if dna_run:
                    flush()
                run.append(i)
        flush()
        return "".join(parts)

    def preview(self, ids: list[int]) -> str:
        """Prompt and specials as text, the DNA tokens one by one (space-separated), so the
        preview shows how the DNA was cut into tokens."""
        if self.hf is None:
            return self.decode(ids)
        start = len(self.head) + len(self.prefix_ids)
        end = max(start, len(ids) - len(self.suffix_ids) - len(self.tail))
        dna = " ".join(self.decode([i]) for i in ids[start:end])
        return self.decode(ids[:start]) + dna + self.decode(ids[end:])

    def _decode_text(self, ids: list[int]) -> str:
        return self.hf.decode(ids)
