"""Where every mark of a timeline goes (the numbers layer; no matplotlib here).

:func:`lane_layout` turns a timeline table (:mod:`.table`) into a :class:`TimelineLayout`:
lane order and vertical positions (lanes of one patient grouped under a header), marker
positions (marks that would overlap in a lane, with their whiskers, go to rows below the
lane's main row; nothing is moved in time), disease-status segments, therapy spans,
ongoing-remission arrows, axis limits and the caption. :func:`lane_order` and
:func:`time_axis_limits` are its first steps, usable alone (the pages of
:func:`analysis.timelines.plot_timeline_pages` share one time axis through them).

Units and conventions: x is time in the table's unit (``layout.time_unit``; decimal years
with a calendar anchor); marks before or after the axis are drawn at its edge and flagged
``offscale``. y is in lane units and grows downwards (the figure's axis is inverted): a lane
is at least 1 unit high, a patient's header row :data:`HEADER_HEIGHT`, a row of overlapping
marks ``layout.step`` below the previous.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.select import as_list
from analysis import timing
from analysis.timelines.table import ANCHOR_CALENDAR, ANCHOR_LINE

REMISSION_STATUSES = ("partial", "complete")
HEADER_HEIGHT = 1.05
"""Height of a patient's header row (lane units; a lane is at least 1 unit high)."""
SPAN_TYPES = ("chemotherapy", "conditioning")
#: marks that are not event types of the data (legend text and style)
OTHER_RELAPSE = "relapse_other_disease"
FOLLOWUP_NOT_REPORTED = "followup_not_reported"


@dataclass
class TimelineLayout:
    """Positions of every mark (output of :func:`lane_layout`).

    ``lanes``: one row per drawn lane, in drawing order (``y`` of its main row, ``y_label``,
    ``height``, ``start``/``end`` in time units, ``end_kind`` = last_followup / death /
    next_line / not_reported, ``ongoing``, ``last_status``, label fields).
    ``events``: one row per drawn mark (``x`` clipped to the axis, ``row`` within the lane
    and its ``y``, ``x_lo``/``x_hi`` the interval, ``offscale`` = "left"/"right"/"",
    ``mark`` = the style key: an event type, ``relapse_other_disease`` or
    ``followup_not_reported``, drawn after the lane's last mark). ``segments``: status
    segments (``x0``, ``x1``, ``y``, ``status``; the status is known to hold only from
    ``solid_from``: before it, the report's time allows it to have begun later -- "within",
    "about", or "at least" with no upper bound, whose whole segment is uncertain).
    ``spans``: chemotherapy / conditioning spans (``x0``, ``x1``, ``y``, ``event_type``).
    ``groups``: one row per patient (``y_top``, ``y_bottom``, header ``y_header``, label).
    ``left_out``: lanes of the table that are not drawn (not placeable, or beyond
    ``max_lanes``), with the reason.
    """

    lanes: pd.DataFrame
    events: pd.DataFrame
    segments: pd.DataFrame
    spans: pd.DataFrame
    groups: pd.DataFrame
    xlim: tuple
    ylim: tuple
    time_unit: str
    anchor: str
    min_sep: float
    step: float
    compact: bool
    left_out: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def axis_label(self) -> str:
        if self.anchor == ANCHOR_CALENDAR:
            return "Calendar year"
        if self.anchor == ANCHOR_LINE:
            zero = "first stem-cell therapy of the treatment line"
        else:
            zero = f"patient's first {self.anchor.replace('_', ' ')}"
        return f"{self.time_unit.capitalize()} since {zero}"

    @property
    def caption(self) -> str:
        if self.anchor == ANCHOR_CALENDAR:
            zero = "Calendar time (years); events without a calendar date are not drawn."
        elif self.anchor == ANCHOR_LINE:
            zero = ("Time zero = first stem-cell transplant or infusion of each treatment line (each lane has its "
                    "own); events outside a line (diagnosis, admission) are counted from the patient's first line.")
        else:
            zero = f"Time zero = each patient's first {self.anchor.replace('_', ' ')}; all lanes of a patient share it."
        if self.anchor == ANCHOR_CALENDAR:
            unit = ""
        else:
            d = timing.TIME_UNITS[self.time_unit]
            unit = f" Time in {self.time_unit} (1 {self.time_unit[:-1]} = {d:g} days)."
        text = (zero + unit + " Solid whisker: range of an imprecise time (month/year dates, 'about', 'within'); "
                "dotted whisker with arrow: only one bound is known ('at least', order only), so the time may lie "
                "anywhere up to the axis edge and beyond. Marks that would overlap in a lane are drawn on rows "
                "below its main row, never moved in time.")
        n_off = int((self.events["offscale"] != "").sum()) if len(self.events) else 0
        if n_off:
            text += f" {n_off} event(s) beyond the axis are drawn at its edge; their times are in the lane labels (◂/▸)."
        if len(self.left_out):
            reason = self.left_out["reason"].astype(str)
            beyond = reason.str.startswith("beyond")
            for mask, why in ((beyond, None), (~beyond, "cannot be placed on this time axis")):
                ids = self.left_out.loc[mask, "lane_id"].astype(str)
                if not len(ids):
                    continue
                shown = ", ".join(ids.head(12)) + ("" if len(ids) <= 12 else f" and {len(ids) - 12} more")
                why = why or reason[mask].iloc[0]
                text += f" Not drawn: {len(ids)} lane(s) {why} ({shown})."
            text += " All events are listed in the table."
        return text


