"""Survival data: one table layout for relapse-free survival from coded cases, individual
patient data and reconstructed published curves, and the curves the rows belong to.

Survival data come from three places and share one layout (:data:`SURVIVAL_COLUMNS`):

* **cases** (:func:`survival_from_cases`): per treatment line, the time from the line's
  anchor (its first transplant or infusion) to the first relapse of the target disease or
  death after it (``event = 1``, ``cause`` relapse or death), else to the last follow-up or
  the start of the patient's next line (``event = 0``). The best estimate of an imprecise
  time is used and its interval kept in ``time_lo``/``time_hi``. Lines without usable
  follow-up are returned in a second table with the reason.
* **individual patient data** (:func:`survival_from_ipd`), the ``ipd/*.csv`` files;
* **reconstructed** data (:func:`survival_from_reconstructed`), rebuilt from published
  curves by :mod:`analysis.survival.reconstruct`; its evidence level is ``reconstructed``.

IPD and curve files may say what they are about (``disease``, ``therapy``), or name a
``cohort_outcomes`` row that does (``outcome_id``); otherwise the source's own
cohort_outcomes rows give them when they name one disease (and one therapy, or the therapy
of the row whose ``arm`` is the curve's group).

**Curves** (:func:`assign_curves`, column ``curve``): rows of different sources or studies
never share a curve unless asked. By default case reports form one curve per group (and
evidence tier), each IPD study and arm its own curve, each reconstructed published curve
its own; ``pool_curves=True`` pools across studies by the ``group_by`` values only.

**Conventions.** Coded times arrive in days (``t_best``/``t_lo``/``t_hi`` of the loaded
events) or in each row's own ``time_unit``; every returned table has its times in the
requested ``time_unit`` (days, weeks, months, years; a month is 365.25/12 = 30.4375 days,
:data:`analysis.timing.TIME_UNITS`) and says so in its ``time_unit`` column. ``event`` is 1
for relapse or death, 0 for censored.

The data room of :mod:`analysis.survival`: tables only, no estimates and no figure (the
Kaplan-Meier numbers are in :mod:`.km`, the figure in :mod:`.plot`, the cohort statements in
:mod:`.statements`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.schemas import RECONSTRUCTED, evidence_words
from analysis.survival.coded import Coded
from analysis.survival.km import NOT_STATED, _normalise_group_by, _text
from analysis.survival.reconstruct import CHECK_COLUMNS, reconstruct_curves
from analysis.timing import TIME_UNITS, shown_value, unit_days

SURVIVAL_SOURCES = ("cases", "ipd", RECONSTRUCTED)
SURVIVAL_COLUMNS = [
    "curve", "survival_source", "study", "source_id", "patient_id", "line", "group", "therapy",
    "disease", "source_kind", "evidence_level", "time", "time_lo", "time_hi", "event",
    "end", "cause", "strata", "time_unit",
]
"""Columns of every survival table (``survival_data.csv``). ``curve``: the curve the row
belongs to (:func:`assign_curves`; empty before curves are assigned). ``time_lo``/``time_hi``:
the interval the time is known to lie in (``inf``: unbounded). ``end`` says what ended
follow-up: relapse, death, last_followup, next_line (censored at the start of the patient's
next treatment line) or ipd / reconstructed. ``cause``: with ``event`` 1, what the event was
(cases: ``relapse`` or ``death`` -- a death before any relapse; IPD: its ``cause`` column;
otherwise :data:`EVENT_UNSPECIFIED`), empty when censored. ``strata``: the IPD's stratum
for a stratified log-rank test."""

EVENT_UNSPECIFIED = "relapse or death (not specified)"
"""``cause`` of an event whose kind the data do not give (reconstructed curves; IPD without
``cause``)."""

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
                        | {"event": 1, "end": first["event_type"], "cause": first["event_type"]})
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
        rows.append(base | _times(best, lo, hi, scale) | {"event": 0, "end": end, "cause": ""})
    out = pd.DataFrame(rows, columns=SURVIVAL_COLUMNS[:-1])
    out["curve"] = ""
    out["strata"] = ""
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


def _row_error(i, message: str):
    raise ValueError(f"individual patient data row {i}: {message}")


def _ipd_times(ipd: pd.DataFrame, event: pd.Series, factor: np.ndarray):
    """(time, time_lo, time_hi) in the target unit: ``time``, or the midpoint of
    ``time_lo``/``time_hi`` for an interval-censored event whose ``time`` is empty."""
    def num(col):
        if col not in ipd.columns:
            return pd.Series(np.nan, index=ipd.index)
        return pd.to_numeric(ipd[col], errors="coerce").astype(float)

    time, lo, hi = num("time"), num("time_lo"), num("time_hi")
    for col, values in (("time", time), ("time_lo", lo), ("time_hi", hi)):
        if col not in ipd.columns:
            continue
        raw = ipd[col]
        given = (raw.notna().to_numpy() if pd.api.types.is_numeric_dtype(raw.dtype)
                 else Coded.of(raw).map(lambda v: _text(v).strip() != "").array().astype(bool))
        bad = (given & ~np.isfinite(values.to_numpy())) | (values.to_numpy() < 0)
        if bad.any():
            i = ipd.index[np.argmax(bad)]
            _row_error(i, f"{col} must be a number >= 0, found {shown_value(ipd.at[i, col])}")
    no_time = time.isna()
    need = no_time & (lo.isna() | hi.isna())
    if need.any():
        i = need.idxmax()
        _row_error(i, f"time must be a number >= 0, found {shown_value(ipd.at[i, 'time']) if 'time' in ipd else 'none'}"
                   " (an interval-censored event gives time_lo and time_hi instead)")
    censored_interval = no_time & (event == 0)
    if censored_interval.any():
        _row_error(censored_interval.idxmax(), "an interval (time_lo, time_hi) without a time is an event; "
                   "give event 1, or the censoring time in time")
    time = time.where(~no_time, (lo + hi) / 2)
    lo, hi = lo.fillna(time), hi.fillna(time)
    wrong = (lo > time) | (time > hi)
    if wrong.any():
        i = wrong.idxmax()
        _row_error(i, f"expected time_lo <= time <= time_hi, found {lo[i]:g}, {time[i]:g}, {hi[i]:g}")
    return time.to_numpy() * factor, lo.to_numpy() * factor, hi.to_numpy() * factor


def _coded_texts(rows: pd.DataFrame, column: str) -> Coded:
    """The column's cells as text (:func:`_text`), "" everywhere when there is no such column."""
    return Coded.of(rows[column]).map(_text) if column in rows.columns else Coded.constant("", len(rows))


