"""Case timelines (swimmer plots), built in layers as R's ``swimplot`` does.

Each layer is a function a user can call on its own; each lives in its own room, and the
imports run one way (figure -> draw -> layout -> table -> the vocabulary in
:mod:`analysis.timing`, :mod:`analysis.schemas`, :mod:`analysis.select`):

- ``table.py`` -- the data: :func:`timeline_table`, one tidy row per event with its time
  relative to the chosen time zero (``time_lo``, ``time_best``, ``time_hi`` in the chosen
  unit) and its lane (one per patient and treatment line); :func:`events_table` (the table
  beneath the figure, ``timeline_events.csv``), :func:`not_placeable`. Time zero
  (``anchor``), units and open bounds are explained there. Open it to change a column, a
  time text or how time zero is found.
- ``layout.py`` -- the numbers, no matplotlib: :func:`lane_layout` gives a
  :class:`TimelineLayout` (lane order and heights, mark positions and rows of overlapping
  marks, status segments, therapy spans, ongoing arrows, axis limits, caption);
  :func:`lane_order`, :func:`time_axis_limits`. Open it to change sorting, stacking or the
  caption.
- ``draw.py`` -- the drawing layers, one ``draw_*`` function per kind of mark on a
  matplotlib ``Axes`` (one artist per kind, not per mark): :func:`draw_lanes`,
  :func:`draw_status_segments`, :func:`draw_uncertainty`, :func:`draw_event_markers`,
  :func:`draw_ongoing_arrows`, :func:`draw_labels` (texts: :func:`lane_labels`); marker
  styles (:func:`mark_style`, :func:`evidence_marker`). A status stretch whose start the
  source leaves open ("within", "about", "at least") is drawn pale and dotted up to where the
  status is known to hold. Open it to change how a mark looks.
- ``lanes.py`` -- :func:`timeline_lanes`, one row per lane (``timeline_lanes.csv``): best
  response and time to it, duration of remission with its interval (through the offset
  graph), ongoing at the last report, and the lane's ``curve`` in the survival analysis.
- ``figure.py`` -- the figure: :func:`legend_handles` / :func:`draw_legend`,
  :func:`plot_timelines` (one figure; returns a :class:`TimelineFigure`, i.e.
  ``fig, layout``), :func:`plot_timeline_pages` (many lanes on several figures, one time
  axis) and :func:`page_name` (their file names).

Patients are chosen with :func:`select_patients` (re-exported from :mod:`analysis.select`).
Times: the data's are days; a week is 7 days, a month 365.25/12 = 30.4375 days, a year
365.25 days (:data:`analysis.timing.TIME_UNITS`).
"""

from analysis.select import select_patients
from analysis.timelines.draw import (
    draw_event_markers,
    draw_labels,
    draw_lanes,
    draw_ongoing_arrows,
    draw_status_segments,
    draw_uncertainty,
    evidence_marker,
    format_dose,
    lane_labels,
    mark_style,
    n_segments,
)
from analysis.timelines.figure import (
    TimelineFigure,
    draw_legend,
    legend_handles,
    page_name,
    plot_timeline_pages,
    plot_timelines,
)
from analysis.timelines.lanes import LANE_TABLE_COLUMNS, timeline_lanes
from analysis.timelines.layout import (
    FOLLOWUP_NOT_REPORTED,
    OTHER_RELAPSE,
    TimelineLayout,
    lane_layout,
    lane_order,
    time_axis_limits,
)
from analysis.timelines.table import (
    ANCHOR_CALENDAR,
    ANCHOR_LINE,
    EXPORT_COLUMNS,
    TABLE_COLUMNS,
    events_table,
    not_placeable,
    short_citation,
    timeline_table,
)

__all__ = [
    # table
    "ANCHOR_LINE", "ANCHOR_CALENDAR", "TABLE_COLUMNS", "EXPORT_COLUMNS", "select_patients", "timeline_table",
    "events_table", "not_placeable", "short_citation",
    # layout
    "TimelineLayout", "OTHER_RELAPSE", "FOLLOWUP_NOT_REPORTED", "lane_order", "time_axis_limits", "lane_layout",
    # drawing layers
    "mark_style", "draw_lanes", "draw_status_segments", "draw_uncertainty", "n_segments", "draw_event_markers",
    "draw_ongoing_arrows", "format_dose", "lane_labels", "draw_labels", "evidence_marker",
    # lanes
    "LANE_TABLE_COLUMNS", "timeline_lanes",
    # figure
    "legend_handles", "draw_legend", "TimelineFigure", "plot_timelines", "plot_timeline_pages", "page_name",
]
