"""analysis.style: saving figures (one layout pass for PNG and SVG) and showing the saved PNG."""

from __future__ import annotations

import base64
import io
import threading
import warnings

import matplotlib
import matplotlib.image

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from analysis import style  # noqa: E402


@pytest.fixture(autouse=True)
def _styled():
    with matplotlib.rc_context():
        style.apply_style()
        yield
    plt.close("all")


def _figure(layout="constrained"):
    """Text outside the axes on every side: the tight box and the layout both matter."""
    fig, ax = plt.subplots(figsize=(6, 3), layout=layout)
    ax.plot([0, 1, 2], [0, 1, 0.5], label="a line with a long label")
    ax.set_xlabel("months since therapy")
    ax.set_ylabel("relapse-free (%)")
    ax.set_title("A title", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.text(0.0, 0.0, "A caption below the axes, placed at the figure's edge", va="top")
    return fig


def _pixels(source) -> np.ndarray:
    """The picture as a reader sees it: RGBA (an opaque PNG may be stored as RGB)."""
    return np.asarray(Image.open(source).convert("RGBA"))


@pytest.mark.parametrize("layout", ["constrained", None])
def test_saved_png_is_the_picture_savefig_tight_makes(tmp_path, layout):
    ref = io.BytesIO()
    fig = _figure(layout)
    fig.savefig(ref, format="png", bbox_inches="tight", metadata={"Software": None},
                pil_kwargs={"compress_level": style.PNG_COMPRESS_LEVEL})
    plt.close(fig)

    fig = _figure(layout)
    engine = fig.get_layout_engine()
    png, svg = style.save_figure(fig, tmp_path, "fig")
    assert png == tmp_path / "figures" / "fig.png" and svg == tmp_path / "figures" / "fig.svg"
    got, want = _pixels(png), _pixels(ref)
    assert got.shape == want.shape and (got == want).all()  # the very picture savefig writes
    assert Image.open(png).info["dpi"] == Image.open(ref).info["dpi"]  # the same pHYs as Pillow's
    # the figure is left as it was: same dpi, same layout engine
    assert fig.dpi == 100 and fig.get_layout_engine() is engine
    # the SVG is cropped to the same box (SVG is in points: 72 per inch; PNG at 150 dpi)
    text = svg.read_text()
    assert "<text" in text and "A caption below the axes" in text
    width_pt = float(text.split('width="', 1)[1].split("pt", 1)[0])
    assert width_pt == pytest.approx(got.shape[1] / 150 * 72, abs=0.5)


def test_saved_png_has_no_software_or_date_metadata(tmp_path):
    png, svg = style.save_figure(_figure(), tmp_path, "fig")
    assert "Software" not in Image.open(png).info
    assert "<dc:date>" not in svg.read_text()


def test_save_figure_name_cannot_leave_the_figures_folder(tmp_path):
    png, _ = style.save_figure(_figure(), tmp_path, "../../evil name")
    assert png.parent == tmp_path / "figures" and png.name == "_.._evil_name.png"


def test_show_figure_shows_the_saved_png_at_screen_size_and_closes_the_figure(tmp_path, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs: shown.extend(objs))
    fig = _figure()
    paths = style.save_and_show_figure(fig, tmp_path, "fig")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert len(shown) == 1
    image = shown[0]
    assert image.data == paths[0].read_bytes()  # the file itself, not a second rendering
    data, meta = image._repr_png_()  # what the notebook stores: base64 image/png + its width
    assert base64.b64decode(data) == paths[0].read_bytes()
    px_width = _pixels(paths[0]).shape[1]
    # figure.dpi / savefig.dpi: the inline size; the text alternative for the report's <img>
    assert meta == {"width": round(px_width * 100 / 150),
                    "alt": "A title. x axis: months since therapy; y axis: relapse-free (%)"}
    assert not plt.fignum_exists(fig.number)


def test_show_figure_takes_an_explicit_text_alternative(tmp_path, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs: shown.extend(objs))
    style.show_figure(_figure(), tmp_path, "fig", alt="Two patients relapse-free at 4 and 5 years")
    assert shown[0]._repr_png_()[1]["alt"] == "Two patients relapse-free at 4 and 5 years"


def test_figure_alt_text_names_the_title_and_the_axes():
    fig = plt.figure()
    assert style.figure_alt_text(fig) == "Figure"  # nothing to say: a placeholder, never empty
    fig.text(0.1, 0.9, "Forest  plot\n(page 1 of 2)")  # the forest plot's title is a figure text
    assert style.figure_alt_text(fig) == "Forest plot (page 1 of 2)"
    ax = fig.add_subplot(2, 1, 1)
    ax.set_title("Counts per item")  # an axes title comes before a figure text (often a caption)
    ax.set_xlabel("item id")
    ax2 = fig.add_subplot(2, 1, 2)
    ax2.set_xlabel("item id")  # the same labels twice are said once
    assert style.figure_alt_text(fig) == "Counts per item. x axis: item id"
    ax2.set_ylabel("count")
    fig.suptitle("Survival by therapy")  # the suptitle wins
    assert style.figure_alt_text(fig) == "Survival by therapy. x axis: item id; x axis: item id; y axis: count"
    plt.close(fig)


def test_png_falls_back_to_savefig_when_the_drawn_size_is_not_the_expected_one(tmp_path, monkeypatch):
    import builtins

    ref = io.BytesIO()
    fig = _figure()
    fig.savefig(ref, format="png", bbox_inches="tight", metadata={"Software": None},
                pil_kwargs={"compress_level": style.PNG_COMPRESS_LEVEL})
    plt.close(fig)
    # a canvas size one pixel off what savefig drew: the pixels cannot be used as they are
    monkeypatch.setattr(style, "int", lambda x: builtins.int(x) + 1, raising=False)
    threads = []
    imsave = matplotlib.image.imsave
    monkeypatch.setattr(matplotlib.image, "imsave",
                        lambda *a, **k: threads.append(threading.current_thread()) or imsave(*a, **k))
    monkeypatch.setattr(style, "png_bytes", lambda *a, **k: pytest.fail("the pixels were not the expected size"))
    png, _ = style.save_figure(_figure(), tmp_path, "fig")
    assert threads == [threading.main_thread()]  # written by savefig itself, not by the encoder thread
    assert png.read_bytes() == ref.getvalue()


def test_png_is_compressed_on_a_worker_thread(tmp_path, monkeypatch):
    threads = []
    png_bytes = style.png_bytes
    monkeypatch.setattr(style, "png_bytes",
                        lambda *a, **k: threads.append(threading.current_thread()) or png_bytes(*a, **k))
    style.save_figure(_figure(), tmp_path, "fig")
    assert len(threads) == 1 and threads[0] is not threading.main_thread()


def test_png_is_deflated_by_isal_when_installed():
    pytest.importorskip("isal")
    from isal import isal_zlib

    assert style._deflater() == (isal_zlib.compress, style.PNG_ISAL_LEVEL, False)


@pytest.mark.parametrize("isal", [True, False])
@pytest.mark.parametrize("alpha", [255, 0, 128])
def test_png_bytes_is_a_lossless_png_of_the_pixels(alpha, isal, monkeypatch):
    import zlib

    if isal:
        pytest.importorskip("isal")
    else:  # without isal: zlib, and an opaque picture as RGB
        monkeypatch.setattr(style, "_deflater", lambda: (zlib.compress, style.PNG_COMPRESS_LEVEL, True))
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[5, 7, 3] = alpha  # one pixel with transparency: the alpha channel is kept
    data = style.png_bytes(rgba, 150)
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes and checks every chunk's CRC and the zlib stream
    assert image.mode == ("RGB" if alpha == 255 and not isal else "RGBA")
    assert (np.asarray(image.convert("RGBA")) == rgba).all()
    assert image.info["dpi"] == pytest.approx((150, 150), abs=0.02)  # pixels per metre, rounded
    # the pHYs chunk Pillow writes for the same dpi, byte for byte
    ref = io.BytesIO()
    Image.fromarray(rgba).save(ref, format="png", dpi=(150, 150))
    phys = ref.getvalue().index(b"pHYs")
    assert data[data.index(b"pHYs") - 4:][:21] == ref.getvalue()[phys - 4:][:21]


def _pages(n: int) -> list:
    figs = []
    for i in range(n):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [i, i + 1])
        ax.set_title(f"Page {i + 1} of {n}")
        figs.append(fig)
    return figs