def curve_context(rows: pd.DataFrame, cohort_outcomes: pd.DataFrame | None) -> pd.DataFrame:
    """``disease`` and ``therapy`` of IPD or curve rows (``study``, ``group``, optional
    ``disease``, ``therapy``, ``outcome_id``): the row's own value, else that of the
    ``cohort_outcomes`` row it names (``outcome_id``), else the source's cohort_outcomes rows
    (``source_id`` = ``study``) when they name one disease -- and for the therapy, the row
    whose ``arm`` is the curve's ``group``, else the source's one therapy. Empty when none
    says. Raises ``ValueError`` for an ``outcome_id`` that is not in cohort_outcomes.
    Each distinct (study, group, outcome_id, own value) is looked up once."""
    return pd.DataFrame({c: v.array() for c, v in _context(rows, cohort_outcomes).items()}, index=rows.index)


def _context(rows: pd.DataFrame, cohort_outcomes: pd.DataFrame | None, study: Coded | None = None,
             group: Coded | None = None) -> dict[str, Coded]:
    """:func:`curve_context` as codes (``disease``, ``therapy``); ``study`` and ``group``:
    those columns' :func:`_coded_texts`, when the caller has them."""
    own = {c: _coded_texts(rows, c) for c in ("disease", "therapy")}
    co = cohort_outcomes if cohort_outcomes is not None and len(cohort_outcomes) else None
    if co is None:
        return own
    co = co.assign(_d=co["disease"].map(_text), _t=co["therapy"].map(_text))
    named = _coded_texts(rows, "outcome_id")
    by_id = co.drop_duplicates("outcome_id").set_index("outcome_id")
    unknown = named.map(lambda n: n != "" and n not in by_id.index).array().astype(bool)
    if unknown.any():
        i = int(np.argmax(unknown))
        raise ValueError(f"individual patient data or curve row {rows.index[i]}: outcome_id "
                         f"{named.array()[i]!r} is not in cohort_outcomes")
    study = _coded_texts(rows, "study") if study is None else study
    group = (_coded_texts(rows, "group") if group is None else group).map(str.lower)
    out = {}
    for col, key in (("disease", "_d"), ("therapy", "_t")):
        by_name = by_id[key].to_dict()
        one = co[co[key] != ""].groupby("source_id")[key].agg(lambda v: v.iloc[0] if v.str.lower().nunique() == 1 else "")
        one = one.to_dict()
        by_arm = {}
        if col == "therapy":
            arm = co[co["_t"] != ""].assign(_a=co["arm"].map(_text).str.lower()).drop_duplicates(["source_id", "_a"])
            by_arm = arm.set_index(["source_id", "_a"])["_t"].to_dict()

        def value(mine, n, s, g, by_name=by_name, one=one, by_arm=by_arm):
            return mine or by_name.get(n, "") or by_arm.get((s, g), "") or one.get(s, "")

        out[col] = Coded.combine(value, own[col], named, study, group)
    return out


