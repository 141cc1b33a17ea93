"""Colours, markers and figure saving shared by every figure of the project.

Colours are the Okabe-Ito palette (colour-blind safe). The same event type, disease
status, therapy or evidence level gets the same colour in every figure.
"""

from __future__ import annotations

from pathlib import Path

from analysis.schemas import RECONSTRUCTED

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}

#: colour and matplotlib marker per event type (timelines, legends)
EVENT_STYLE = {
    "diagnosis": {"color": OKABE_ITO["grey"], "marker": "D", "label": "Diagnosis"},
    "admission": {"color": OKABE_ITO["black"], "marker": "H", "label": "Admission"},
    "chemotherapy": {"color": OKABE_ITO["grey"], "marker": "s", "label": "Chemotherapy"},
    "conditioning": {"color": OKABE_ITO["orange"], "marker": "s", "label": "Conditioning"},
    "transplant": {"color": OKABE_ITO["blue"], "marker": "^", "label": "Stem-cell transplant"},
    "infusion": {"color": OKABE_ITO["bluish_green"], "marker": "v", "label": "Stem-cell infusion"},
    "assessment": {"color": OKABE_ITO["sky_blue"], "marker": "o", "label": "Assessment"},
    "remission": {"color": OKABE_ITO["bluish_green"], "marker": "*", "label": "Remission"},
    "relapse": {"color": OKABE_ITO["vermillion"], "marker": "X", "label": "Relapse"},
    "adverse_event": {"color": OKABE_ITO["reddish_purple"], "marker": "P", "label": "Adverse event"},
    "death": {"color": OKABE_ITO["black"], "marker": "x", "label": "Death"},
    "last_followup": {"color": OKABE_ITO["black"], "marker": "|", "label": "Last follow-up"},
}

#: colour per disease status (timeline segments)
STATUS_COLORS = {
    "active": OKABE_ITO["vermillion"],
    "improving": OKABE_ITO["yellow"],
    "partial": OKABE_ITO["sky_blue"],
    "complete": OKABE_ITO["bluish_green"],
    "relapse": OKABE_ITO["vermillion"],
    "not_reported": OKABE_ITO["grey"],
}

#: colour per evidence level (forest plots, KM legends)
EVIDENCE_COLORS = {
    "rct": OKABE_ITO["blue"],
    "controlled_study": OKABE_ITO["sky_blue"],
    "uncontrolled_study": OKABE_ITO["bluish_green"],
    "case_series": OKABE_ITO["yellow"],
    "case_report": OKABE_ITO["orange"],
    RECONSTRUCTED: OKABE_ITO["reddish_purple"],
    "secondary_summary": OKABE_ITO["grey"],
    "anecdote": OKABE_ITO["black"],
    "background": "#DDDDDD",
}

