"""Case timelines (swimmer plots), built in layers as R's ``swimplot`` does.

Each layer is a function a user can call on its own:

1. :func:`timeline_table` -- one tidy row per event of the selected patients, with its time
   relative to the chosen time zero (``time_lo``, ``time_best``, ``time_hi`` in the chosen
   unit), the lane it belongs to (one lane per patient and treatment line), and what a table
   beneath the figure needs (detail, product and dose, quote, short citation, evidence level).
2. :func:`lane_layout` -- where everything goes: lane order and vertical positions (lanes of
   one patient grouped under a header), marker positions (marks that would overlap in a lane,
   with their whiskers, go to rows below the lane's main row; nothing is moved in time),
   disease-status segments, therapy spans, ongoing-remission arrows, axis limits, caption.
3. ``draw_*`` functions, each drawing one kind of mark on a matplotlib ``Axes`` with
   collections or one NaN-separated path (one artist per kind of mark, not per mark): :func:`draw_lanes`,
   :func:`draw_status_segments`, :func:`draw_uncertainty`, :func:`draw_event_markers`,
   :func:`draw_ongoing_arrows`, :func:`draw_labels`, :func:`draw_legend`.
4. :func:`plot_timelines` composes them into one figure (legend, title, caption stating time
   zero and units); :func:`plot_timeline_pages` splits many lanes into several figures.

Time conventions: the data's times are days; a week is 7 days, a month 365.25/12 =
30.4375 days, a year 365.25 days. Time zero (``anchor``) is

* ``"line"`` (default): each treatment line's first stem-cell transplant or infusion; events
  outside any line (line 0: diagnosis, admission) are shown on the patient's first line and
  counted from its day 0;
* ``"calendar"``: calendar time (decimal years); lanes without a calendar date cannot be
  placed and are listed as such;
* an event type (``"admission"``, ``"diagnosis"``, ...): per patient, the first such event;
  every lane of the patient counts from it, through the offset chains (see
  :mod:`analysis.timing`), so uncertainty is carried, not compounded.

An interval bounded on one side only ("at least", "before X", order-only events) has
``time_lo = -inf`` or ``time_hi = +inf``; it is drawn as a dotted whisker ending in an arrow
at the axis edge. A time that cannot be related to time zero (an age of a patient without a
calendar link, an undated event) is ``NaN``: listed in the table, not drawn.
"""

from __future__ import annotations

import functools
import math
import textwrap
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import schemas, timing
from analysis.select import select_patients  # noqa: F401  (re-exported for notebooks)
from analysis.style import EVENT_STYLE, EVIDENCE_COLORS, OKABE_ITO, STATUS_COLORS, TICK_STEPS_TIMELINE

UNIT_ABBREVIATION = {"days": "d", "weeks": "wk", "months": "mo", "years": "y", "calendar year": ""}
ANCHOR_LINE = "line"
ANCHOR_CALENDAR = "calendar"

STATUS_ORDER = ["active", "improving", "partial", "complete", "relapse", "not_reported"]
STATUS_LABELS = {
    "active": "Active disease",
    "improving": "Improving",
    "partial": "Partial remission",
    "complete": "Clear / complete remission",
    "relapse": "Relapse",
    "not_reported": "Status not reported",
}
REMISSION_STATUSES = ("partial", "complete")
BAND_COLOR = "#F2F2F2"
"""Background of every other patient's lanes."""
WHISKER_COLOR = "#3A3A3A"
"""Colour of finite uncertainty whiskers (dark, visible on every status colour)."""
SPAN_ALPHA = 0.45
LANE_COLOR = "#A8A8A8"
"""The lane's track from its first event (or time zero) to its end."""
HEADER_HEIGHT = 1.05
"""Height of a patient's header row (lane units; a lane is at least 1 unit high)."""
SPAN_TYPES = ("chemotherapy", "conditioning")
#: marks that are not event types of the data (legend text and style)
OTHER_RELAPSE = "relapse_other_disease"
FOLLOWUP_NOT_REPORTED = "followup_not_reported"

TABLE_COLUMNS = [
    "lane_id", "patient_id", "line", "event_line", "lane_order", "event_id", "event_type", "status",
    "disease", "detail", "product", "dose", "dose_unit", "time_lo", "time_best", "time_hi",
    "time_unit", "imprecise", "open_lo", "open_hi", "placed", "not_placed_reason",
    "date", "offset", "offset_from", "qualifier", "target_disease", "date_lo", "date_best", "date_hi",
    "quote", "source_id", "citation",
    "source_kind", "evidence_level", "case_role", "sex", "age_years", "diseases", "therapy",
    "line_therapy", "anchor", "anchor_event_id", "coded_order",
]
"""Columns of :func:`timeline_table`, in order."""

EXPORT_COLUMNS = [
    "patient_id", "line", "event_id", "event_type", "status", "disease", "detail", "product",
    "dose", "dose_unit", "time_text", "time_best", "time_lo", "time_hi", "time_unit",
    "coded_time", "quote", "source_id", "citation", "evidence_level", "case_role",
]
"""Columns of the ``timeline_events`` table written beneath the figure (:func:`events_table`:
``time_text`` is the time with its interval in words, ``coded_time`` how it was coded; the
others as in
:data:`TABLE_COLUMNS`)."""


# ============================================================================ table


def _as_list(value) -> list | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


def short_citation(citation: str, source_id: str = "", width: int = 48) -> str:
    """A short form of a source's citation for figure labels: the part before the first
    parenthesis or comma, shortened to ``width`` characters, prefixed with the source id."""
    text = "" if citation is None or (isinstance(citation, float) and math.isnan(citation)) else str(citation)
    for sep in (" (", ", ", "; ", " - ", " – "):
        if sep in text:
            text = text.split(sep, 1)[0]
    text = textwrap.shorten(text, width=width, placeholder="…") if text else ""
    return f"{source_id}: {text}" if source_id and text else (source_id or text)


