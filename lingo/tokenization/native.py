"""The model's own Hugging Face tokenizer, with the optional natural-language prompt."""

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from lingo.config import ModelConfig, PromptConfig
from lingo.errors import LingoError, hub_unreachable
from lingo.tokenization.base import DNATokenizer, truncate_dna

PROBE = "ACGTACGT"


class NativeTokenizer(DNATokenizer):
    """``prefix + DNA`` is tokenized as one text (so the DNA's first token is what the model sees
    in context), the suffix separately, and only the DNA is truncated to fit ``max_length``
    (``protect_prompt=False``: the paper code's right truncation of the whole text)."""

    name = "native"

    def __init__(
        self,
        hf: PreTrainedTokenizerBase,
        prompt: PromptConfig,
        max_length: int,
        protect_prompt: bool = True,
    ) -> None:
        if hf.pad_token_id is None:
            hf.pad_token = hf.eos_token
        self.hf = hf
        self.prompt = prompt
        self.max_length = max_length
        self.protect_prompt = protect_prompt
        self.pad_token_id = hf.pad_token_id
        with_special = hf(PROBE)["input_ids"]
        plain = hf(PROBE, add_special_tokens=False)["input_ids"]
        at = next(i for i in range(len(with_special)) if with_special[i : i + len(plain)] == plain)
        self.head, self.tail = with_special[:at], with_special[at + len(plain) :]
        self.prefix_ids = self._text(prompt.prefix)
        self.suffix_ids = self._text(prompt.suffix)
        self.budget = max_length - len(self.head) - len(self.tail) - len(self.suffix_ids)
        if protect_prompt and self.budget <= len(self.prefix_ids):
            raise LingoError(
                f"tokenizer.max_length={max_length} leaves no room for DNA after the prompt "
                f"({len(self.prefix_ids) + len(self.suffix_ids)} tokens); raise it"
            )

    @classmethod
    def load(
        cls, model: ModelConfig, prompt: PromptConfig, max_length: int, protect_prompt: bool = True
    ) -> "NativeTokenizer":
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
        return cls(hf, prompt, max_length, protect_prompt)

    def _text(self, text: str) -> list[int]:
        return self.hf(text, add_special_tokens=False)["input_ids"] if text else []

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    def identity(self) -> str:
        backend = getattr(self.hf, "backend_tokenizer", None)
        if backend is not None:
            vocab = backend.to_str()
        else:  # a slow tokenizer: its vocabulary and, for BPE, its merges
            merges = sorted(getattr(self.hf, "bpe_ranks", {}).items())
            vocab = repr(sorted(self.hf.get_vocab().items())) + repr(merges)
        settings = f"{self.prompt!r}|{self.max_length}|protect_prompt={self.protect_prompt}"
        return "|".join([type(self.hf).__name__, vocab, settings])

    def encode(self, sequences: list[str]) -> tuple[list[list[int]], int]:
        texts = [self.prompt.prefix + seq for seq in sequences]
        bodies = self.hf(texts, add_special_tokens=False)["input_ids"]
        out, truncated = [], 0
        for body in bodies:
            if self.protect_prompt:
                body, cut = truncate_dna(body, self.budget)
                ids = self.head + body + self.suffix_ids + self.tail
            else:  # the paper's code: the whole text cut at max_length, suffix included
                ids, cut = truncate_dna(self.head + body + self.suffix_ids + self.tail,
                                        self.max_length)
            truncated += cut
            out.append(ids)
        return out, truncated

    def decode(self, ids: list[int]) -> str:
        return self.hf.decode(ids)