_GROUP_CYCLE = [
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["orange"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
    OKABE_ITO["yellow"],
]


def clip(text: str, width: int, *, at_word: bool = False) -> str:
    """``text`` in at most ``width`` characters, "…" as the last when cut. ``at_word``: white
    space collapsed and the cut made at a word where one fits (a single long word is cut)."""
    if at_word:
        import textwrap

        cut = textwrap.shorten(text, width, placeholder="…")
        if cut != "…":
            return cut
    return text if len(text) <= width else text[: width - 1] + "…"


def group_colors(groups) -> dict:
    """Stable colour per group label: sorted labels take the Okabe-Ito cycle in order."""
    labels = sorted({str(g) for g in groups})
    return {g: _GROUP_CYCLE[i % len(_GROUP_CYCLE)] for i, g in enumerate(labels)}


def apply_style() -> None:
    """Readable defaults for every figure (call once per notebook): sets :data:`RC` globally."""
    import matplotlib as mpl

    mpl.rcParams.update(RC)


#: zlib level of the saved PNGs when ISA-L is not installed (see :func:`png_bytes`), and of
#: savefig's own PNG when it has to draw one (lossless at any level). Levels 1-3 take the
#: same time on this project's figures (~35 ms for a forest page of 12 MB of RGB) and 3
#: gives the smallest files of the three; from 4 on zlib searches lazily: ~3x slower
PNG_COMPRESS_LEVEL = 3


def save_figure(fig, output_dir: str | Path, name: str) -> list[Path]:
    """Save ``fig`` as ``output_dir/figures/NAME.png`` and ``.svg``; return both paths.

    ``name`` is reduced to a safe file stem (see :func:`analysis.export.safe_stem`), so an
    id from a data file can never write outside ``output_dir/figures``.

    Both files are cropped to the figure's tight bounding box (``bbox_inches="tight"``,
    ``savefig.pad_inches``). The layout engine (constrained layout) and that box are
    computed once, at the PNG's dpi, for both files, instead of once more per file in an
    extra drawing pass; the PNG is the same picture ``savefig(bbox_inches="tight")`` makes,
    pixel for pixel (written by :func:`png_bytes`).
    """
    from concurrent.futures import ThreadPoolExecutor

    from analysis.export import safe_stem

    folder = Path(output_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_stem(name)
    dpi = _savefig_dpi(fig)
    png, svg = folder / f"{stem}.png", folder / f"{stem}.svg"
    with _LentRenderers(fig) as lent:
        with lent.measuring():
            bbox = _tight_bbox(fig, dpi)
        engine = fig.get_layout_engine()
        if engine is not None:
            fig.set_layout_engine(None)  # the layout is done: keep it for both files
        try:
            with ThreadPoolExecutor(max_workers=1) as encoder:
                written = _write_png(fig, png, dpi, bbox, encoder)
                fig.savefig(svg, bbox_inches=bbox, metadata={"Date": None})
                written.result()  # the encoder is done with the lent canvas' pixels
        finally:
            if engine is not None:
                fig.set_layout_engine(engine)
    return [png, svg]


class _LentRenderers:
    """While a figure is saved, its Agg canvas draws on renderers lent from a small pool kept
    between figures, instead of allocating new ones.

    ``FigureCanvasAgg`` makes a new ``RendererAgg`` whenever the size or dpi it draws at
    changes, i.e. twice per saved figure (the full figure to find the tight box, then the
    cropped picture): a 16 MB pixel buffer for a forest page, allocated and cleared (~10-25 ms
    a page), and matplotlib's cache of text extents, which is kept per renderer, starts
    empty each time. Here

    - the tight box is measured with a 1 x 1 pixel renderer at the saving dpi (text extents
      do not depend on the canvas' size; nothing is drawn while measuring), kept per dpi, so
      its text-extent cache serves every figure;
    - the picture is drawn on a renderer of its size taken from the pool (the pages of a
      forest plot share one size), cleared before drawing as the canvas clears its own.

    The canvas gets its own renderer attributes back afterwards, so it never keeps a lent
    renderer; a renderer is taken out of the pool while lent, so two threads never draw on
    the same one. Canvases other than Agg's (or subclasses with their own
    ``get_renderer``) are left alone."""

    _pool: dict = {}  # (width, height, dpi) -> RendererAgg, at most POOL_SIZE of them
    _measurers: dict = {}  # dpi -> 1 x 1 RendererAgg
    POOL_SIZE = 2

    def __init__(self, fig):
        self._fig = fig
        self._lent: dict = {}
        self._measure = False
        self._canvas = None

    def __enter__(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = self._fig.canvas
        if (isinstance(canvas, FigureCanvasAgg) and type(canvas).get_renderer is FigureCanvasAgg.get_renderer
                and "get_renderer" not in vars(canvas)):
            self._canvas = canvas
            self._saved = {k: vars(canvas)[k] for k in ("renderer", "_lastKey") if k in vars(canvas)}
            canvas.get_renderer = self._get_renderer
        return self

    def __exit__(self, *exc):
        canvas = self._canvas
        if canvas is None:
            return
        del canvas.get_renderer
        for k in ("renderer", "_lastKey"):
            if k in self._saved:
                setattr(canvas, k, self._saved[k])
            else:
                vars(canvas).pop(k, None)
        pool = type(self)._pool
        for key, renderer in self._lent.items():
            pool.pop(key, None)
            pool[key] = renderer  # the newest last
        while len(pool) > self.POOL_SIZE:
            pool.pop(next(iter(pool)))

    def measuring(self):
        import contextlib

        @contextlib.contextmanager
        def measuring():
            self._measure = True
            try:
                yield
            finally:
                self._measure = False
        return measuring()

    def _get_renderer(self):
        from matplotlib.backends.backend_agg import RendererAgg

        fig = self._fig
        if self._measure:
            dpi = fig.dpi
            renderer = type(self)._measurers.get(dpi)
            if renderer is None:
                renderer = type(self)._measurers[dpi] = RendererAgg(1, 1, dpi)
            return renderer
        w, h = fig.bbox.size
        key = (w, h, fig.dpi)
        renderer = self._lent.get(key)
        if renderer is None:
            renderer = type(self)._pool.pop(key, None) or RendererAgg(w, h, fig.dpi)
            self._lent[key] = renderer
        self._canvas.renderer, self._canvas._lastKey = renderer, key
        return renderer


#: fewer figures than this are saved one after another: starting worker processes (~0.5 s)
#: costs more than it saves
PARALLEL_MIN_FIGURES = 4


def save_figures(figs: list, output_dir: str | Path, names: list[str], jobs: int | None = None) -> list[list[Path]]:
    """Save several figures (each as :func:`save_figure` does); return their paths in order.

    Drawing a page of text is CPU-bound (matplotlib rasterises text glyph by glyph), so
    with ``PARALLEL_MIN_FIGURES`` or more figures they are saved in ``jobs`` worker
    processes (default: one per two cores this process may use, see :func:`_default_jobs`)
    and the files are the same as when saved one by one. Each figure is sent to a worker (multiprocessing pickles it
    through the pool's pipe), which applies this process's ``rcParams`` (dpi, fonts, SVG
    text) before saving. The workers come from a ``forkserver`` started on first use, so
    this is safe in a Jupyter kernel, whose threads make a plain ``fork`` unsafe. If worker
    processes cannot be started (or die), the figures are saved here, one by one, with a
    warning; an error saving a figure (e.g. a read-only folder) is raised as it is.
    """
    if len(figs) != len(names):
        raise ValueError(f"{len(figs)} figures but {len(names)} names")
    jobs = min(len(figs), jobs or _default_jobs())
    if jobs < 2 or len(figs) < PARALLEL_MIN_FIGURES:
        return [save_figure(fig, output_dir, name) for fig, name in zip(figs, names)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    import matplotlib as mpl

    settings = {k: v for k, v in mpl.rcParams.items() if k != "backend"}
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["analysis.style", "matplotlib.figure", "matplotlib.backends.backend_agg",
                                    "matplotlib.backends.backend_svg", "isal.isal_zlib"])
    problem = None
    try:
        pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_figure_worker_init, initargs=(settings,))
        # each figure goes to its worker through the pool's own pipe (pickled by
        # multiprocessing, from this process to its child: nothing is read from files)
        futures = [pool.submit(_save_figure_in_worker, fig, str(output_dir), name) for fig, name in zip(figs, names)]
    except OSError as exc:  # no processes or semaphores here
        problem = exc
    else:
        with pool:
            try:
                return [future.result() for future in futures]  # a worker's own error is raised as it is
            except BrokenProcessPool as exc:  # a worker died
                problem = exc
    import warnings

    warnings.warn(f"could not save the figures in parallel ({type(problem).__name__}: {problem}); "
                  "saving them one by one", RuntimeWarning, stacklevel=2)
    return [save_figure(fig, output_dir, name) for fig, name in zip(figs, names)]


def _default_jobs() -> int:
    """Worker processes when ``jobs`` is not given: one per two usable cores, since saving a
    figure keeps two threads busy (drawing; compressing its PNG meanwhile). On two cores the
    figures are saved here: 18 forest pages took 10.0-17.0 s in two workers and 4.6-10.5 s
    one by one in the same runs (benchmarks/results.md, Rates)."""
    return max(1, _usable_cores() // 2)


def _usable_cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _figure_worker_init(settings: dict) -> None:
    import matplotlib as mpl

    mpl.use("Agg", force=True)  # never the notebook's inline backend in a worker
    mpl.rcParams.update(settings)


def _save_figure_in_worker(fig, output_dir: str, name: str) -> list[Path]:
    import matplotlib.pyplot as plt

    try:
        return save_figure(fig, output_dir, name)
    finally:
        plt.close(fig)


def _write_png(fig, path: Path, dpi: float, bbox, encoder):
    """Draw ``fig`` for the PNG here; compress the pixels on ``encoder`` (zlib releases the
    GIL while it compresses, so the SVG is drawn meanwhile). The picture is the one
    ``savefig(path, dpi=dpi, bbox_inches=bbox)`` draws, pixel for pixel; the file is written
    by :func:`png_bytes` instead of Pillow (see there). Returns a future (``.result()``
    raises its errors)."""
    import numpy as np

    raw = _PixelSink()
    fig.savefig(raw, format="rgba", dpi=dpi, bbox_inches=bbox)
    width, height = int(bbox.width * dpi), int(bbox.height * dpi)  # the canvas savefig drew
    data = raw.getbuffer()
    if len(data) != width * height * 4:  # not the size expected: let savefig draw it again
        fig.savefig(path, dpi=dpi, bbox_inches=bbox, metadata={"Software": None},
                    pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
        return encoder.submit(lambda: None)
    rgba = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 4)
    return encoder.submit(_write_bytes, path, png_bytes, rgba, dpi)


def _write_bytes(path: Path, make, *args) -> None:
    path.write_bytes(make(*args))


def png_bytes(rgba, dpi: float) -> bytes:
    """A PNG file of the pixels ``rgba`` (height x width x 4, uint8), with ``dpi`` in its
    pHYs chunk as Pillow writes it.

    Pillow's encoder chooses a filter per row (its adaptive filtering took ~100 of ~130 ms
    on a 1,640 x 2,560 forest page, at any zlib level). Here no row is filtered (the
    compressor matches a row against the row above it by itself) and the rows are deflated
    by ISA-L (the ``isal`` package, :data:`PNG_ISAL_LEVEL`): ~10 ms a forest page, files
    ~2 % smaller than Pillow's at level 3, RGBA as savefig writes them. Without ``isal``
    (no wheel for the platform) zlib deflates them (:data:`PNG_COMPRESS_LEVEL`, ~45 ms a
    page), and an opaque picture (every alpha 255, as every saved figure of the project with
    its white background) is stored as RGB, which zlib packs ~10 % smaller: the same pixels
    (a reader gives alpha 255 for RGB). Measured: benchmarks/results.md, Rates."""
    import struct
    import zlib

    import numpy as np

    deflate, level, rgb_if_opaque = _deflater()
    height, width, _ = rgba.shape
    opaque = rgb_if_opaque and bool(rgba[..., 3].min() == 255)
    channels = 3 if opaque else 4
    rows = np.empty((height, width * channels + 1), dtype=np.uint8)
    rows[:, 0] = 0  # filter type 0 (None) before each row
    pixels = rows[:, 1:].view()
    pixels.shape = (height, width, channels)  # a view of the rows (raises rather than copy)
    if opaque:
        for c in range(3):  # channel by channel: ~7 ms, where rgba[..., :3] copies in ~45 ms
            pixels[..., c] = rgba[..., c]
    else:
        pixels[...] = rgba

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))

    ppm = int(dpi / 0.0254 + 0.5)  # pixels per metre, rounded as Pillow rounds it
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0)),
        chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)),
        chunk(b"IDAT", deflate(rows, level)),
        chunk(b"IEND", b""),
    ])


