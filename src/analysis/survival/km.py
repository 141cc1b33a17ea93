"""Relapse-free survival: survival data, Kaplan-Meier tables that agree with R, figures.

Survival data come from three places and share one layout (:data:`SURVIVAL_COLUMNS`):

* **cases** (:func:`survival_from_cases`): per treatment line, the time from the line's
  anchor (its first transplant or infusion) to the first relapse of the target disease or
  death after it (``event = 1``), else to the last follow-up (``event = 0``). The best
  estimate of an imprecise time is used and its interval kept in ``time_lo``/``time_hi``.
  Lines without usable follow-up are returned in a second table with the reason.
* **individual patient data** (:func:`survival_from_ipd`), the ``ipd/*.csv`` files;
* **reconstructed** data (:func:`survival_from_reconstructed`), rebuilt from published
  curves by :mod:`analysis.reconstruct`; its evidence level is ``reconstructed``.

Kaplan-Meier estimates (:func:`km_fit`) are computed with numpy (:func:`km_table`; tested
equal to lifelines' ``KaplanMeierFitter``, which takes too long on a million rows); the
Greenwood variance and the three confidence-interval types follow R's
``survival`` package (``survfit(conf.type = "log-log" | "log" | "plain")``) to the detail:

* ``log-log`` (lifelines' and SAS's default): ``S^exp(±z se / log S)``; empty where S is 0 or 1;
* ``log`` (R's default): ``S exp(±z se)``, upper limit capped at 1; empty where S is 0;
* ``plain``: ``S ± z S se`` clipped to [0, 1];

with ``se² = Σ d / (n (n - d))`` (Greenwood, on the log scale). Medians and their
confidence limits are found as R's ``quantile.survfit`` does: where a curve is flat at
exactly 0.5 the median is the midpoint of the flat stretch; a median or limit that is not
reached is empty (NaN), never infinite. Landmarks and at-risk tables follow
``summary(fit, times = ...)``: at risk = still followed at the start of the time, events
and censored = counted in the period since the previous time.

All times in the returned tables are in the requested ``time_unit`` (days, weeks, months,
years; a month is 30.4375 days).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import chdtrc  # chi-squared upper tail (imported here: ~0.15 s, not on the first test)

from analysis.schemas import RECONSTRUCTED
from analysis.select import apply_filters, parse_filters  # noqa: F401  (re-exported for notebooks)
from analysis.timing import TIME_UNITS, expect_one_of, unit_days

CI_METHODS = ("log-log", "log", "plain")
SURVIVAL_SOURCES = ("cases", "ipd", "reconstructed")
GROUP_COLUMNS = ("therapy", "disease", "source_kind", "study", "group", "evidence_level",
                 "survival_source")
SURVIVAL_COLUMNS = [
    "survival_source", "study", "source_id", "patient_id", "line", "group", "therapy",
    "disease", "source_kind", "evidence_level", "time", "time_lo", "time_hi", "event",
    "end", "time_unit",
]
"""Columns of every survival table. ``end`` says what ended follow-up: relapse, death,
last_followup, next_line (censored at the start of the patient's next treatment line) or
ipd / reconstructed."""

EXCLUDED_COLUMNS = ["survival_source", "study", "patient_id", "line", "therapy", "reason"]
NOT_STATED = "not stated"

_R_TOL = float(np.sqrt(np.finfo(float).eps))  # R's quantile.survfit tolerance


# --------------------------------------------------------------------------- helpers


_check_unit = unit_days


def _check_ci(ci_method: str, alpha: float) -> None:
    if ci_method not in CI_METHODS:
        expect_one_of("ci_method", ci_method, CI_METHODS)
    if not (0 < float(alpha) < 1):
        raise ValueError(f"alpha must be between 0 and 1 (0.05 for 95% intervals), found {alpha!r}")


def _show(value) -> str:
    """A cell value for an error message (numpy scalars shown as plain Python values)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


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
    scale = _check_unit(time_unit)
    lines = ds.lines
    events = ds.events
    patients = ds.patients.drop_duplicates("patient_id").set_index("patient_id")
    sources = ds.sources.drop_duplicates("source_id").set_index("source_id")
    rows, excluded = [], []
    by_patient = {pid: grp for pid, grp in events.groupby("patient_id", sort=False)}
    anchors_by_patient = _anchor_dates(lines, events)
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
        nxt = _next_line_start(anchors_by_patient.get(pid, {}), line)
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


def _anchor_dates(lines: pd.DataFrame, events: pd.DataFrame) -> dict:
    """patient_id -> {line: (date_lo, date_best, date_hi)} of each line's anchor event."""
    if "date_best" not in events.columns or lines.empty:
        return {}
    ev = events.drop_duplicates("event_id").set_index("event_id")
    out: dict = {}
    for _, ln in lines.iterrows():
        aid = ln["anchor_event_id"]
        if aid in ev.index and not pd.isna(ev.at[aid, "date_best"]):
            out.setdefault(ln["patient_id"], {})[int(ln["line"])] = (
                ev.at[aid, "date_lo"], ev.at[aid, "date_best"], ev.at[aid, "date_hi"])
    return out


def _next_line_start(anchor_dates: dict, line: int):
    """(best, lo, hi) days from this line's anchor to the next line's anchor, if dated."""
    later = sorted(k for k in anchor_dates if k > line)
    if line not in anchor_dates or not later:
        return None
    lo0, best0, hi0 = anchor_dates[line]
    lo1, best1, hi1 = anchor_dates[later[0]]
    day = pd.Timedelta(days=1)
    return ((best1 - best0) / day, (lo1 - hi0) / day, (hi1 - lo0) / day)


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
    scale = _check_unit(time_unit)
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
                         f"{', '.join(TIME_UNITS)}, found {_show(ipd.at[i, 'time_unit'])}")
    time = pd.to_numeric(ipd["time"], errors="coerce").astype(float)
    bad = ~np.isfinite(time) | (time < 0)
    if bad.any():
        i = bad.idxmax()
        raise ValueError(f"individual patient data row {i}: time must be a number >= 0, "
                         f"found {_show(ipd.at[i, 'time'])}")
    event = pd.to_numeric(ipd["event"], errors="coerce")
    bad = ~event.isin([0, 1])
    if bad.any():
        i = bad.idxmax()
        raise ValueError(f"individual patient data row {i}: event must be 1 (relapse or death) "
                         f"or 0 (censored), found {_show(ipd.at[i, 'event'])}")
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
    :func:`analysis.reconstruct.reconstruct_curves`).
    """
    from analysis.reconstruct import reconstruct_curves

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
        from analysis.reconstruct import CHECK_COLUMNS
        checks = pd.DataFrame(columns=CHECK_COLUMNS)
    return data, excluded, checks


# --------------------------------------------------------------------------- Kaplan-Meier


@dataclass
class KMGroup:
    """Kaplan-Meier estimate of one group; arrays have one entry per distinct time
    (as R's ``survfit``: event or censoring times)."""

    label: str
    time: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    n_censored: np.ndarray
    survival: np.ndarray
    se_log: np.ndarray  # Greenwood standard error of log S (R's std.err)
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    durations: np.ndarray  # sorted follow-up times of the group
    event_times: np.ndarray  # sorted times of its relapses or deaths
    evidence_levels: tuple = ()
    survival_sources: tuple = ()

    @property
    def n(self) -> int:
        return int(len(self.durations))

    @property
    def n_event_total(self) -> int:
        return int(len(self.event_times))

    @property
    def reconstructed(self) -> bool:
        return RECONSTRUCTED in self.survival_sources


@dataclass
class KMFit:
    """Kaplan-Meier fits of all groups, with the settings that made them."""

    groups: list[KMGroup]
    group_by: list[str]
    time_unit: str
    ci_method: str
    alpha: float
    data: pd.DataFrame = field(repr=False, default=None)

    @property
    def conf_level(self) -> float:
        return 1 - self.alpha

    def group(self, label: str) -> KMGroup:
        for g in self.groups:
            if g.label == label:
                return g
        raise KeyError(f"no group {label!r}; groups are {[g.label for g in self.groups]}")


def _normalise_group_by(group_by) -> list[str]:
    if group_by is None or group_by == "" or group_by == "all":
        return []
    if isinstance(group_by, str):
        group_by = [group_by]
    return [str(c) for c in group_by]


def _group_codes(df: pd.DataFrame, group_by) -> tuple[np.ndarray, list[str]]:
    """Integer group code per row and the label of each code (sorted labels)."""
    cols = _normalise_group_by(group_by)
    if not cols:
        return np.zeros(len(df), dtype=np.int64), ["all"]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"cannot group by {', '.join(map(repr, missing))}; choose among "
                         f"{', '.join(c for c in GROUP_COLUMNS if c in df.columns) or ', '.join(df.columns)}")
    combined = np.zeros(len(df), dtype=np.int64)
    parts: list[list[str]] = [[]]
    for col in cols:
        codes, uniques = pd.factorize(df[col])  # missing -> -1
        texts = [_text(u) or NOT_STATED for u in uniques] + [NOT_STATED]
        # merge values that print the same (e.g. missing and "")
        text_codes, text_uniques = pd.factorize(pd.Index(texts))
        combined = combined * len(text_uniques) + text_codes[codes]
        parts = [p + [t] for p in parts for t in text_uniques]
    used, inverse = np.unique(combined, return_inverse=True)
    labels = [" / ".join(parts[int(u)]) for u in used]
    order = np.argsort(labels, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse], [labels[i] for i in order]


