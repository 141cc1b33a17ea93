"""Meta-analysis numbers: random-effects pooling, GLMM for proportions, 2x2 effect sizes.

The one implementation of the models under :mod:`analysis.rates` (numpy / scipy /
statsmodels only): :mod:`analysis.rates.metafor` (proportions, the dict API),
:mod:`analysis.rates.pool` and :mod:`analysis.rates.compare` call it. Every function is
checked against R (metafor 3.8-1, lme4 1.1-31) in ``tests/test_pooling.py``
with fixtures from ``tests/r/pooling_reference.R``. Results are on the effect scale
(logit, log RR, ...); callers back-transform. ``level`` is a fraction (0.95), ``i2`` a
percentage (0-100, as metafor).

Conventions (metafor's unless said otherwise):

* **tau2** by REML (Fisher scoring from the Hedges estimate, stopping when the change
  is below ``threshold = 1e-5``, halving steps that would make tau2 negative, and
  metafor's check against the restricted likelihood at tau2 = 0), DerSimonian-Laird
  (truncated at 0) or Paule-Mandel (Brent's root finder on ``[0, max(100, 10 mad(yi)**2)]``
  with ``tol = eps**0.25``, as R's ``uniroot``). metafor's stopping rules, so the numbers
  equal what ``rma()`` prints, not the exact roots.
* **CI.** ``test="z"``: ``est +/- z * se``, ``se = sqrt(1 / sum(w))``, ``w = 1/(vi + tau2)``.
  ``test="knha"`` (Knapp-Hartung): ``se`` multiplied by ``sqrt(s2)``,
  ``s2 = sum(w (yi - est)**2) / (k - 1)``, and t with k - 1 df. metafor does **not**
  truncate ``s2`` at 1 (its ``test="adhoc"`` does), so the Knapp-Hartung interval can be
  narrower than the z interval.
* **Prediction interval** ``est +/- crit * sqrt(tau2 + se**2)`` with the model's ``se``
  (Knapp-Hartung ``se`` after ``test="knha"``). ``pi="z"``: normal quantile, = metafor
  ``predict()`` after ``test="z"``. ``pi="t"``: t with k - 1 df, = metafor
  ``predict(pi.type="t")``, = metafor ``predict()`` after ``test="knha"`` and = R meta's
  default since meta 8.0 (``method.predict="V"``; meta 7 and older used k - 2 df, the
  Higgins-Thompson-Spiegelhalter "HTS" interval). After Knapp-Hartung, meta's "V" interval
  uses the unadjusted se; this module follows metafor. With k = 2 the t interval has 1 df
  and is very wide; that is correct. With k = 1 there is no prediction interval (NaN;
  metafor prints the CI there) and tau2 = 0; ``test="knha"`` falls back to z (as metafor).
* **Heterogeneity.** ``q`` is Cochran's Q (fixed-effect weights), p from chi2 with k - 1
  df. ``i2 = 100 tau2 / (tau2 + vt)`` with the typical within-study variance
  ``vt = (k - 1) / (sum(1/vi) - sum(1/vi**2) / sum(1/vi))`` - metafor's definition for
  every estimator (not meta's ``(Q - df) / Q``).
* **GLMM** (:func:`glmm_proportions`): see :mod:`analysis.rates.glmm`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.rates.glmm import common_effect_deviance, fit_glmm, saturated_wald_q
from analysis.rates.vocab import EFFECT_MEASURES as MEASURES_2X2
from analysis.rates.vocab import EPS, PI_METHODS, POOL_METHODS, RMA_METHODS
from analysis.timing import expect_one_of

__all__ = ["POOL_METHODS", "RMA_METHODS", "TESTS", "PI_METHODS", "MEASURES_2X2", "PoolResult", "rma",
           "leave_one_out", "glmm_proportions", "exact_pooled_count", "subgroup_q", "escalc_2x2"]

TESTS = ("z", "knha")
TO_OPTIONS = ("only0", "all", "if0all", "none")


def _check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level: expected a number between 0 and 1 (e.g. 0.95), found {level!r}")
    return float(level)


def _vector(name: str, values, positive=False) -> np.ndarray:
    a = np.atleast_1d(np.asarray(values, dtype=float))
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-d sequence of numbers")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite numbers, found {float(a[~np.isfinite(a)][0])!r}")
    if positive and not np.all(a > 0):
        raise ValueError(f"{name}: expected positive numbers, found {float(a[~(a > 0)][0])!r}")
    return a


@dataclass(frozen=True)
class PoolResult:
    """One pooled estimate on the effect scale (see the module docstring for conventions).

    ``pi_lower``/``pi_upper`` are NaN for k = 1; ``test`` is the test actually used
    (``"z"`` when ``"knha"`` was asked for with k = 1). ``converged`` is False when an
    estimate should not be used; ``message`` says why, or notes a boundary ("" otherwise).
    ``q_lrt``/``q_lrt_p_value``: the GLMM's likelihood-ratio test of heterogeneity (NaN for
    ``rma``).
    """

    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    i2: float
    q: float
    q_p_value: float
    k: int
    method: str
    test: str
    pi_method: str
    converged: bool = True
    message: str = ""
    q_lrt: float = math.nan
    q_lrt_p_value: float = math.nan


# --------------------------------------------------------------------------- tau2


def _fe_q(yi, vi):
    w = 1 / vi
    return float(np.sum(w * (yi - np.sum(w * yi) / np.sum(w)) ** 2))


def _q_at(yi, vi, tau2):
    return _fe_q(yi, vi + tau2)


def _tau2_dl(yi, vi):
    w = 1 / vi
    return max(0.0, (_fe_q(yi, vi) - (len(yi) - 1)) / (w.sum() - np.sum(w ** 2) / w.sum()))


def _reml_ll(yi, vi, tau2):
    w = 1 / (vi + tau2)
    return -0.5 * (np.sum(np.log(vi + tau2)) + math.log(np.sum(w)) + _q_at(yi, vi, tau2))


def _tau2_reml(yi, vi, threshold, maxiter):
    """metafor's Fisher scoring; returns ``(tau2, converged, message)``."""
    k = len(yi)
    tau2 = max(0.0, (np.sum((yi - yi.mean()) ** 2) - np.sum(vi) * (1 - 1 / k)) / (k - 1))  # Hedges
    for _ in range(maxiter):
        w = 1 / (vi + tau2)
        sw, sw2 = w.sum(), np.sum(w ** 2)
        py = w * (yi - np.sum(w * yi) / sw)
        tr_p = sw - sw2 / sw
        tr_pp = sw2 - 2 * np.sum(w ** 3) / sw + sw2 ** 2 / sw ** 2
        adj = (np.sum(py ** 2) - tr_p) / tr_pp
        adj = 0.0 if np.isnan(adj) else adj
        while tau2 + adj < 0:
            adj /= 2
        tau2, change = tau2 + adj, abs(adj)
        if change <= threshold:
            break
    else:
        return tau2, False, "REML: Fisher scoring did not converge; try method='DL' or 'PM'"
    if _reml_ll(yi, vi, 0.0) - _reml_ll(yi, vi, tau2) > EPS ** 0.25 and tau2 > threshold:
        return 0.0, True, "REML: Fisher scoring stopped at a local maximum; tau2 set to 0 (as metafor)"
    return tau2, True, ""