#: ISA-L's level for the saved PNGs (lossless at any level): levels 1 and 2 take the same
#: time (~6 ms for the 16 MB of a forest page's pixels), 2 packs a little tighter; level 3
#: is ~8x slower for 1-2 % smaller files
PNG_ISAL_LEVEL = 2


def _deflater():
    """``(compress(data, level), level, store an opaque picture as RGB)`` for :func:`png_bytes`:
    ISA-L's deflate if the ``isal`` package is installed, else zlib's."""
    try:
        from isal import isal_zlib
    except ImportError:
        import zlib

        return zlib.compress, PNG_COMPRESS_LEVEL, True
    return isal_zlib.compress, PNG_ISAL_LEVEL, False


class _PixelSink:
    """Where ``savefig(format="rgba")`` writes: it keeps what is written (the Agg canvas'
    own pixel buffer, in one write) instead of copying it into a ``BytesIO`` (16 MB a
    forest page). The canvas is not drawn on again before the PNG is written."""

    def __init__(self):
        self._parts = []

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self._parts.append(view)
        return view.nbytes

    def seek(self, *args) -> int:  # matplotlib takes an object with seek for a file handle
        return 0

    def getbuffer(self) -> memoryview:
        if len(self._parts) == 1:
            return self._parts[0]
        return memoryview(b"".join(self._parts))