def group_labels(df: pd.DataFrame, group_by) -> pd.Series:
    """One text label per row: the ``group_by`` values joined by `` / `` ("all" if none;
    "not stated" for a missing value)."""
    codes, labels = _group_codes(df, group_by)
    return pd.Series(np.asarray(labels, dtype=object)[codes], index=df.index, dtype=object)


def km_table(time, event) -> dict:
    """Kaplan-Meier table of one group, computed with numpy as R's ``survfit`` does.

    One entry per distinct time (event or censoring): ``time``, ``n_at_risk`` (time >= t),
    ``n_events``, ``n_censored``, ``survival`` = prod(1 - d/n), ``se_log`` = Greenwood
    standard error of log S (R's ``std.err``; infinite once S reaches 0). Equal to
    lifelines' ``KaplanMeierFitter`` event table and survival function (tested), but fast
    enough for a million rows. Also returns the sorted ``durations`` and ``event_times``.
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    ts = np.sort(t)
    te = np.sort(t[e])
    if not len(ts):
        empty = np.array([], dtype=float)
        ints = empty.astype(np.int64)
        return {"time": empty, "n_at_risk": ints, "n_events": ints, "n_censored": ints,
                "survival": empty, "se_log": empty, "durations": ts, "event_times": te}
    starts = np.flatnonzero(np.concatenate([[True], ts[1:] != ts[:-1]]))
    uniq = ts[starts]
    removed = np.diff(np.append(starts, len(ts)))
    d = np.bincount(np.searchsorted(uniq, te), minlength=len(uniq))
    n = len(ts) - starts
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n)
        var = np.cumsum(np.where(d > 0, d / (n * (n - d).astype(float)), 0.0))
    return {"time": uniq, "n_at_risk": n.astype(np.int64), "n_events": d.astype(np.int64),
            "n_censored": (removed - d).astype(np.int64), "survival": surv,
            "se_log": np.sqrt(var), "durations": ts, "event_times": te}


def to_time_unit(df: pd.DataFrame, time_unit: str) -> pd.DataFrame:
    """``df`` with ``time`` (and ``time_lo``/``time_hi``) converted to ``time_unit`` using
    each row's ``time_unit``."""
    scale = _check_unit(time_unit)
    if "time_unit" not in df.columns or not len(df):
        return df
    values = df["time_unit"].to_numpy()
    if (values == time_unit).all():
        return df
    codes, present = pd.factorize(values, use_na_sentinel=False)
    bad = [u for u in present if u not in TIME_UNITS]
    if bad:
        unit_days(bad[0])
    if list(present) == [time_unit]:
        return df
    factor = np.array([TIME_UNITS[u] for u in present])[codes] / scale
    out = df.copy()
    for col in ("time", "time_lo", "time_hi"):
        if col in out.columns:
            out[col] = out[col].to_numpy(dtype=float) * factor
    out["time_unit"] = time_unit
    return out


