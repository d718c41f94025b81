"""The model's own tokenizer on the DNA text (``native``)."""

from lingo.tokenization.registry import register
from lingo.tokenization.text import TextTokenizer


@register
class NativeTokenizer(TextTokenizer):
    """``prefix + DNA`` is tokenized as one text, so the DNA's first token is what the model
    sees in context (BPE merges across the boundary); the suffix separately. With
    ``truncate=left/center`` the DNA is tokenized on its own (see :meth:`pieces`)."""

    name = "native"

    def dna_ids(self, sequence: str) -> list[int]:
        """The DNA tokenized on its own."""
        return self.text_ids(sequence)

    def pieces(self, sequence: str) -> tuple[list[int], list[int]]:
        if self.truncate != "right":
            # The 5' end may be cut: tokenize the DNA on its own, so that a prefix token merged
            # into the first DNA token (GPT-2's trailing space) is never cut with it.
            return self.prefix_ids, self.dna_ids(sequence)
        joint = self.text_ids(self.prefix_text + sequence)
        # The prefix in context: its ids up to where the joint tokenization departs from them
        # (GPT-2 merges the prefix's trailing space into the first DNA token).
        n = 0
        while n < min(len(joint), len(self.prefix_ids)) and joint[n] == self.prefix_ids[n]:
            n += 1
        return joint[:n], joint[n:]

    def preview(self, ids: list[int]) -> str:
        return self.decode(ids)  # BPE pieces read as the text they spell
