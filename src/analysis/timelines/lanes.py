"""One row per lane: what each treatment line achieved and for how long (``timeline_lanes.csv``).

:func:`timeline_lanes` summarises every lane of a timeline table: the best response reported
after time zero and when it was first reported, the duration of remission with the interval
the coded times allow, whether remission was ongoing at the last report, and the ``curve``
that links the lane to its row of the survival analysis (:mod:`analysis.survival.data`;
empty, with the reason, for a line the survival analysis leaves out).

Times are measured from each line's own time zero (its first stem-cell transplant or
infusion) through the loader's offset graph (``ds.graph.relative``): a remission known only as
"at least 0 days after the transplant" and a relapse "8 years after the transplant" give a
duration of at most 8 years (about 8.8), not an interval that pretends the remission began
on day 0; two events counted from one another keep their exact gap however uncertain both are.
Durations and times are in the table's ``time_unit`` (months with a calendar anchor).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis import timing
from analysis.survival.data import assign_curves, survival_from_cases
from analysis.timelines.layout import REMISSION_STATUSES, lane_order

LANE_TABLE_COLUMNS = [
    "lane_id", "patient_id", "line", "line_therapy", "diseases", "source_id", "evidence_level", "case_role",
    "best_response", "best_response_event", "time_to_response", "time_to_response_lo", "time_to_response_hi",
    "remission_start_event", "remission_end", "remission_end_event", "remission_duration",
    "remission_duration_lo", "remission_duration_hi", "remission_ongoing", "follow_up_end", "curve",
    "survival_note", "time_unit",
]
"""Columns of ``timeline_lanes.csv``. ``best_response``: complete, partial, improving, no response
(active disease) or not reported -- the best target-disease status reported after time zero;
``time_to_response`` (with ``_lo``/``_hi``): from time zero to its first report.
``remission_*``: from the first partial or complete remission after time zero to what ended it
(``remission_end``: relapse, death, active disease, ongoing at last follow-up, or follow-up not
reported), the duration with its interval (``inf``: no upper bound; an ongoing remission's
duration is a lower bound: it lasted at least that long). ``remission_ongoing``: remission at
the last report (the timeline's arrow). ``follow_up_end``: last_followup, death, next_line or
not_reported. ``curve``: the lane's curve in the survival analysis with default settings
(``case reports``; ``cases (anecdote)``), empty when the line is left out, ``survival_note``
saying why."""

RESPONSE_RANK = {"complete": 4, "partial": 3, "improving": 2, "active": 1}
RESPONSE_WORDS = {"complete": "complete", "partial": "partial", "improving": "improving",
                  "active": "no response (active disease)"}


def _rel(graph, event, anchor, scale) -> tuple[float, float, float]:
    r = graph.relative(event, anchor) if graph is not None and event and anchor else None
    if r is None:
        return (math.nan, math.nan, math.nan)
    return (r.best / scale, r.lo / scale, r.hi / scale)


def timeline_lanes(table: pd.DataFrame, ds, layout=None) -> pd.DataFrame:
    """``timeline_lanes.csv``: one row per lane of ``table`` (a :func:`timeline_table` of
    ``ds``), columns :data:`LANE_TABLE_COLUMNS`; see the module docstring. ``layout`` (a
    :class:`TimelineLayout` of the same table) gives the ongoing-remission flags as drawn;
    without it they are computed the same way."""
    unit = str(table["time_unit"].iloc[0]) if len(table) else "months"
    if unit == "calendar year":
        unit = "months"
    scale = timing.unit_days(unit)
    graph = getattr(ds, "graph", None)
    lanes = lane_order(table, "data")
    anchors = ds.lines.set_index(["patient_id", "line"])["anchor_event_id"] if len(ds.lines) else pd.Series(dtype=object)
    ongoing = {}
    if layout is not None and len(layout.lanes):
        ongoing = dict(zip(layout.lanes["lane_id"], layout.lanes["ongoing"].fillna(False).astype(bool)))
    curves, notes = _survival_links(ds, unit)
    rows = []
    for lane in lanes.itertuples(index=False):
        ev = table[table["lane_id"] == lane.lane_id]
        anchor = anchors.get((lane.patient_id, lane.line)) if len(anchors) else None
        rel = {e: _rel(graph, e, anchor, scale) for e in ev["event_id"]}
        ev = ev.assign(_t=[rel[e][0] for e in ev["event_id"]]).sort_values(["_t", "coded_order"], kind="stable")
        after = ev[np.isfinite(ev["_t"]) & (ev["_t"] >= 0)]
        target = after["target_disease"].astype(bool)
        status = after["status"].where(after["status"].isin(list(RESPONSE_RANK)) &
                                       after["event_type"].isin(["assessment", "remission", "last_followup"]) & target)
        row = {"lane_id": lane.lane_id, "patient_id": lane.patient_id, "line": lane.line,
               "line_therapy": ev["line_therapy"].iloc[0], "diseases": ev["diseases"].iloc[0],
               "source_id": ev["source_id"].iloc[0], "evidence_level": ev["evidence_level"].iloc[0],
               "case_role": ev["case_role"].iloc[0], "follow_up_end": lane.end_kind, "time_unit": unit,
               "curve": curves.get((lane.patient_id, lane.line), ""),
               "survival_note": notes.get((lane.patient_id, lane.line), "")}
        rows.append(row | _response(after, status, rel) | _remission(after, status, rel, graph, scale)
                    | ({"remission_ongoing": ongoing[lane.lane_id]} if lane.lane_id in ongoing else {}))
    out = pd.DataFrame(rows)
    for col in LANE_TABLE_COLUMNS:
        if col not in out.columns:
            out[col] = pd.NA
    return out[LANE_TABLE_COLUMNS]


def _response(after: pd.DataFrame, status: pd.Series, rel: dict) -> dict:
    reported = status.dropna()
    if not len(reported):
        return {"best_response": "not reported"}
    best = max(reported, key=lambda s: RESPONSE_RANK[s])
    first = reported[reported == best].index[0]
    eid = after.at[first, "event_id"]
    t, lo, hi = rel[eid]
    return {"best_response": RESPONSE_WORDS[best], "best_response_event": eid, "time_to_response": t,
            "time_to_response_lo": max(lo, 0.0), "time_to_response_hi": hi}


def _remission(after: pd.DataFrame, status: pd.Series, rel: dict, graph, scale) -> dict:
    rem = status.isin(REMISSION_STATUSES)
    if not rem.any():
        return {"remission_ongoing": False}
    start_i = rem[rem].index[0]
    start = after.at[start_i, "event_id"]
    later = after.loc[after.index[after.index.get_loc(start_i) + 1:]]
    target = later["target_disease"].astype(bool)
    ends = later[(later["event_type"].eq("relapse") & target) | later["event_type"].eq("death")
                 | (later["status"].eq("active") & target)]
    out = {"remission_start_event": start}
    if len(ends):
        end = ends.iloc[0]
        kind = end["event_type"] if end["event_type"] in ("relapse", "death") else "active disease"
        out |= {"remission_end": kind, "remission_end_event": end["event_id"], "remission_ongoing": False}
    else:
        fu = later[later["event_type"].eq("last_followup")]
        confirmed = later[status.reindex(later.index).isin(REMISSION_STATUSES)]
        # censored at the last follow-up; without one, at the last report of remission
        end = (fu.iloc[-1] if len(fu) else confirmed.iloc[-1] if len(confirmed)
               else later.iloc[-1] if len(later) else after.loc[start_i])
        last = status.dropna()
        out |= {"remission_end": "ongoing at last follow-up" if len(fu) else "follow-up not reported",
                "remission_end_event": end["event_id"],
                "remission_ongoing": bool(len(last) and last.iloc[-1] in REMISSION_STATUSES)}
    d = graph.relative(out["remission_end_event"], start) if graph is not None else None
    if d is not None:
        out |= {"remission_duration": max(d.best / scale, 0.0), "remission_duration_lo": max(d.lo / scale, 0.0),
                "remission_duration_hi": d.hi / scale}
    return out


def _survival_links(ds, unit: str) -> tuple[dict, dict]:
    """(patient_id, line) -> curve of the default survival analysis, and -> why a line is left
    out of it."""
    try:
        data, excluded = survival_from_cases(ds, unit)
    except (KeyError, AttributeError):  # a data set without treatment lines
        return {}, {}
    data = assign_curves(data)
    curves = {(p, int(ln)): c for p, ln, c in zip(data["patient_id"], data["line"], data["curve"])}
    notes = {(p, int(ln)): f"not in the survival analysis: {r}"
             for p, ln, r in zip(excluded["patient_id"], excluded["line"], excluded["reason"])}
    return curves, notes