def km_fit(df: pd.DataFrame, group_by=None, time_unit: str | None = None,
           ci_method: str = "log-log", alpha: float = 0.05) -> KMFit:
    """Kaplan-Meier estimate per group with Greenwood confidence limits of type
    ``ci_method`` (``log-log``, ``log`` or ``plain``) at level ``1 - alpha``, as R's
    ``survfit(conf.type = ...)`` computes them.

    ``df`` needs ``time`` and ``event`` (and ``time_unit``: times are converted to
    ``time_unit``, default the unit of the first row); ``group_by`` is a column name, a
    list of them, or None for one group ("all"). The estimate itself is :func:`km_table`
    (numpy; identical to lifelines' ``KaplanMeierFitter``, which is too slow for a million
    rows).
    """
    _check_ci(ci_method, alpha)
    for col in ("time", "event"):
        if col not in df.columns:
            raise ValueError(f"survival data lacks column {col!r}")
    if time_unit is None:
        time_unit = str(df["time_unit"].iloc[0]) if "time_unit" in df.columns and len(df) else "months"
    _check_unit(time_unit)
    data = to_time_unit(df, time_unit)
    time = data["time"].to_numpy(dtype=float)
    event = data["event"].to_numpy()
    if len(time) and (not np.isfinite(time).all() or (time < 0).any()):
        raise ValueError("survival times must be finite numbers >= 0")
    if len(event) and not np.isin(event, (0, 1)).all():
        raise ValueError("event must be 0 (censored) or 1 (relapse or death)")
    cols = _normalise_group_by(group_by)
    inv, uniq = _group_codes(data, cols) if len(data) else (None, [])
    groups = []
    for gi, label in enumerate(uniq):
        idx = np.flatnonzero(inv == gi) if len(uniq) > 1 else slice(None)
        tab = km_table(time[idx], event[idx])
        lo, hi = confidence_limits(tab["survival"], tab["se_log"], ci_method, alpha)
        extra = {}
        for col, key in (("evidence_level", "evidence_levels"), ("survival_source", "survival_sources")):
            if col in data.columns:
                vals = pd.unique(data[col].to_numpy()[idx])
                extra[key] = tuple(sorted({_text(v) for v in vals} - {""}))
        groups.append(KMGroup(label=str(label), ci_lower=lo, ci_upper=hi, **tab, **extra))
    return KMFit(groups, cols, time_unit, ci_method, float(alpha), data)


def confidence_limits(surv, se, ci_method: str = "log-log", alpha: float = 0.05):
    """Pointwise confidence limits of a survival curve exactly as R's ``survfit``.

    ``se`` is the standard error of log S (Greenwood). Returns ``(lower, upper)``; limits
    that R leaves undefined are NaN: both limits where S = 0 (log, log-log; plain where the
    variance is infinite) and where S = 1 for log-log.
    """
    from statistics import NormalDist  # AS 241, as R's qnorm

    _check_ci(ci_method, alpha)
    s = np.asarray(surv, dtype=float)
    se = np.asarray(se, dtype=float)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if ci_method == "plain":
            half = z * se * s
            lower = np.maximum(s - half, 0.0)
            upper = np.minimum(s + half, 1.0)
            nan = np.isnan(half)
        elif ci_method == "log":
            xx = np.where(s == 0, np.nan, s)
            lower = np.exp(np.log(xx) - z * se)
            upper = np.minimum(np.exp(np.log(xx) + z * se), 1.0)
            nan = np.isnan(xx)
        else:
            xx = np.where((s == 0) | (s == 1), np.nan, s)
            log_xx = np.log(xx)
            lower = np.exp(-np.exp(np.log(-log_xx) - z * se / log_xx))
            upper = np.exp(-np.exp(np.log(-log_xx) + z * se / log_xx))
            nan = np.isnan(xx)
    lower = np.where(nan, np.nan, lower)
    upper = np.where(nan, np.nan, upper)
    return lower, upper


