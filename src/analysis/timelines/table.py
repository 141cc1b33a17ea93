"""The timeline table: one tidy row per event of the selected patients (the data layer).

:func:`timeline_table` gives each event its time relative to the chosen time zero, the lane
it belongs to (one lane per patient and treatment line) and what a table beneath the figure
needs (detail, product and dose, quote, short citation, evidence level);
:func:`events_table` is the table written beneath the figure (``timeline_events.csv``);
:func:`not_placeable` lists the lanes no event of which can be placed. Patients are chosen
with :func:`analysis.select.select_patients`.

Units: the data's times are days; ``time_lo``/``time_best``/``time_hi`` here are in the chosen
``time_unit`` (days per unit from :data:`analysis.timing.TIME_UNITS`: a week is 7 days, a
month 365.25/12 = 30.4375 days, a year 365.25 days), or decimal calendar years with
``anchor="calendar"``. Time zero (``anchor``) is

* ``"line"`` (default): each treatment line's first stem-cell transplant or infusion; events
  outside any line (line 0: diagnosis, admission) are shown on the patient's first line and
  counted from its day 0;
* ``"calendar"``: calendar time (decimal years); lanes without a calendar date cannot be
  placed and are listed as such;
* an event type (``"admission"``, ``"diagnosis"``, ...): per patient, the first such event;
  every lane of the patient counts from it, through the offset chains (see
  :mod:`analysis.timing`), so uncertainty is carried, not compounded.

An interval bounded on one side only ("at least", "before X", order-only events) has
``time_lo = -inf`` or ``time_hi = +inf``. A time that cannot be related to time zero (an age
of a patient without a calendar link, an undated event) is ``NaN`` with ``placed = False``:
listed in the table, not drawn. Numbers in words use a true minus sign (``−``).
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd

from analysis import schemas, timing
from analysis.select import select_patients

ANCHOR_LINE = "line"
ANCHOR_CALENDAR = "calendar"

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