def test_save_figures_in_parallel_writes_the_same_files_as_one_by_one(tmp_path):
    import hashlib

    n = style.PARALLEL_MIN_FIGURES + 1
    names = [f"page{i}" for i in range(n)]
    serial = style.save_figures(_pages(n), tmp_path / "serial", names, jobs=1)
    parallel = style.save_figures(_pages(n), tmp_path / "parallel", names, jobs=2)
    assert [[p.name for p in paths] for paths in parallel] == [[f"page{i}.png", f"page{i}.svg"] for i in range(n)]
    assert all(p.parent == tmp_path / "parallel" / "figures" for paths in parallel for p in paths)

    def digest(paths):
        return [hashlib.sha256(p.read_bytes()).hexdigest() for ps in paths for p in ps]

    # the workers used this process's rcParams (savefig.dpi 150, SVG text as text)
    assert digest(serial) == digest(parallel)
    assert _pixels(parallel[0][0]).shape[1] > 3 * 150 * 0.9
    plt.close("all")


def test_save_figures_checks_names_and_falls_back_to_one_by_one(tmp_path, monkeypatch):
    import concurrent.futures

    with pytest.raises(ValueError, match="3 figures but 2 names"):
        style.save_figures(_pages(3), tmp_path, ["a", "b"])

    class NoProcesses:
        def __init__(self, *args, **kwargs):
            raise OSError("no processes here")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", NoProcesses)
    n = style.PARALLEL_MIN_FIGURES
    with pytest.warns(RuntimeWarning, match=r"could not save the figures in parallel \(OSError: no processes here\)"):
        paths = style.save_figures(_pages(n), tmp_path, [f"p{i}" for i in range(n)], jobs=2)
    assert [p.name for p in paths[-1]] == [f"p{n - 1}.png", f"p{n - 1}.svg"] and all(p.exists() for p in paths[-1])
    plt.close("all")