LANE_COLUMNS = ["patient_id", "line", "lane_order", "case_role", "sex", "age_years", "diseases", "therapy",
                "line_therapy", "citation", "source_kind", "evidence_level", "not_placed_reason"]
"""Per-lane fields carried from the timeline table into ``layout.lanes``."""


def _lane_frame(table: pd.DataFrame) -> pd.DataFrame:
    """One row per lane (in order of first appearance) with the fields labels need, the
    number of events and of placed events, and where the lane starts and ends (time units;
    the end is the last follow-up or death when coded, else the last event)."""
    codes, lane_ids = pd.factorize(table["lane_id"])
    n = len(lane_ids)
    _, first_row = np.unique(codes, return_index=True)
    lanes = table.iloc[first_row][LANE_COLUMNS].reset_index(drop=True)
    lanes.insert(0, "lane_id", np.asarray(lane_ids, dtype=object))
    placed = table["placed"].to_numpy(dtype=bool)
    lanes["n_events"] = np.bincount(codes, minlength=n)
    lanes["n_placed"] = np.bincount(codes, weights=placed, minlength=n).astype(int)
    if "not_placed_reason" in lanes:  # the reason of a lane none of whose events is placed
        reason = np.empty(n, dtype=object)
        reason[codes[~placed]] = table["not_placed_reason"].to_numpy(dtype=object)[~placed]
        lanes["not_placed_reason"] = reason

    best = table["time_best"].to_numpy(dtype=float)
    etype = table["event_type"].to_numpy(dtype=object)

    def reduce(mask, how):
        out = np.full(n, np.inf if how == "min" else -np.inf)
        (np.minimum if how == "min" else np.maximum).at(out, codes[mask], best[mask])
        return np.where(np.isinf(out), np.nan, out)

    term = placed & ((etype == "last_followup") | (etype == "death"))
    first_event, last_event = reduce(placed, "min"), reduce(placed, "max")
    fu_end, death = reduce(term, "max"), reduce(placed & (etype == "death"), "max")
    lanes["first_event"], lanes["last_event"] = first_event, last_event
    lanes["end"] = np.where(np.isnan(fu_end), last_event, fu_end)
    lanes["end_kind"] = np.where(~np.isnan(death) & (death >= fu_end), "death",
                                 np.where(~np.isnan(fu_end), "last_followup", "not_reported")).astype(object)
    return lanes


def _status_points(ev: pd.DataFrame) -> pd.DataFrame:
    """Placed events that set the target disease's status: assessments, remissions and last
    follow-ups with a status, and relapses (status ``relapse``). Events about another
    disease (e.g. a lymphoma relapse) do not count."""
    target = ev["target_disease"].to_numpy(dtype=bool)
    et = ev["event_type"]
    has_status = (et.isin(["assessment", "remission", "last_followup"])
                  & ev["status"].isin(["active", "improving", "partial", "complete"])).to_numpy()
    rel = et.eq("relapse").to_numpy()
    keep = target & (has_status | rel)
    pts = ev[keep].copy()
    pts["seg_status"] = np.where(rel[keep], "relapse", pts["status"].to_numpy(dtype=object))
    return pts