# --------------------------------------------------------------------------- quantiles (R)


def _r_approx_index(y: np.ndarray, p: float):
    """R ``approx(y, 1:n, p, method = "constant", f = 1)``: the position of the smallest
    non-missing ``y >= p``; None outside the range of ``y``."""
    pos = np.flatnonzero(~np.isnan(y))
    if not len(pos):
        return None
    order = np.argsort(y[pos], kind="stable")
    ys, ps = y[pos][order], pos[order]
    if p < ys[0] or p > ys[-1]:
        return None
    return int(ps[np.searchsorted(ys, p, side="left")])


def r_median(time, curve) -> float:
    """Median as R prints it (``survmean``'s ``minmin``): the first time the curve is at or
    below 50% (within sqrt(machine eps)); if it is at exactly 50% there and falls later,
    the midpoint between that time and the time it falls; NaN if never reached. Missing
    values of a confidence limit are skipped."""
    y = np.asarray(curve, dtype=float)
    x = np.asarray(time, dtype=float)
    keep = ~np.isnan(y) & (y < 0.5 + _R_TOL)
    if not keep.any():
        return float("nan")
    x, y = x[keep], y[keep]
    lower = y < y[0]
    if abs(y[0] - 0.5) < _R_TOL and lower.any():
        return float((x[0] + x[np.argmax(lower)]) / 2)
    return float(x[0])


def r_quantile_time(time, curve, p: float = 0.5, start: float = 0.0) -> float:
    """Time at which the curve first reaches ``1 - p`` (p = 0.5: the median), as R's
    ``quantile.survfit`` finds it (``findq``): flat at exactly the level (within
    sqrt(machine eps)) -> midpoint of the flat stretch; never reached -> NaN.

    ``curve`` may be the survival estimate or a confidence limit (NaN entries are skipped,
    as R does).
    """
    x = np.concatenate([[start], np.asarray(time, dtype=float)])
    y = np.concatenate([[0.0], 1 - np.asarray(curve, dtype=float)])
    with np.errstate(invalid="ignore"):
        if np.all(np.isnan(y)) or np.nanmax(y) < p:
            return float("nan")
    xmax = x[-1]
    # drop duplicated y (first occurrence kept; NaN equals NaN as in R's duplicated)
    keys = np.where(np.isnan(y), np.inf, y)
    _, first = np.unique(keys, return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    i1 = _r_approx_index(y + _R_TOL, p)
    i2 = _r_approx_index(y - _R_TOL, p)
    quant = (x[i1] + x[i2]) / 2 if i1 is not None and i2 is not None else float("nan")
    if p == 0:
        quant = x[0]
    if not np.isnan(y[-1]) and abs(p - y[-1]) < _R_TOL:
        quant = (x[i1] + xmax) / 2 if i1 is not None else float("nan")
    return float(quant)


# --------------------------------------------------------------------------- tables


KM_ESTIMATES_COLUMNS = ["group", "time", "n_at_risk", "n_events", "n_censored", "survival",
                        "ci_lower", "ci_upper"]
KM_SUMMARY_COLUMNS = ["group", "n", "events", "median", "median_ci_lower", "median_ci_upper"]
KM_LANDMARK_COLUMNS = ["group", "time", "survival", "ci_lower", "ci_upper"]
AT_RISK_COLUMNS = ["group", "time", "n_at_risk", "n_events", "n_censored", "cum_events",
                   "cum_censored"]
LOGRANK_COLUMNS = ["statistic", "df", "p_value"]


def km_estimates(fit: KMFit) -> pd.DataFrame:
    """``km_estimates.csv``: one row per group and distinct time, as R's ``survfit`` rows."""
    frames = [
        pd.DataFrame({
            "group": g.label, "time": g.time, "n_at_risk": g.n_at_risk, "n_events": g.n_events,
            "n_censored": g.n_censored, "survival": g.survival, "ci_lower": g.ci_lower,
            "ci_upper": g.ci_upper,
        })
        for g in fit.groups
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=KM_ESTIMATES_COLUMNS)


def km_summary(fit: KMFit, rule: str = "print") -> pd.DataFrame:
    """``km_summary.csv``: n, events, median and its confidence limits per group;
    unreached values are NaN (empty in the CSV).

    ``rule="print"`` (default) gives what R prints for a fit (``print(fit)``,
    ``summary(fit)$table``, :func:`r_median`); ``rule="quantile"`` what
    ``quantile(fit, 0.5)`` gives (:func:`r_quantile_time`). They differ only when a curve
    stays at exactly 50% until its last follow-up: the first gives the start of that
    stretch, the second its midpoint."""
    if rule not in ("print", "quantile"):
        raise ValueError(f"rule must be 'print' or 'quantile', found {rule!r}")
    find = r_median if rule == "print" else r_quantile_time
    rows = []
    for g in fit.groups:
        rows.append({
            "group": g.label, "n": g.n, "events": g.n_event_total,
            "median": find(g.time, g.survival),
            "median_ci_lower": find(g.time, g.ci_lower),
            "median_ci_upper": find(g.time, g.ci_upper),
        })
    return pd.DataFrame(rows, columns=KM_SUMMARY_COLUMNS)


def _lookup(g: KMGroup, times: np.ndarray):
    """Index of the last distinct time <= each time (-1 before the first)."""
    return np.searchsorted(g.time, times, side="right") - 1


def km_landmarks(fit: KMFit, times) -> pd.DataFrame:
    """``km_landmarks.csv``: survival and its confidence limits at each landmark time, as R's
    ``summary(fit, times = landmarks)``; NaN where the landmark is beyond the group's last
    follow-up (R omits those rows). Before the first observed time survival is 1 and both
    limits 1 (as R reports)."""
    times = np.asarray(sorted(float(t) for t in times), dtype=float)
    rows = []
    for g in fit.groups:
        idx = _lookup(g, times)
        last = g.time[-1] if len(g.time) else -np.inf
        for t, i in zip(times, idx):
            if t > last:
                rows.append({"group": g.label, "time": t, "survival": np.nan,
                             "ci_lower": np.nan, "ci_upper": np.nan})
            elif i < 0:
                rows.append({"group": g.label, "time": t, "survival": 1.0, "ci_lower": 1.0,
                             "ci_upper": 1.0})
            else:
                rows.append({"group": g.label, "time": t, "survival": g.survival[i],
                             "ci_lower": g.ci_lower[i], "ci_upper": g.ci_upper[i]})
    return pd.DataFrame(rows, columns=KM_LANDMARK_COLUMNS)


def at_risk_table(fit: KMFit, times) -> pd.DataFrame:
    """Numbers at risk, with the event and censored at each time, as R's
    ``summary(fit, times = times, extend = TRUE)``: ``n_at_risk`` = followed at the start
    of the time (time >= t), ``n_events``/``n_censored`` = in the period since the previous
    time (the first period includes everything up to the first time). ``cum_events`` and
    ``cum_censored`` are running totals (the KMunicate table)."""
    times = np.asarray(sorted(float(t) for t in times), dtype=float)
    rows = []
    for g in fit.groups:
        t_sorted = g.durations
        at_risk = len(t_sorted) - np.searchsorted(t_sorted, times, side="left")
        cum_e = np.concatenate([[0], np.cumsum(g.n_events)])[_lookup(g, times) + 1]
        cum_c = np.concatenate([[0], np.cumsum(g.n_censored)])[_lookup(g, times) + 1]
        ev = np.diff(np.concatenate([[0], cum_e]))
        ce = np.diff(np.concatenate([[0], cum_c]))
        rows.append(pd.DataFrame({
            "group": g.label, "time": times, "n_at_risk": at_risk.astype(np.int64),
            "n_events": ev.astype(np.int64), "n_censored": ce.astype(np.int64),
            "cum_events": cum_e.astype(np.int64), "cum_censored": cum_c.astype(np.int64),
        }))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=AT_RISK_COLUMNS)


