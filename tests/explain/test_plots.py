"""The per-sequence figure and the logo helper."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from lingo.data.bases import ALPHABET
from lingo.explain.plots import logo, profile_figure, sequence_figure
from lingo.explain.scores import BaseScores


def scores_of(kind: str) -> BaseScores:
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list(ALPHABET), 60)), "ACGT" * 10]  # the second is shorter
    values = rng.normal(size=(2, 60, 4)).astype(np.float32)
    values[1, 40:] = np.nan
    scores = BaseScores(["first", "second"], sequences, values, kind, 1, "run")
    if kind == "mutagenesis":
        scores.values[scores.one_hot() == 1] = 0  # the reference base changes nothing
    return scores


@pytest.mark.parametrize("kind", ["mutagenesis", "attributions"])
def test_sequence_figure_writes_a_png(kind, tmp_path) -> None:
    scores = scores_of(kind)
    for index in range(2):
        path = tmp_path / f"{index}.png"
        sequence_figure(scores, index, path)
        assert path.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.png", "1.png"]  # no temporaries


def test_mutagenesis_effect_is_signed(tmp_path) -> None:
    scores = scores_of("mutagenesis")
    scores.values[0, 3] = np.where(scores.one_hot()[0, 3] == 1, 0, -2.0)  # every change hurts
    scores.values[0, 4] = np.where(scores.one_hot()[0, 4] == 1, 0, 1.0)  # every change helps
    assert scores.effect([0])[0, 3:5].tolist() == pytest.approx([2.0, -1.0])
    assert np.isnan(scores.effect()[1, 40:]).all()  # past the shorter sequence's end
    profile_figure(scores, tmp_path / "profile.png", "where")
    assert (tmp_path / "profile.png").read_bytes().startswith(b"\x89PNG")


def test_logo_draws_letters() -> None:
    ax = Figure().subplots()
    matrix = np.array([[1.0, 0, 0, 0], [0, -0.5, 0, 0], [0, 0, 0.2, 0.3]])
    logo(ax, matrix, title="a logo")
    assert len(ax.patches) >= 4 and ax.get_title() == "a logo"
    low, high = ax.get_ylim()
    assert low < 0 < high  # the negative letter sits below the axis