def _nice_left(right: float, lo_data: float, pre_window: float | None) -> float:
    if pre_window is None:
        pre_window = max(0.2 * right, 1e-9)
    return max(lo_data, -abs(pre_window))


LAYOUT_EVENT_COLUMNS = [
    "lane_id", "patient_id", "line", "event_id", "event_type", "status", "disease", "target_disease",
    "product", "dose", "dose_unit", "time_lo", "time_best", "time_hi", "imprecise", "open_lo", "open_hi",
    "date_best", "coded_order",
]
"""Columns of the timeline table that :func:`lane_layout` carries into ``layout.events``."""


def lane_order(table: pd.DataFrame, sort_by: str | list | None = "follow_up",
               ascending: bool | None = None) -> pd.DataFrame:
    """One row per lane, in drawing order, with where it starts and ends.

    Columns: lane_id, patient_id, line, the patient's labels, ``placeable`` (has an event
    placed on the time axis), ``first_event``/``last_event``/``end`` (time units; ``end`` is
    the last follow-up or death when coded, else the last event), ``end_kind``
    (last_followup / death / next_line / not_reported) and ``p_rank`` (the patient's rank). Sorting as
    in :func:`lane_layout`; placeable lanes first.
    """
    lanes = _lane_frame(table)
    lanes["placeable"] = lanes["n_placed"] > 0
    # a line without its own follow-up that a later line follows is continued there
    later = lanes["line"] < lanes.groupby("patient_id")["line"].transform("max")
    lanes.loc[later & (lanes["end_kind"] == "not_reported"), "end_kind"] = "next_line"
    if ascending is None:
        ascending = sort_by != "follow_up"
    if sort_by in (None, "data"):
        pkey = lanes.groupby("patient_id", sort=False)["lane_order"].min()
        ascending = True
    elif sort_by == "follow_up":
        g = lanes.groupby("patient_id", sort=False)
        pkey = g["end"].max()
        if str(table["anchor"].iloc[0]) == ANCHOR_CALENDAR:  # duration, not calendar date
            pkey = pkey - g["first_event"].min()
        pkey = pkey.fillna(-np.inf)
    else:
        cols = as_list(sort_by)
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise ValueError(f"sort_by: expected 'follow_up', 'data' or columns of the table, found {missing}")
        first_vals = table.groupby("patient_id", sort=False)[cols].first()
        if len(cols) == 1:
            pkey = first_vals[cols[0]]
        else:
            pkey = pd.Series(list(map(tuple, first_vals.itertuples(index=False))), index=first_vals.index)
    porder = pd.DataFrame({"key": pkey, "data": lanes.groupby("patient_id", sort=False)["lane_order"].min()})
    porder = porder.sort_values(["key", "data"], ascending=[ascending, True], kind="stable", na_position="last")
    lanes["p_rank"] = lanes["patient_id"].map(pd.Series(np.arange(len(porder)), index=porder.index))
    return lanes.sort_values(["placeable", "p_rank", "line"], ascending=[False, True, True],
                             kind="stable").reset_index(drop=True)


