"""analysis.forest.legend: a figure legend that lays itself out once per call draws and measures
exactly as matplotlib's own legend."""

from __future__ import annotations

import io
import pickle

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from analysis.forest.legend import Legend, figure_legend  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    with matplotlib.rc_context({"svg.hashsalt": "test"}):  # reproducible SVG ids
        yield
    plt.close("all")


def _handles():
    return [Patch(facecolor="C0", edgecolor="black", lw=0.5, label="rct"),
            Patch(facecolor="C1", label="controlled study / uncontrolled study"),
            Line2D([], [], marker="s", ls=(0, (3, 2)), color="black", mfc="white", label="approximate (hollow)"),
            Patch(facecolor="C3", label="prediction interval"),
            Patch(facecolor="0.6", edgecolor="black", label="pooled estimate [CI]")]


def _figure(ours: bool):
    fig = plt.figure(figsize=(7, 2))
    kw = dict(loc="upper left", bbox_to_anchor=(0.01, 0.6), ncol=4, fontsize=8, frameon=False, handlelength=1.4)
    legend = figure_legend(fig, _handles(), **kw) if ours else fig.legend(handles=_handles(), **kw)
    return fig, legend


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_draws_the_same_file_as_matplotlibs_legend(fmt):
    files = []
    for ours in (False, True):
        fig, _ = _figure(ours)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
        files.append(buf.getvalue())
    assert files[0] == files[1]


def test_extent_is_matplotlibs_and_no_memo_is_left_behind():
    (fig_a, theirs), (fig_b, ours) = _figure(False), _figure(True)
    assert isinstance(ours, Legend) and fig_b.legends == [ours]
    for dpi in (72, 150):
        fig_a.set_dpi(dpi)
        fig_b.set_dpi(dpi)
        want = theirs.get_window_extent(fig_a.canvas.get_renderer())
        got = ours.get_window_extent(fig_b.canvas.get_renderer())
        assert np.allclose(got.bounds, want.bounds, rtol=0, atol=0)
        assert np.allclose(ours.get_tightbbox(fig_b.canvas.get_renderer()).bounds,
                           theirs.get_tightbbox(fig_a.canvas.get_renderer()).bounds, rtol=0, atol=0)
    # the boxes keep no remembered sizes between calls (a changed text is laid out anew)
    assert not any(name in vars(box) for box in ours._legend_box.findobj()
                   for name in ("get_bbox", "_get_bbox_and_child_offsets"))
    ours.get_texts()[-1].set_text("a much longer label than before, longer than any other")
    assert ours.get_window_extent(fig_b.canvas.get_renderer()).width > got.width


def test_pickles_and_removes_like_a_figure_legend():
    fig, legend = _figure(True)
    again = pickle.loads(pickle.dumps(fig))
    assert type(again.legends[0]) is Legend
    assert [t.get_text() for t in again.legends[0].get_texts()] == [t.get_text() for t in legend.get_texts()]
    legend.remove()
    assert fig.legends == []
