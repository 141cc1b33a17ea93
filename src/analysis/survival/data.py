"""Survival data: one table layout for relapse-free survival from coded cases, individual
patient data and reconstructed published curves, and the cohort statements that give a
duration but no data.

Survival data come from three places and share one layout (:data:`SURVIVAL_COLUMNS`):

* **cases** (:func:`survival_from_cases`): per treatment line, the time from the line's
  anchor (its first transplant or infusion) to the first relapse of the target disease or
  death after it (``event = 1``), else to the last follow-up (``event = 0``). The best
  estimate of an imprecise time is used and its interval kept in ``time_lo``/``time_hi``.
  Lines without usable follow-up are returned in a second table with the reason.
* **individual patient data** (:func:`survival_from_ipd`), the ``ipd/*.csv`` files;
* **reconstructed** data (:func:`survival_from_reconstructed`), rebuilt from published
  curves by :mod:`analysis.survival.reconstruct`; its evidence level is ``reconstructed``.

**Conventions.** Coded times arrive in days (``t_best``/``t_lo``/``t_hi`` of the loaded
events) or in each row's own ``time_unit``; every returned table has its times in the
requested ``time_unit`` (days, weeks, months, years; a month is 365.25/12 = 30.4375 days,
:data:`analysis.timing.TIME_UNITS`) and says so in its ``time_unit`` column. ``event`` is 1
for relapse or death, 0 for censored.

The data room of :mod:`analysis.survival`: tables only, no estimates and no figure (the
Kaplan-Meier numbers are in :mod:`.km`, the figure in :mod:`.plot`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.schemas import RECONSTRUCTED
from analysis.survival.km import _text
from analysis.survival.reconstruct import CHECK_COLUMNS, reconstruct_curves
from analysis.timing import TIME_UNITS, shown_value, unit_days

SURVIVAL_SOURCES = ("cases", "ipd", RECONSTRUCTED)
SURVIVAL_COLUMNS = [
    "survival_source", "study", "source_id", "patient_id", "line", "group", "therapy",
    "disease", "source_kind", "evidence_level", "time", "time_lo", "time_hi", "event",
    "end", "time_unit",
]
"""Columns of every survival table. ``end`` says what ended follow-up: relapse, death,
last_followup, next_line (censored at the start of the patient's next treatment line) or
ipd / reconstructed."""

EXCLUDED_COLUMNS = ["survival_source", "study", "patient_id", "line", "therapy", "reason"]


# --------------------------------------------------------------------------- survival data


def survival_from_cases(ds, time_unit: str = "months") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Relapse-free survival per treatment line of the coded cases.

    For each row of ``ds.lines``: the event is the first relapse of the target disease
    (``event_type == "relapse"`` with an empty ``disease``; a relapse of a comorbidity does
    not count) or death, with ``t_best > 0`` (after the anchor); time = its ``t_best``. With
    no such event the line is censored at its latest ``last_followup`` or, if the patient
    has a later line whose start can be dated relative to this one, at that start
    (whichever is earlier). ``time_lo``/``time_hi`` keep the interval of the chosen time.

    Returns ``(survival, excluded)``: ``survival`` has :data:`SURVIVAL_COLUMNS`;
    ``excluded`` lists, with a reason, lines of adverse-event anecdotes, lines whose
    relapse or death has no time relative to the anchor, and lines with no usable follow-up.
    """
    scale = unit_days(time_unit)
    lines = ds.lines
    events = ds.events
    patients = ds.patients.drop_duplicates("patient_id").set_index("patient_id")
    sources = ds.sources.drop_duplicates("source_id").set_index("source_id")
    rows, excluded = [], []
    by_patient = {pid: grp for pid, grp in events.groupby("patient_id", sort=False)}
    anchors_by_patient = _anchors(lines)
    graph = getattr(ds, "graph", None)
    for _, ln in lines.sort_values(["patient_id", "line"]).iterrows():
        pid, line = ln["patient_id"], int(ln["line"])
        pat = patients.loc[pid] if pid in patients.index else None
        sid = _text(ln.get("source_id"))
        src = sources.loc[sid] if sid in sources.index else None
        base = {
            "survival_source": "cases",
            "study": sid,
            "source_id": sid,
            "patient_id": pid,
            "line": line,
            "therapy": _text(ln.get("therapy")) or (_text(pat["therapy"]) if pat is not None else ""),
            "disease": _text(pat["diseases"]) if pat is not None else "",
            "source_kind": _text(src["kind"]) if src is not None else "",
            "evidence_level": _text(src["evidence_level"]) if src is not None else "",
        }
        base["group"] = base["therapy"]

        def exclude(reason, base=base):
            excluded.append({k: base[k] for k in EXCLUDED_COLUMNS if k in base} | {"reason": reason})

        if pat is not None and _text(pat.get("case_role")) == "adverse_event_anecdote":
            exclude("adverse-event anecdote (case_role adverse_event_anecdote), not an autoimmune case")
            continue
        ev = by_patient.get(pid, events.iloc[0:0])
        ev = ev[ev["line"].fillna(-1).astype(int) == line]
        disease = ev["disease"].map(_text)
        target = ((ev["event_type"] == "relapse") & (disease == "")) | (ev["event_type"] == "death")
        cands = ev[target]
        t_best = cands["t_best"].astype(float)
        after = cands[np.isfinite(t_best) & (t_best > 0)]
        if len(after):
            first = after.loc[after["t_best"].astype(float).idxmin()]
            rows.append(base | _times(first["t_best"], first["t_lo"], first["t_hi"], scale)
                        | {"event": 1, "end": first["event_type"]})
            continue
        unknown = cands[~np.isfinite(t_best)]
        if len(unknown):
            ids = ", ".join(map(str, unknown["event_id"]))
            exclude(f"relapse or death ({ids}) has no time relative to the line's anchor")
            continue
        ends = []
        fu = ev[ev["event_type"] == "last_followup"]
        fu_ok = fu[np.isfinite(fu["t_best"].astype(float))]
        if len(fu_ok):
            last = fu_ok.loc[fu_ok["t_best"].astype(float).idxmax()]
            ends.append((float(last["t_best"]), float(last["t_lo"]), float(last["t_hi"]), "last_followup"))
        nxt = _next_line_start(graph, anchors_by_patient.get(pid, {}), line)
        if nxt is not None:
            ends.append((*nxt, "next_line"))
        if not ends:
            if len(fu):
                exclude("last follow-up has no time relative to the line's anchor")
            else:
                exclude("no usable follow-up: no last_followup, relapse or death coded for this line")
            continue
        best, lo, hi, end = min(ends, key=lambda e: e[0])
        if best < 0:
            exclude(f"follow-up ends before the anchor ({end}, {best:.0f} days)")
            continue
        rows.append(base | _times(best, lo, hi, scale) | {"event": 0, "end": end})
    out = pd.DataFrame(rows, columns=SURVIVAL_COLUMNS[:-1])
    out["time_unit"] = time_unit
    out["event"] = out["event"].astype(int)
    out["line"] = out["line"].astype("Int64")
    return out[SURVIVAL_COLUMNS], pd.DataFrame(excluded, columns=EXCLUDED_COLUMNS)


def _times(best, lo, hi, scale) -> dict:
    return {"time": float(best) / scale, "time_lo": float(lo) / scale, "time_hi": float(hi) / scale}


def _anchors(lines: pd.DataFrame) -> dict:
    """patient_id -> {line: anchor event id} (each line's first stem-cell therapy)."""
    out: dict = {}
    for pid, line, aid in zip(lines["patient_id"], lines["line"], lines["anchor_event_id"]):
        if not pd.isna(aid):
            out.setdefault(pid, {})[int(line)] = aid
    return out


def _next_line_start(graph, anchors: dict, line: int):
    """(best, lo, hi) days from this line's anchor to the next line's anchor, as the offset
    graph relates them (``ds.graph.relative``, through their nearest common reference: a
    calendar date, an offset chain, even from an undated event); None when the patient has
    no later line or the graph cannot relate the two."""
    later = sorted(k for k in anchors if k > line)
    if graph is None or line not in anchors or not later:
        return None
    rel = graph.relative(anchors[later[0]], anchors[line])
    if rel is None or not np.isfinite(rel.best):
        return None
    return (rel.best, rel.lo, rel.hi)


def survival_from_ipd(ipd: pd.DataFrame, sources: pd.DataFrame | None = None,
                      time_unit: str = "months", survival_source: str = "ipd",
                      evidence_level: str | None = None) -> pd.DataFrame:
    """Individual patient data (``study, patient_id, group, time, time_unit, event``) in
    the survival layout, times converted to ``time_unit``.

    ``source_kind`` and ``evidence_level`` come from ``sources`` (matched on
    ``study == source_id``) unless ``evidence_level`` is given (``"reconstructed"`` for
    reconstructed data). Raises ``ValueError`` naming the row for an unknown unit, an
    event that is not 0/1 or a negative or missing time.
    """
    scale = unit_days(time_unit)
    need = ["study", "patient_id", "group", "time", "time_unit", "event"]
    missing = [c for c in need if c not in ipd.columns]
    if missing:
        raise ValueError(f"individual patient data lacks column(s): {', '.join(missing)}")
    if ipd.empty:
        return pd.DataFrame(columns=SURVIVAL_COLUMNS)
    units = ipd["time_unit"].astype(str)
    bad = ~units.isin(list(TIME_UNITS))
    if bad.any():
        i = bad.idxmax()
        raise ValueError(f"individual patient data row {i}: time_unit must be one of "
                         f"{', '.join(TIME_UNITS)}, found {shown_value(ipd.at[i, 'time_unit'])}")
    time = pd.to_numeric(ipd["time"], errors="coerce").astype(float)
    bad = ~np.isfinite(time) | (time < 0)
    if bad.any():
        i = bad.idxmax()
        raise ValueError(f"individual patient data row {i}: time must be a number >= 0, "
                         f"found {shown_value(ipd.at[i, 'time'])}")
    event = pd.to_numeric(ipd["event"], errors="coerce")
    bad = ~event.isin([0, 1])
    if bad.any():
        i = bad.idxmax()
        raise ValueError(f"individual patient data row {i}: event must be 1 (relapse or death) "
                         f"or 0 (censored), found {shown_value(ipd.at[i, 'event'])}")
    t = time.to_numpy() * units.map(TIME_UNITS).to_numpy() / scale
    study = ipd["study"].astype(str)
    kind = level = pd.Series("", index=ipd.index)
    if sources is not None and len(sources):
        src = sources.drop_duplicates("source_id").set_index("source_id")
        kind = study.map(src["kind"].astype(str)).fillna("")
        level = study.map(src["evidence_level"].astype(str)).fillna("")
    if evidence_level is not None:
        level = pd.Series(evidence_level, index=ipd.index)
    out = pd.DataFrame({
        "survival_source": survival_source,
        "study": study.to_numpy(),
        "source_id": study.to_numpy(),
        "patient_id": ipd["patient_id"].astype(str).to_numpy(),
        "line": pd.array([pd.NA] * len(ipd), dtype="Int64"),
        "group": ipd["group"].map(_text).to_numpy(),
        "therapy": "",
        "disease": "",
        "source_kind": np.asarray(kind, dtype=object),
        "evidence_level": np.asarray(level, dtype=object),
        "time": t,
        "time_lo": t,
        "time_hi": t,
        "event": event.astype(int).to_numpy(),
        "end": survival_source,
        "time_unit": time_unit,
    })
    return out[SURVIVAL_COLUMNS]


def survival_from_reconstructed(points: pd.DataFrame, at_risk: pd.DataFrame,
                                sources: pd.DataFrame | None = None,
                                time_unit: str = "months") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reconstruct every published curve (Guyot 2012) and return ``(survival, checks)``.

    ``survival`` is in the survival layout with evidence level ``reconstructed``;
    ``checks`` is the self-check of every curve (see
    :func:`analysis.survival.reconstruct.reconstruct_curves`).
    """
    ipd, checks = reconstruct_curves(points, at_risk)
    return survival_from_ipd(ipd, sources, time_unit, survival_source=RECONSTRUCTED,
                             evidence_level=RECONSTRUCTED), checks


def survival_data(ds, survival_sources=SURVIVAL_SOURCES, time_unit: str = "months"):
    """All survival data of a dataset: ``(survival, excluded, reconstruction_checks)``."""
    if isinstance(survival_sources, str):
        survival_sources = [survival_sources]
    unknown = [s for s in survival_sources if s not in SURVIVAL_SOURCES]
    if unknown:
        raise ValueError(f"survival_sources must be among {', '.join(SURVIVAL_SOURCES)}, "
                         f"found {', '.join(map(repr, unknown))}")
    frames = []
    excluded = pd.DataFrame(columns=EXCLUDED_COLUMNS)
    checks = None
    if "cases" in survival_sources and len(ds.lines):
        cases, excluded = survival_from_cases(ds, time_unit)
        frames.append(cases)
    if "ipd" in survival_sources and len(ds.ipd):
        frames.append(survival_from_ipd(ds.ipd, ds.sources, time_unit))
    if "reconstructed" in survival_sources and len(ds.km_curves_points):
        rec, checks = survival_from_reconstructed(ds.km_curves_points, ds.km_curves_at_risk,
                                                  ds.sources, time_unit)
        frames.append(rec)
    frames = [f for f in frames if len(f)]
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SURVIVAL_COLUMNS)
    if checks is None:
        checks = pd.DataFrame(columns=CHECK_COLUMNS)
    return data, excluded, checks


# --------------------------------------------------------------------------- cohort statements


STATEMENT_COLUMNS = ["outcome_id", "source_id", "study", "arm", "disease", "therapy", "design",
                     "evidence_level", "outcome", "time", "time_qualifier", "time_unit",
                     "proportion", "events", "total", "total_qualifier", "definition", "quote"]


def cohort_statements(cohort_outcomes: pd.DataFrame, sources: pd.DataFrame | None = None,
                      time_unit: str = "months") -> pd.DataFrame:
    """Relapse-free / disease-free statements of cohorts that give a duration but no
    survival data (e.g. "disease-free for up to 15 years"), times in ``time_unit``.

    Rows with a time and neither events nor a proportion are kept (a proportion, if
    given, is also returned so the figure can place it). They are drawn as annotated
    ranges, never as curves."""
    scale = unit_days(time_unit)
    co = cohort_outcomes
    if co is None or co.empty:
        return pd.DataFrame(columns=STATEMENT_COLUMNS)
    keep = co["outcome"].isin(["relapse_free", "disease_free"]) & co["time_value"].notna()
    co = co[keep & co["events"].isna()]
    if co.empty:
        return pd.DataFrame(columns=STATEMENT_COLUMNS)
    days = co["time_value"].astype(float) * co["time_unit"].map(TIME_UNITS).astype(float)
    out = co.assign(time=days / scale, time_unit=time_unit)
    level = pd.Series("", index=co.index)
    if sources is not None and len(sources):
        src = sources.drop_duplicates("source_id").set_index("source_id")
        level = co["source_id"].map(src["evidence_level"].astype(str)).fillna("")
    out["evidence_level"] = level
    for col in STATEMENT_COLUMNS:
        if col not in out.columns:
            out[col] = pd.NA
    return out[STATEMENT_COLUMNS].reset_index(drop=True)
