"""A column of one-line texts drawn as one matplotlib artist, for tables of thousands of cells.

A matplotlib ``Text`` lays out its string with FreeType on every draw (once more to find a
figure's tight box, once per file format), and FreeType loads every glyph afresh each time:
about 0.5 ms per cell, so a forest plot of 1,000 studies spent most of its time there.
:class:`TextColumn` draws the same texts, with the same font, size, alignment and baseline,
but

- in an SVG (``svg.fonttype = "none"``) it writes each line as ``<text>`` with
  ``text-anchor``, so nothing is measured at all;
- on the Agg canvas (PNG, notebooks) it pastes glyph images kept in a cache (each glyph is
  rendered once by the same FreeType font object matplotlib uses, with the same hinting) at
  the pen positions matplotlib computes (advances and kerning of that font), and blends
  each line into the canvas as ``draw_text`` does;
- on any other canvas (PDF, PS, path-text SVG, ...) it draws each line with the renderer's
  own ``draw_text``, as ``Text`` would.

The lines of one column share their style; each has its own position. Vertically each line
sits where a one-line ``Text`` with the same ``va`` puts it, from the height and descent of
"lp" (the same for every line).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib import rcParams
from matplotlib.artist import Artist
from matplotlib.colors import to_rgba
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.transforms import Bbox

__all__ = ["TextColumn"]


class TextColumn(Artist):
    """Lines of text at ``(x, y)`` points (in ``transform`` coordinates), one style.

    ``x`` is one value for every line or one per line; ``ha`` is ``"left"``, ``"right"`` or
    ``"center"``, ``va`` ``"center"``, ``"bottom"``, ``"baseline"`` or ``"top"``.
    :meth:`get_texts` gives the lines (what a test reads from ``Text`` artists)."""

    zorder = 3  # as Text

    def __init__(self, x, y, texts, *, transform, ha="left", va="center", fontsize=None, fontweight="normal",
                 fontstyle="normal", color="black", alpha=None):
        super().__init__()
        self._texts = [str(t) for t in texts]
        n = len(self._texts)
        self._y = np.asarray(y, dtype=float).reshape(n)
        self._x = np.broadcast_to(np.asarray(x, dtype=float), (n,)).copy()
        if ha not in ("left", "right", "center"):
            raise ValueError(f"ha must be left, right or center, got {ha!r}")
        if va not in _RAISE:
            raise ValueError(f"va must be one of {', '.join(_RAISE)}, got {va!r}")
        self._ha, self._va = ha, va
        self._prop = FontProperties(size=fontsize, weight=fontweight, style=fontstyle)
        self._color = color
        self.set_transform(transform)
        if alpha is not None:
            self.set_alpha(alpha)

    # --- what the lines say -------------------------------------------------------------
    def get_texts(self) -> list[str]:
        return list(self._texts)

    def get_fontproperties(self) -> FontProperties:
        return self._prop

    def get_color(self):
        return self._color

    def get_ha(self) -> str:
        return self._ha

    def get_va(self) -> str:
        return self._va

    def _raise(self, h: float, d: float) -> float:
        """From the anchor up to the baseline, for a line box of height ``h``, descent ``d``."""
        return _RAISE[self._va](h, d)

    def get_positions(self) -> np.ndarray:
        """The anchor of each line, in the artist's transform coordinates."""
        return np.column_stack([self._x, self._y])

    # --- drawing ------------------------------------------------------------------------
    def _anchors(self):
        """Display coordinates of the lines that can be drawn (finite, non-empty)."""
        if not self._texts:
            return [], np.empty((0, 2))
        xy = self.get_transform().transform(np.column_stack([self._x, self._y]))
        finite = np.isfinite(xy).all(axis=1)
        keep = [i for i, t in enumerate(self._texts) if t and finite[i]]
        if len(keep) == len(self._texts):
            return self._texts, xy
        return [self._texts[i] for i in keep], xy[keep]

    def _rgba(self):
        r, g, b, a = to_rgba(self._color)
        alpha = self.get_alpha()
        return r, g, b, a if alpha is None else alpha

    def draw(self, renderer):
        if not self.get_visible():
            return
        texts, xy = self._anchors()
        if not texts:
            return
        base = _base_renderer(renderer)
        renderer.open_group("textcolumn", self.get_gid())
        try:
            from matplotlib.backends.backend_agg import RendererAgg
            from matplotlib.backends.backend_svg import RendererSVG

            if isinstance(base, RendererSVG) and rcParams["svg.fonttype"] == "none":
                self._draw_svg(base, texts, xy)
            elif isinstance(base, RendererAgg):
                self._draw_agg(base, texts, xy)
            else:
                self._draw_generic(renderer, texts, xy)
        finally:
            renderer.close_group("textcolumn")
        self.stale = False

    def _draw_svg(self, renderer, texts, xy):
        from matplotlib.backends.backend_svg import _generate_css, _short_float_fmt

        r, g, b, a = self._rgba()
        prop = self._prop
        style = {}
        if prop.get_style() != "normal":
            style["font-style"] = prop.get_style()
        weight = _weight(prop)
        if weight != 400:
            style["font-weight"] = f"{weight}"
        style["font-size"] = f"{_short_float_fmt(prop.get_size())}px"
        style["font-family"] = _css_families(prop)
        style["text-anchor"] = {"left": "start", "right": "end", "center": "middle"}[self._ha]
        color = "#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in (r, g, b)))
        if color != "#000000":
            style["fill"] = color
        if a != 1:
            style["opacity"] = _short_float_fmt(a)
        _, h, d = renderer.get_text_width_height_descent("lp", prop, ismath=False)
        down = -self._raise(h, d)  # from the anchor down to the baseline
        writer = renderer.writer
        writer.start("g", style=_generate_css(style))
        height = renderer.height
        for text, (x, y) in zip(texts, xy):
            writer.element("text", text, x=_short_float_fmt(x), y=_short_float_fmt(height - y + down))
        writer.end("g")

    def _draw_generic(self, renderer, texts, xy):
        gc = renderer.new_gc()
        gc.set_foreground(self._rgba(), isRGBA=True)
        gc.set_alpha(self._rgba()[3])
        gc.set_url(self.get_url())
        prop = self._prop
        _, lp_h, lp_d = renderer.get_text_width_height_descent("lp", prop, ismath=False)
        canvas_h = renderer.get_canvas_width_height()[1]
        for text, (x, y) in zip(texts, xy):
            w, h, d = renderer.get_text_width_height_descent(text, prop, ismath=False)
            h, d = max(h, lp_h), max(d, lp_d)
            x0 = x - {"left": 0.0, "right": w, "center": w / 2}[self._ha]
            yb = y + self._raise(h, d)
            if renderer.flipy():
                yb = canvas_h - yb
            renderer.draw_text(gc, x0, yb, text, prop, 0.0, ismath=False)
        gc.restore()

    def _draw_agg(self, renderer, texts, xy):
        glyphs = _glyphs(self._prop, renderer.dpi)
        _, lp_h, lp_d = renderer.get_text_width_height_descent("lp", self._prop, ismath=False)
        height = renderer.height
        shift = {"left": 0.0, "right": 1.0, "center": 0.5}[self._ha]
        up = self._raise(lp_h, lp_d)
        gc = renderer.new_gc()  # the colour and alpha a Text gives its gc
        gc.set_foreground(self._color)
        gc.set_alpha(self.get_alpha())
        gc.set_url(self.get_url())
        try:
            for text, (x, y) in zip(texts, xy):
                lay = glyphs.layout(text)
                baseline = height - (y + up)  # from the top, as Agg draws
                glyphs.paint(renderer, gc, lay, x - shift * lay[0], baseline)
        finally:
            gc.restore()

    # --- extent (tight bounding box) ----------------------------------------------------
    def get_window_extent(self, renderer=None):
        texts, xy = self._anchors()
        if not texts:
            return Bbox.null()
        dpi = renderer.dpi if renderer is not None else self.get_figure(root=True).dpi
        glyphs = _glyphs(self._prop, dpi)
        h, d = glyphs.lp_height, glyphs.lp_descent
        layout = glyphs.layout
        widths = np.array([layout(text)[0] for text in texts])
        left = xy[:, 0] - {"left": 0.0, "right": 1.0, "center": 0.5}[self._ha] * widths
        bottom = xy[:, 1] + self._raise(h, d) - d
        return Bbox([[left.min(), bottom.min()], [(left + widths).max(), bottom.max() + h]])

    def get_tightbbox(self, renderer=None):
        return self.get_window_extent(renderer)


