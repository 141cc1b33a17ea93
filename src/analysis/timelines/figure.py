"""The timeline figure: legend, one figure, pages of figures and their file names.

:func:`plot_timelines` composes the layers of :mod:`.draw` into one figure (legend, title,
caption stating time zero and units) and returns a :class:`TimelineFigure`, the figure with
the :class:`~analysis.timelines.layout.TimelineLayout` it was drawn from (``fig, layout =
plot_timelines(...)``). :func:`plot_timeline_pages` splits many lanes into several such
figures on one time axis, whole patients per page; :func:`page_name` names their files.

Units: figure sizes in inches, font sizes in points; x and y as in :mod:`.layout`.
matplotlib is imported inside the functions that draw (a deliberate lazy import).
"""

from __future__ import annotations

import textwrap
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from analysis import schemas
from analysis.style import EVENT_STYLE, EVIDENCE_COLORS, OKABE_ITO, STATUS_COLORS
from analysis.timelines.draw import (
    LANE_COLOR,
    SPAN_ALPHA,
    UNCERTAIN_HATCH,
    draw_event_markers,
    draw_labels,
    draw_lanes,
    draw_ongoing_arrows,
    draw_status_segments,
    draw_uncertainty,
    evidence_marker,
    lane_labels,
    mark_style,
)
from analysis.timelines.layout import (
    FOLLOWUP_NOT_REPORTED,
    OTHER_RELAPSE,
    TimelineLayout,
    lane_layout,
    lane_order,
    time_axis_limits,
)
from analysis.timelines.table import ANCHOR_CALENDAR

PAGE_STEM = "case_timelines"
"""File name (without extension) of the first timeline page; see :func:`page_name`."""

STATUS_ORDER = ["active", "improving", "partial", "complete", "relapse", "not_reported"]
STATUS_LABELS = {
    "active": "Active disease",
    "improving": "Improving",
    "partial": "Partial remission",
    "complete": "Clear / complete remission",
    "relapse": "Relapse",
    "not_reported": "Status not reported",
}


