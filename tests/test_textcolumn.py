"""analysis.forest.textcolumn: a column of one-line texts drawn as one artist looks like the same
texts drawn as matplotlib Text artists, in PNG (Agg), SVG and other backends."""

from __future__ import annotations

import io
import pickle

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from analysis.forest.textcolumn import TextColumn  # noqa: E402

LINES = ["Synthetic study 0002", "\u200721.1% [\u200714.3; \u200729.4]\u2007\u2007\u2007\u20070.9%",
         "≈ Lupus MSC (hUC-MSC)", "AVAT Tooo", "“definition”, at least 4 years", "Heterogeneity: τ² = 0.31"]
STYLES = [dict(), dict(fontweight="bold"), dict(fontstyle="italic", color="0.3"), dict(fontsize=10.5)]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _figure(kind: str, ha: str, va: str, style: dict):
    fig = plt.figure(figsize=(4, 2.2), dpi=100)
    ys = [0.1 + 0.13 * i + 0.0071 for i in range(len(LINES))]
    x = {"left": 0.05, "right": 0.95, "center": 0.5}[ha]
    size = style.get("fontsize", 8.5)
    if kind == "text":
        for y, line in zip(ys, LINES):
            fig.add_artist(Text(x, y, line, ha=ha, va=va, transform=fig.transFigure,
                                **{**style, "fontsize": size}))
    else:
        fig.add_artist(TextColumn(x, ys, LINES, transform=fig.transFigure, ha=ha, va=va,
                                  **{**style, "fontsize": size}))
    return fig


def _pixels(fig, **kw) -> np.ndarray:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, **kw)
    buf.seek(0)
    return plt.imread(buf)[..., :3].mean(axis=2)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("ha,va", [("left", "center"), ("right", "center"), ("center", "bottom"),
                                   ("left", "baseline"), ("right", "top")])
def test_png_matches_text_artists(ha, va, style):
    want = _pixels(_figure("text", ha, va, style))
    got = _pixels(_figure("column", ha, va, style))
    assert got.shape == want.shape
    # the same glyph images at the same places; only sub-pixel phases differ (mean < 1/100)
    assert np.abs(got - want).mean() < 0.01
    ink_w, ink_g = want < 0.5, got < 0.5
    rows_w, rows_g = np.flatnonzero(ink_w.any(1)), np.flatnonzero(ink_g.any(1))
    cols_w, cols_g = np.flatnonzero(ink_w.any(0)), np.flatnonzero(ink_g.any(0))
    assert abs(rows_w[0] - rows_g[0]) <= 1 and abs(rows_w[-1] - rows_g[-1]) <= 1
    assert abs(cols_w[0] - cols_g[0]) <= 1 and abs(cols_w[-1] - cols_g[-1]) <= 1


def test_cropped_png_keeps_every_line_on_its_row():
    # bbox_inches="tight" gives the canvas a fractional height: lines must not move by a pixel
    want = _pixels(_figure("text", "left", "center", {}), bbox_inches="tight")
    got = _pixels(_figure("column", "left", "center", {}), bbox_inches="tight")
    assert got.shape == want.shape and np.abs(got - want).mean() < 0.01


def test_window_extent_is_the_text_artists_box():
    for ha, va in (("left", "center"), ("right", "bottom"), ("center", "top")):
        text_fig, col_fig = _figure("text", ha, va, {}), _figure("column", ha, va, {})
        want = matplotlib.transforms.Bbox.union(
            [a.get_window_extent(text_fig.canvas.get_renderer()) for a in text_fig.artists])
        got = col_fig.artists[0].get_window_extent(col_fig.canvas.get_renderer())
        np.testing.assert_allclose(got.extents, want.extents, atol=0.6)
        np.testing.assert_allclose(text_fig.get_tightbbox().extents, col_fig.get_tightbbox().extents, atol=0.01)


def test_svg_writes_each_line_as_text_with_its_anchor():
    fig = _figure("column", "right", "center", {"fontweight": "bold", "color": "0.3"})
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    assert svg.count("<text ") == len(LINES)
    assert "text-anchor: end" in svg and "font-weight: 700" in svg
    grey = matplotlib.colors.to_hex("0.3")  # as matplotlib writes a Text's colour
    assert f"fill: {grey}" in svg
    assert "font-size: 8.5px" in svg and "DejaVu Sans" in svg
    for line in LINES:
        assert line.replace("“", "&#8220;")[:5] in svg or line[:5] in svg


def test_svg_baseline_is_where_text_puts_it():
    def baselines(kind):
        buf = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            _figure(kind, "left", "center", {}).savefig(buf, format="svg")
        return [float(part.split('"', 1)[0]) for part in buf.getvalue().split(' y="')[1:]
                if "<text" in buf.getvalue()]

    text_y = sorted(baselines("text"))
    col_y = sorted(baselines("column"))
    assert len(col_y) >= len(LINES)
    for y in col_y[-len(LINES):]:
        assert min(abs(y - t) for t in text_y) < 0.01


def test_other_backends_draw_each_line_with_draw_text():
    fig = _figure("column", "left", "center", {})
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    assert buf.getvalue().startswith(b"%PDF")
    with matplotlib.rc_context({"svg.fonttype": "path"}):  # text as paths: no <text> elements
        out = io.StringIO()
        fig.savefig(out, format="svg")
    assert "<text" not in out.getvalue() and "<path" in out.getvalue()


def test_pickles_for_worker_processes_and_reads_back():
    col = TextColumn([0.1, 0.2], [1, 2], ["a", "b"], transform=matplotlib.transforms.IdentityTransform(),
                     ha="right", va="bottom", fontsize=9, fontweight="bold")
    back = pickle.loads(pickle.dumps(col))
    assert back.get_texts() == ["a", "b"] and back.get_ha() == "right" and back.get_va() == "bottom"
    np.testing.assert_allclose(back.get_positions(), [[0.1, 1], [0.2, 2]])
    with pytest.raises(ValueError, match="ha must be"):
        TextColumn(0, [0], ["a"], transform=col.get_transform(), ha="middle")


def test_empty_and_nan_lines_are_skipped():
    fig = plt.figure(figsize=(2, 1))
    fig.add_artist(TextColumn(0.1, [0.2, np.nan, 0.6], ["", "nan row", "shown"], transform=fig.transFigure))
    fig.add_artist(TextColumn(0.1, [], [], transform=fig.transFigure))
    assert _pixels(fig).min() < 0.5  # "shown" is drawn, nothing raises