def survival_from_ipd(ipd: pd.DataFrame, sources: pd.DataFrame | None = None,
                      time_unit: str = "months", survival_source: str = "ipd",
                      evidence_level: str | None = None,
                      cohort_outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Individual patient data (``study, patient_id, group, time, time_unit, event`` and the
    optional ``disease, therapy, outcome_id, cause, strata, time_lo, time_hi``) in the
    survival layout, times converted to ``time_unit``.

    ``source_kind`` and ``evidence_level`` come from ``sources`` (matched on
    ``study == source_id``) unless ``evidence_level`` is given (``"reconstructed"`` for
    reconstructed data); ``disease`` and ``therapy`` from :func:`curve_context`. A row with
    ``time`` empty is an interval-censored event: its time is the midpoint of
    ``time_lo``/``time_hi`` (the interval is kept, for Turnbull's estimate). ``cause`` of an
    event without one is :data:`EVENT_UNSPECIFIED`. Raises ``ValueError`` naming the row for
    an unknown unit, an event that is not 0/1, a negative or missing time, a cause on a
    censored row or an ``outcome_id`` not in ``cohort_outcomes``.
    """
    columns = _ipd_columns(ipd, sources, time_unit, survival_source, evidence_level, cohort_outcomes)
    return pd.DataFrame(columns=SURVIVAL_COLUMNS) if columns is None else _frame(columns)


def _ipd_columns(ipd: pd.DataFrame, sources: pd.DataFrame | None, time_unit: str, survival_source: str,
                 evidence_level: str | None, cohort_outcomes: pd.DataFrame | None) -> dict | None:
    """:func:`survival_from_ipd` as columns (:data:`SURVIVAL_COLUMNS`), texts as codes into
    their few values (:class:`Coded`), so that curves are labelled and sources joined
    without hashing a million texts again; None for no rows."""
    scale = unit_days(time_unit)
    need = ["study", "patient_id", "group", "time_unit", "event"]
    missing = [c for c in need if c not in ipd.columns]
    if missing:
        raise ValueError(f"individual patient data lacks column(s): {', '.join(missing)}")
    if ipd.empty:
        return None
    units = Coded.of(ipd["time_unit"]).map(str)
    bad = units.map(lambda u: u not in TIME_UNITS).array().astype(bool)
    if bad.any():
        i = ipd.index[np.argmax(bad)]
        raise ValueError(f"individual patient data row {i}: time_unit must be one of "
                         f"{', '.join(TIME_UNITS)}, found {shown_value(ipd.at[i, 'time_unit'])}")
    event = pd.to_numeric(ipd["event"], errors="coerce")
    bad = ~event.isin([0, 1])
    if bad.any():
        i = bad.idxmax()
        raise ValueError(f"individual patient data row {i}: event must be 1 (relapse or death) "
                         f"or 0 (censored), found {shown_value(ipd.at[i, 'event'])}")
    t, t_lo, t_hi = _ipd_times(ipd, event, units.map(lambda u: TIME_UNITS[u] / scale).array().astype(float))
    cause = _coded_texts(ipd, "cause").map(str.strip)
    censored = event.to_numpy() == 0
    wrong = censored & ~cause.map(lambda c: c == "").array().astype(bool)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise ValueError(f"individual patient data row {ipd.index[i]}: cause must be empty when event is 0 "
                         f"(censored), found {cause.array()[i]!r}")
    cause = cause.map(lambda c: c or EVENT_UNSPECIFIED)
    cause = Coded(np.where(censored, len(cause.values), cause.codes), _objects([*cause.values, ""]))
    studies = Coded.of(ipd["study"])
    study = studies.map(str)
    kind = level = Coded.constant("", len(ipd))
    if sources is not None and len(sources):
        src = sources.drop_duplicates("source_id").set_index("source_id")
        kinds, levels = src["kind"].astype(str).to_dict(), src["evidence_level"].astype(str).to_dict()
        kind, level = study.map(lambda s: kinds.get(s, "")), study.map(lambda s: levels.get(s, ""))
    if evidence_level is not None:
        level = Coded.constant(evidence_level, len(ipd))
    group = _coded_texts(ipd, "group")
    context = _context(ipd, cohort_outcomes, studies.map(_text), group)
    n = len(ipd)
    return {
        "curve": Coded.constant("", n),
        "survival_source": Coded.constant(survival_source, n),
        "study": study,
        "source_id": study,
        "patient_id": ipd["patient_id"].astype(str).to_numpy(),
        "line": pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)),
        "group": group,
        "therapy": context["therapy"],
        "disease": context["disease"],
        "source_kind": kind,
        "evidence_level": level,
        "time": t,
        "time_lo": t_lo,
        "time_hi": t_hi,
        "event": event.astype(int).to_numpy(),
        "end": Coded.constant(survival_source, n),
        "cause": cause,
        "strata": _coded_texts(ipd, "strata"),
        "time_unit": Coded.constant(time_unit, n),
    }


def _frame(columns: dict) -> pd.DataFrame:
    """The survival table of ``columns`` (as :func:`_ipd_columns` gives them). The text
    columns are written straight into the one 2-D block pandas keeps them in (a million rows:
    ~100 MB written once, not made column by column and then copied into the block)."""
    texts = [c for c in SURVIVAL_COLUMNS if isinstance(columns[c], Coded)]
    block = np.empty((len(texts), len(columns[texts[0]])), dtype=object)
    for row, c in zip(block, texts):
        columns[c].fill(row)
    frame = pd.DataFrame(block.T, columns=texts, copy=False)
    for i, c in enumerate(SURVIVAL_COLUMNS):
        if c not in texts:
            frame.insert(i, c, columns[c])
    return frame


def _objects(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def survival_from_reconstructed(points: pd.DataFrame, at_risk: pd.DataFrame,
                                sources: pd.DataFrame | None = None,
                                time_unit: str = "months",
                                cohort_outcomes: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reconstruct every published curve (Guyot 2012) and return ``(survival, checks)``.

    ``survival`` is in the survival layout with evidence level ``reconstructed``, the
    curve's ``disease``/``therapy`` taken from its points (first non-empty value of the
    curve) or :func:`curve_context`; ``checks`` is the self-check of every curve (see
    :func:`analysis.survival.reconstruct.reconstruct_curves`).
    """
    ipd, checks = _reconstructed_ipd(points, at_risk)
    return survival_from_ipd(ipd, sources, time_unit, survival_source=RECONSTRUCTED,
                             evidence_level=RECONSTRUCTED, cohort_outcomes=cohort_outcomes), checks


def _reconstructed_ipd(points: pd.DataFrame, at_risk: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reconstructed patients of every curve, with the curve's ``disease``, ``therapy``
    and ``outcome_id`` from its points, and the self-check of every curve."""
    ipd, checks = reconstruct_curves(points, at_risk)
    if len(ipd):
        extra = [c for c in ("disease", "therapy", "outcome_id") if c in points.columns]
        if extra:
            first = points.assign(**{c: points[c].map(_text) for c in extra})
            per_curve = {c: first[first[c] != ""].groupby(["study", "group"])[c].first() for c in extra}
            key = pd.MultiIndex.from_frame(ipd[["study", "group"]])
            for c in extra:
                ipd[c] = per_curve[c].reindex(key).to_numpy()
    return ipd, checks


# --------------------------------------------------------------------------- curves


CASE_TIERS = {"case_report": "case reports", "case_series": "case reports"}
"""How case rows of an evidence level are named as a curve; other levels give "cases
(<level in words>)", e.g. "cases (anecdote)": anecdotes never share a curve with case
reports."""

_INTRINSIC = {"cases": {"survival_source"},
              "other": {"survival_source", "study", "source_id", "group"}}


def _provenance(source: str, study: str, group: str, level: str) -> str:
    if source == "cases":
        return CASE_TIERS.get(level, f"cases ({evidence_words(level, 'evidence not given')})")
    return f"{study}: {group}" if group else study


def assign_curves(data: pd.DataFrame, group_by=None, pool_curves: bool = False) -> pd.DataFrame:
    """``data`` with the ``curve`` column filled: the curve each row belongs to, its label in
    every table and figure.

    Default (``pool_curves=False``): rows of different survival sources or studies never
    share a curve. Case lines form one curve per ``group_by`` value and evidence tier
    (``"case reports"``, ``"psoriasis · case reports"``; anecdotes apart, ``"cases
    (anecdote)"``); each IPD study and group is its own curve (``"R-colon: Obs"``), as is
    each reconstructed published curve (``"P17: HSCT"``), further split by the ``group_by``
    values that vary inside it (``"Crohn's disease · P17: HSCT"``).

    ``pool_curves=True`` (explicit; labelled on the figure, log-rank then stratified by
    study): one curve per ``group_by`` value across all sources and studies (``"all"``
    without ``group_by``), as before issue 13.
    """
    cols = _curve_columns(group_by, data.columns)
    out = data.copy(deep=False)  # the new column is the copy's own
    if not len(out):
        out["curve"] = pd.Series(dtype=object)
        return out
    out["curve"] = _curves(lambda c: Coded.of(out[c]), cols, pool_curves, len(out)).array()
    return out


def _curve_columns(group_by, columns) -> list[str]:
    cols = _normalise_group_by(group_by)
    missing = [c for c in cols if c not in columns]
    if missing:
        raise ValueError(f"cannot group by {', '.join(map(repr, missing))}; choose among "
                         "therapy, disease, source_kind, study, group, evidence_level, survival_source")
    return cols


def _curves(column, cols: list[str], pool_curves: bool, n: int) -> Coded:
    """The curve of every row (see :func:`assign_curves`); ``column(name)``: that column
    as :class:`Coded`. Each distinct combination of the values is labelled once."""
    values = [column(c).map(lambda v: _text(v) or NOT_STATED) for c in cols]
    if pool_curves:
        return Coded.combine(lambda *v: " / ".join(v), *values) if cols else Coded.constant("all", n)

    def label(src, study, group, level, *vals):  # one label per distinct curve, not per row
        skip = _INTRINSIC["cases" if src == "cases" else "other"]
        vals = [v for c, v in zip(cols, vals) if c not in skip]
        prov = _provenance(src, study, group, level)
        return " · ".join([" / ".join(vals), prov]) if vals else prov

    keys = [column(c).map(_text) for c in ("survival_source", "study", "group", "evidence_level")]
    return Coded.combine(label, *keys, *values)


def survival_data(ds, survival_sources=SURVIVAL_SOURCES, time_unit: str = "months",
                  group_by=None, pool_curves: bool = False):
    """All survival data of a dataset: ``(survival, excluded, reconstruction_checks)``, each
    row in its curve (:func:`assign_curves` with ``group_by`` and ``pool_curves``)."""
    if isinstance(survival_sources, str):
        survival_sources = [survival_sources]
    unknown = [s for s in survival_sources if s not in SURVIVAL_SOURCES]
    if unknown:
        raise ValueError(f"survival_sources must be among {', '.join(SURVIVAL_SOURCES)}, "
                         f"found {', '.join(map(repr, unknown))}")
    parts = []  # each source's columns: texts as codes, joined and labelled without a copy of a million rows
    excluded = pd.DataFrame(columns=EXCLUDED_COLUMNS)
    checks = None
    co = getattr(ds, "cohort_outcomes", None)
    if "cases" in survival_sources and len(ds.lines):
        cases, excluded = survival_from_cases(ds, time_unit)
        parts.append({c: Coded.of(cases[c]) if cases[c].dtype == object else cases[c] for c in SURVIVAL_COLUMNS}
                     if len(cases) else None)
    if "ipd" in survival_sources and len(ds.ipd):
        parts.append(_ipd_columns(ds.ipd, ds.sources, time_unit, "ipd", None, co))
    if "reconstructed" in survival_sources and len(ds.km_curves_points):
        ipd, checks = _reconstructed_ipd(ds.km_curves_points, ds.km_curves_at_risk)
        parts.append(_ipd_columns(ipd, ds.sources, time_unit, RECONSTRUCTED, RECONSTRUCTED, co))
    if checks is None:
        checks = pd.DataFrame(columns=CHECK_COLUMNS)
    parts = [p for p in parts if p is not None]
    if not parts:
        return assign_curves(pd.DataFrame(columns=SURVIVAL_COLUMNS), group_by, pool_curves), excluded, checks
    cols = _curve_columns(group_by, SURVIVAL_COLUMNS)
    columns = parts[0] if len(parts) == 1 else {c: _concat([p[c] for p in parts]) for c in SURVIVAL_COLUMNS}
    n = len(columns["curve"])

    def column(name):
        v = columns[name]
        return v if isinstance(v, Coded) else Coded.of(pd.Series(v))

    columns["curve"] = _curves(column, cols, pool_curves, n)
    return _frame(columns), excluded, checks


def _concat(pieces: list):
    """One column of several sources: codes joined when every piece is coded, else as
    ``pd.concat`` joins them."""
    if all(isinstance(p, Coded) for p in pieces):
        return Coded.concat(pieces)
    return pd.concat([pd.Series(p.array() if isinstance(p, Coded) else p) for p in pieces],
                     ignore_index=True).array