def time_axis_limits(table: pd.DataFrame, anchor: str | None = None, pre_window: float | None = None) -> tuple:
    """Default axis limits (time units) for the placed events of ``table``: from the
    earliest event (but no further back before time zero than ``pre_window``, default 20 %
    of the latest time after zero) to the latest best time or finite bound, with room on
    the right for ongoing-remission arrows."""
    anchor = anchor or str(table["anchor"].iloc[0])
    ev = table[table["placed"].to_numpy()] if "placed" in table else table
    best = ev["time_best"].to_numpy(dtype=float)
    lo, hi = ev["time_lo"].to_numpy(dtype=float), ev["time_hi"].to_numpy(dtype=float)
    finite = np.concatenate([best, lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
    if anchor == ANCHOR_CALENDAR:
        lo_x, hi_x = (float(np.min(best)), float(np.max(finite))) if len(best) else (2000.0, 2001.0)
        pad = max(0.03 * (hi_x - lo_x), 0.25)
    else:
        hi_x = float(max(np.max(finite) if len(finite) else 0.0, 0.0))
        if hi_x <= 0:
            hi_x = 1.0
        lo_x = _nice_left(hi_x, float(min(np.min(best), 0.0)) if len(best) else 0.0, pre_window)
        pad = 0.03 * (hi_x - lo_x)
    return (lo_x - pad, hi_x + 2.2 * pad)


def lane_layout(table: pd.DataFrame, sort_by: str | list | None = "follow_up", ascending: bool | None = None,
                *, xlim: tuple | None = None, pre_window: float | None = None, min_sep: float | None = None,
                max_lanes: int | None = None, compact: bool | None = None) -> TimelineLayout:
    """Where every mark of the timeline goes (see :class:`TimelineLayout`).

    * ``sort_by``: ``"follow_up"`` (default: longest follow-up on top), ``"data"`` (the
      table's ``lane_order``), or one or more columns of the table (``"evidence_level"``,
      ``"patient_id"``, ``"diseases"``, ...; a patient is placed by its first value). The
      lanes of one patient always stay together, lines in ascending order.
      ``ascending`` defaults to False for ``follow_up`` and True otherwise.
    * ``xlim``: axis limits in time units; by default from the data. Events before time zero
      are shown back to ``pre_window`` time units (default 20 % of the longest time after
      zero); earlier ones are drawn at the left edge, marked off-scale, with their time.
    * ``min_sep``: the width of a marker in time units (marks of a lane whose markers or
      whiskers come closer go to separate rows); default 1/60 of the axis.
    * ``max_lanes``: draw at most this many lanes (whole patients); the rest are listed in
      ``left_out``.
    * ``compact``: an overview of many lanes: one-line labels, no patient header rows, every
      mark of a lane on one row (marks at the same time overlap). Default when more than 40
      lanes are drawn; :func:`plot_timeline_pages` avoids it by paging.
    """
    if table.empty:
        raise ValueError("no events to lay out: the filters left no patient (check diseases, therapies, "
                         "source_kinds, min_evidence_level, patient_ids)")
    anchor = str(table["anchor"].iloc[0])
    time_unit = str(table["time_unit"].iloc[0])
    lanes = lane_order(table, sort_by, ascending)
    ev = table.loc[table["placed"].to_numpy(), [c for c in LAYOUT_EVENT_COLUMNS if c in table.columns]]

    left_out = lanes.loc[~lanes["placeable"], ["lane_id", "patient_id", "line"]].assign(
        reason=lanes.loc[~lanes["placeable"], "not_placed_reason"].fillna("no events"))
    drawn = lanes[lanes["placeable"]]
    if max_lanes is not None and len(drawn) > max_lanes:
        # whole patients only, unless one patient alone exceeds the limit
        cum = drawn.groupby("p_rank", sort=False).size().cumsum()
        keep_p = cum[cum <= max_lanes].index
        if len(keep_p) == 0:
            keep_p = cum.index[:1]
        keep = drawn[drawn["p_rank"].isin(keep_p)].head(max(max_lanes, 1))
        over = drawn[~drawn["lane_id"].isin(keep["lane_id"])]
        left_out = pd.concat([over[["lane_id", "patient_id", "line"]].assign(
            reason=f"beyond max_lanes={max_lanes}"), left_out])
        drawn = keep
    drawn = drawn.reset_index(drop=True)  # already in drawing order (lane_order)
    if compact is None:
        compact = len(drawn) > 40
    k = pd.Index(drawn["lane_id"]).get_indexer(ev["lane_id"])
    ev = ev[k >= 0].copy()
    ev["lane_k"] = k[k >= 0]
    if drawn.empty:  # nothing can be placed: an empty layout that says why
        empty = pd.DataFrame(columns=["lane_id", "x", "y", "mark", "offscale"])
        return TimelineLayout(
            lanes=drawn.assign(y=[], y_label=[], ongoing=[]), events=empty, segments=empty.copy(),
            spans=empty.copy(), groups=pd.DataFrame(columns=["patient_id", "y_top", "y_bottom", "anecdote"]),
            xlim=tuple(xlim) if xlim is not None else (0.0, 1.0), ylim=(1.0, 0.0), time_unit=time_unit,
            anchor=anchor, min_sep=1.0, step=0.36, compact=False, left_out=left_out.reset_index(drop=True))
    if xlim is None:
        xlim = time_axis_limits(ev, anchor, pre_window)
    x0, x1 = float(xlim[0]), float(xlim[1])
    if not x1 > x0:
        raise ValueError(f"xlim: expected left < right, found {xlim}")
    if min_sep is None:
        min_sep = (x1 - x0) / 60.0
    n_lanes = len(drawn)

    def per_lane(values, lane_k, how, fill=np.nan):
        """Reduce ``values`` per lane (max/min) into an array of ``n_lanes``."""
        out = np.full(n_lanes, -np.inf if how == "max" else np.inf)
        (np.maximum if how == "max" else np.minimum).at(out, lane_k, values)
        return np.where(np.isinf(out), fill, out)

    # ---- markers: clip to the axis, then give marks that would overlap their own rows
    best = ev["time_best"].to_numpy()
    off = np.where(best < x0, "left", np.where(best > x1, "right", ""))
    ev["offscale"] = off
    ev["x"] = np.where(off == "", best, np.clip(best, x0 + 0.5 * min_sep, x1 - 0.5 * min_sep))
    ev["mark"] = np.where((ev["event_type"] == "relapse").to_numpy() & ~ev["target_disease"].to_numpy(dtype=bool),
                          OTHER_RELAPSE, ev["event_type"].to_numpy(dtype=object))
    # "follow-up not reported": a mark at the end of lanes without a last follow-up or death
    ongoing = _ongoing(ev, drawn)
    drawn["last_status"] = ongoing["last_status"].to_numpy()
    drawn["ongoing"] = ongoing["ongoing"].to_numpy()
    nr = np.flatnonzero(drawn["end_kind"].to_numpy() == "not_reported")
    nr_x = np.full(n_lanes, np.nan)
    if len(nr):
        end_nr = drawn["end"].to_numpy()[nr]
        # "?" after the lane's last mark and the end of its range ("within 6 months": after 6
        # months), never on a reported event: every one comes before the end of follow-up
        # (an "at least" event's open whisker runs on past it)
        hi = ev["time_hi"].to_numpy(dtype=float)
        reach = np.fmax(ev["x"].to_numpy(dtype=float), np.where(np.isfinite(hi), np.clip(hi, x0, x1), np.nan))
        last_x = per_lane(reach, ev["lane_k"].to_numpy(), "max")  # the latest a reported event may be
        nr_x[nr] = np.clip(np.fmax(last_x[nr], end_nr) + 1.6 * min_sep, x0, x1)
        fake = pd.DataFrame({
            "lane_id": drawn["lane_id"].to_numpy()[nr], "lane_k": nr, "event_id": "",
            "event_type": FOLLOWUP_NOT_REPORTED, "mark": FOLLOWUP_NOT_REPORTED, "time_best": end_nr,
            "time_lo": nr_x[nr], "time_hi": nr_x[nr], "x": nr_x[nr], "offscale": "",
            "coded_order": np.iinfo(np.int64).max, "open_lo": False, "open_hi": False, "imprecise": False,
            "status": None, "disease": None, "target_disease": True,
        })
        ev = pd.concat([ev, fake], ignore_index=True)
    order = np.lexsort((ev["coded_order"].to_numpy(), ev["lane_k"].to_numpy()))
    ev = ev.iloc[order].reset_index(drop=True)
    lane_k = ev["lane_k"].to_numpy()
    # compact figures (many lanes) keep every mark on the lane's one row
    ev["row"] = 0 if compact else _pack_rows(ev, x0, x1, min_sep)
    drawn["n_rows"] = per_lane(ev["row"].to_numpy(dtype=float), lane_k, "max", 0).astype(int) + 1

    # ---- vertical positions (y grows downwards; the axis is inverted). A lane's main row
    # (base line, status segments, arrows) is its first; overlapping marks go to rows below.
    step = 0.36 if not compact else 0.3
    extra = (drawn["n_rows"] - 1) * step
    drawn["height"] = np.maximum(1.0, extra + 0.8)
    header = 0.0 if compact else HEADER_HEIGHT
    gap = 0.35 if not compact else 0.0
    new_patient = drawn["patient_id"].ne(drawn["patient_id"].shift())
    pre = new_patient * (header + gap)
    pre.iloc[0] = header + (0.1 if not compact else 0.0)
    top = (pre + drawn["height"].shift(fill_value=0.0)).cumsum()
    drawn["y_top"] = top
    drawn["y"] = top + (drawn["height"] - extra) / 2
    drawn["y_label"] = top + drawn["height"] / 2
    drawn["y_bottom"] = top + drawn["height"]
    drawn["lane_order"] = np.arange(n_lanes)
    drawn["first_in_patient"] = new_patient.to_numpy()
    ylim = (float(drawn["y_bottom"].max()) + 0.2, 0.0)

    lane_y = drawn["y"].to_numpy()
    ev["y"] = lane_y[lane_k] + ev["row"].to_numpy() * step
    ev["x_lo"] = ev["time_lo"]
    ev["x_hi"] = ev["time_hi"]

    # ---- status segments: from each status report to the next one (or the lane's end)
    pts = _status_points(ev[ev["mark"].to_numpy() != FOLLOWUP_NOT_REPORTED])
    pk, px = pts["lane_k"].to_numpy(), pts["x"].to_numpy()
    o = np.lexsort((pts["coded_order"].to_numpy(), px, pk))
    pk, px = pk[o], px[o]
    end_x = np.clip(drawn["end"].to_numpy(dtype=float), x0, x1)
    same_next = np.r_[pk[1:] == pk[:-1], False]
    nxt = np.where(same_next, np.r_[px[1:], np.nan], end_x[pk] if len(pk) else np.array([]))
    # a status is known to hold only from the latest time its report allows ("within 4
    # months": from 4 months; "at least" with no upper bound: nowhere before the next report)
    hi = pts["time_hi"].to_numpy(dtype=float)[o]
    solid = np.where(np.isfinite(hi), np.clip(hi, px, np.maximum(nxt, px)), nxt)
    segs = pd.DataFrame({
        "lane_id": drawn["lane_id"].to_numpy()[pk], "x0": px, "x1": nxt, "solid_from": solid,
        "status": pts["seg_status"].to_numpy()[o], "event_id": pts["event_id"].to_numpy()[o], "y": lane_y[pk],
    })
    segs = segs[segs["x1"] > segs["x0"]].reset_index(drop=True)

    # ---- therapy spans (chemotherapy cycles, conditioning regimens): first to last of a lane
    sp = ev[ev["event_type"].isin(SPAN_TYPES)].groupby(["lane_k", "event_type"], sort=True)["x"].agg(
        ["min", "max", "size"])
    sp = sp[(sp["size"] >= 2) & (sp["max"] > sp["min"])].reset_index()
    spans = pd.DataFrame({"lane_id": drawn["lane_id"].to_numpy()[sp["lane_k"].to_numpy(dtype=int)],
                          "event_type": sp["event_type"], "x0": sp["min"], "x1": sp["max"], "n": sp["size"],
                          "y": lane_y[sp["lane_k"].to_numpy(dtype=int)]})

    # ---- patient groups
    g = drawn.groupby("patient_id", sort=False)
    groups = pd.DataFrame({"y_top": g["y_top"].min(), "y_bottom": g["y_bottom"].max(),
                           "n_lanes": g.size()}).reset_index()
    groups["y_header"] = groups["y_top"] - header / 2 - 0.02
    groups["anecdote"] = groups["patient_id"].map(g["case_role"].first()) == "adverse_event_anecdote"
    on = (ev["offscale"].to_numpy() == "") & (ev["mark"].to_numpy() != FOLLOWUP_NOT_REPORTED)
    first_on = per_lane(ev["x"].to_numpy()[on], lane_k[on], "min")
    first_on = np.where(np.isnan(first_on), drawn["end"].to_numpy(dtype=float), first_on)
    drawn["start"] = np.clip(np.minimum(first_on, 0.0 if anchor != ANCHOR_CALENDAR else np.inf), x0, x1)
    drawn["end_x"] = np.fmax(end_x, nr_x)  # a lane without reported follow-up runs to its "?"
    # the ongoing arrow starts after the last follow-up's uncertainty (or after the "?")
    term = ev["event_type"].isin(["last_followup", "death"]).to_numpy() & np.isfinite(ev["time_hi"].to_numpy())
    term_hi = per_lane(ev["time_hi"].to_numpy()[term], lane_k[term], "max", -np.inf)
    drawn["arrow_x"] = np.clip(np.fmax(np.maximum(drawn["end"].to_numpy(dtype=float), term_hi), nr_x), x0, x1)
    return TimelineLayout(
        lanes=drawn, events=ev, segments=segs, spans=spans, groups=groups,
        xlim=(x0, x1), ylim=ylim, time_unit=time_unit, anchor=anchor, min_sep=float(min_sep), step=step,
        compact=bool(compact), left_out=left_out.reset_index(drop=True),
    )


KEY_MARKS = frozenset(["transplant", "infusion", "assessment", "remission", "relapse", "last_followup", "death",
                       FOLLOWUP_NOT_REPORTED])


def _pack_rows(ev: pd.DataFrame, x0: float, x1: float, min_sep: float) -> np.ndarray:
    """Row of each mark within its lane so that no two marks of a row overlap.

    A mark occupies its marker (``min_sep`` wide) and its drawn whisker (an open side runs
    to the axis edge). First fit, placing first the narrow key marks (stem-cell therapy,
    status, relapse, follow-up), so that they stay on the lane's main row (row 0), then the
    others in coded order (so a stack of order-only events reads top-down in the order the
    source tells them). ``ev`` must be sorted by lane then coded order.
    """
    x = ev["x"].to_numpy(dtype=float)
    lo = ev["time_lo"].to_numpy(dtype=float)
    hi = ev["time_hi"].to_numpy(dtype=float)
    half = 0.5 * min_sep
    left = np.minimum(x, np.where(np.isfinite(lo), np.clip(lo, x0, x1), x0)) - half
    right = np.maximum(x, np.where(np.isfinite(hi), np.clip(hi, x0, x1), x1)) + half
    lane = ev["lane_k"].to_numpy() if "lane_k" in ev else pd.factorize(ev["lane_id"])[0]
    rows = np.zeros(len(ev), dtype=np.int64)
    if not len(ev):
        return rows
    # lanes whose marks are all disjoint keep everything on row 0 (no loop needed)
    order = np.lexsort((left, lane))
    l_s, r_s, lane_s = left[order], right[order], lane[order]
    # running max of the right ends before each mark within its lane
    run = pd.Series(r_s).groupby(lane_s).cummax().shift(1).to_numpy()
    run[np.r_[True, lane_s[1:] != lane_s[:-1]]] = -np.inf
    clash_lanes = np.unique(lane_s[l_s < run])
    if not len(clash_lanes):
        return rows
    key = ev["mark"].isin(KEY_MARKS).to_numpy()
    narrow = (right - left) <= 2.5 * min_sep
    priority = np.where(narrow & key, 0, 1)
    sel = np.flatnonzero(np.isin(lane, clash_lanes))
    sel = sel[np.lexsort((sel, priority[sel], lane[sel]))]
    cur, placed_rows = -1, []
    out = rows.tolist()
    for i, ln, a, b in zip(sel.tolist(), lane[sel].tolist(), left[sel].tolist(), right[sel].tolist()):
        if ln != cur:
            cur, placed_rows = ln, []
        k = 0
        for ivs in placed_rows:
            for c, d in ivs:
                if b > c and a < d:
                    break
            else:
                ivs.append((a, b))
                break
            k += 1
        else:
            placed_rows.append([(a, b)])
        out[i] = k
    return np.asarray(out, dtype=np.int64)


def _ongoing(ev: pd.DataFrame, lanes: pd.DataFrame) -> pd.DataFrame:
    """Per lane (aligned with ``lanes``): the last target-disease status and whether
    remission is ongoing at the end (last status partial/complete, no death at the end).
    ``ev`` carries ``lane_k``, the lane's position in ``lanes``."""
    pts = _status_points(ev)
    o = np.lexsort((pts["coded_order"].to_numpy(), pts["time_best"].to_numpy(), pts["lane_k"].to_numpy()))
    pk = pts["lane_k"].to_numpy()[o]
    st = pts["seg_status"].to_numpy(dtype=object)[o]
    last = np.full(len(lanes), None, dtype=object)
    last[pk] = st  # later rows overwrite: the last status of each lane remains
    ongoing = pd.Series(last).isin(REMISSION_STATUSES).to_numpy() & (lanes["end_kind"].to_numpy() != "death")
    return pd.DataFrame({"last_status": last, "ongoing": ongoing})
