"""Random-effects pooling of proportions with metafor's conventions (escalc + rma.uni +
predict): effect sizes, tau2 estimators (REML, DL, PM), back-transforms. On the transformed
(logit or Freeman-Tukey) scale unless stated; see the package docstring."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats
from scipy.special import expit
from statsmodels.stats.meta_analysis import combine_effects

from analysis.rates.vocab import EPS, POOL_METHODS, TRANSFORMS
from analysis.timing import expect_one_of


def escalc_prop(events, total, transform: str = "logit"):
    """Effect sizes and sampling variances as metafor's ``escalc`` (defaults).

    ``logit`` = measure ``PLO`` with ``add=1/2, to="only0"``; ``freeman-tukey`` = ``PFT``.
    Returns ``(yi, vi)`` as float arrays.
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(total, dtype=float)
    if transform == "logit":
        m = n - x
        zero = (x == 0) | (m == 0)
        x = np.where(zero, x + 0.5, x)
        m = np.where(zero, m + 0.5, m)
        n = x + m
        p = x / n
        return np.log(p / (1 - p)), 1 / x + 1 / m
    if transform == "freeman-tukey":
        yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
        return yi, 1 / (4 * n + 2)
    expect_one_of("transform", transform, TRANSFORMS)
    raise AssertionError("unreachable")  # expect_one_of raised


def transf_pft(p, n):
    """metafor ``transf.pft``: Freeman-Tukey transform of proportion ``p`` at size ``n``."""
    x = p * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))