def _times_named_anchor(ev: pd.DataFrame, graph: timing.OffsetGraph, anchor: str):
    """Per patient, times (days) relative to the first event of type ``anchor``, through the
    loader's offset graph (``ds.graph``)."""
    cand = ev[ev["event_type"] == anchor]
    if anchor == "relapse":
        cand = cand[cand["disease"].isna()]
    ref_of = {}
    for pid, eid in zip(cand["patient_id"].tolist(), cand["event_id"].tolist()):
        ref_of.setdefault(pid, []).append(eid)
    for pid, ids in ref_of.items():
        if len(ids) == 1:  # the common case: one such event
            ref_of[pid] = ids[0]
            continue
        first = ids[0]
        best = {}
        for e in ids:
            r = graph.relative(e, first)
            best[e] = r.best if r is not None else math.inf
        ref_of[pid] = min(ids, key=lambda e: (best[e], ids.index(e)))
    lo, best, hi = (np.full(len(ev), np.nan) for _ in range(3))
    ref_col = []
    for i, (eid, pid) in enumerate(zip(ev["event_id"].tolist(), ev["patient_id"].tolist())):
        ref = ref_of.get(pid)
        ref_col.append(ref if ref is not None else pd.NA)
        if ref is None:
            continue
        r = graph.relative(eid, ref)
        if r is not None:
            lo[i], best[i], hi[i] = r.lo, r.best, r.hi
    return lo, best, hi, ref_col


def _fmt_num(v: float, digits: int) -> str:
    v = round(float(v), digits) + 0.0  # no "-0.0"
    return f"{v:.{digits}f}".replace("-", "−")


def _fmt_array(v: np.ndarray, digits: int) -> np.ndarray:
    """Numbers formatted with ``digits`` decimals and a true minus sign (each distinct
    value formatted once)."""
    v = np.round(np.where(np.isfinite(v), v, 0.0), digits) + 0.0
    uniq, inverse = np.unique(v, return_inverse=True)
    text = np.array([f"{u:.{digits}f}".replace("-", "−") for u in uniq.tolist()], dtype=object)
    return text[inverse.reshape(-1)] if len(v) else np.array([], dtype=object)


def _time_text(lo, best, hi, placed, digits: int, calendar: bool, d_lo=None, d_best=None, d_hi=None) -> np.ndarray:
    """Human-readable time with its interval, one string per event (vectorised):
    ``6.0`` exact, ``6.0 (0.0 to 12.0)`` an interval, ``≥ 0.0`` / ``0.7 (≥ 0.0)`` a lower
    bound only, ``≤ 0.0`` an upper bound only; calendar anchors give dates."""
    lo, best, hi = (np.asarray(a, dtype=float) for a in (lo, best, hi))
    placed = np.asarray(placed, dtype=bool)
    open_lo, open_hi = np.isneginf(lo), np.isposinf(hi)
    if calendar:
        def f(d):
            return pd.Series(d).dt.strftime("%Y-%m-%d").fillna("").to_numpy(dtype=object)
        L, B, H = f(d_lo), f(d_best), f(d_hi)
        open_lo, open_hi = pd.isna(d_lo), pd.isna(d_hi)
        missing = "no calendar date"
        ge, le = " (on or after ", " (on or before "
    else:
        L, B, H = (_fmt_array(a, digits) for a in (lo, best, hi))
        missing = "not relatable to time zero"
        ge, le = " (≥ ", " (≤ "
    out = B.copy()
    rng = (L != H) & ~open_lo & ~open_hi
    out[rng] = B[rng] + " (" + L[rng] + " to " + H[rng] + ")"
    only_hi = open_hi & ~open_lo
    at = only_hi & (L == B) & (not calendar)
    out[at] = "≥ " + B[at]
    rest = only_hi & ~at
    out[rest] = B[rest] + ge + L[rest] + ")"
    only_lo = open_lo & ~open_hi
    at = only_lo & (H == B) & (not calendar)
    out[at] = "≤ " + B[at]
    rest = only_lo & ~at
    out[rest] = B[rest] + le + H[rest] + ")"
    both = open_lo & open_hi
    out[both] = B[both] + " (order only; no bound)"
    out[~placed] = missing
    return out


def _coded_time(ev: pd.DataFrame) -> np.ndarray:
    """The time as coded, in words: the date ("2011-10", "2011-10 (about)"), an offset from
    another event ("S001-P1-E06 +6 weeks (within)") or an age ("age 35 years")."""
    def col(name):
        return ev[name].astype(object).fillna("").to_numpy(dtype=object).astype(str).astype(object)

    date, offset, ref, qual = col("date"), col("offset"), col("offset_from"), col("qualifier")
    qual_txt = np.array([f" ({q.replace('_', ' ')})" if q else "" for q in qual.tolist()], dtype=object)
    birth = np.char.lower(ref.astype(str)) == "birth"
    plain = np.array([o.lstrip("+") for o in offset.tolist()], dtype=object)
    from_birth = "age " + plain + qual_txt
    from_event = ref + " " + offset + qual_txt
    return np.where(date != "", date + qual_txt, np.where(birth, from_birth, from_event))


def _fill(n: int, value, where=None, other=None) -> np.ndarray:
    """Object array of ``n`` references to one string (``other`` where ``where``): no new
    Python object per row."""
    out = np.empty(n, dtype=object)
    out[:] = value
    if where is not None:
        out[where] = other
    return out


def _lane_ids(pid: np.ndarray, line: np.ndarray) -> np.ndarray:
    """``"PATIENT · line N"`` per row, each distinct id built once."""
    if not len(pid):
        return np.empty(0, dtype=object)
    codes, uniq = pd.factorize(pd.MultiIndex.from_arrays([pid, line]))
    names = np.array([f"{p} · line {ln}" for p, ln in uniq], dtype=object)
    return names[codes]