def legend_handles(layout: TimelineLayout) -> list:
    """Legend entries for every kind of mark the layout draws."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    h = [Line2D([], [], color=LANE_COLOR, lw=1.2, label="Lane: first event to end of follow-up")]
    if layout.anchor != ANCHOR_CALENDAR and layout.xlim[0] < 0 < layout.xlim[1]:
        h.append(Line2D([], [], color="#505050", lw=0.8, ls=(0, (4, 3)), label="Time zero"))
    marks = list(dict.fromkeys(m for m in schemas.EVENT_TYPES + [OTHER_RELAPSE, FOLLOWUP_NOT_REPORTED]
                               if m in set(layout.events["mark"])))
    for m in marks:
        st = mark_style(m)
        if m == "assessment":
            h.append(Line2D([], [], ls="", marker="o", markerfacecolor="white", markeredgecolor="#222222",
                            markersize=6, label="Assessment (filled with the status colour)"))
            continue
        face = "none" if st["face"] == "none" else st["color"]
        h.append(Line2D([], [], ls="", marker=st["marker"], color=st["color"], markerfacecolor=face,
                        markeredgecolor=st["color"] if st["marker"] in ("|", "x") or face == "none" else "#222222",
                        markeredgewidth=2.2 if m == "last_followup" else 1.0,
                        markersize=(11 if m == "last_followup" else 8), label=st["label"]))
    present = set(layout.segments["status"])
    seen_colors = {}
    for st in STATUS_ORDER:
        if st not in present:
            continue
        color = STATUS_COLORS[st]
        if color in seen_colors:  # same colour (active disease, relapse): one entry
            seen_colors[color].set_label(seen_colors[color].get_label() + " / " + STATUS_LABELS[st].lower())
            continue
        seen_colors[color] = Patch(facecolor=color, alpha=0.85, label=f"Status: {STATUS_LABELS[st]}")
        h.append(seen_colors[color])
    seg = layout.segments
    if len(seg) and "solid_from" in seg and (seg["solid_from"] > seg["x0"]).any():
        h.append(Patch(facecolor="#BBBBBB", edgecolor="#777777", hatch=UNCERTAIN_HATCH, alpha=0.6, linewidth=0,
                       label="Status began somewhere in this stretch ('within', 'about', 'at least')"))
    for t in layout.spans["event_type"].unique():
        h.append(Patch(facecolor=EVENT_STYLE[t]["color"], alpha=SPAN_ALPHA,
                       label=f"{EVENT_STYLE[t]['label']} (first to last)"))
    e = layout.events[layout.events["mark"] != FOLLOWUP_NOT_REPORTED]
    if (np.isfinite(e["x_lo"]) & np.isfinite(e["x_hi"]) & (e["x_hi"] > e["x_lo"])).any() or \
            (e["imprecise"] & ~(e["open_lo"] | e["open_hi"])).any():
        h.append(Line2D([], [], color="#555555", lw=1.3, marker="|", markersize=7,
                        label="Range of an imprecise time"))
    if (e["open_lo"] | e["open_hi"]).any():
        h.append(Line2D([], [], color="#555555", lw=1.0, ls=(0, (1, 1.6)), marker=">", markersize=5,
                        markevery=[1], label="Only a bound known (may lie beyond the edge)"))
    if layout.lanes["ongoing"].fillna(False).any():
        h.append(Line2D([], [], color=STATUS_COLORS["complete"], lw=2, marker=">", markersize=6, markevery=[1],
                        label="Remission ongoing at last report"))
    levels = [lv for lv in schemas.EVIDENCE_LEVELS if lv in set(layout.lanes["evidence_level"].astype(str))]
    for lv in levels:
        h.append(Line2D([], [], ls="", marker=evidence_marker(), markerfacecolor=EVIDENCE_COLORS.get(lv, OKABE_ITO["grey"]),
                        markeredgecolor="#333333", markersize=8, label=f"Evidence: {schemas.evidence_words(lv)}"))
    if layout.groups["anecdote"].any():
        h.append(Patch(facecolor="white", edgecolor="#BBBBBB", hatch="///", label="Adverse-event anecdote"))
    return h


def draw_legend(ax, layout: TimelineLayout, **kwargs):
    """The legend (right of the axes), explaining every mark drawn."""
    handles = legend_handles(layout)
    kw = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8 if not layout.compact else 7,
              borderaxespad=0.0, handlelength=2.2, title="Marks", title_fontsize=9, alignment="left")
    kw.update(kwargs)
    return ax.legend(handles=handles, **kw)


class TimelineFigure(NamedTuple):
    """A drawn timeline: the matplotlib figure and the layout it was drawn from (positions,
    lanes left out, caption). Unpacks as ``fig, layout = plot_timelines(...)``."""

    figure: Any
    """The ``matplotlib.figure.Figure``."""
    layout: TimelineLayout


def page_name(page: int) -> str:
    """File name (without extension) of timeline page ``page`` (counted from 1, as in the
    pages' titles): ``case_timelines``, then ``case_timelines_page2``, ``case_timelines_page3``, ..."""
    return PAGE_STEM if page == 1 else f"{PAGE_STEM}_page{page}"


def _figure_size(layout: TimelineLayout) -> tuple[float, float]:
    units = layout.ylim[0]
    if layout.compact:
        return 11.0, max(3.2, units * 0.085 + 2.2)
    return 13.0, max(3.2, units * 0.36 + 1.6)


def plot_timelines(data, *, sort_by="follow_up", ascending=None, max_lanes: int = 40, title: str | None = None,
                   uncertainty: str = "whisker", xlim=None, pre_window=None, compact=None, figsize=None,
                   caption: bool = True) -> TimelineFigure:
    """The timeline figure: lanes, status segments, uncertainty, markers, ongoing arrows,
    labels, legend, title and a caption stating time zero and the unit.

    ``data`` is a :func:`timeline_table` (laid out here with ``sort_by``, ``xlim``, ...) or a
    :class:`TimelineLayout`. At most ``max_lanes`` lanes are drawn (whole patients); the
    lanes left out are named in the caption and in a warning -- use
    :func:`plot_timeline_pages` to draw them all. Returns a :class:`TimelineFigure`: the
    matplotlib Figure and the layout drawn (``fig, layout = plot_timelines(table)``).
    """
    import matplotlib.pyplot as plt

    n_over = 0
    if isinstance(data, TimelineLayout):
        layout = data
    else:
        layout = lane_layout(data, sort_by=sort_by, ascending=ascending, xlim=xlim, pre_window=pre_window,
                             max_lanes=max_lanes, compact=compact)
        if len(layout.left_out):
            n_over = int(layout.left_out["reason"].astype(str).str.startswith("beyond").sum())
    if n_over:
        warnings.warn(f"{n_over} lane(s) beyond max_lanes={max_lanes} are not drawn; use plot_timeline_pages "
                      "to draw them on further pages", stacklevel=2)
    size = figsize or _figure_size(layout)
    # many lanes: fixed margins (a layout engine measuring hundreds of labels is slow)
    fig, ax = plt.subplots(figsize=size, layout=None if layout.compact else "constrained")
    if layout.compact:
        left = (max((len(t) for t in lane_labels(layout)["lane_label"]), default=10) * 5 * 0.6 + 16) / 72
        fig.subplots_adjust(left=left / size[0], right=1 - 3.3 / size[0], top=1 - 0.45 / size[1],
                            bottom=0.55 / size[1])
    if len(layout.lanes) == 0:
        ax.axis("off")
        width_chars = int(fig.get_figwidth() * 72 / (10 * 0.55))
        ax.text(0.5, 0.5, textwrap.fill("No lane can be placed on this time axis. " + layout.caption, width_chars),
                parse_math=False,
                ha="center", va="center", transform=ax.transAxes)
        return TimelineFigure(fig, layout)
    draw_lanes(ax, layout)
    draw_status_segments(ax, layout)
    draw_uncertainty(ax, layout, style=uncertainty)
    draw_event_markers(ax, layout)
    draw_ongoing_arrows(ax, layout)
    draw_labels(ax, layout)
    draw_legend(ax, layout)
    if title is None:
        title = f"Case timelines ({len(layout.lanes)} lane{'s' if len(layout.lanes) != 1 else ''}, " \
                f"{layout.lanes['patient_id'].nunique()} patient{'s' if layout.lanes['patient_id'].nunique() != 1 else ''})"
    ax.set_title(title, loc="left", fontsize=12)
    if caption:
        width_chars = int(fig.get_figwidth() * 72 / (8.5 * 0.52))
        fig.text(0.005, 0.0, textwrap.fill(layout.caption, width_chars), ha="left", va="top", fontsize=8.5,
                 color="#333333", parse_math=False)
    return TimelineFigure(fig, layout)


def plot_timeline_pages(table: pd.DataFrame, max_lanes: int = 40, *, max_pages: int | None = None,
                        sort_by="follow_up", ascending=None, title: str | None = None,
                        **kwargs) -> list[TimelineFigure]:
    """Figures of at most ``max_lanes`` lanes each (whole patients per page), in the order
    of :func:`lane_layout`, all on the same time axis. With ``max_pages``, pages beyond it
    are not drawn: the last page's caption and a warning name the lanes left out.
    Returns one :class:`TimelineFigure` per page (figure and layout); page ``i`` (from 1)
    is saved as :func:`page_name` ``(i)``."""
    if max_lanes < 1:
        raise ValueError(f"max_lanes: expected at least 1, found {max_lanes}")
    if table.empty:
        raise ValueError("no events to draw: the filters left no patient")
    lanes = lane_order(table, sort_by, ascending)
    placed = table[table["placed"].to_numpy()]
    xlim = kwargs.pop("xlim", None) or time_axis_limits(placed if len(placed) else table,
                                                        pre_window=kwargs.pop("pre_window", None))
    not_placeable_lanes = lanes.loc[~lanes["placeable"], ["lane_id", "patient_id", "line"]].assign(
        reason=lanes.loc[~lanes["placeable"], "not_placed_reason"].fillna("no events"))
    # page breaks at patient boundaries
    sizes = lanes[lanes["placeable"]].groupby("p_rank", sort=False).size()
    pages, cur, n = [], [], 0
    for p, k in sizes.items():
        if cur and n + k > max_lanes:
            pages.append(cur)
            cur, n = [], 0
        cur.append(p)
        n += k
    if cur or not pages:
        pages.append(cur)
    shown = pages if max_pages is None else pages[:max_pages]
    dropped = [p for page in pages[len(shown):] for p in page]
    lanes = lanes[lanes["placeable"]]
    figs = []
    for i, page in enumerate(shown):
        pids = set(lanes.loc[lanes["p_rank"].isin(page), "patient_id"])
        sub = table[table["patient_id"].isin(pids)] if pids else table
        lay = lane_layout(sub, sort_by=sort_by, ascending=ascending, xlim=xlim, max_lanes=None,
                          compact=kwargs.get("compact"))
        extra = []
        if i == len(shown) - 1:
            if dropped:
                gone = lanes[lanes["p_rank"].isin(dropped)][["lane_id", "patient_id", "line"]].assign(
                    reason=f"beyond max_pages={max_pages}")
                extra.append(gone)
            if len(not_placeable_lanes):
                extra.append(not_placeable_lanes)
        if extra:
            lay.left_out = pd.concat(extra, ignore_index=True)
        else:
            lay.left_out = lay.left_out.iloc[0:0]
        t = title or "Case timelines"
        if len(shown) > 1 or dropped:
            t = f"{t} — page {i + 1} of {len(pages)}"
        figs.append(plot_timelines(lay, title=t, **{k: v for k, v in kwargs.items() if k not in ("compact",)}))
    if dropped:
        n_lanes = int(lanes["p_rank"].isin(dropped).sum())
        warnings.warn(f"{n_lanes} lane(s) on {len(pages) - len(shown)} page(s) beyond max_pages={max_pages} "
                      "are not drawn (named in the last page's caption)", stacklevel=2)
    return figs
