"""k-mer tokens over a built-in vocabulary: needs no files (the offline demo uses it)."""

from itertools import product

from lingo.tokenization.base import DNATokenizer, truncate_dna

SPECIALS = ("<pad>", "<cls>", "<unk>")


class KmerTokenizer(DNATokenizer):
    """``<cls>`` then one token per k-mer every ``stride`` bases; a k-mer with N is ``<unk>``;
    a tail shorter than k is dropped."""

    name = "kmer"

    def __init__(self, k: int, stride: int, max_length: int) -> None:
        if k < 1 or stride < 1:
            raise ValueError(f"k and stride must be positive (k={k}, stride={stride})")
        self.k, self.stride, self.max_length = k, stride, max_length
        self.tokens = [*SPECIALS, *("".join(p) for p in product("ACGT", repeat=k))]
        self.ids = {token: i for i, token in enumerate(self.tokens)}
        self.pad_token_id, self.cls_id, self.unk_id = 0, 1, 2

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def identity(self) -> str:
        return f"kmer|k={self.k}|stride={self.stride}|max_length={self.max_length}"

    def encode(self, sequences: list[str]) -> tuple[list[list[int]], int]:
        out, truncated = [], 0
        for seq in sequences:
            kmers = [
                self.ids.get(seq[i : i + self.k], self.unk_id)
                for i in range(0, len(seq) - self.k + 1, self.stride)
            ]
            kmers, cut = truncate_dna(kmers, self.max_length - 1)
            truncated += cut
            out.append([self.cls_id, *kmers])
        return out, truncated

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.tokens[i] for i in ids)