def _zeroin(f, a, b, fa, fb, tol, maxit):
    """Brent's root finder exactly as R's ``uniroot`` (``R_zeroin2``), so roots match R."""
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p, q = cb * t1, 1.0 - t1
            else:
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return math.nan


def _tau2_pm(yi, vi, tol, maxiter):
    """metafor's Paule-Mandel; returns ``(tau2, converged, message)``."""
    target = len(yi) - 1
    f0 = _q_at(yi, vi, 0.0) - target
    if f0 < 0:
        return 0.0, True, ""
    upper = max(100.0, 10 * (1.4826 * np.median(np.abs(yi - np.median(yi)))) ** 2)
    f_up = _q_at(yi, vi, upper) - target
    if f_up > 0:
        return math.nan, False, "Paule-Mandel: tau2 above the search limit; try method='REML' or 'DL'"
    root = _zeroin(lambda t: _q_at(yi, vi, t) - target, 0.0, upper, f0, f_up, tol, maxiter)
    if math.isnan(root):
        return root, False, "Paule-Mandel: root finder did not converge"
    return root, True, ""


# --------------------------------------------------------------------------- intervals


def _i2(vi, tau2):
    w = 1 / vi
    k = len(vi)
    if k < 2:
        return 0.0
    vt = (k - 1) / (w.sum() - np.sum(w ** 2) / w.sum())
    return float(100 * tau2 / (vt + tau2))