def logrank(fit: KMFit) -> pd.DataFrame:
    """``logrank.csv``: the log-rank test of equal survival across the groups, as R's
    ``survdiff`` (rho = 0) computes it: observed minus expected events per group, their
    hypergeometric covariance, chi-squared on (groups with expected events > 0) - 1
    degrees of freedom. Computed with numpy from the groups' tables (tested equal to
    lifelines' ``multivariate_logrank_test`` and to R). Empty (header only) with fewer
    than two groups or when no group has events to compare.
    """
    if len(fit.groups) < 2:
        return pd.DataFrame(columns=LOGRANK_COLUMNS)
    # pooled distinct event times; at risk = follow-up >= t, events = event times == t
    times = np.unique(np.concatenate([g.event_times for g in fit.groups]))
    k, m = len(fit.groups), len(times)
    n_gj = np.empty((k, m))
    d_gj = np.empty((k, m))
    for i, g in enumerate(fit.groups):
        n_gj[i] = g.n - np.searchsorted(g.durations, times, side="left")
        d_gj[i] = (np.searchsorted(g.event_times, times, side="right")
                   - np.searchsorted(g.event_times, times, side="left"))
    n_j = n_gj.sum(axis=0)
    d_j = d_gj.sum(axis=0)
    frac = n_gj / n_j
    expected = (frac * d_j).sum(axis=1)
    o_minus_e = d_gj.sum(axis=1) - expected
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_j > 1, d_j * (n_j - d_j) / (n_j - 1), 0.0)
    var = np.diag((frac * w).sum(axis=1)) - (frac * w) @ frac.T
    keep = expected > 0
    df = int(keep.sum()) - 1
    if df < 1:  # no events, or all in one group's reach: nothing to test
        return pd.DataFrame(columns=LOGRANK_COLUMNS)
    x = o_minus_e[keep][1:]
    vv = var[np.ix_(keep, keep)][1:, 1:]
    try:
        stat = float(np.sum(np.linalg.solve(vv, x) * x))
    except np.linalg.LinAlgError:
        stat = float(np.sum((np.linalg.pinv(vv) @ x) * x))
    return pd.DataFrame([{"statistic": stat, "df": df, "p_value": float(chdtrc(df, stat))}],
                        columns=LOGRANK_COLUMNS)


