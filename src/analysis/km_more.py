"""More survival numbers, each equal to R (survival 3.5-3, cmprsk 2.2-11; fixtures made by
``tests/r/km_more_reference.R``):

* :func:`cumulative_incidence`, :func:`cumulative_incidence_by` -- Aalen-Johansen
  cumulative incidence of competing risks (R ``survfit`` multi-state), from
  :mod:`analysis.km_cif`;
* :func:`gray_test` -- Gray's test (``cmprsk::cuminc(...)$Tests``), from :mod:`analysis.km_cif`;
* :func:`rmst` -- restricted mean survival time up to ``tau`` and its standard error
  (``summary(survfit(...), rmean = tau)$table``);
* :func:`median_followup` -- median follow-up by the reverse Kaplan-Meier method
  (``survfit(Surv(time, 1 - event) ~ 1)``), with its confidence limits;
* :func:`logrank_stratified` -- (stratified) log-rank test (``survdiff``, rho = 0);
* :func:`turnbull` -- Turnbull estimate for interval-censored data
  (``survfit(Surv(lo, hi, type = "interval2") ~ 1)``), from :mod:`analysis.km_turnbull`.

All functions are pure (arrays in, DataFrames or dataclasses out) and use numpy/scipy
only. Conventions: times in the caller's unit, finite and >= 0; ``event`` 1 = relapse or
death, 0 = censored; at a tied time events come before censorings (R's convention: a
subject censored at t is at risk at t). Empty input raises ``ValueError``. Like R
(``timefix = TRUE``), times closer than sqrt(machine eps) count as tied (``timefix``
argument; cmprsk's Gray test has no such step, nor has :func:`gray_test`).

Self-contained: nothing here imports :mod:`analysis.survival` (its Kaplan-Meier, CI and
median rules are re-implemented in :func:`kaplan_meier`, :func:`analysis.km_cif.confint`,
:func:`r_median`, :func:`r_quantile`, identically to R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import chdtrc

from analysis.km_cif import (CIF_COLUMNS, CONF_TYPES, GRAY_COLUMNS, _check_level, _labels,
                             _same_length, _times, aeq_times, confint, cumulative_incidence,
                             cumulative_incidence_by, gray_test)
from analysis.km_turnbull import TURNBULL_COLUMNS, turnbull  # noqa: F401

__all__ = [
    "cumulative_incidence", "cumulative_incidence_by", "gray_test", "rmst", "RMST",
    "median_followup", "MedianFollowup", "logrank_stratified", "Logrank", "turnbull",
    "kaplan_meier", "r_median", "r_quantile", "confint", "aeq_times",
    "CIF_COLUMNS", "GRAY_COLUMNS", "TURNBULL_COLUMNS", "CONF_TYPES",
]

_R_TOL = float(np.sqrt(np.finfo(float).eps))  # all.equal's tolerance, used by survival


def _events(event, n: int, what: str) -> np.ndarray:
    e = np.asarray(event).reshape(-1)
    if len(e) != n:
        raise ValueError(f"{what}: event has {len(e)} values but time has {n}")
    try:
        ok = np.isin(e.astype(float), (0.0, 1.0)).all()
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{what}: event must be 0 (censored) or 1 (relapse or death)")
    return e.astype(float).astype(np.int64)


# --------------------------------------------------------------------------- Kaplan-Meier


def kaplan_meier(time, event) -> dict:
    """Kaplan-Meier table as R's ``survfit`` (one row per distinct event or censoring
    time): ``time``, ``n_at_risk`` (time >= t), ``n_event``, ``n_censor``, ``surv``,
    ``std_err`` (Greenwood standard error of log S, infinite once S reaches 0)."""
    t = _times(time, "kaplan_meier")
    e = _events(event, len(t), "kaplan_meier")
    order = np.argsort(t, kind="stable")
    ts, es = t[order], e[order]
    starts = np.flatnonzero(np.concatenate([[True], ts[1:] != ts[:-1]]))
    uniq = ts[starts]
    block = np.repeat(np.arange(len(uniq)), np.diff(np.append(starts, len(ts))))
    d = np.bincount(block, weights=es, minlength=len(uniq))
    removed = np.bincount(block, minlength=len(uniq))
    n = (len(ts) - starts).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(d > 0, (n - d) / n, 1.0))
        var = np.cumsum(np.where(d > 0, d / (n * (n - d)), 0.0))
    return {"time": uniq, "n_at_risk": n.astype(np.int64), "n_event": d.astype(np.int64),
            "n_censor": (removed - d).astype(np.int64), "surv": surv, "std_err": np.sqrt(var)}


# --------------------------------------------------------------------------- quantiles (R)


def r_median(time, curve) -> float:
    """Median as R's ``print.survfit`` / ``summary(fit)$table`` (``survmean``'s
    ``minmin``): the first time the curve is below 0.5 + sqrt(eps); if it is at 0.5
    (within sqrt(eps)) there and falls later, the midpoint between that time and the
    time it first falls below; NaN if never reached. NaN values (undefined confidence
    limits) are skipped."""
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


def _approx_index(y: np.ndarray, p: float):
    pos = np.flatnonzero(~np.isnan(y))
    if not len(pos):
        return None
    order = np.argsort(y[pos], kind="stable")
    ys, ps = y[pos][order], pos[order]
    if p < ys[0] or p > ys[-1]:
        return None
    return int(ps[np.searchsorted(ys, p, side="left")])


def r_quantile(time, curve, p: float = 0.5, start: float = 0.0) -> float:
    """Time at which the curve first reaches ``1 - p``, as R's ``quantile.survfit``
    (``findq``): flat at exactly that level (within sqrt(eps)) -> midpoint of the flat
    stretch (or of the stretch to the last time); never reached -> NaN."""
    x = np.concatenate([[start], np.asarray(time, dtype=float)])
    y = np.concatenate([[0.0], 1 - np.asarray(curve, dtype=float)])
    with np.errstate(invalid="ignore"):
        if np.all(np.isnan(y)) or np.nanmax(y) < p:
            return float("nan")
    xmax = x[-1]
    keys = np.where(np.isnan(y), np.inf, y)
    _, first = np.unique(keys, return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    i1 = _approx_index(y + _R_TOL, p)
    i2 = _approx_index(y - _R_TOL, p)
    quant = (x[i1] + x[i2]) / 2 if i1 is not None and i2 is not None else float("nan")
    if p == 0:
        quant = x[0]
    if not np.isnan(y[-1]) and abs(p - y[-1]) < _R_TOL:
        quant = (x[i1] + xmax) / 2 if i1 is not None else float("nan")
    return float(quant)


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
    ``timefix`` as in ``survfit`` (:func:`analysis.km_cif.aeq_times`).
    """
    what = "rmst"
    t = _times(time, what)
    e = _events(event, len(t), what)
    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"{what}: tau must be a finite number > 0, found {tau!r}")
    if timefix:
        (t,) = aeq_times(t, t)
    km = kaplan_meier(t, e)
    n_risk = km["n_at_risk"].astype(float)
    n_event = km["n_event"].astype(float)
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
        tempsurv = np.append(km["surv"][keep], km["surv"][keep][-1])
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