def _intervals(est, se, tau2, k, test, pi, level):
    """``(ci_lower, ci_upper, pi_lower, pi_upper)``: CI by ``test`` ("z" or a t test with
    k - 1 df), prediction interval by ``pi`` (see the module docstring)."""
    tail = 1 - (1 - level) / 2
    z = stats.norm.ppf(tail)
    crit = z if test == "z" else stats.t.ppf(tail, k - 1)
    if k < 2:
        pi_lo = pi_hi = math.nan
    else:
        pcrit = z if pi == "z" else stats.t.ppf(tail, k - 1)
        half = pcrit * math.sqrt(tau2 + se ** 2)
        pi_lo, pi_hi = est - half, est + half
    return est - crit * se, est + crit * se, pi_lo, pi_hi


# --------------------------------------------------------------------------- rma


def rma(yi, vi, method: str = "REML", test: str = "z", pi: str = "t", level: float = 0.95, *,
        threshold: float = 1e-5, tol: float = EPS ** 0.25, maxiter: int = 100) -> PoolResult:
    """Random-effects model as metafor's ``rma(yi, vi, method=, test=)`` + ``predict``.

    ``method``: REML, DL or PM; ``test``: z or knha; ``pi``: t (k - 1 df) or z; ``level``
    a fraction. ``threshold`` (REML) and ``tol`` (PM) are metafor's stopping rules.
    """
    expect_one_of("method", method, RMA_METHODS)
    expect_one_of("test", test, TESTS)
    expect_one_of("pi", pi, PI_METHODS)
    level = _check_level(level)
    yi = _vector("yi", yi)
    vi = _vector("vi", vi, positive=True)
    if len(vi) != len(yi):
        raise ValueError(f"vi: expected one variance per effect size ({len(yi)}), found {len(vi)}")
    k = len(yi)
    converged, message = True, ""
    if k == 1:
        tau2, test = 0.0, "z"
        message = "k = 1: the study itself; no heterogeneity or prediction interval"
    elif method == "DL":
        tau2 = _tau2_dl(yi, vi)
    elif method == "REML":
        tau2, converged, message = _tau2_reml(yi, vi, threshold, maxiter)
    else:
        tau2, converged, message = _tau2_pm(yi, vi, tol, maxiter)
    if math.isnan(tau2):
        nan = math.nan
        return PoolResult(nan, nan, nan, nan, nan, nan, nan, nan, _fe_q(yi, vi),
                          float(stats.chi2.sf(_fe_q(yi, vi), k - 1)), k, method, test, pi,
                          False, message)
    w = 1 / (vi + tau2)
    est = float(np.sum(w * yi) / np.sum(w))
    se = math.sqrt(1 / np.sum(w))
    if test == "knha":
        se *= math.sqrt(float(np.sum(w * (yi - est) ** 2)) / (k - 1))
    ci_lo, ci_hi, pi_lo, pi_hi = _intervals(est, se, tau2, k, test, pi, level)
    q = _fe_q(yi, vi) if k > 1 else 0.0
    q_p = float(stats.chi2.sf(q, k - 1)) if k > 1 else 1.0
    return PoolResult(est, se, ci_lo, ci_hi, pi_lo, pi_hi, float(tau2), _i2(vi, tau2), q, q_p,
                      k, method, test, pi, converged, message)


def leave_one_out(yi, vi, method: str = "REML", test: str = "z", pi: str = "t",
                  level: float = 0.95, **control) -> tuple[PoolResult, ...]:
    """metafor's ``leave1out``: :func:`rma` without study i, for each i in order."""
    yi = _vector("yi", yi)
    vi = _vector("vi", vi, positive=True)
    if len(yi) < 2 or len(vi) != len(yi):
        raise ValueError("yi, vi: leave-one-out needs at least 2 studies and one variance per study")
    keep = ~np.eye(len(yi), dtype=bool)
    return tuple(rma(yi[m], vi[m], method, test, pi, level, **control) for m in keep)


# --------------------------------------------------------------------------- GLMM


