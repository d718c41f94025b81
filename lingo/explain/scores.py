"""Per-base scores of a set of sequences, the one format every explanation reads and writes:
mutagenesis deltas or attributions, ``(n, length, 4)`` over A, C, G, T, saved as one ``.npz``.

Mutagenesis: ``values[i, p, b]`` is the change in the label's log-odds when base ``b`` is put at
position ``p`` (0 at the reference base). Attributions: ``values[i, p, b]`` is the attribution of
base ``b`` at ``p``, non-zero where the model reads one (the reference base; every base for a
CNN's hypothetical contributions). Positions past a shorter sequence's end are NaN.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lingo.data.bases import one_hot
from lingo.errors import LingoError
from lingo.results import write_bytes_atomic

KINDS = ("mutagenesis", "attributions")


@dataclass
class BaseScores:
    ids: list[str]
    sequences: list[str]
    values: np.ndarray  # (n, length, 4) float32, NaN past a sequence's end
    kind: str  # mutagenesis | attributions
    label: int  # the label whose log-odds (or logit) the scores explain
    run: str  # the run directory they came from

    @property
    def length(self) -> int:
        return self.values.shape[1]

    def one_hot(self) -> np.ndarray:
        return one_hot(self.sequences, self.length)

    def importance(self) -> np.ndarray:
        """Per position (n, length): mutagenesis, the largest |delta| over the alternatives;
        attributions, the attribution of the base present. NaN past a sequence's end."""
        if self.kind == "mutagenesis":
            return np.abs(self.values).max(axis=2)
        return self.effect()

    def effect(self, rows: list[int] | None = None) -> np.ndarray:
        """Signed effect of the base present per position (rows, length), NaN past a sequence's
        end: attributions, its attribution; mutagenesis, minus the mean change over its
        alternatives (positive: mutating the base lowers the label's log-odds)."""
        rows = list(range(len(self.ids))) if rows is None else rows
        values = self.values[rows]
        present = one_hot([self.sequences[i] for i in rows], self.length)
        if self.kind == "mutagenesis":
            return -values.sum(axis=2) / (4 - present.sum(axis=2))  # an N has 4 alternatives
        return (values * present).sum(axis=2)

    def hypothetical(self) -> np.ndarray:
        """Hypothetical contributions for motif discovery (n, length, 4), 0 past the end:
        mutagenesis deltas or attributions, centred on their mean over the four bases."""
        values = np.nan_to_num(self.values)
        if self.kind == "attributions" and not (values * (1 - self.one_hot())).any():
            return values  # one value per position (token attributions): nothing to centre
        return values - values.mean(axis=2, keepdims=True)

    def save(self, path: Path) -> None:
        def write(handle) -> None:
            np.savez_compressed(
                handle, ids=np.asarray(self.ids), sequences=np.asarray(self.sequences),
                values=self.values, kind=self.kind, label=self.label, run=self.run)

        write_bytes_atomic(Path(path), write)

    @classmethod
    def load(cls, path: Path) -> "BaseScores":
        path = Path(path)
        if not path.is_file():
            raise LingoError(f"{path}: no such file; give the .npz that `lingo-explain "
                             "mutagenesis` or `lingo-explain attributions` wrote")
        try:
            with np.load(path, allow_pickle=False) as data:
                kind = str(data["kind"])
                scores = cls([str(i) for i in data["ids"]], [str(s) for s in data["sequences"]],
                             data["values"].astype(np.float32), kind, int(data["label"]),
                             str(data["run"]))
            shape = scores.values.shape
            if len(shape) != 3 or shape[2] != 4 or shape[0] != len(scores.ids):
                raise ValueError(f"values of shape {shape} for {len(scores.ids)} sequences")
        except Exception as err:  # not an npz, truncated, other keys or shapes
            raise LingoError(f"{path}: not a scores file of lingo-explain ({type(err).__name__}"
                             f": {err}); give the .npz that mutagenesis or attributions "
                             "wrote") from None
        if kind not in KINDS:
            raise LingoError(f"{path}: kind {kind!r} is not one of {', '.join(KINDS)}")
        return scores
