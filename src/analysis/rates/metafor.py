"""Pooling of proportions with metafor's conventions (escalc + rma.uni + predict, rma.glmm):
effect sizes, back-transforms, and the dict API over the models of :mod:`analysis.rates.meta`
(which holds the one implementation of tau2, intervals and the GLMM). On the transformed
(logit or Freeman-Tukey) scale unless stated; see the package docstring."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

from analysis.rates.meta import PoolResult, glmm_proportions
from analysis.rates.meta import rma as _rma
from analysis.rates.vocab import EPS, PI_METHODS, POOL_METHODS, POOLED_CI, RMA_METHODS, TRANSFORMS
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


def _as_dict(res: PoolResult) -> dict:
    """A :class:`~analysis.rates.meta.PoolResult` as the dict this module returns."""
    i2 = res.i2
    return {
        "k": res.k, "estimate": res.estimate, "se": res.se,
        "ci_lower": res.ci_lower, "ci_upper": res.ci_upper,
        "pi_lower": res.pi_lower, "pi_upper": res.pi_upper,
        "tau2": res.tau2, "i2": i2, "h2": 100 / (100 - i2) if i2 < 100 else math.inf,
        "q": res.q, "q_df": res.k - 1, "q_p_value": res.q_p_value,
        "method": res.method, "test": res.test, "pi_method": res.pi_method,
        "converged": res.converged, "message": res.message,
    }


def rma(yi, vi, method: str = "REML", alpha: float = 0.05, *, test: str = "z", pi: str = "z",
        threshold: float = 1e-5, tol: float = EPS ** 0.25, maxiter: int = 100) -> dict:
    """Random-effects model as metafor's ``rma.uni`` + ``predict`` (defaults: ``test="z"``,
    a z prediction interval), a thin layer over :func:`analysis.rates.meta.rma`.

    Returns a dict on the transformed scale: ``k``, ``estimate``, ``se``, ``ci_lower``,
    ``ci_upper``, ``pi_lower``, ``pi_upper`` (NaN for k = 1), ``tau2``, ``i2`` (percent),
    ``h2``, ``q``, ``q_df``, ``q_p_value``, ``weights`` (random-effects weights in percent,
    summing to 100), ``method``, ``test``, ``pi_method``, ``converged`` and ``message``.
    ``RuntimeError`` when tau2 cannot be estimated (Paule-Mandel beyond its search limit).
    """
    expect_one_of("pool_method", method, RMA_METHODS)
    yi = np.atleast_1d(np.asarray(yi, dtype=float))
    vi = np.atleast_1d(np.asarray(vi, dtype=float))
    if len(yi) == 0 or len(vi) != len(yi):
        raise ValueError("need at least one effect size and one variance per effect size")
    if np.any(~np.isfinite(yi)) or np.any(~(vi > 0)):
        raise ValueError("effect sizes must be finite and variances positive")
    res = _rma(yi, vi, method, test, pi, 1 - alpha, threshold=threshold, tol=tol, maxiter=maxiter)
    if math.isnan(res.tau2):
        raise RuntimeError(res.message)
    out = _as_dict(res)
    w = 1 / (vi + res.tau2)
    out["weights"] = 100 * w / w.sum()
    return out


def pool_proportions(events, total, method: str = "REML", transform: str = "logit",
                     alpha: float = 0.05, *, pooled_ci: str = "z", pi_method: str = "z",
                     **control) -> dict:
    """Pool single-arm proportions; the estimate, CI and PI are back-transformed to 0-1.

    ``method`` REML, DL or PM: :func:`rma` on :func:`escalc_prop` effect sizes. ``GLMM``:
    metafor ``rma.glmm(measure="PLO")`` (:func:`analysis.rates.meta.glmm_proportions`), on
    the logit scale only, 0/n and n/n studies uncorrected; it has no study weights
    (``weights`` NaN, as R meta's ``w.random``). ``pooled_ci``: ``z`` or ``hartung-knapp``
    (metafor ``test="knha"``; for the GLMM, which has no Knapp-Hartung variance,
    ``rma.glmm(test="t")``: t with k - 1 df, as R meta passes ``hakn``). ``pi_method``: ``z``
    (metafor's ``predict``, the default here) or ``t`` (k - 1 df, R meta's default). The
    GLMM's ``q`` is metafor's likelihood-ratio ``QE.LRT`` (``q_wald``: ``QE.Wld``, which R meta
    prints as Q and which collapses towards 0 with 0/n or n/n studies).

    Same keys as :func:`rma` (``tau2`` on the transformed scale, ``se`` and ``test`` as used)
    plus ``total`` (sum of n) and ``estimate_transformed``. A GLMM that does not converge is
    returned as it is, with ``converged`` False and ``message``; see
    :func:`analysis.rates.pool.fit_pool` for the fallback.
    """
    expect_one_of("pool_method", method, POOL_METHODS)
    expect_one_of("transform", transform, TRANSFORMS)
    expect_one_of("pooled_ci", pooled_ci, POOLED_CI)
    expect_one_of("pi_method", pi_method, PI_METHODS)
    events = np.asarray(events, dtype=float)
    total = np.asarray(total, dtype=float)
    if np.any(total <= 0) or np.any(events < 0) or np.any(events > total):
        raise ValueError("need 0 <= events <= total and total > 0")
    if method == "GLMM":
        if transform != "logit":
            raise ValueError(f"transform: the GLMM pools on the logit scale; expected logit with pool_method "
                             f"GLMM, found {transform!r} (use REML, DL or PM for {transform})")
        fit = glmm_proportions(events, total, 1 - alpha, "t" if pooled_ci == "hartung-knapp" else "z", pi_method)
        res = _as_dict(fit)
        # the heterogeneity test is the likelihood-ratio test (QE.LRT); the Wald test (QE.Wld,
        # R meta's Q) collapses towards 0 with 0/n or n/n studies; it is kept as q_wald
        res.update(q=fit.q_lrt, q_p_value=fit.q_lrt_p_value, q_wald=fit.q, q_wald_p_value=fit.q_p_value)
        res["weights"] = np.full(len(events), np.nan)
    else:
        yi, vi = escalc_prop(events, total, transform)
        res = rma(yi, vi, method, alpha, test="knha" if pooled_ci == "hartung-knapp" else "z",
                  pi=pi_method, **control)
    res["estimate_transformed"] = res["estimate"]
    for key in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper"):
        res[key] = float(back_transform(res[key], transform, total))
    res["total"] = int(total.sum())
    return res