def logrank_text(fit: KMFit, table: pd.DataFrame | None = None) -> str:
    """The log-rank result in words, naming the test and the number of groups."""
    k = len(fit.groups)
    if k < 2:
        return "Log-rank test: not done (one group)"
    table = logrank(fit) if table is None else table
    if table.empty:
        return f"Log-rank test, {k} groups: not computable (no relapses or deaths to compare)"
    r = table.iloc[0]
    p = r["p_value"]
    p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return f"Log-rank test, {k} groups: chi-squared = {r['statistic']:.2f}, df = {int(r['df'])}, {p_text}"


def ci_text(fit: KMFit) -> str:
    """The confidence-interval method in words, for figures and captions."""
    words = {"log-log": "log-log", "log": "log", "plain": "plain (linear)"}[fit.ci_method]
    return f"{fit.conf_level:.0%} pointwise CI: {words} transform, Greenwood variance"


def median_text(fit: KMFit, summary: pd.DataFrame | None = None, digits: int = 1) -> list[str]:
    """One sentence per group giving the median and its CI, or saying it is not reached."""
    summary = km_summary(fit) if summary is None else summary
    out = []
    for _, r in summary.iterrows():
        if np.isnan(r["median"]):
            out.append(f"{r['group']}: median not reached ({r['events']} event(s) in {r['n']})")
            continue
        lo = "not reached" if np.isnan(r["median_ci_lower"]) else f"{r['median_ci_lower']:.{digits}f}"
        hi = "not reached" if np.isnan(r["median_ci_upper"]) else f"{r['median_ci_upper']:.{digits}f}"
        out.append(f"{r['group']}: median {r['median']:.{digits}f} {fit.time_unit} "
                   f"({fit.conf_level:.0%} CI {lo} to {hi})")
    return out


def evidence_statement(fit: KMFit, summary: pd.DataFrame | None = None) -> str:
    """Plain-language caveats for the notebook: medians not reached, thin data, case reports."""
    summary = km_summary(fit) if summary is None else summary
    n = int(summary["n"].sum()) if len(summary) else 0
    events = int(summary["events"].sum()) if len(summary) else 0
    parts = [f"{n} treatment line(s) or patient(s) in {len(fit.groups)} group(s), {events} relapse(s) or death(s)."]
    if len(summary) == 0:
        return "No survival data to analyse."
    if summary["median"].isna().all():
        parts.append("No median relapse-free survival is reached in any group: the curves never "
                     "fall to 50%.")
    levels = {lvl for g in fit.groups for lvl in g.evidence_levels}
    if levels & {"case_report", "case_series", "anecdote", "secondary_summary"} or n < 20:
        parts.append("Case reports and small series are selected, mostly favourable, stories: "
                     "they describe what happened to these patients and cannot support inference "
                     "about how often or how long remission lasts.")
    tiny = [g for g, m in zip(fit.groups, summary["median"]) if not np.isnan(m) and g.n < 10]
    for g in tiny:
        parts.append(f"The 'median' of {g.label} rests on {g.n} line(s) or patient(s) and is "
                     "not a meaningful estimate.")
    if any(g.reconstructed for g in fit.groups):
        parts.append("Curves marked 'reconstructed' are rebuilt from published figures "
                     "(Guyot et al. 2012), not observed patient data.")
    return " ".join(parts)


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
    scale = _check_unit(time_unit)
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


# --------------------------------------------------------------------------- figure


_TICK_STEPS = {
    "days": (1, 2, 5, 7, 10, 14, 30, 60, 90, 180, 365, 730, 1000, 1826, 3652, 5000, 10000),
    "weeks": (1, 2, 4, 8, 13, 26, 52, 104, 260, 520),
    "months": (1, 2, 3, 6, 12, 24, 36, 60, 120, 240),
    "years": (0.5, 1, 2, 5, 10, 20, 50),
}


def axis_max(fit: KMFit, statements: pd.DataFrame | None = None) -> float:
    """Right end of the time axis: the longest follow-up or cohort statement (at least 1)."""
    xmax = max((g.time[-1] for g in fit.groups if len(g.time)), default=0.0)
    if statements is not None and len(statements):
        xmax = max(xmax, float(np.nanmax(statements["time"].astype(float))))
    return float(xmax) or 1.0


def default_ticks(fit: KMFit, xmax: float | None = None, n: int = 8) -> np.ndarray:
    """Tick times from 0 to the longest follow-up (or ``xmax``), at most ``n + 1`` of them,
    on steps natural for the unit (months: 3, 6, 12, 24 ...)."""
    if xmax is None:
        xmax = max((g.time[-1] for g in fit.groups if len(g.time)), default=1.0)
    xmax = max(float(xmax), 1e-9)
    steps = _TICK_STEPS.get(fit.time_unit, (1, 2, 5, 10))
    step = next((s for s in steps if xmax / s <= n), None)
    if step is None:
        step = 10 ** math.ceil(math.log10(xmax / n))
    return np.arange(0, xmax * 1.0001 + step * 1e-9, step, dtype=float)