_RAISE = {  # va -> (height, descent of the line box) -> from the anchor up to the baseline
    "center": lambda h, d: d - h / 2,
    "bottom": lambda h, d: d,
    "baseline": lambda h, d: 0.0,
    "top": lambda h, d: d - h,
}


def _base_renderer(renderer):
    """The SVG/PDF/Agg renderer behind a MixedModeRenderer (as the vector backends use)."""
    inner = renderer.__dict__.get("_renderer")
    if type(renderer).__name__ == "MixedModeRenderer" and inner is not None:
        return inner
    return renderer


def _weight(prop) -> int:
    from matplotlib import font_manager as fm

    w = prop.get_weight()
    return fm.weight_dict.get(w, w)


def _css_families(prop) -> str:
    """The ``font-family`` list matplotlib's SVG backend writes for ``prop``."""
    from matplotlib import font_manager as fm

    def normal(name):
        return "sans-serif" if name in ("sans", "sans serif") else name

    names = []
    for entry in prop.get_family():
        entry = normal(entry)
        if entry in fm.font_family_aliases:
            names.extend(normal(n) for n in fm.FontManager._expand_aliases(entry))
        names.append(entry)
    return ", ".join(dict.fromkeys(n if n in fm.font_family_aliases else repr(n) for n in names))