def median_followup(time, event, level: float = 0.95, conf_type: str = "log-log",
                    rule: str = "print", timefix: bool = True) -> MedianFollowup:
    """Median follow-up by the reverse Kaplan-Meier method: the median of
    ``survfit(Surv(time, 1 - event) ~ 1, conf.type = conf_type, conf.int = level)``, i.e.
    of the Kaplan-Meier curve of censoring (censorings are the "events"; a relapse or
    death ends follow-up as a censoring would, and at a tied time the censorings count
    first, by R's rule), with its confidence limits (Greenwood; ``log-log`` default,
    ``log``, ``plain``).

    ``rule="print"`` (default) is ``summary(fit)$table``'s median / LCL / UCL
    (:func:`r_median`: first time the curve is <= 0.5; if it is exactly 0.5 there, the
    midpoint to the time it falls further); ``rule="quantile"`` is
    ``quantile(fit, 0.5)`` (:func:`r_quantile`; differs only when the curve stays at
    exactly 0.5 until its end). Unreached values are NaN. ``timefix`` as in ``survfit``.
    """
    what = "median_followup"
    t = _times(time, what)
    e = _events(event, len(t), what)
    z = _check_level(level, conf_type, what)
    if rule not in ("print", "quantile"):
        raise ValueError(f"{what}: rule must be 'print' or 'quantile', found {rule!r}")
    if timefix:
        (t,) = aeq_times(t, t)
    km = kaplan_meier(t, 1 - e)
    lo, hi = confint(km["surv"], km["std_err"], z, conf_type, logse=True)
    find = r_median if rule == "print" else (lambda x, y: r_quantile(x, y, 0.5, min(0.0, x[0])))
    return MedianFollowup(median=find(km["time"], km["surv"]), ci_lower=find(km["time"], lo),
                          ci_upper=find(km["time"], hi), level=float(level),
                          conf_type=conf_type)


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
    ``timefix`` as in ``survdiff``.
    """
    what = "logrank_stratified"
    t = _times(time, what)
    e = _events(event, len(t), what)
    g = _labels(group, what, "group")
    _same_length(what, len(t), group=g)
    if timefix:
        (t,) = aeq_times(t, t)
    labels, gi = np.unique(g, return_inverse=True)
    k = len(labels)
    if k < 2:
        raise ValueError(f"{what}: needs at least two groups, found {k}")
    if strata is None:
        si = np.zeros(len(t), dtype=np.int64)
    else:
        s = _labels(strata, what, "strata")
        _same_length(what, len(t), strata=s)
        _, si = np.unique(s, return_inverse=True)
    observed = np.zeros(k)
    expected = np.zeros(k)
    var = np.zeros((k, k))
    for stratum in np.unique(si):
        idx = si == stratum
        ts, es, gs = t[idx], e[idx], gi[idx]
        times = np.unique(ts[es == 1])
        if not len(times):
            continue
        # at risk (time >= t) and events at t, per group and event time
        n_gj = np.empty((k, len(times)))
        d_gj = np.empty((k, len(times)))
        for j in range(k):
            tg = np.sort(ts[gs == j])
            eg = np.sort(ts[(gs == j) & (es == 1)])
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
        stat = float(np.sum(np.linalg.solve(vv, x) * x))
        p = float(chdtrc(df, stat))
    return Logrank(statistic=stat, df=df, p_value=p, groups=tuple(labels.tolist()),
                   observed=observed, expected=expected, variance=var)