def plot_km(fit: KMFit, *, landmarks=None, ticks=None, statements: pd.DataFrame | None = None,
            title: str | None = None, anchor: str = "anchor stem-cell therapy",
            show_ci: bool = True, max_censor_ticks: int = 500, at_risk: pd.DataFrame | None = None,
            summary: pd.DataFrame | None = None, logrank_table: pd.DataFrame | None = None):
    """A Kaplan-Meier figure following the KMunicate recommendations (Morris et al. 2019).

    Step curves with shaded confidence bands (method written on the figure), censor ticks,
    a table of numbers at risk, censored and with the event (cumulative) aligned with the
    time ticks below the axis, median lines where reached (otherwise "median not reached"
    in words), landmark values, the log-rank result naming the test and the number of
    groups, reconstructed curves dashed and labelled, the evidence level in the legend,
    and cohort summary statements drawn as annotated ranges in their own panel.
    Returns the matplotlib figure.
    """
    import textwrap

    import matplotlib.pyplot as plt

    from analysis.style import OKABE_ITO, apply_style, group_colors

    apply_style()
    unit = fit.time_unit
    groups = fit.groups
    statements = statements if statements is not None and len(statements) else None
    xmax = axis_max(fit, statements)
    ticks = default_ticks(fit, xmax) if ticks is None else np.asarray(ticks, dtype=float)
    at_risk = at_risk_table(fit, ticks) if at_risk is None else at_risk
    summary = km_summary(fit) if summary is None else summary
    colors = group_colors([g.label for g in groups])

    n_table_rows = 4 * len(groups)
    n_stmt = 0 if statements is None else len(statements)
    n_land = 0 if landmarks is None else len(landmarks) * len(groups)
    n_text = max(4 + len(groups), n_land + 1)
    heights = [5.5] + ([0.45 * n_stmt + 0.3] if n_stmt else []) + [0.2 * n_table_rows + 0.4,
                                                                    0.16 * n_text + 0.2]
    fig = plt.figure(figsize=(10, sum(heights) + 0.4 * len(groups) + 0.8), layout="constrained")
    gs = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    ax = fig.add_subplot(gs[0])
    stmt_ax = fig.add_subplot(gs[1], sharex=ax) if n_stmt else None
    tab_ax = fig.add_subplot(gs[-2], sharex=ax)
    text_ax = fig.add_subplot(gs[-1])
    text_ax.axis("off")

    handles = []
    for g in groups:
        color = colors[g.label]
        style = "--" if g.reconstructed else "-"
        x = np.concatenate([[0.0], g.time])  # the curve starts at (0, 1)
        y = np.concatenate([[1.0], g.survival])
        levels = ", ".join(lvl.replace("_", " ") for lvl in g.evidence_levels) or "not stated"
        events = f"{g.n_event_total} event" + ("" if g.n_event_total == 1 else "s")
        label = f"{g.label} (n={g.n}, {events}; evidence: {levels})"
        if g.reconstructed:
            label += " [reconstructed from a published curve, dashed]"
        (line,) = ax.step(x, y, where="post", color=color, linestyle=style, linewidth=2, label=label)
        handles.append(line)
        if show_ci and len(g.time):
            lo = np.where((g.survival == 1) & np.isnan(g.ci_lower), 1.0, g.ci_lower)
            hi = np.where((g.survival == 1) & np.isnan(g.ci_upper), 1.0, g.ci_upper)
            ax.fill_between(x, np.concatenate([[1.0], lo]), np.concatenate([[1.0], hi]),
                            step="post", color=color, alpha=0.15, linewidth=0)
        cens = g.n_censored > 0
        if cens.sum() and cens.sum() <= max_censor_ticks:
            ax.plot(g.time[cens], g.survival[cens], linestyle="none", marker="|", markersize=9,
                    markeredgewidth=1.5, color=color)
    notes = []
    if any(((g.n_censored > 0).sum() > max_censor_ticks) for g in groups):
        notes.append(f"Censor ticks omitted for groups with more than {max_censor_ticks} censoring times.")

    # medians
    for _, r in summary.iterrows():
        if not np.isnan(r["median"]):
            ax.plot([0, r["median"], r["median"]], [0.5, 0.5, 0], color=colors[r["group"]],
                    linestyle=":", linewidth=1)
    med_lines = median_text(fit, summary)

    # landmarks
    land_lines = []
    if landmarks is not None and len(landmarks):
        lm = km_landmarks(fit, landmarks)
        for t in sorted(set(lm["time"])):
            if t <= xmax:
                ax.axvline(t, color=OKABE_ITO["grey"], linewidth=0.8, linestyle=(0, (2, 3)), zorder=0)
        for _, r in lm.iterrows():
            if np.isnan(r["survival"]):
                land_lines.append(f"{r['group']} at {r['time']:.4g} {unit}: not estimable (no follow-up)")
                continue
            ax.plot(r["time"], r["survival"], marker="o", markersize=5, color=colors[r["group"]],
                    markeredgecolor="white", zorder=5)
            if r["survival"] == 1:
                ci = " (no relapse or death yet; CI not defined)"
            elif np.isnan(r["ci_lower"]):
                ci = ""
            else:
                ci = f" ({r['ci_lower']:.0%} to {r['ci_upper']:.0%})"
            land_lines.append(f"{r['group']} at {r['time']:.4g} {unit}: {r['survival']:.0%}{ci}")

    # statements with a proportion also go on the survival axis
    if statements is not None:
        prop = statements[statements["proportion"].notna()]
        for _, s in prop.iterrows():
            ax.plot(float(s["time"]), float(s["proportion"]), marker="D", markersize=7,
                    markerfacecolor="white", markeredgecolor=OKABE_ITO["black"], linestyle="none",
                    zorder=6)
            ax.annotate(f"{s['study']} (statement)", (float(s["time"]), float(s["proportion"])),
                        xytext=(6, 4), textcoords="offset points", fontsize=7.5)

    ax.set_ylim(-0.02, 1.04)
    ax.set_xlim(0, xmax * 1.03)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_yticklabels([f"{v:.0%}" for v in np.linspace(0, 1, 6)])
    ax.set_ylabel("Relapse-free survival (%)")
    ax.axhline(0.5, color=OKABE_ITO["grey"], linewidth=0.5, zorder=0)
    ax.set_xticks(ticks)
    ax.tick_params(labelbottom=True)
    ax.set_xlabel(f"Time since {anchor} ({unit})")
    ax.grid(axis="y", alpha=0.3)

    # cohort statements panel
    if stmt_ax is not None:
        _draw_statements(stmt_ax, statements, unit)

    # at-risk table
    _draw_at_risk(tab_ax, fit, at_risk, ticks, colors)

    # legend above the axes; numbers in words below the table
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), fontsize=8.5,
              borderaxespad=0, title=None)
    fig.suptitle(title or "Relapse-free survival (Kaplan-Meier)", x=0.01, ha="left",
                 fontsize=12)
    left = [ci_text(fit), logrank_text(fit, logrank_table), "Median relapse-free survival:",
            *("  " + m for m in med_lines), *notes]
    right = (["Landmarks: survival (CI)", *("  " + m for m in land_lines)] if land_lines else [])
    text_ax.text(0, 1, "\n".join(textwrap.fill(t, 70, subsequent_indent="    ") for t in left),
                 transform=text_ax.transAxes, va="top", ha="left", fontsize=8.5)
    text_ax.text(0.56, 1, "\n".join(textwrap.fill(t, 60, subsequent_indent="    ") for t in right),
                 transform=text_ax.transAxes, va="top", ha="left", fontsize=8.5)
    return fig