def transf_ipft_hm(z, ni):
    """metafor ``transf.ipft.hm``: inverse Freeman-Tukey at the harmonic mean of ``ni``."""
    ni = np.asarray(ni, dtype=float)
    nhm = 1 / np.mean(1 / ni[~np.isnan(ni)])
    z = np.asarray(z, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sin(2 * z)
        p = 0.5 * (1 - np.sign(np.cos(2 * z)) * np.sqrt(1 - (s + (s - 1 / s) / nhm) ** 2))
    p = np.where(np.isnan(p), np.nan, p)
    p = np.where(z > transf_pft(1.0, nhm), 1.0, p)
    p = np.where(z < transf_pft(0.0, nhm), 0.0, p)
    return p


def back_transform(z, transform: str, ni=None):
    """Proportion from the pooling scale (``plogis`` or ``transf.ipft.hm`` with ``ni``)."""
    if transform == "logit":
        return expit(np.asarray(z, dtype=float))
    if transform == "freeman-tukey":
        return transf_ipft_hm(z, ni)
    expect_one_of("transform", transform, TRANSFORMS)
    raise AssertionError("unreachable")  # expect_one_of raised


def _zeroin(f, ax, bx, fa, fb, tol, maxit):
    """Brent's root finder exactly as R's ``uniroot`` (``R_zeroin2``), so roots match R."""
    a, b, c, fc = ax, bx, ax, fa
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
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
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
    raise RuntimeError("Paule-Mandel: root finder did not converge")


def _q_weighted(yi, vi, tau2):
    w = 1 / (vi + tau2)
    mu = np.sum(w * yi) / np.sum(w)
    return float(np.sum(w * (yi - mu) ** 2))


def _reml_ll(yi, vi, tau2):
    w = 1 / (vi + tau2)
    mu = np.sum(w * yi) / np.sum(w)
    k = len(yi)
    return (-0.5 * (k - 1) * math.log(2 * math.pi) - 0.5 * np.sum(np.log(vi + tau2))
            - 0.5 * math.log(np.sum(w)) - 0.5 * np.sum(w * (yi - mu) ** 2))


def _tau2_reml(yi, vi, threshold, maxiter):
    k = len(yi)
    ymc = yi - yi.mean()
    tau2 = max(0.0, (np.sum(ymc ** 2) - np.sum(vi) * (1 - 1 / k)) / (k - 1))  # Hedges start
    change, it = threshold + 1, 0
    while change > threshold:
        it += 1
        old = tau2
        w = 1 / (vi + tau2)
        sw, sw2, sw3 = w.sum(), np.sum(w ** 2), np.sum(w ** 3)
        py = w * (yi - np.sum(w * yi) / sw)  # P y
        tr_p = sw - sw2 / sw
        tr_pp = sw2 - 2 * sw3 / sw + sw2 ** 2 / sw ** 2
        adj = (np.sum(py ** 2) - tr_p) / tr_pp
        if np.isnan(adj):
            adj = 0.0
        while tau2 + adj < 0:
            adj /= 2
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if it > maxiter:
            raise RuntimeError("REML: Fisher scoring did not converge; try method='DL' or 'PM'")
    # metafor's ll0check: fall back to 0 if tau2 = 0 has the higher restricted likelihood
    if _reml_ll(yi, vi, 0.0) - _reml_ll(yi, vi, tau2) > EPS ** 0.25 and tau2 > threshold:
        warnings.warn("REML: Fisher scoring may have stopped at a local maximum; tau2 set to 0",
                      RuntimeWarning, stacklevel=3)
        tau2 = 0.0
    return tau2


def _tau2_pm(yi, vi, tol, maxiter):
    k = len(yi)
    target = k - 1
    if _q_weighted(yi, vi, 0.0) < target:
        return 0.0
    mad = 1.4826 * np.median(np.abs(yi - np.median(yi)))
    upper = max(100.0, 10 * mad ** 2)
    f_up = _q_weighted(yi, vi, upper) - target
    if f_up > 0:
        raise RuntimeError("Paule-Mandel: tau2 above the search limit; try method='REML' or 'DL'")
    f0 = _q_weighted(yi, vi, 0.0) - target
    return _zeroin(lambda t: _q_weighted(yi, vi, t) - target, 0.0, upper, f0, f_up, tol, maxiter)


def rma(yi, vi, method: str = "REML", alpha: float = 0.05, *, threshold: float = 1e-5,
        tol: float = EPS ** 0.25, maxiter: int = 100) -> dict:
    """Random-effects model for one set of effect sizes, as metafor's ``rma.uni`` + ``predict``.

    Returns a dict on the transformed scale: ``k``, ``estimate``, ``se``, ``ci_lower``,
    ``ci_upper``, ``pi_lower``, ``pi_upper``, ``tau2``, ``i2`` (percent), ``h2``, ``q``,
    ``q_df``, ``q_p_value``, ``weights`` (random-effects weights in percent, summing to 100).
    """
    expect_one_of("pool_method", method, POOL_METHODS)
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = len(yi)
    if k == 0 or len(vi) != k:
        raise ValueError("need at least one effect size and one variance per effect size")
    if np.any(~np.isfinite(yi)) or np.any(~(vi > 0)):
        raise ValueError("effect sizes must be finite and variances positive")
    if k == 1:
        tau2, q = 0.0, 0.0
    else:
        with np.errstate(all="ignore"):  # statsmodels takes sqrt of a negative DL tau2's weights
            fe = combine_effects(yi, vi, method_re="dl")  # Cochran's Q, DL moment estimate
        q = max(0.0, float(fe.q))
        if method == "DL":
            tau2 = max(0.0, float(fe.tau2))
        elif method == "REML":
            tau2 = _tau2_reml(yi, vi, threshold, maxiter)
        else:
            tau2 = _tau2_pm(yi, vi, tol, maxiter)
    w = 1 / (vi + tau2)
    est = float(np.sum(w * yi) / np.sum(w))
    se = float(math.sqrt(1 / np.sum(w)))
    crit = float(stats.norm.isf(alpha / 2))
    pi_half = crit * math.sqrt(se ** 2 + tau2)
    if k > 1:
        w0 = 1 / vi
        vt = (k - 1) / (w0.sum() - np.sum(w0 ** 2) / w0.sum())
        i2, h2 = 100 * tau2 / (vt + tau2), tau2 / vt + 1
        q_p = float(stats.chi2.sf(q, k - 1))
    else:
        i2, h2, q_p = 0.0, 1.0, 1.0
    return {
        "k": k, "estimate": est, "se": se,
        "ci_lower": est - crit * se, "ci_upper": est + crit * se,
        "pi_lower": est - pi_half, "pi_upper": est + pi_half,
        "tau2": float(tau2), "i2": float(i2), "h2": float(h2),
        "q": q, "q_df": k - 1, "q_p_value": q_p,
        "weights": 100 * w / w.sum(),
    }


def pool_proportions(events, total, method: str = "REML", transform: str = "logit",
                     alpha: float = 0.05, **control) -> dict:
    """Pool single-arm proportions; the estimate, CI and PI are back-transformed to 0-1.

    Same keys as :func:`rma` (``tau2`` on the transformed scale) plus ``total`` (sum of n)
    and ``estimate_transformed``.
    """
    expect_one_of("transform", transform, TRANSFORMS)
    events = np.asarray(events, dtype=float)
    total = np.asarray(total, dtype=float)
    if np.any(total <= 0) or np.any(events < 0) or np.any(events > total):
        raise ValueError("need 0 <= events <= total and total > 0")
    yi, vi = escalc_prop(events, total, transform)
    res = rma(yi, vi, method, alpha, **control)
    res["estimate_transformed"] = res["estimate"]
    for key in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper"):
        res[key] = float(back_transform(res[key], transform, total))
    res["total"] = int(total.sum())
    return res
