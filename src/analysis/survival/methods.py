"""The notebook's survival methods, per curve of a fit: which curves may be compared, the
log-rank and Gray tests between them, cumulative incidence of competing causes, restricted
mean survival time, median follow-up and Turnbull's curve for imprecise times.

Each function maps the curves of a :class:`~analysis.survival.km.KMFit` (fitted on the
survival layout of :mod:`.data`, one group per ``curve``) onto the R-exact functions of
:mod:`.summaries`, :mod:`.competing` and :mod:`.interval`, and returns a table of the
report (``logrank.csv``, ``cif_estimates.csv``, ``cif_tests.csv``, ``rmst.csv``,
``followup.csv``, ``turnbull.csv``). Times are in the fit's ``time_unit``.

**Which curves are compared** (:func:`comparisons`). A test between curves is a claim that
they differ by the thing that separates them; it is made only where nothing else separates
them as strongly:

* the arms of one IPD study (the comparison the study was designed for);
* the curves of one published figure (reconstructed from the same plot);
* case-report curves of one evidence tier with each other (descriptive: the cases are
  selected);

never across studies or across sources (a reconstructed trial curve against single case
reports, IPD against case reports): patient selection, disease, era and the definition of
relapse differ between them, and a p-value would present that difference as an effect.
With ``pool_curves=True`` the curves are the ``group_by`` groups pooled across studies; they
are compared in one test stratified by study (each study compares its own patients).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.survival.data import CASE_TIERS
from analysis.survival.competing import cumulative_incidence, gray_test
from analysis.survival.interval import turnbull
from analysis.survival.km import KMFit, _text
from analysis.survival.summaries import LOGRANK_COLUMNS, logrank, median_followup, rmst, strata_values
from analysis.timing import unit_days

CIF_ESTIMATE_COLUMNS = ["curve", "cause", "time", "cif", "ci_lower", "ci_upper", "n_at_risk",
                        "n_event", "std_err"]
"""``cif_estimates.csv``: per curve and cause, one row per distinct time (R's ``survfit``
rows): the Aalen-Johansen cumulative incidence, its pointwise limits (the fit's
``ci_method``), those still event-free and followed, the events of this cause, and the
standard error of the incidence itself (R's ``std.err``)."""
CIF_TEST_COLUMNS = ["cause", "statistic", "df", "p_value", "strata", "comparison", "groups"]
"""``cif_tests.csv``: Gray's test per cause and comparison (columns as ``logrank.csv``)."""
RMST_COLUMNS = ["curve", "tau", "rmst", "se", "beyond_follow_up"]
"""``rmst.csv``: restricted mean survival time up to ``tau`` and its standard error, in the
fit's time unit; ``beyond_follow_up`` is True where ``tau`` lies after the curve's last time
(R carries the last value forward; the number then rests on that assumption)."""
FOLLOWUP_COLUMNS = ["curve", "median_followup", "ci_lower", "ci_upper"]
"""``followup.csv``: median follow-up by reverse Kaplan-Meier and its limits (empty: not
reached)."""
TURNBULL_TABLE_COLUMNS = ["curve", "time", "survival"]
"""``turnbull.csv``: Turnbull's estimate per curve whose times are imprecise (the curve is
constant between rows)."""


@dataclass(frozen=True)
class Comparison:
    """Curves that may be compared, and why (``comparison``); ``strata``: the column the
    test is stratified by ("" for none)."""

    curves: tuple
    comparison: str
    strata: str = ""


def _curve_meta(fit: KMFit) -> pd.DataFrame:
    """One row per curve: its survival source, study and evidence tier (first row's)."""
    lab = pd.Series(fit.row_labels())
    first = lab.drop_duplicates()
    data = fit.data.iloc[first.index.to_numpy()]
    meta = pd.DataFrame({"curve": first.to_numpy()})
    for col in ("survival_source", "study", "evidence_level"):
        meta[col] = data[col].map(_text).to_numpy() if col in data.columns else ""
    return meta.set_index("curve")


def comparisons(fit: KMFit, pool_curves: bool = False, strata: str | None = None) -> list[Comparison]:
    """The sets of curves a test may compare (see the module docstring); only sets of two or
    more curves. ``strata`` (a column of the data, e.g. the IPD's ``strata``) stratifies
    every test; with ``pool_curves`` the tests are also stratified by ``study``."""
    labels = [g.label for g in fit.groups]
    if len(labels) < 2:
        return []
    if pool_curves:
        cols = "study" if not strata else f"study, {strata}"
        return [Comparison(tuple(labels), "groups pooled across studies, stratified by study", cols)]
    meta = _curve_meta(fit).reindex(labels)
    if not {"survival_source", "study"} <= set(fit.data.columns):
        return [Comparison(tuple(labels), "all curves", strata or "")]
    out = []
    keys = {}
    for label, r in meta.iterrows():
        if r["survival_source"] == "cases":
            key = ("cases", CASE_TIERS.get(r["evidence_level"], r["evidence_level"]))
            why = "case-report curves (descriptive: selected cases, not a trial)"
        elif r["survival_source"] == "ipd":
            key = ("ipd", r["study"])
            why = f"arms of {r['study']} (individual patient data)"
        else:
            key = (r["survival_source"], r["study"])
            why = f"curves of {r['study']}'s published figure (reconstructed)"
        keys.setdefault(key, (why, []))[1].append(label)
    for why, curves in keys.values():
        if len(curves) >= 2:
            out.append(Comparison(tuple(curves), why, strata or ""))
    return out


def logrank_table(fit: KMFit, pool_curves: bool = False, strata: str | None = None) -> pd.DataFrame:
    """``logrank.csv``: one log-rank test per set of comparable curves
    (:func:`comparisons`; R's ``survdiff`` with ``strata()`` where stratified). Empty
    (header only) when no two curves may be compared."""
    rows = []
    for c in comparisons(fit, pool_curves, strata):
        rows.append(logrank(fit, strata=c.strata or None, groups=c.curves, comparison=c.comparison))
    rows = [r for r in rows if len(r)]
    return pd.concat(rows, ignore_index=True)[LOGRANK_COLUMNS] if rows else pd.DataFrame(columns=LOGRANK_COLUMNS)


def _rows(fit: KMFit, label: str) -> pd.DataFrame:
    """The times of curve ``label``: ``time``, ``event``, ``time_lo``, ``time_hi``."""
    return fit.times(label)


# --------------------------------------------------------------------------- competing risks


def cif_table(fit: KMFit, causes=None, competing_event: str | None = None) -> pd.DataFrame:
    """``cif_estimates.csv``: the Aalen-Johansen cumulative incidence of each cause per curve
    (R's multi-state ``survfit``; ``cause`` of the data, empty = censored), limits of the
    fit's ``ci_method`` and level. ``causes`` fixes the causes and their order (default: the
    causes that occur, sorted, then ``competing_event`` if it does not occur: its incidence is
    then 0, shown rather than left out)."""
    if "cause" not in fit.data.columns or not len(fit.data):
        return pd.DataFrame(columns=CIF_ESTIMATE_COLUMNS)
    cause = fit.data["cause"].map(_text).where(fit.data["event"] == 1, "")
    if causes is None:
        causes = sorted(set(cause) - {""})
        if competing_event and not any(c.lower() == str(competing_event).lower() for c in causes):
            causes.append(str(competing_event))
    if not causes:
        return pd.DataFrame(columns=CIF_ESTIMATE_COLUMNS)
    out = cumulative_incidence(fit.data["time"].to_numpy(dtype=float), cause.to_numpy(dtype=object),
                               level=fit.conf_level, conf_type=fit.ci_method,
                               groups=fit.row_labels(),
                               causes=list(causes))
    return out.rename(columns={"group": "curve"})[CIF_ESTIMATE_COLUMNS]


def gray_table(fit: KMFit, pool_curves: bool = False, strata: str | None = None) -> pd.DataFrame:
    """``cif_tests.csv``: Gray's test (``cmprsk::cuminc``) of equal cumulative incidence of
    each cause across each set of comparable curves (:func:`comparisons`), stratified as the
    log-rank tests are."""
    if "cause" not in fit.data.columns:
        return pd.DataFrame(columns=CIF_TEST_COLUMNS)
    lab = fit.row_labels()
    cause = fit.data["cause"].map(_text).where(fit.data["event"] == 1, "").to_numpy(dtype=object)
    frames = []
    for c in comparisons(fit, pool_curves, strata):
        keep = np.isin(lab, c.curves)
        if not (cause[keep] != "").any():
            continue
        st = strata_values(fit.data, c.strata)[keep] if c.strata else None
        if st is not None and len(set(st.tolist())) < 2:
            st = None  # one stratum: the plain test
        t = gray_test(fit.data["time"].to_numpy(dtype=float)[keep], cause[keep], lab[keep], strata=st)
        frames.append(t.assign(strata=c.strata if st is not None else "", comparison=c.comparison,
                               groups=" | ".join(sorted(set(lab[keep].tolist())))))
    return pd.concat(frames, ignore_index=True)[CIF_TEST_COLUMNS] if frames else pd.DataFrame(columns=CIF_TEST_COLUMNS)


# --------------------------------------------------------------------------- summaries


def rmst_table(fit: KMFit, taus) -> pd.DataFrame:
    """``rmst.csv``: R's ``print(survfit, rmean = tau)`` per curve and ``tau`` (in the fit's
    time unit)."""
    rows = []
    for g in fit.groups:
        if not g.n:
            continue
        d = _rows(fit, g.label)
        for tau in sorted(float(t) for t in taus):
            r = rmst(d["time"].to_numpy(dtype=float), d["event"].to_numpy(), tau)
            rows.append({"curve": g.label, "tau": tau, "rmst": r.rmst, "se": r.se,
                         "beyond_follow_up": bool(tau > g.time[-1])})
    return pd.DataFrame(rows, columns=RMST_COLUMNS)


def followup_table(fit: KMFit) -> pd.DataFrame:
    """``followup.csv``: median follow-up per curve by reverse Kaplan-Meier (R's
    ``survfit(Surv(time, 1 - event) ~ 1)``, the fit's ``ci_method`` and level)."""
    rows = []
    for g in fit.groups:
        if not g.n:
            continue
        d = _rows(fit, g.label)
        f = median_followup(d["time"].to_numpy(dtype=float), d["event"].to_numpy(),
                            level=fit.conf_level, conf_type=fit.ci_method)
        rows.append({"curve": g.label, "median_followup": f.median, "ci_lower": f.ci_lower,
                     "ci_upper": f.ci_upper})
    return pd.DataFrame(rows, columns=FOLLOWUP_COLUMNS)


def turnbull_intervals(d: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of each row for Turnbull's estimate: an event lies in ``(time_lo, time_hi]``
    (exact where they are equal; never before time zero); a censored row is known event-free
    until ``time_lo`` (right-censored there, ``hi`` = inf)."""
    lo = np.maximum(d["time_lo"].to_numpy(dtype=float), 0.0)
    hi = d["time_hi"].to_numpy(dtype=float)
    event = d["event"].to_numpy() == 1
    lo = np.where(np.isfinite(lo), lo, d["time"].to_numpy(dtype=float))
    return lo, np.where(event, hi, np.inf)


def imprecise(fit: KMFit, label: str) -> bool:
    """Whether any time of the curve is known only to an interval wider than a day (an event
    interval, or a censoring whose best time is more than a day after its lower bound)."""
    d = _rows(fit, label)
    if not {"time_lo", "time_hi"} <= set(d.columns) or not len(d):
        return False
    day = 1.0 / unit_days(fit.time_unit)
    event = d["event"].to_numpy() == 1
    lo, hi, t = (d[c].to_numpy(dtype=float) for c in ("time_lo", "time_hi", "time"))
    with np.errstate(invalid="ignore"):
        wide = np.where(event, (hi - np.maximum(lo, 0.0)) > day, (t - lo) > day)
    return bool(np.any(wide))


def turnbull_table(fit: KMFit) -> pd.DataFrame:
    """``turnbull.csv``: Turnbull's estimate (R's ``survfit(Surv(lo, hi, type =
    "interval2"))``) of every curve with an imprecise time (:func:`imprecise`), on the
    intervals of :func:`turnbull_intervals`. A curve none of whose events can be placed
    (every event known only as "after" a time, so every row is right-censored) is left out:
    R's ``survfit`` fails there too, and the notebook says so."""
    frames = []
    for g in fit.groups:
        if not imprecise(fit, g.label) or not g.n_event_total:
            continue
        lo, hi = turnbull_intervals(_rows(fit, g.label))
        if not np.isfinite(hi).any():
            continue
        frames.append(turnbull(lo, hi).assign(curve=g.label))
    if not frames:
        return pd.DataFrame(columns=TURNBULL_TABLE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[TURNBULL_TABLE_COLUMNS]