def _tight_bbox(fig, dpi: float):
    """The box ``savefig(bbox_inches="tight")`` crops to at ``dpi`` (inches, padded), after
    running the figure's layout engine at that dpi, as savefig's own first pass does.

    That first pass draws the whole figure with drawing switched off; only the layout and
    the extents of the artists are needed (the same box, tested), which costs about half.
    """
    import matplotlib as mpl

    original = fig.dpi
    fig.set_dpi(dpi)
    try:
        engine = fig.get_layout_engine()
        if engine is not None and fig.axes:
            engine.execute(fig)
        bbox = fig.get_tightbbox()
    finally:
        fig.set_dpi(original)
    return bbox.padded(mpl.rcParams["savefig.pad_inches"])


def figure_alt_text(fig) -> str:
    """A short text alternative for ``fig``, for screen readers and the HTML report's ``alt``:
    its title (the suptitle, else the first axes title, else the first figure text, as the
    forest plot writes its title), then the axis labels, e.g. ``"Relapse-free survival
    (Kaplan-Meier). x axis: Months since first stem-cell therapy; y axis: Relapse-free
    (%)"``. Empty parts are left out."""
    axes = [ax for ax in fig.axes if ax.get_visible()]
    title = fig.get_suptitle()
    for ax in axes:
        title = title or next((t for t in (ax.get_title("left"), ax.get_title(), ax.get_title("right")) if t), "")
    if not title and fig.texts:
        title = fig.texts[0].get_text()
    axes_parts = []
    for ax in axes:
        labels = [f"{axis} axis: {label}" for axis, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if label]
        if labels and "; ".join(labels) not in axes_parts:
            axes_parts.append("; ".join(labels))
    text = " ".join(title.split())
    if axes_parts:
        text = (text.rstrip(".") + ". " if text else "") + "; ".join(axes_parts)
    return text or "Figure"