def test_show_figures_shows_each_page_in_order_with_its_alt_and_closes_them(tmp_path, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs: shown.extend(objs))
    n = style.PARALLEL_MIN_FIGURES
    figs = _pages(n)
    paths = style.save_and_show_figures(figs, tmp_path, [f"p{i}" for i in range(n)], jobs=2)
    assert [img.data for img in shown] == [ps[0].read_bytes() for ps in paths]
    assert [img._repr_png_()[1]["alt"] for img in shown] == [f"Page {i + 1} of {n}" for i in range(n)]
    assert not any(plt.fignum_exists(f.number) for f in figs)


def test_save_figures_raises_a_workers_own_error_as_it_is(tmp_path):
    """An error saving a figure in a worker is the user's to see (no silent retry)."""
    blocked = tmp_path / "out"
    blocked.mkdir()
    (blocked / "figures").write_text("a file where the figures folder should be")
    n = style.PARALLEL_MIN_FIGURES
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "saving them one by one" fallback warning
        with pytest.raises(FileExistsError):
            style.save_figures(_pages(n), blocked, [f"p{i}" for i in range(n)], jobs=2)
    plt.close("all")


def test_show_figure_returns_nothing_so_a_cell_ending_in_it_prints_no_paths(tmp_path, monkeypatch):
    """A notebook cell whose last line is ``show_figure(...)`` showed the figure and then
    the returned ``[PosixPath('./figures/...png'), ...]`` as the cell's result (in the
    code-hidden HTML reports too). Like IPython's display, it returns None; the paths come
    from save_and_show_figure(s)."""
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda *objs: None)
    assert style.show_figure(_figure(), tmp_path, "one") is None
    assert style.show_figures([_figure(), _figure()], tmp_path, ["a", "b"]) is None
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["a.png", "a.svg", "b.png", "b.svg",
                                                                        "one.png", "one.svg"]


def test_page_names_of_a_multi_page_figure():
    assert style.page_names("forest_efficacy", 1) == ["forest_efficacy"]
    assert style.page_names("forest_efficacy", 3) == ["forest_efficacy_p1", "forest_efficacy_p2", "forest_efficacy_p3"]
    assert style.page_names("forest_safety", 0) == []
    with pytest.raises(ValueError, match="n: expected a number of pages >= 0, found -1"):
        style.page_names("x", -1)