def timeline_table(ds, anchor: str = ANCHOR_LINE, time_unit: str = "months", *, diseases=None,
                   therapies=None, source_kinds=None, min_evidence_level=None, patient_ids=None,
                   include_anecdotes: bool = True) -> pd.DataFrame:
    """Tidy table of the lanes and events of a timeline figure (one row per event).

    ``ds`` is a :class:`analysis.load.Dataset`. ``anchor`` is ``"line"`` (default: each
    treatment line's first stem-cell therapy), ``"calendar"`` or an event type
    (see the module docstring). ``time_unit`` is ``days``, ``weeks``, ``months`` (default)
    or ``years``; with ``anchor="calendar"`` times are decimal calendar years and
    ``time_unit`` is ``"calendar year"``. Filters as in :func:`select_patients`.

    A lane is one treatment line of one patient (``lane_id`` = ``"PATIENT · line N"``);
    events outside any line (line 0) go to the patient's first line. ``lane_order`` is the
    data's order (patients as in ``patients.csv``, lines ascending); :func:`lane_layout`
    sorts. ``time_lo``/``time_best``/``time_hi`` are in ``time_unit``; ``-inf``/``+inf`` for
    an open bound (``open_lo``/``open_hi``); ``NaN`` and ``placed = False`` when the event
    cannot be related to time zero (``not_placed_reason`` says why). Columns:
    :data:`TABLE_COLUMNS`.
    """
    calendar = anchor == ANCHOR_CALENDAR
    if not calendar and anchor != ANCHOR_LINE and anchor not in schemas.EVENT_TYPES:
        raise ValueError(
            f"anchor: expected 'line', 'calendar' or an event type ({', '.join(schemas.EVENT_TYPES)}), "
            f"found {anchor!r}"
        )
    unit_days = timing.unit_days(time_unit)
    pats = select_patients(ds, diseases, therapies, source_kinds, min_evidence_level, patient_ids,
                           include_anecdotes)
    keep = ds.events["patient_id"].isin(pats["patient_id"]).to_numpy()
    ev = ds.events[keep] if not keep.all() else ds.events
    n = len(ev)

    def arr(col, dtype=object):
        return ev[col].to_numpy(dtype=dtype) if col in ev else np.full(n, None, dtype=dtype)

    pid = arr("patient_id")
    coded_order = ev["row"].to_numpy() if "row" in ev else np.arange(n)
    # lanes: line > 0 its own; line 0 joins the patient's first line (as the loader's t_* do)
    lines = ds.lines
    first_line = lines.groupby("patient_id")["line"].min() if len(lines) else pd.Series(dtype="Int64")
    event_line = ev["line"].fillna(0).to_numpy(dtype=np.int64)
    first = pd.Series(pid).map(first_line).fillna(0).to_numpy(dtype=np.int64)
    lane_line = np.where(event_line > 0, event_line, first)
    line_key = pd.MultiIndex.from_arrays([pid, lane_line])
    line_info = lines.set_index(["patient_id", "line"]) if len(lines) else None

    anchor_event = np.full(n, None, dtype=object)
    if calendar:
        epoch = np.datetime64("1970-01-01", "ns")

        def dec_year(col):
            d = ev[col].to_numpy(dtype="datetime64[ns]")
            return (d - epoch) / np.timedelta64(1, "D") / 365.25 + 1970.0

        best = dec_year("date_best")
        has = ~np.isnan(best)
        lo, hi = dec_year("date_lo"), dec_year("date_hi")
        lo = np.where(has & np.isnan(lo), -np.inf, lo)
        hi = np.where(has & np.isnan(hi), np.inf, hi)
        unit_label = "calendar year"
        reason = "no calendar date (the source gives no date this event is linked to)"
    elif anchor == ANCHOR_LINE:
        lo, best, hi = (ev[c].to_numpy(dtype=float) / unit_days for c in ("t_lo", "t_best", "t_hi"))
        unit_label = time_unit
        if line_info is not None:
            anchor_event = line_info["anchor_event_id"].reindex(line_key).to_numpy(dtype=object)
        reason = "not relatable to the line's first stem-cell therapy (e.g. an age without a calendar link)"
    else:
        lo, best, hi, refs = _times_named_anchor(ev, ds.graph, anchor)
        lo, best, hi = lo / unit_days, best / unit_days, hi / unit_days
        anchor_event = np.asarray(refs, dtype=object)
        unit_label = time_unit
        reason = f"not relatable to the patient's first {anchor} (or the patient has none)"

    placed = np.isfinite(best)
    lo, best, hi = (np.where(placed, a, np.nan) for a in (lo, best, hi))
    src = ds.sources.set_index("source_id")
    sid = arr("source_id")
    s_idx = src.index.get_indexer(sid)
    short = np.array([short_citation(c, i) for i, c in zip(src.index, src["citation"])] + [None], dtype=object)
    kinds = np.append(src["kind"].to_numpy(dtype=object), None)
    levels = np.append(src["evidence_level"].astype(object).to_numpy(dtype=object), None)
    pinfo = pats.set_index("patient_id")
    p_idx = pinfo.index.get_indexer(pid)
    d_lo, d_best, d_hi = (ev[c].to_numpy(dtype="datetime64[ns]") for c in ("date_lo", "date_best", "date_hi"))
    disease = arr("disease")
    cols = {
        "lane_id": _lane_ids(pid, lane_line),
        "patient_id": pid, "line": lane_line, "event_line": event_line,
        "event_id": arr("event_id"), "event_type": arr("event_type"), "status": arr("status"),
        "disease": disease, "detail": arr("detail"), "product": arr("product"),
        "dose": ev["dose"].to_numpy(dtype=float), "dose_unit": arr("dose_unit"),
        "time_lo": lo, "time_best": best, "time_hi": hi, "time_unit": _fill(n, unit_label),
        "imprecise": placed & (lo != hi), "open_lo": placed & np.isneginf(lo), "open_hi": placed & np.isposinf(hi),
        "placed": placed, "not_placed_reason": _fill(n, "", ~placed, reason),
        "date": arr("date"), "offset": arr("offset"), "offset_from": arr("offset_from"),
        "qualifier": arr("qualifier"), "target_disease": ev["disease"].fillna("").eq("").to_numpy(),
        "date_lo": d_lo, "date_best": d_best, "date_hi": d_hi, "quote": arr("quote"), "source_id": sid,
        "citation": short[s_idx], "source_kind": kinds[s_idx], "evidence_level": levels[s_idx],
        "line_therapy": (line_info["therapy"].reindex(line_key).to_numpy(dtype=object) if line_info is not None
                         else np.full(n, None, dtype=object)),
        "anchor": _fill(n, anchor), "anchor_event_id": anchor_event, "coded_order": coded_order,
    }
    for col in ("case_role", "sex", "age_years", "diseases", "therapy"):
        values = pinfo[col].to_numpy(dtype=float if col == "age_years" else object)
        cols[col] = values[p_idx] if len(values) else np.full(n, None, dtype=object)
    # lane order: patients as listed, lines ascending; events by time, then as coded
    p_rank = p_idx
    order = np.lexsort((coded_order, np.where(np.isnan(best), np.inf, best), lane_line, p_rank))
    new_lane = np.ones(n, dtype=bool)
    new_lane[1:] = (p_rank[order][1:] != p_rank[order][:-1]) | (lane_line[order][1:] != lane_line[order][:-1])
    cols["lane_order"] = np.empty(n, dtype=np.int64)
    cols["lane_order"][order] = np.cumsum(new_lane) - 1
    out = pd.DataFrame({c: cols[c][order] for c in TABLE_COLUMNS})
    out["evidence_level"] = pd.Categorical(out["evidence_level"], categories=schemas.EVIDENCE_LEVELS, ordered=True)
    return out