def _counts(events, totals):
    x = _vector("events", events)
    n = _vector("totals", totals, positive=True)
    if len(x) != len(n):
        raise ValueError(f"totals: expected one total per event count ({len(x)}), found {len(n)}")
    if np.any(x < 0) or np.any(x > n) or np.any(x != np.round(x)) or np.any(n != np.round(n)):
        raise ValueError("events, totals: expected whole numbers with 0 <= events <= totals")
    return x, n


def glmm_proportions(events, totals, level: float = 0.95, test: str = "z",
                     pi: str = "t") -> PoolResult:
    """metafor ``rma.glmm(measure="PLO", xi, ni, method="ML")``: random-intercept logistic
    model by ML with 7-point adaptive Gauss-Hermite quadrature, as lme4 (logit scale).

    ``test``: z, or t (metafor's ``test="t"``: t with k - 1 df). ``q``/``q_p_value`` are
    metafor's ``QE.Wld``/``QEp.Wld`` (R meta's ``Q``), ``q_lrt``/``q_lrt_p_value`` its
    ``QE.LRT``/``QEp.LRT``: the deviance of the common-effect logistic model against the
    saturated one. With 0/n or n/n studies the Wald statistic collapses towards 0 (their
    coefficients diverge with their variances: k3_zero Wald 0.20, LRT 6.38), so
    :mod:`analysis.rates.pool` reports the LRT. ``i2`` uses ``vt`` from the escalc PLO variances (1/2
    added to 0/n and n/n studies), as rma.glmm. 0/n and n/n studies enter the likelihood
    uncorrected. Sets with no events at all (or only events) have no finite estimate: use
    :func:`exact_pooled_count`. ``converged`` is False when the optimiser or the Hessian
    fails or the fit diverges; ``message`` also notes tau2 = 0 at the boundary.
    """
    expect_one_of("test", test, ("z", "t"))
    expect_one_of("pi", pi, PI_METHODS)
    level = _check_level(level)
    x, n = _counts(events, totals)
    if np.all(x == 0) or np.all(x == n):
        raise ValueError("events: every study has " + ("no events" if np.all(x == 0) else "only events")
                         + "; the logit model has no finite estimate - use exact_pooled_count")
    k = len(x)
    corr = (x == 0) | (x == n)
    xc, mc = np.where(corr, x + 0.5, x), np.where(corr, n - x + 0.5, n - x)
    vi = 1 / xc + 1 / mc
    if k == 1:  # glm on one study: the study itself
        est = math.log(x[0] / (n[0] - x[0]))
        se = math.sqrt(1 / (n[0] * (x[0] / n[0]) * (1 - x[0] / n[0])))
        ci_lo, ci_hi, _, _ = _intervals(est, se, 0.0, 1, "z", pi, level)
        return PoolResult(est, se, ci_lo, ci_hi, math.nan, math.nan, 0.0, 0.0, 0.0, 1.0, 1,
                          "GLMM", "z", pi, True, "k = 1: the study itself", 0.0, 1.0)
    fit = fit_glmm(x, n)
    q = saturated_wald_q(x, n)
    q_lrt = common_effect_deviance(x, n)
    ci_lo, ci_hi, pi_lo, pi_hi = _intervals(fit.beta, fit.se, fit.tau2, k, test, pi, level)
    return PoolResult(fit.beta, fit.se, ci_lo, ci_hi, pi_lo, pi_hi, fit.tau2, _i2(vi, fit.tau2),
                      q, float(stats.chi2.sf(q, k - 1)), k, "GLMM", test, pi, fit.converged,
                      fit.message, q_lrt, float(stats.chi2.sf(q_lrt, k - 1)))


# --------------------------------------------------------------------------- counts, subgroups


@dataclass(frozen=True)
class ExactCount:
    """Pooled count ``events / total`` with a Clopper-Pearson interval."""

    events: int
    total: int
    proportion: float
    ci_lower: float
    ci_upper: float
    level: float


def exact_pooled_count(events, totals, level: float = 0.95) -> ExactCount:
    """``sum(events) / sum(totals)`` with the Clopper-Pearson interval (R ``binom.test``),
    for sets no model can pool (all 0/n or all n/n): 0/781 -> 0 [0, 0.0047]."""
    level = _check_level(level)
    x, n = _counts(events, totals)
    ev, tot = int(x.sum()), int(n.sum())
    lo, hi = proportion_confint(ev, tot, alpha=1 - level, method="beta")
    lo = 0.0 if ev == 0 else float(lo)
    hi = 1.0 if ev == tot else float(hi)
    return ExactCount(ev, tot, ev / tot, lo, hi, level)