def _draw_statements(ax, statements: pd.DataFrame, unit: str) -> None:
    """Cohort statements without data, one row each: a bar for "up to", an arrow for "at
    least", a hollow diamond for a time point; drawn in black, apart from the curves."""
    from analysis.style import OKABE_ITO

    n = len(statements)
    for i, (_, s) in enumerate(statements.iterrows()):
        y = n - 1 - i
        t = float(s["time"])
        color = OKABE_ITO["black"]
        q = _text(s["time_qualifier"]) or "at"
        if q == "up_to":
            ax.plot([0, t], [y, y], color=color, linewidth=3, solid_capstyle="butt")
            ax.plot([t], [y], marker="|", markersize=12, color=color)
        elif q == "at_least":
            ax.annotate("", xy=(t * 1.08 + 1e-9, y), xytext=(0, y),
                        arrowprops={"arrowstyle": "-|>", "color": color, "linewidth": 2})
        else:
            ax.plot([t], [y], marker="D", markersize=7, color=color, markerfacecolor="white")
        words = {"up_to": "up to", "at_least": "at least", "about": "about", "at": "at"}[q]
        what = _text(s["outcome"]).replace("_", "-")
        size = ""
        if not pd.isna(s["total"]):
            qual = {"about": "about ", "at_least": "over "}.get(_text(s["total_qualifier"]), "")
            size = f", {qual}{int(s['total'])} patients"
        prop = "" if pd.isna(s["proportion"]) else f"{float(s['proportion']):.0%} "
        ax.text(0, y + 0.32, f"{s['study']}: {prop}{what} {words} {t:.0f} {unit}{size} "
                f"(statement, no curve; {_text(s['evidence_level']).replace('_', ' ') or 'evidence not stated'})",
                fontsize=7.5, va="bottom", ha="left", clip_on=False)
    ax.set_ylim(-0.5, n - 0.2 + 0.5)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.tick_params(labelbottom=False)
    ax.set_ylabel("Cohort\nstatements", rotation=0, ha="right", va="center", fontsize=8)


def _draw_at_risk(ax, fit: KMFit, at_risk: pd.DataFrame, ticks, colors) -> None:
    rows = []
    for g in fit.groups:
        sub = at_risk[at_risk["group"] == g.label].set_index("time")
        rows.append((g.label, None, colors[g.label], True))
        rows.append(("At risk", sub["n_at_risk"], colors[g.label], False))
        rows.append(("Censored", sub["cum_censored"], colors[g.label], False))
        rows.append(("Events", sub["cum_events"], colors[g.label], False))
    n = len(rows)
    for i, (label, values, color, header) in enumerate(rows):
        y = n - 1 - i
        ax.text(-0.045, y, label, transform=ax.get_yaxis_transform(), ha="right", va="center",
                fontsize=8, color=color if header else "black",
                fontweight="bold" if header else "normal")
        if values is None:
            continue
        for t in ticks:
            if t in values.index:
                ax.text(t, y, f"{int(values.loc[t]):,}", ha="center", va="center", fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks([])
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(bottom=False, labelbottom=False)
    ax.set_title("Numbers at risk; censored and with the event (cumulative) at each time",
                 loc="left", fontsize=8)