def show_figure(fig, output_dir: str | Path, name: str, alt: str | None = None) -> None:
    """Save ``fig`` (:func:`save_figure`), show the saved PNG in the notebook, close ``fig``.

    The notebook shows the very PNG written to ``figures/`` instead of rasterising the
    figure a third time for its inline copy (matplotlib's inline backend would draw it
    again at ``figure.dpi``): one rendering per file. It is shown at the size the inline
    backend would give it (``figure.dpi`` pixels per inch), so at 150 dpi it is sharper,
    not larger. The image is stored in the notebook as ``image/png``, which nbconvert
    embeds in the HTML report. Closing the figure stops the inline backend from drawing it
    again at the end of the cell. ``alt`` is the image's text alternative, kept in the
    output's metadata and written as the ``alt`` of the report's ``<img>`` (default:
    :func:`figure_alt_text`).

    Returns None, as IPython's ``display`` does: a cell ending in ``show_figure(...)`` shows
    the figure and nothing else (a returned list of paths would be printed under it, in the
    report too). :func:`save_and_show_figure` does the same and returns the PNG and SVG paths.
    """
    save_and_show_figure(fig, output_dir, name, alt)


def save_and_show_figure(fig, output_dir: str | Path, name: str, alt: str | None = None) -> list[Path]:
    """:func:`show_figure`, returning the paths of the PNG and the SVG written."""
    return save_and_show_figures([fig], output_dir, [name], alts=None if alt is None else [alt])[0]