def not_placeable(table: pd.DataFrame) -> pd.DataFrame:
    """Lanes that have no event placeable on the time axis (patient_id, line, reason)."""
    g = table.groupby("lane_id", sort=False)
    lanes = g.agg(patient_id=("patient_id", "first"), line=("line", "first"),
                  n_events=("event_id", "size"), n_placed=("placed", "sum"),
                  reason=("not_placed_reason", "first"))
    return lanes[lanes["n_placed"] == 0].reset_index()[["lane_id", "patient_id", "line", "n_events", "reason"]]


def events_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table shown beneath the figure and exported as ``timeline_events``: one row per
    event, lanes in the given order, columns :data:`EXPORT_COLUMNS`.

    ``time_text`` gives the time in words with its interval, in the table's unit: ``6.0``
    exact, ``6.0 (0.0 to 12.0)`` a range, ``≥ 0.0`` / ``0.7 (≥ 0.0)`` a lower bound only,
    ``≤ 0.0`` an upper bound only, dates with a calendar anchor, or why the event cannot be
    placed. ``coded_time`` is the time as coded (``2011-10``, ``S001-P1-E06 +6 weeks
    (within)``, ``age 35 years``)."""
    unit = str(table["time_unit"].iloc[0]) if len(table) else "months"
    calendar = unit == "calendar year"
    digits = {"days": 0, "weeks": 1, "months": 1, "years": 2}.get(unit, 1)
    out = table.reset_index(drop=True).copy()
    out["time_text"] = _time_text(out["time_lo"], out["time_best"], out["time_hi"], out["placed"], digits,
                                  calendar, out["date_lo"].to_numpy(), out["date_best"].to_numpy(),
                                  out["date_hi"].to_numpy())
    missing = ~out["placed"].to_numpy(dtype=bool)
    out.loc[missing, "time_text"] = "not placed: " + out.loc[missing, "not_placed_reason"].astype(str)
    out["coded_time"] = _coded_time(out)
    return out[EXPORT_COLUMNS]


# ============================================================================ layout


@dataclass
class TimelineLayout:
    """Positions of every mark (output of :func:`lane_layout`).

    ``lanes``: one row per drawn lane, in drawing order (``y`` of its main row, ``y_label``,
    ``height``, ``start``/``end`` in time units, ``end_kind`` = last_followup / death /
    next_line / not_reported, ``ongoing``, ``last_status``, label fields).
    ``events``: one row per drawn mark (``x`` clipped to the axis, ``row`` within the lane
    and its ``y``, ``x_lo``/``x_hi`` the interval, ``offscale`` = "left"/"right"/"",
    ``mark`` = the style key: an event type, ``relapse_other_disease`` or
    ``followup_not_reported``). ``segments``: status segments (``x0``, ``x1``, ``y``, ``status``).
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
        cols = _as_list(sort_by)
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
    if len(nr):
        end_nr = drawn["end"].to_numpy()[nr]
        fake = pd.DataFrame({
            "lane_id": drawn["lane_id"].to_numpy()[nr], "lane_k": nr, "event_id": "",
            "event_type": FOLLOWUP_NOT_REPORTED, "mark": FOLLOWUP_NOT_REPORTED, "time_best": end_nr,
            "time_lo": end_nr, "time_hi": end_nr, "x": np.clip(end_nr, x0, x1), "offscale": "",
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
    segs = pd.DataFrame({
        "lane_id": drawn["lane_id"].to_numpy()[pk], "x0": px, "x1": nxt,
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
    drawn["end_x"] = end_x
    # the ongoing arrow starts after the last follow-up's uncertainty
    term = ev["event_type"].isin(["last_followup", "death"]).to_numpy() & np.isfinite(ev["time_hi"].to_numpy())
    term_hi = per_lane(ev["time_hi"].to_numpy()[term], lane_k[term], "max", -np.inf)
    drawn["arrow_x"] = np.clip(np.maximum(drawn["end"].to_numpy(dtype=float), term_hi), x0, x1)
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


# ============================================================================ drawing


def _mark_style(mark: str) -> dict:
    """Colour, marker, label, size and face of a mark (from :data:`analysis.style.EVENT_STYLE`)."""
    if mark == OTHER_RELAPSE:
        s = dict(EVENT_STYLE["relapse"])
        return {**s, "label": "Relapse of another disease (comorbidity)", "face": "none", "size": 46}
    if mark == FOLLOWUP_NOT_REPORTED:
        return {"color": OKABE_ITO["black"], "marker": _question_marker(), "label": "Follow-up not reported",
                "face": "full", "size": 60}
    s = dict(EVENT_STYLE.get(mark, {"color": OKABE_ITO["grey"], "marker": "o", "label": mark}))
    size = {"last_followup": 150, "admission": 60, "remission": 90, "death": 50, "relapse": 55}.get(mark, 40)
    return {**s, "face": "full", "size": size}


@functools.lru_cache(maxsize=1)
def _question_marker():
    """The marker matplotlib draws for ``"$?$"`` (the same path, to 1e-16), built from the
    font's glyph without the mathtext parser, whose first use costs ~0.1 s per process."""
    from matplotlib.markers import MarkerStyle
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    text = TextPath((0, 0), "?")
    bb = text.get_extents()
    size = max(bb.width, bb.height)
    # as MarkerStyle("$?$"): centred on the glyph's extents, its larger side 1
    path = text.transformed(Affine2D().translate(-bb.x0 - 0.5 * bb.width, -bb.y0 - 0.5 * bb.height).scale(1 / size))
    # a path marker is scaled to 0.5 / (largest |vertex|); undo that so the size is the same
    return MarkerStyle(path, transform=Affine2D().scale(2 * float(np.max(np.abs(path.vertices)))))


def _scale(layout: TimelineLayout) -> float:
    return 0.35 if layout.compact else 1.0


def draw_lanes(ax, layout: TimelineLayout):
    """Patient bands (alternating light shading), hatched background for adverse-event
    anecdotes, the lanes' base lines (start to end), the axis limits and the time-zero line.
    Returns a dict of the collections drawn."""
    from matplotlib.collections import PolyCollection

    x0, x1 = layout.xlim
    lanes, groups = layout.lanes, layout.groups
    out = {}
    shade = groups.iloc[1::2]
    out["bands"] = ax.add_collection(PolyCollection(
        [[(x0, t), (x1, t), (x1, b), (x0, b)] for t, b in zip(shade["y_top"] - _header(layout), shade["y_bottom"])],
        facecolors=BAND_COLOR, edgecolors="none", zorder=0))
    an = groups[groups["anecdote"]]
    if len(an):
        out["anecdote"] = ax.add_collection(PolyCollection(
            [[(x0, t), (x1, t), (x1, b), (x0, b)] for t, b in zip(an["y_top"], an["y_bottom"])],
            facecolors="none", edgecolors="#BBBBBB", hatch="///", linewidths=0, zorder=0.5))
    out["lanes"] = _segments(ax, lanes["start"].to_numpy(float), lanes["end_x"].to_numpy(float),
                             lanes["y"].to_numpy(float), lanes["y"].to_numpy(float), color=LANE_COLOR,
                             lw=1.2 * _scale(layout), zorder=1)
    if layout.anchor != ANCHOR_CALENDAR and x0 < 0 < x1:
        ax.axvline(0, color="#505050", lw=0.8, ls=(0, (4, 3)), zorder=0.8)
    ax.set_xlim(x0, x1)
    ax.set_ylim(*layout.ylim)
    ax.set_xlabel(layout.axis_label)
    step = _tick_step(layout.time_unit, x1 - x0)
    if step:
        from matplotlib.ticker import FormatStrFormatter, MultipleLocator

        ax.xaxis.set_major_locator(MultipleLocator(step))
        if layout.anchor == ANCHOR_CALENDAR and step >= 1:
            ax.xaxis.set_major_formatter(FormatStrFormatter("%d"))
    ax.spines["left"].set_visible(False)
    ax.grid(axis="x", color="#E0E0E0", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    return out


def _tick_step(time_unit: str, span: float, max_ticks: int = 14) -> float | None:
    """A tick step natural for the unit (months in 3, 6, 12, ...; weeks in 4, 13, 26, 52):
    the first of :data:`analysis.style.TICK_STEPS_TIMELINE` giving at most ``max_ticks``."""
    for step in TICK_STEPS_TIMELINE.get(time_unit, ()):
        if span / step <= max_ticks:
            return step
    return None


def _header(layout: TimelineLayout) -> float:
    return 0.0 if layout.compact else HEADER_HEIGHT


def draw_status_segments(ax, layout: TimelineLayout, half_height: float = 0.16):
    """Disease-status segments as coloured bars along the lanes (one PolyCollection);
    colours from :data:`analysis.style.STATUS_COLORS`."""
    from matplotlib.collections import PolyCollection

    s = layout.segments
    h = half_height * (1.6 if layout.compact else 1.0)  # compact lanes are 1 unit, one row
    polys = [[(a, y - h), (b, y - h), (b, y + h), (a, y + h)] for a, b, y in zip(s["x0"], s["x1"], s["y"])]
    colors = [STATUS_COLORS.get(st, OKABE_ITO["grey"]) for st in s["status"]]
    coll = PolyCollection(polys, facecolors=colors, edgecolors="none", alpha=0.85, zorder=2)
    ax.add_collection(coll)
    sp = layout.spans
    polys = [[(a, y - h), (b, y - h), (b, y + h), (a, y + h)] for a, b, y in zip(sp["x0"], sp["x1"], sp["y"])]
    span_coll = PolyCollection(polys, facecolors=[EVENT_STYLE[t]["color"] for t in sp["event_type"]],
                               edgecolors="none", alpha=SPAN_ALPHA, zorder=1.9)
    ax.add_collection(span_coll)
    return {"segments": coll, "spans": span_coll}


def draw_uncertainty(ax, layout: TimelineLayout, style: str = "whisker"):
    """Intervals of imprecise times. A finite interval is a whisker with caps (``style=
    "whisker"``) or a shaded band (``"band"``); an open side ("at least", order only) is a
    dotted whisker from the best estimate to the axis edge, capped by an arrowhead there
    (it is never drawn "to infinity"). Returns the collections."""
    from matplotlib.collections import PolyCollection

    x0, x1 = layout.xlim
    e = layout.events
    e = e[e["mark"] != FOLLOWUP_NOT_REPORTED]
    lo, best, hi, y = (e[c].to_numpy(dtype=float) for c in ("x_lo", "time_best", "x_hi", "y"))
    colors = np.array([_mark_style(m)["color"] for m in e["mark"]], dtype=object)
    fin_lo = np.where(np.isfinite(lo), lo, best)
    fin_hi = np.where(np.isfinite(hi), hi, best)
    a, b = np.clip(fin_lo, x0, x1), np.clip(fin_hi, x0, x1)
    has = b > a
    cap = layout.step * 0.32
    lw, alpha = (0.6, 0.6) if layout.compact else (1.2, 1.0)
    out = {}
    if style == "band":
        polys = [[(p, q - cap), (r, q - cap), (r, q + cap), (p, q + cap)] for p, r, q in zip(a[has], b[has], y[has])]
        out["bands"] = ax.add_collection(PolyCollection(polys, facecolors=list(colors[has]), alpha=0.25,
                                                        edgecolors="none", zorder=2.5))
    else:
        out["whiskers"] = _segments(ax, a[has], b[has], y[has], y[has], color=WHISKER_COLOR, lw=lw,
                                    alpha=alpha, zorder=2.5)
        cap_lo = has & np.isfinite(lo) & (lo >= x0)
        cap_hi = has & np.isfinite(hi) & (hi <= x1)
        cx = np.concatenate([a[cap_lo], b[cap_hi]])
        cy = np.concatenate([y[cap_lo], y[cap_hi]])
        out["caps"] = _segments(ax, cx, cx, cy - cap, cy + cap, color=WHISKER_COLOR, lw=lw, alpha=alpha, zorder=2.5)
    # open sides, and finite whiskers running beyond the axis, drawn as dotted arrows
    right = np.isposinf(hi) | (np.isfinite(hi) & (hi > x1))
    left = (np.isneginf(lo) | (np.isfinite(lo) & (lo < x0))) & (e["offscale"].to_numpy() != "left")
    right &= e["offscale"].to_numpy() != "right"
    start_r = np.clip(np.where(np.isposinf(hi), best, x1), x0, x1)
    start_l = np.clip(np.where(np.isneginf(lo), best, x0), x0, x1)
    xa = np.concatenate([start_r[right], np.full(left.sum(), x0)])
    xb = np.concatenate([np.full(right.sum(), x1), start_l[left]])
    yy = np.concatenate([y[right], y[left]])
    cols = np.concatenate([colors[right], colors[left]])
    out["open"] = {c: _segments(ax, xa[cols == c], xb[cols == c], yy[cols == c], yy[cols == c], color=c, lw=lw * 0.8,
                                ls=(0, (1, 1.6)), alpha=0.8, zorder=2.4) for c in dict.fromkeys(cols.tolist())}
    s = 22 * _scale(layout)
    out["open_right"] = ax.scatter(np.full(right.sum(), x1), y[right], marker=">", s=s, c=list(colors[right]) or None,
                                   linewidths=0, zorder=2.6, clip_on=False)
    out["open_left"] = ax.scatter(np.full(left.sum(), x0), y[left], marker="<", s=s, c=list(colors[left]) or None,
                                  linewidths=0, zorder=2.6, clip_on=False)
    return out


def _segments(ax, x0, x1, y0, y1, color, lw, ls="-", alpha=1.0, zorder=2.0):
    """Many straight segments of one colour and style as ONE path (a Line2D whose pieces are
    separated by NaN): one artist, and one element in an SVG, however many segments."""
    from matplotlib.lines import Line2D

    n = len(x0)
    xs = np.column_stack([x0, x1, np.full(n, np.nan)]).ravel()
    ys = np.column_stack([y0, y1, np.full(n, np.nan)]).ravel()
    line = Line2D(xs, ys, color=color, lw=lw, ls=ls, alpha=alpha, zorder=zorder, solid_capstyle="butt")
    ax.add_line(line)
    return line


def n_segments(line) -> int:
    """Number of segments drawn by one :func:`_segments` path."""
    return int(np.isnan(np.asarray(line.get_xdata(), dtype=float)).sum())


def draw_event_markers(ax, layout: TimelineLayout):
    """One scatter per kind of mark (event types of :data:`analysis.style.EVENT_STYLE`, a
    relapse of another disease as an open marker, "follow-up not reported" as "?").
    Assessments are filled with their status colour. Off-scale events get a small
    edge arrow. Returns ``{mark: PathCollection}``."""
    e = layout.events
    out = {}
    k = 0.22 if layout.compact else 1.0  # marker area; compact lanes are about 6 pt apart
    for mark, grp in e.groupby("mark", sort=True):
        st = _mark_style(mark)
        face = st["color"]
        if mark == "assessment":
            face = [STATUS_COLORS.get(s, "white") if isinstance(s, str) else "white" for s in grp["status"]]
        line_marker = st["marker"] in ("|", "x", "+", "_")
        size = st["size"] * ((0.14 if layout.compact else 1.0) if line_marker else k)
        kw = dict(marker=st["marker"], s=size, zorder=3 + (0.5 if mark == "last_followup" else 0), label=st["label"])
        if line_marker:
            kw.update(c=st["color"], linewidths=(2.6 if mark == "last_followup" else 1.4) * max(k, 0.6))
        elif st["face"] == "none":
            kw.update(facecolors="none", edgecolors=st["color"], linewidths=1.4)
        elif mark == FOLLOWUP_NOT_REPORTED:
            kw.update(c=st["color"], linewidths=0)
        else:
            kw.update(c=face if isinstance(face, list) else st["color"], edgecolors="#222222", linewidths=0.5)
        out[mark] = ax.scatter(grp["x"], grp["y"], **kw)
    return out


def draw_ongoing_arrows(ax, layout: TimelineLayout, length: float | None = None):
    """An arrow after the lane end where the target disease is still in (partial or
    complete) remission at the last follow-up (or at the last report when follow-up is not
    reported). Drawn as one LineCollection (shaft) and one scatter (heads)."""
    from matplotlib.collections import LineCollection

    la = layout.lanes[layout.lanes["ongoing"].fillna(False).astype(bool)]
    x0, x1 = layout.xlim
    length = length if length is not None else 2.2 * layout.min_sep
    start = la["arrow_x"].to_numpy() + 0.4 * layout.min_sep
    tip = np.minimum(start + length, x1)
    y = la["y"].to_numpy()
    color = [STATUS_COLORS.get(s, OKABE_ITO["bluish_green"]) for s in la["last_status"]]
    shaft = ax.add_collection(LineCollection([[(a, q), (b, q)] for a, b, q in zip(start, tip, y)],
                                             colors=color, linewidths=2.0 * _scale(layout), zorder=3.2))
    heads = ax.scatter(tip, y, marker=">", s=55 * _scale(layout), c=color or None, linewidths=0, zorder=3.2,
                       clip_on=False)
    return {"shafts": shaft, "heads": heads}


def format_dose(dose: float, unit=None) -> str:
    """A dose as people write it: ``1000000`` cells/kg -> ``10⁶ cells/kg``, ``2e6`` ->
    ``2×10⁶``; small numbers as they are; empty when there is no dose."""
    if dose is None or pd.isna(dose) or not np.isfinite(dose):
        return ""
    exp = int(math.floor(math.log10(dose))) if dose > 0 else 0
    mant = dose / 10 ** exp if dose > 0 else 0
    sup = str(exp).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    num = (f"{mant:g}×10{sup}" if mant != 1 else f"10{sup}") if abs(exp) >= 4 else f"{dose:g}"
    return f"{num} {unit}" if isinstance(unit, str) and unit else num


def _fmt_interval(lo: float, best: float, hi: float, abbr: str) -> str:
    b = _fmt_num(best, 0)
    if np.isneginf(lo) and np.isposinf(hi):
        return f"{b} {abbr} (order only)"
    if np.isposinf(hi):
        return f"≥ {b} {abbr}" if lo == best else f"{b} {abbr} (≥ {_fmt_num(lo, 0)})"
    if np.isneginf(lo):
        return f"≤ {b} {abbr}" if hi == best else f"{b} {abbr} (≤ {_fmt_num(hi, 0)})"
    if lo == hi:
        return f"{b} {abbr}"
    return f"{b} {abbr} ({_fmt_num(lo, 0)} to {_fmt_num(hi, 0)})"


def lane_labels(layout: TimelineLayout) -> pd.DataFrame:
    """Text of the labels: per lane (``lane_label``: line, therapy, number of stem-cell
    administrations, dose, follow-up, events beyond the axis) and per patient
    (``header``: id, disease(s), sex and age, short citation, evidence level, anecdote)."""
    la = layout.lanes
    ev = layout.events
    abbr = UNIT_ABBREVIATION.get(layout.time_unit, "")
    stem = ev[ev["event_type"].isin(schemas.STEM_CELL_EVENTS)]
    n_stem = stem.groupby("lane_id").size()
    n_inf = stem[stem["event_type"] == "infusion"].groupby("lane_id").size()
    dosed = stem.dropna(subset=["dose"])
    doses = dosed.groupby("lane_id").agg(dose=("dose", "first"), unit=("dose_unit", "first"),
                                         n_values=("dose", "nunique"), n=("dose", "size"))
    fu = ev[ev["event_type"].isin(["last_followup", "death"])].sort_values("time_best").groupby("lane_id").last()
    off = ev[ev["offscale"] != ""]

    def lane_text(r):
        n = int(n_stem.get(r.lane_id, 0))
        ther = r.line_therapy if isinstance(r.line_therapy, str) else "therapy not named"
        if layout.compact:
            return f"{r.patient_id} L{r.line}"
        parts = [f"line {r.line} · {ther}"]
        if n:
            kind = "infusion" if int(n_inf.get(r.lane_id, 0)) == n else "transplant"
            what = f"{n} {kind}{'s' if n != 1 else ''}"
            if r.lane_id in doses.index:
                d = doses.loc[r.lane_id]
                what += f", {format_dose(d['dose'], d['unit'])}"
                if d["n_values"] > 1:
                    what += " (first; doses differ)"
                elif d["n"] < n:
                    what += f" ({int(d['n'])} of {n} with a stated dose)"
            parts.append(what)
        if r.end_kind == "not_reported":
            parts.append("follow-up not reported")
        elif r.end_kind == "next_line":
            parts.append("followed by the next line")
        elif r.lane_id in fu.index:
            f = fu.loc[r.lane_id]
            word = "died at" if f["event_type"] == "death" else "follow-up"
            if layout.anchor == ANCHOR_CALENDAR:
                when = pd.Timestamp(f["date_best"]).strftime("%Y-%m") if pd.notna(f["date_best"]) else ""
                parts.append(f"{'died' if word == 'died at' else 'follow-up to'} {when}")
            else:
                parts.append(f"{word} {_fmt_interval(f['time_lo'], f['time_best'], f['time_hi'], abbr)}")
        for m, t, side in zip(off.loc[off["lane_id"] == r.lane_id, "mark"], off.loc[off["lane_id"] == r.lane_id, "time_best"],
                              off.loc[off["lane_id"] == r.lane_id, "offscale"]):
            arrow = "◂" if side == "left" else "▸"
            parts.append(f"{arrow} {_mark_style(m)['label'].lower()} at {_fmt_num(t, 0)} {abbr} (off axis)")
        return "\n".join(parts)

    def header_text(r):
        sex = {"M": "male", "F": "female"}.get(r.sex, "")
        age = f"{r.age_years:g} y" if isinstance(r.age_years, (int, float)) and np.isfinite(r.age_years) else ""
        who = ", ".join(x for x in (sex, age) if x) or "sex/age not reported"
        role = "  ·  ADVERSE-EVENT ANECDOTE" if r.case_role == "adverse_event_anecdote" else ""
        return (f"{r.patient_id}  ·  {r.diseases}  ·  {who}{role}",
                f"{r.citation}  ·  evidence: {schemas.evidence_words(r.evidence_level)}")

    out = la[["lane_id", "patient_id", "line", "y", "first_in_patient"]].copy()
    out["lane_label"] = [lane_text(r) for r in la.itertuples(index=False)]
    heads = [header_text(r) if f else ("", "") for r, f in zip(la.itertuples(index=False), la["first_in_patient"])]
    out["header"] = [h[0] for h in heads]
    out["header_source"] = [h[1] for h in heads]
    return out


def draw_labels(ax, layout: TimelineLayout, fontsize: float | None = None):
    """Lane labels (y tick labels: line, therapy, number of infusions or transplants, dose,
    follow-up not reported), patient headers above each patient's lanes (id, disease(s),
    sex and age, short citation, evidence level, anecdote mark) with a square in the
    evidence level's colour, and the times of off-scale events. Returns the label table."""
    import matplotlib.transforms as mtransforms

    labels = lane_labels(layout)
    fs = fontsize or (5 if layout.compact else 8.5)
    trans = mtransforms.blended_transform_factory(ax.transAxes, ax.transData)
    heads = labels[labels["first_in_patient"]]
    lv = layout.lanes.set_index("lane_id")["evidence_level"]
    ax.set_yticks([])
    if layout.compact:
        # many lanes: plain texts (cheaper than ticks) and the evidence level as a coloured
        # square left of each lane
        for text, y in zip(labels["lane_label"], layout.lanes["y_label"]):
            ax.text(-0.009, y, text, transform=trans, ha="right", va="center", fontsize=fs, clip_on=False,
                    parse_math=False)
        ax.scatter(np.full(len(labels), -0.004), layout.lanes["y"], marker="s", s=6, transform=trans,
                   clip_on=False, linewidths=0, zorder=4,
                   c=[EVIDENCE_COLORS.get(str(v), OKABE_ITO["grey"]) for v in layout.lanes["evidence_level"]])
    else:
        ax.set_yticks(layout.lanes["y_label"].to_numpy())
        ax.set_yticklabels(labels["lane_label"], fontsize=fs, parse_math=False)  # data text, not mathtext
        ax.tick_params(axis="y", length=0)
        g = layout.groups.set_index("patient_id")
        yh = heads["patient_id"].map(g["y_header"]).to_numpy()
        ax.scatter(np.full(len(heads), 0.006), yh - 0.2, marker="s", s=36, transform=trans, clip_on=False,
                   c=[EVIDENCE_COLORS.get(str(lv[i]), OKABE_ITO["grey"]) for i in heads["lane_id"]],
                   edgecolors="#333333", linewidths=0.4, zorder=4)
        shaded = set(layout.groups["patient_id"].iloc[1::2])
        for pid, text, src, y in zip(heads["patient_id"], heads["header"], heads["header_source"], yh):
            box = dict(facecolor=BAND_COLOR if pid in shaded else "white", edgecolor="none", pad=0.6)
            t = ax.text(0.016, y - 0.2, text, transform=trans, ha="left", va="center", fontsize=fs, parse_math=False,
                        fontweight="bold", color="#222222", zorder=4, clip_on=True, bbox=box)
            t2 = ax.text(0.016, y + 0.22, src, transform=trans, ha="left", va="center", fontsize=fs - 0.5, parse_math=False,
                         color="#333333", zorder=4, clip_on=True, bbox=box)
            t.set_in_layout(False)
            t2.set_in_layout(False)
    return labels


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
        st = _mark_style(m)
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
        h.append(Line2D([], [], ls="", marker="s", markerfacecolor=EVIDENCE_COLORS.get(lv, OKABE_ITO["grey"]),
                        markeredgecolor="#333333", markersize=7, label=f"Evidence: {schemas.evidence_words(lv)}"))
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


# ============================================================================ figures


def _figure_size(layout: TimelineLayout) -> tuple[float, float]:
    units = layout.ylim[0]
    if layout.compact:
        return 11.0, max(3.2, units * 0.085 + 2.2)
    return 13.0, max(3.2, units * 0.36 + 1.6)


def plot_timelines(data, *, sort_by="follow_up", ascending=None, max_lanes: int = 40, title: str | None = None,
                   uncertainty: str = "whisker", xlim=None, pre_window=None, compact=None, figsize=None,
                   caption: bool = True):
    """The timeline figure: lanes, status segments, uncertainty, markers, ongoing arrows,
    labels, legend, title and a caption stating time zero and the unit.

    ``data`` is a :func:`timeline_table` (laid out here with ``sort_by``, ``xlim``, ...) or a
    :class:`TimelineLayout`. At most ``max_lanes`` lanes are drawn (whole patients); the
    lanes left out are named in the caption and in a warning -- use
    :func:`plot_timeline_pages` to draw them all. Returns the matplotlib Figure; the layout
    is ``fig.timeline_layout``.
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
        fig.timeline_layout = layout
        return fig
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
    fig.timeline_layout = layout
    return fig


def plot_timeline_pages(table: pd.DataFrame, max_lanes: int = 40, *, max_pages: int | None = None,
                        sort_by="follow_up", ascending=None, title: str | None = None, **kwargs) -> list:
    """Figures of at most ``max_lanes`` lanes each (whole patients per page), in the order
    of :func:`lane_layout`, all on the same time axis. With ``max_pages``, pages beyond it
    are not drawn: the last page's caption and a warning name the lanes left out.
    Returns the list of figures (each with ``fig.timeline_layout``)."""
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
