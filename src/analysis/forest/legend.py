"""A figure legend that lays itself out once per drawing instead of once per question asked.

matplotlib's ``Legend`` is a tree of offset boxes (columns of rows of handle + text). Each
box works out its size from its children's sizes every time it is asked, and drawing asks
again at every level, so a four-column legend of a forest page laid out its texts ~35
times per drawing (~15 ms a format, as much as every study row's text of the page).
:class:`Legend` is the same legend; while it draws or reports its extent, each of its boxes
keeps the size it worked out for that renderer, so the layout is computed once per call.
Nothing else changes: the same boxes, the same sizes and offsets, the same pixels.
"""

from __future__ import annotations

import contextlib

from matplotlib.legend import Legend as _MplLegend
from matplotlib.offsetbox import OffsetBox

__all__ = ["Legend", "figure_legend"]

_MEMOIZED = ("get_bbox", "_get_bbox_and_child_offsets")


class Legend(_MplLegend):
    """``matplotlib.legend.Legend`` that computes its layout once per draw or extent call."""

    _layout_depth = 0

    @contextlib.contextmanager
    def _layout_once(self):
        if self._layout_depth:  # already inside a call of this legend
            yield
            return
        boxes = _boxes(self._legend_box)
        for box in boxes:
            for name in _MEMOIZED:
                setattr(box, name, _once(getattr(box, name)))
        self._layout_depth = 1
        try:
            yield
        finally:
            self._layout_depth = 0
            for box in boxes:
                for name in _MEMOIZED:
                    vars(box).pop(name, None)

    def draw(self, renderer):
        with self._layout_once():
            super().draw(renderer)

    def get_window_extent(self, renderer=None):
        with self._layout_once():
            return super().get_window_extent(renderer)

    def get_tightbbox(self, renderer=None):
        with self._layout_once():
            return super().get_tightbbox(renderer)


def figure_legend(fig, handles, **kwargs) -> Legend:
    """``fig.legend(handles=handles, **kwargs)``, as a :class:`Legend`."""
    kwargs.setdefault("bbox_transform", fig.transSubfigure)
    legend = Legend(fig, handles, [h.get_label() for h in handles], **kwargs)
    fig.legends.append(legend)
    legend._remove_method = fig.legends.remove
    fig.stale = True
    return legend


def _boxes(root) -> list:
    found, todo = [], [root]
    while todo:
        box = todo.pop()
        if isinstance(box, OffsetBox) and box not in found:
            found.append(box)
            todo.extend(box.get_children())
    return found


def _once(method):
    """``method(renderer)``, computed once per renderer (and its dpi) while it is installed."""
    results = {}

    def once(renderer):
        key = (id(renderer), renderer.points_to_pixels(1.0))
        found = results.get(key)
        if found is None:
            found = results[key] = (method(renderer), renderer)  # keep the renderer: ids stay unique
        return found[0]

    return once