def show_figures(figs: list, output_dir: str | Path, names: list[str], alts: list[str] | None = None,
                 jobs: int | None = None) -> None:
    """:func:`show_figure` for several figures (the pages of a forest plot or of a timeline):
    saved together by :func:`save_figures` (in parallel processes when there are many), then
    shown in order, each with its text alternative; the figures are closed. Name the pages
    with :func:`page_names`. Returns None (:func:`save_and_show_figures` returns the paths)."""
    save_and_show_figures(figs, output_dir, names, alts, jobs)


def save_and_show_figures(figs: list, output_dir: str | Path, names: list[str], alts: list[str] | None = None,
                          jobs: int | None = None) -> list[list[Path]]:
    """:func:`show_figures`, returning the PNG and SVG paths of each figure, in order."""
    import struct

    import matplotlib as mpl
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    alts = [figure_alt_text(fig) for fig in figs] if alts is None else list(alts)
    scales = [mpl.rcParams["figure.dpi"] / _savefig_dpi(fig) for fig in figs]
    all_paths = save_figures(figs, output_dir, names, jobs=jobs)
    for paths, alt, scale in zip(all_paths, alts, scales):
        data = paths[0].read_bytes()
        px_width = struct.unpack(">I", data[16:20])[0]  # PNG IHDR: width, big-endian
        display(Image(data=data, format="png", width=max(1, round(px_width * scale)), alt=alt))
    for fig in figs:
        plt.close(fig)
    return all_paths


def page_names(stem: str, n: int) -> list[str]:
    """File names (without extension) of a figure of ``n`` pages: ``[stem]`` for one page,
    ``[stem_p1, stem_p2, ...]`` for several (``forest_efficacy``, or ``forest_efficacy_p1``,
    ``forest_efficacy_p2``); ``[]`` for none. Every multi-page figure is named by it."""
    if n < 0:
        raise ValueError(f"n: expected a number of pages >= 0, found {n}")
    return [stem] if n == 1 else [f"{stem}_p{i}" for i in range(1, n + 1)]


def _savefig_dpi(fig) -> float:
    import matplotlib as mpl

    dpi = mpl.rcParams["savefig.dpi"]
    return fig.dpi if dpi == "figure" else float(dpi)


# --------------------------------------------------------------------------- shared settings

#: matplotlib settings of every figure. :func:`apply_style` sets them for the whole session
#: (once per notebook); a plotting function applies them to its own figure only, with
#: ``plt.rc_context(RC)``, and leaves the caller's settings as they were.
RC = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "analysis",  # reproducible SVG ids
    "text.parse_math": False,  # every text is data: a study named "$x$" or "\\alert{}" is drawn as typed
}

#: time-axis tick steps of the survival figure per time unit (the first step giving at most
#: n + 1 ticks is used; months: 3, 6, 12, 24 ...). The swimmer plot has its own, denser steps.
TICK_STEPS_SURVIVAL = {
    "days": (1, 2, 5, 7, 10, 14, 30, 60, 90, 180, 365, 730, 1000, 1826, 3652, 5000, 10000),
    "weeks": (1, 2, 4, 8, 13, 26, 52, 104, 260, 520),
    "months": (1, 2, 3, 6, 12, 24, 36, 60, 120, 240),
    "years": (0.5, 1, 2, 5, 10, 20, 50),
}

#: tick steps (in the time unit) of the case timelines' x axis, smallest first: the first
#: that gives at most 14 ticks is used (days in weeks and months, weeks in 4, 13, 26, 52, ...)
TICK_STEPS_TIMELINE = {
    "days": (1, 7, 14, 28, 91, 182, 365, 730, 1826),
    "weeks": (1, 2, 4, 13, 26, 52, 104, 260),
    "months": (1, 3, 6, 12, 24, 60, 120),
    "years": (0.25, 0.5, 1, 2, 5, 10, 20),
    "calendar year": (1, 2, 5, 10, 20, 50),
}