@dataclass(frozen=True)
class SubgroupTest:
    """Test for subgroup differences: ``q`` on ``df`` degrees of freedom, ``p_value``."""

    q: float
    df: int
    p_value: float


def subgroup_q(estimates, ses) -> SubgroupTest:
    """Test for subgroup differences with a separate tau2 in each subgroup (R meta's
    default; = metafor ``rma(yi=est_g, sei=se_g, method="FE")`` ``QE``):
    ``Q = sum(w_g (est_g - est_bar)**2)``, ``w_g = 1/se_g**2``, chi2 with G - 1 df."""
    est = _vector("estimates", estimates)
    se = _vector("ses", ses, positive=True)
    if len(est) < 2 or len(se) != len(est):
        raise ValueError("estimates, ses: expected at least 2 subgroups and one se per estimate")
    q = _fe_q(est, se ** 2)
    return SubgroupTest(q, len(est) - 1, float(stats.chi2.sf(q, len(est) - 1)))


# --------------------------------------------------------------------------- 2x2 tables


@dataclass(frozen=True)
class EffectSizes:
    """Per-comparison effect sizes: ``yi``/``vi`` (log scale for RR and OR), ``estimate``
    and CI on the effect scale (exp for RR/OR), ``corrected`` (cells had ``add`` added),
    ``dropped`` (double-zero studies left out by ``drop00``; their values are NaN)."""

    yi: np.ndarray
    vi: np.ndarray
    estimate: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    corrected: np.ndarray
    dropped: np.ndarray
    measure: str


def escalc_2x2(ai, n1, ci, n2, measure: str = "RR", level: float = 0.95, *, add: float = 0.5,
               to: str = "only0", drop00: bool = False) -> EffectSizes:
    """metafor ``escalc(measure, ai, n1i, ci, n2i)`` with its defaults.

    ``ai``/``ci`` events of ``n1``/``n2`` (group 1 vs group 2). metafor adds ``add = 1/2``
    to every cell of a table with a zero cell (``to="only0"``; also ``"all"``, ``"if0all"``:
    all tables if any has a zero cell, ``"none"``) for RR, OR **and RD**. Double-zero
    tables (no events, or only events, in both groups) are kept by default (``drop00=False``)
    and get the correction; ``drop00=True`` sets them to NaN. Variances: RR
    ``1/a - 1/n1 + 1/c - 1/n2``; OR ``1/a + 1/b + 1/c + 1/d``; RD ``p1(1-p1)/n1 + p2(1-p2)/n2``
    (``vtype="LS"``), all from the corrected cells. CI: ``yi +/- z sqrt(vi)``.
    """
    expect_one_of("measure", measure, MEASURES_2X2)
    expect_one_of("to", to, TO_OPTIONS)
    level = _check_level(level)
    a, n1 = _counts(ai, n1)
    c, n2 = _counts(ci, n2)
    if len(a) != len(c):
        raise ValueError(f"ci: expected one count per study ({len(a)}), found {len(c)}")
    b, d = n1 - a, n2 - c
    dropped = (((a == 0) & (c == 0)) | ((b == 0) & (d == 0))) if drop00 else np.zeros(len(a), bool)
    zero = ((a == 0) | (b == 0) | (c == 0) | (d == 0)) & ~dropped
    corrected = {"only0": zero, "all": ~dropped, "if0all": ~dropped & zero.any(),
                 "none": np.zeros(len(a), bool)}[to]
    a, b, c, d = (np.where(corrected, v + add, v) for v in (a, b, c, d))
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "RR":
            yi, vi = np.log(p1) - np.log(p2), 1 / a - 1 / n1 + 1 / c - 1 / n2
        elif measure == "OR":
            yi, vi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2)), 1 / a + 1 / b + 1 / c + 1 / d
        else:
            yi, vi = p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    yi, vi = np.where(dropped, np.nan, yi), np.where(dropped, np.nan, vi)
    half = stats.norm.ppf(1 - (1 - level) / 2) * np.sqrt(vi)
    back = np.exp if measure in ("RR", "OR") else (lambda v: v)
    return EffectSizes(yi, vi, back(yi), back(yi - half), back(yi + half), corrected, dropped,
                       measure)
