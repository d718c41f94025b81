"""DNA as one-hot arrays over A, C, G, T: the CNN's input, and the base axis of every per-base
score. Numpy only, so that reading scores needs no torch."""

import numpy as np

ALPHABET = "ACGT"
_CODES = np.full(256, 4, dtype=np.int64)  # every byte but A, C, G, T: the zero row
for _i, _base in enumerate(ALPHABET.encode()):
    _CODES[_base] = _i
_ONE_HOT = np.eye(5, 4, dtype=np.float32)  # row 4 (N, padding) is all zeros


def one_hot(sequences: list[str], length: int) -> np.ndarray:
    """(n, length, 4) float32; a longer sequence is cut to ``length``, a shorter one padded; N
    and padding are all zeros."""
    codes = np.full((len(sequences), length), 4, dtype=np.int64)
    for i, seq in enumerate(sequences):
        row = _CODES[np.frombuffer(seq[:length].encode(), dtype=np.uint8)]
        codes[i, : len(row)] = row
    return _ONE_HOT[codes]
