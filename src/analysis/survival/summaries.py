"""Numbers that summarise curves and compare them, each equal to R (survival 3.5-3; fixtures
made by ``tests/r/km_more_reference.R`` and ``tests/r/make_expected.R``):

* :func:`logrank_stratified` -- the (stratified) log-rank test, ``survdiff(Surv(time,
  event) ~ group [+ strata(s)])`` (rho = 0); :func:`logrank` gives it as the
  ``logrank.csv`` table of a fit (:data:`LOGRANK_COLUMNS`);
* :func:`rmst` -- restricted mean survival time up to ``tau`` and its standard error
  (``summary(survfit(...), rmean = tau)$table``);
* :func:`median_followup` -- median follow-up by the reverse Kaplan-Meier method
  (``survfit(Surv(time, 1 - event) ~ 1)``), with its confidence limits.

Every curve here is :func:`analysis.survival.km.km_table` (the package's one Kaplan-Meier
estimator), every confidence limit :func:`~analysis.survival.km.confidence_limits` and
every median :func:`~analysis.survival.km.r_median` /
:func:`~analysis.survival.km.r_quantile_time`.

Conventions: arrays in, dataclasses or DataFrames out; times in the caller's unit, finite
and >= 0; ``event`` 1 = relapse or death, 0 = censored; at a tied time events come before
censorings (R's convention: a subject censored at t is at risk at t). Empty input raises
``ValueError``. Like R (``timefix = TRUE``), times closer than sqrt(machine eps) count as
tied (``timefix`` argument; :func:`analysis.survival.inputs.aeq_times`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import chdtrc  # chi-squared upper tail

from analysis.survival.inputs import (aeq_times, check_events, check_labels, check_same_length,
                                      check_times)
from analysis.survival.km import (CI_METHODS, KMFit, _group_codes, confidence_limits, km_table,
                                  r_median, r_quantile_time)

LOGRANK_COLUMNS = ["statistic", "df", "p_value", "strata", "comparison", "groups"]
"""Columns of ``logrank.csv``: the chi-squared ``statistic`` on ``df`` degrees of freedom and
its ``p_value``; ``strata``: the column the test is stratified by (empty for the plain
test); ``comparison``: which curves were compared and why they are comparable; ``groups``:
the curves compared, separated by `` | ``."""


# --------------------------------------------------------------------------- RMST


@dataclass(frozen=True)
class RMST:
    """Restricted mean survival time up to ``tau`` and its standard error."""

    tau: float
    rmst: float
    se: float
    n: int
    events: int


def rmst(time, event, tau: float, timefix: bool = True) -> RMST:
    """Restricted mean survival time (area under the Kaplan-Meier curve from 0 to ``tau``)
    and its standard error, as R's ``summary(survfit(Surv(time, event) ~ 1), rmean = tau)
    $table[c("rmean", "se(rmean)")]`` (``survmean``; same as ``print(fit, rmean = tau)``).

    The area is summed over rectangles from 0 (R's ``start.time`` = min(0, times)) with
    the curve carried forward to ``tau`` (also beyond the last follow-up time, as R does).
    The variance is R's: sum over event times t_i <= tau of
    ``d_i / (n_i (n_i - d_i)) * (area from t_i to tau)^2`` (0 where n_i = d_i).

    A ``tau`` before the first time gives ``rmst = tau``, ``se = 0`` (R's ``survmean``
    computes that too, but ``summary.survfit`` refuses such a tau with an error).
    """
    what = "rmst"
    t = check_times(time, what)
    e = check_events(event, len(t), what)
    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"{what}: tau must be a finite number > 0, found {tau!r}")
    if timefix:
        (t,) = aeq_times(t, t)
    km = km_table(t, e)
    n_risk = km["n_at_risk"].astype(float)
    n_event = km["n_events"].astype(float)
    start = min(0.0, float(t.min()))
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n_risk - n_event == 0, 0.0, n_event / (n_risk * (n_risk - n_event)))
    keep = km["time"] <= tau
    if not keep.any():
        temptime = np.array([tau])
        tempsurv = np.array([1.0])
        hh = np.array([0.0])
    else:
        temptime = np.append(km["time"][keep], tau)
        tempsurv = np.append(km["survival"][keep], km["survival"][keep][-1])
        hh = np.append(hh[keep], 0.0)
    delta = np.diff(np.concatenate([[start], temptime]))
    rect = delta * np.concatenate([[1.0], tempsurv[:-1]])
    varmean = float(np.sum(np.cumsum(rect[1:][::-1]) ** 2 * hh[::-1][1:]))
    return RMST(tau=tau, rmst=float(np.sum(rect) + start), se=float(np.sqrt(varmean)),
                n=len(t), events=int(e.sum()))


# --------------------------------------------------------------------------- follow-up


@dataclass(frozen=True)
class MedianFollowup:
    """Median follow-up (reverse Kaplan-Meier) and its confidence limits (NaN: not reached)."""

    median: float
    ci_lower: float
    ci_upper: float
    level: float
    conf_type: str


def _check_conf(level: float, conf_type: str, what: str) -> None:
    if conf_type not in CI_METHODS:
        raise ValueError(f"{what}: conf_type must be one of {', '.join(CI_METHODS)}, "
                         f"found {conf_type!r}")
    if not (0 < float(level) < 1):
        raise ValueError(f"{what}: level must be between 0 and 1, found {level!r}")


def median_followup(time, event, level: float = 0.95, conf_type: str = "log-log",
                    rule: str = "print", timefix: bool = True) -> MedianFollowup:
    """Median follow-up by the reverse Kaplan-Meier method: the median of
    ``survfit(Surv(time, 1 - event) ~ 1, conf.type = conf_type, conf.int = level)``, i.e.
    of the Kaplan-Meier curve of censoring (censorings are the "events"; a relapse or
    death ends follow-up as a censoring would, and at a tied time the censorings count
    first, by R's rule), with its confidence limits (Greenwood; ``log-log`` default,
    ``log``, ``plain``).

    ``rule="print"`` (default) is ``summary(fit)$table``'s median / LCL / UCL
    (:func:`~analysis.survival.km.r_median`: first time the curve is <= 0.5; if it is
    exactly 0.5 there, the midpoint to the time it falls further); ``rule="quantile"`` is
    ``quantile(fit, 0.5)`` (:func:`~analysis.survival.km.r_quantile_time`; differs only
    when the curve stays at exactly 0.5 until its end). Unreached values are NaN.
    """
    what = "median_followup"
    t = check_times(time, what)
    e = check_events(event, len(t), what)
    _check_conf(level, conf_type, what)
    if rule not in ("print", "quantile"):
        raise ValueError(f"{what}: rule must be 'print' or 'quantile', found {rule!r}")
    if timefix:
        (t,) = aeq_times(t, t)
    km = km_table(t, 1 - e)
    lo, hi = confidence_limits(km["survival"], km["se_log"], conf_type, 1 - float(level))
    if rule == "print":
        find = r_median
    else:
        def find(x, y):
            return r_quantile_time(x, y, 0.5, min(0.0, x[0]))
    return MedianFollowup(median=find(km["time"], km["survival"]),
                          ci_lower=find(km["time"], lo), ci_upper=find(km["time"], hi),
                          level=float(level), conf_type=conf_type)


# --------------------------------------------------------------------------- log-rank


@dataclass(frozen=True)
class Logrank:
    """Log-rank test: chi-squared ``statistic`` on ``df`` degrees of freedom, and per group
    (sorted labels) the observed and expected events summed over strata."""

    statistic: float
    df: int
    p_value: float
    groups: tuple
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray


def logrank_stratified(time, event, group, strata=None, timefix: bool = True) -> Logrank:
    """Log-rank test of equal survival across groups, stratified when ``strata`` is
    given: R's ``survdiff(Surv(time, event) ~ group + strata(strata))`` (rho = 0);
    ``strata=None`` is the plain ``survdiff(Surv(time, event) ~ group)``.

    Within each stratum, at each event time: expected = d n_g / n, hypergeometric
    variance d (n - d) / (n - 1) (n_g / n)(delta - n_h / n); observed, expected and
    variance are summed over strata. The statistic uses the groups with expected > 0
    (one of them dropped): df = (number of such groups) - 1; with fewer than two such
    groups R reports chi-squared 0, here statistic 0, df 0 and p_value NaN.
    """
    what = "logrank_stratified"
    t = check_times(time, what)
    e = check_events(event, len(t), what)
    g = check_labels(group, what, "group")
    check_same_length(what, len(t), group=g)
    if timefix:
        (t,) = aeq_times(t, t)
    labels, gi = _sorted_codes(g)
    if len(labels) < 2:
        raise ValueError(f"{what}: needs at least two groups, found {len(labels)}")
    si = None
    if strata is not None:
        s = check_labels(strata, what, "strata")
        check_same_length(what, len(t), strata=s)
        si = _sorted_codes(s)[1]
    return _logrank(t, e, gi, labels, si)


def _sorted_codes(values: np.ndarray) -> tuple[list, np.ndarray]:
    """(sorted distinct labels, code of each value): ``np.unique(return_inverse=True)``
    by hashing (fast for a million text labels)."""
    codes, uniq = pd.factorize(values)
    order = np.argsort(np.asarray(uniq, dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return [uniq[i] for i in order], rank[codes]


def _logrank(t: np.ndarray, e: np.ndarray, gi: np.ndarray, labels: list, si: np.ndarray | None) -> Logrank:
    """The log-rank test of :func:`logrank_stratified` on checked arrays: group codes ``gi``
    (0..k-1, of ``labels``) and stratum codes ``si`` (None: one stratum)."""
    k = len(labels)
    strata = [slice(None)] if si is None else [si == s for s in np.unique(si)]
    per_stratum = []
    for idx in strata:
        ts, es, gs = t[idx], e[idx], gi[idx]
        per_stratum.append([(np.sort(ts[gs == j]), np.sort(ts[(gs == j) & (es == 1)])) for j in range(k)])
    return _logrank_sorted(per_stratum, labels)


def _logrank_sorted(per_stratum: list, labels: list) -> Logrank:
    """Observed and expected events, their covariance and the chi-squared statistic from, per
    stratum and group, the sorted follow-up times and the sorted event times."""
    k = len(labels)
    observed = np.zeros(k)
    expected = np.zeros(k)
    var = np.zeros((k, k))
    for groups in per_stratum:
        times = np.unique(np.concatenate([ev for _, ev in groups]))
        if not len(times):
            continue
        # at risk (time >= t) and events at t, per group and event time
        n_gj = np.empty((k, len(times)))
        d_gj = np.empty((k, len(times)))
        for j, (tg, eg) in enumerate(groups):
            n_gj[j] = len(tg) - np.searchsorted(tg, times, side="left")
            d_gj[j] = (np.searchsorted(eg, times, side="right")
                       - np.searchsorted(eg, times, side="left"))
        n_j = n_gj.sum(axis=0)
        d_j = d_gj.sum(axis=0)
        frac = n_gj / n_j
        observed += d_gj.sum(axis=1)
        expected += (frac * d_j).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(n_j > 1, d_j * (n_j - d_j) / (n_j - 1), 0.0)
        var += np.diag((frac * w).sum(axis=1)) - (frac * w) @ frac.T
    keep = expected > 0
    df = int(keep.sum()) - 1
    if df < 1:
        stat, p, df = 0.0, float("nan"), 0
    else:
        x = (observed - expected)[keep][1:]
        vv = var[np.ix_(keep, keep)][1:, 1:]
        try:
            stat = float(np.sum(np.linalg.solve(vv, x) * x))
        except np.linalg.LinAlgError:
            stat = float(np.sum((np.linalg.pinv(vv) @ x) * x))
        p = float(chdtrc(df, stat))
    return Logrank(statistic=stat, df=df, p_value=p, groups=tuple(labels),
                   observed=observed, expected=expected, variance=var)


def strata_values(data: pd.DataFrame, strata: str) -> np.ndarray:
    """The stratum of each row: the column ``strata``, or several joined (``"study,
    strata"``); a missing value is its own stratum, "not stated". Raises ``ValueError``
    naming a column the data lack."""
    names = [s.strip() for s in str(strata).split(",") if s.strip()]
    missing = [n for n in names if n not in data.columns]
    if missing:
        raise ValueError(f"logrank_strata: the survival data have no column {missing[0]!r}; "
                         f"columns are {', '.join(map(str, data.columns))}")
    parts = [data[n].astype(object).where(data[n].notna() & (data[n].astype(str) != ""), "not stated").astype(str)
             for n in names]
    out = parts[0]
    for p in parts[1:]:
        out = out + " / " + p
    return out.to_numpy(dtype=object)


def logrank(fit: KMFit, strata: str | None = None, groups=None,
            comparison: str = "all curves") -> pd.DataFrame:
    """``logrank.csv`` rows (:data:`LOGRANK_COLUMNS`): the log-rank test of equal survival
    across the fit's groups (or only ``groups``, a list of their labels), stratified by the
    column(s) ``strata`` of the fit's data when given (:func:`strata_values`; where the
    compared rows hold one stratum only the test is the plain one and ``strata`` is empty):
    :func:`logrank_stratified`, i.e. R's ``survdiff`` (tested equal to R and to lifelines'
    ``multivariate_logrank_test``).

    Empty (header only) with fewer than two groups or when no group has events to compare
    (R would report chi-squared 0 on 0 df). ``comparison`` is written in the row. Times are
    used as the fit has them (as :func:`~analysis.survival.km.km_fit`, without R's
    ``timefix``, which merges only times closer than sqrt(machine eps)); the unstratified test
    reads the fit's sorted times, so it costs no pass over a million rows.
    """
    labels = [g.label for g in fit.groups] if groups is None else list(groups)
    empty = pd.DataFrame(columns=LOGRANK_COLUMNS)
    if len(labels) < 2 or fit.data is None or not len(fit.data):
        return empty
    data = fit.data
    if not strata:  # the fit's own sorted times (no pass over the rows; as km_fit, no timefix)
        chosen = sorted(lb for lb in labels if any(g.label == lb for g in fit.groups))
        res = _logrank_sorted([[(fit.group(lb).durations, fit.group(lb).event_times) for lb in chosen]], chosen)
    else:
        codes, names = _group_codes(data, fit.group_by)
        chosen = sorted(names.index(lb) for lb in labels if lb in names)  # label order, as R's factor
        keep = np.isin(codes, chosen)
        st = strata_values(data, strata)[keep]
        if len(set(st.tolist())) < 2:
            strata = None  # one stratum: the plain test, and said so
        elif pd.Series(codes[keep]).groupby(st).nunique().max() < 2:
            # every stratum holds one group: a stratified test compares nothing (R: chi-squared 0)
            return pd.DataFrame([{"statistic": np.nan, "df": 0, "p_value": np.nan, "strata": strata,
                                  "comparison": f"{comparison}; no stratum holds two of the groups, so "
                                                "nothing is compared", "groups": " | ".join(sorted(labels))}],
                                columns=LOGRANK_COLUMNS)
        gi = np.searchsorted(np.array(chosen), codes[keep])
        res = _logrank(data["time"].to_numpy(dtype=float)[keep], data["event"].to_numpy()[keep].astype(np.int64),
                       gi, [names[i] for i in chosen], None if strata is None else _sorted_codes(st)[1])
    if res.df < 1:
        return empty
    return pd.DataFrame([{"statistic": res.statistic, "df": res.df, "p_value": res.p_value,
                          "strata": strata or "", "comparison": comparison,
                          "groups": " | ".join(res.groups)}], columns=LOGRANK_COLUMNS)