# --------------------------------------------------------------------------- glyph cache

_GLYPH_SETS: dict = {}


def _glyphs(prop: FontProperties, dpi: float) -> _GlyphSet:
    key = (findfont(prop), prop.get_size_in_points(), float(dpi), rcParams["text.hinting"],
           rcParams["text.hinting_factor"], rcParams["text.kerning_factor"], rcParams["text.antialiased"])
    found = _GLYPH_SETS.get(key)
    if found is None:
        found = _GLYPH_SETS[key] = _GlyphSet(*key[:4])
    return found


class _GlyphSet:
    """Glyph images and metrics of one font file at one size and dpi, rendered by FreeType
    through matplotlib's own ``FT2Font`` (same hinting, hinting factor and kerning as the Agg
    backend). Positions are kept in pixels (float); a glyph is pasted at its pen position
    rounded to whole pixels, as ``draw_text`` rounds the position of a whole line."""

    def __init__(self, fname: str, size: float, dpi: float, _hinting):
        from matplotlib.backends.backend_agg import get_hinting_flag
        from matplotlib.ft2font import FT2Font, Kerning

        self._font = FT2Font(fname, hinting_factor=rcParams["text.hinting_factor"],
                             _kerning_factor=rcParams["text.kerning_factor"])
        self._font.set_size(size, dpi)
        self._flags = get_hinting_flag()
        self._kerning_mode = Kerning.DEFAULT
        self._has_kerning = "KERNING" in str(self._font.face_flags)
        self._antialiased = bool(rcParams["text.antialiased"])
        self._cache: dict[str, tuple] = {}
        self._kern: dict[str, float] = {}
        self._layouts: dict[str, tuple] = {}
        self.lp_height, self.lp_descent = self._size_of("lp")

    def _size_of(self, text: str) -> tuple[float, float]:
        font = self._font
        font.set_text(text, 0.0, flags=self._flags)
        _, h = font.get_width_height()
        return h / 64.0, font.get_descent() / 64.0

    def _glyph(self, ch: str) -> tuple:
        """Cached (image, ink start in the image's first column, row of the bitmap's top in
        the image, advance, ink left, bitmap top, lowest and highest ink, glyph index), in
        pixels; ``image`` (uint8 coverage, or None for a blank) is the glyph rendered alone
        at pen position 0 by ``draw_glyphs_to_bitmap``."""
        g = self._cache.get(ch)
        if g is not None:
            return g
        font = self._font
        font.set_text(ch, 0.0, flags=self._flags)
        w, h = font.get_width_height()  # the width of a string is its advance
        xo, _ = font.get_bitmap_offset()
        d = font.get_descent() / 64.0
        y_min, y_max = -d, h / 64.0 - d
        advance = w / 64.0
        index = font.get_char_index(ord(ch))
        font.draw_glyphs_to_bitmap(antialiased=self._antialiased)
        image = np.array(font.get_image(), dtype=np.uint8)
        if not image.size or not image.any():
            # a blank: no image, but its box (0, 0, 0, 0) still counts in the line's box
            g = (None, 0.0, 0, advance, 0.0, 0, 0.0, 0.0, index)
        else:
            lsb = xo / 64.0
            top = math.ceil(y_max)  # FreeType's bitmap top
            g = (image, lsb - math.floor(lsb), int(y_max - top + 1), advance, lsb, top, y_min, y_max, index)
        self._cache[ch] = g
        return g

    def _kerning(self, a: str, b: str) -> float:
        ga, gb = self._glyph(a)[8], self._glyph(b)[8]
        k = self._font.get_kerning(ga, gb, self._kerning_mode) / 64.0 if ga and gb else 0.0
        self._kern[a + b] = k
        return k

    def layout(self, text: str) -> tuple:
        """How ``text`` is laid out, as ``FT2Font.set_text``, ``get_width_height`` and
        ``draw_glyphs_to_bitmap`` do it: (the line's width, i.e. its advance; where its ink
        starts, 0 if it has a blank; the lowest and highest ink; the glyph images with their
        places in the line's bitmap; that bitmap's size; its offset from the pixel where
        ``draw_text`` puts the bitmap's corner), pixels. Cached per text."""
        found = self._layouts.get(text)
        if found is not None:
            return found
        cache, kern = self._cache, self._kern if self._has_kerning else None
        glyphs = []
        pen = 0.0
        prev = ""
        left = y_min = math.inf
        y_max = -math.inf
        for ch in text:
            g = cache.get(ch) or self._glyph(ch)
            if kern is not None and prev:
                k = kern.get(prev + ch)
                pen += self._kerning(prev, ch) if k is None else k
            if g[0] is None:
                x = 0.0
            else:
                x = pen + g[4]
                glyphs.append((g, x))
            if x < left:
                left = x
            if g[6] < y_min:
                y_min = g[6]
            if g[7] > y_max:
                y_max = g[7]
            pen += g[3]
            prev = ch
        if left == math.inf:
            left = y_min = y_max = 0.0
        # each glyph's column and row from the corner of the line's bitmap (draw_glyphs_to_bitmap:
        # bitmap left - ink left, truncated; ink top - bitmap top + 1), moved by the whole pixel
        # that brings the cached glyph's ink nearest to where it starts at its pen position
        floor = math.floor
        pieces = []
        c0 = r0 = c1 = r1 = 0
        for i, (g, x) in enumerate(glyphs):
            fx = floor(x)
            image = g[0]
            c, r = int(fx - left) + round(x - fx - g[1]), int(y_max - g[5] + 1) - g[2]
            pieces.append((image, c, r))
            h, w = image.shape
            if not i:
                c0, r0, c1, r1 = c, r, c + w, r + h
                continue
            if c < c0:
                c0 = c
            if r < r0:
                r0 = r
            if c + w > c1:
                c1 = c + w
            if r + h > r1:
                r1 = r + h
        if c0 or r0:
            pieces = [(image, c - c0, r - r0) for image, c, r in pieces]
        if len(self._layouts) > 50_000:
            self._layouts.clear()
        found = self._layouts[text] = (pen, left, y_min, y_max, pieces, (r1 - r0, c1 - c0), (c0, r0))
        return found

    def paint(self, renderer, gc, lay, x0, baseline) -> None:
        """Draw a line (laid out by :meth:`layout`) on the Agg ``renderer`` where
        ``draw_text`` draws it with pen origin ``x0`` and ``baseline`` (pixels from the left
        and the top of the canvas): the glyph images are combined into one coverage image,
        which Agg blends in ``gc``'s colour with ``draw_text_image``, the call and the whole
        pixels ``draw_text`` uses for its bitmap (left: the ink's left end rounded; bottom:
        the baseline plus the descent rounded)."""
        _, ink_min, y_min, y_max, pieces, shape, (c0, r0) = lay
        if not pieces:
            return
        left = round(x0 + ink_min) + c0
        top = round(baseline - y_min) + 1 - (int(y_max - y_min) + 2) + r0
        if len(pieces) == 1:
            cover = pieces[0][0]
        else:
            cover = np.zeros(shape, dtype=np.uint8)
            maximum = np.maximum
            for image, c, r in pieces:
                h, w = image.shape
                view = cover[r:r + h, c:c + w]
                maximum(view, image, out=view)
        # the image's top-left pixel at (left, top), rows counted from the top of the canvas
        renderer._renderer.draw_text_image(cover, left, top + shape[0], 0.0, gc)
