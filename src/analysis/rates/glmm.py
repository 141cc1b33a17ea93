"""Random-intercept logistic model for single proportions, as lme4 fits it for metafor.

metafor's ``rma.glmm(measure="PLO", xi, ni, method="ML")`` calls
``lme4::glmer(cbind(xi, ni - xi) ~ 1 + (1 | study), family = binomial, nAGQ = 7)``. This
module evaluates lme4's objective step by step and minimises it to convergence.

* **Model.** ``logit(p_i) = beta + theta * u_i``, ``u_i ~ N(0, 1)``; ``tau2 = theta**2``.
* **Conditional modes (PIRLS).** For given ``theta`` (and ``beta``) lme4 finds the modes
  of ``u`` by penalised iteratively reweighted least squares: each iteration takes the
  IRLS weights ``W = n mu (1 - mu)`` and working response at the current linear
  predictor and solves the penalised least-squares problem; it stops when the penalised
  deviance ``sum(dev.resids) + sum(u**2)`` changes by less than ``tolPwrss = 1e-7``
  (relative; at least two iterations) and keeps ``L**2 = 1 + theta**2 W`` from the
  *start* of the last iteration. Every evaluation starts from the same stored linear
  predictor ``lp0``. The modes are therefore accurate to about 1e-7 only, and lme4's
  deviance differs from the one at the exact modes by up to ~5e-7; at large tau2, where
  the likelihood is flat, that moves tau2 by up to ~1e-4. This module repeats those
  iterations, start and stopping rule included (``tol_pwrss``; pass e.g. 1e-15 for the
  exact modes), and so reproduces lme4's deviance to ~1e-13.
* **Two stages, as glmer.** Stage 1 (``nAGQ = 0``): ``beta`` and ``u`` both in PIRLS,
  ``theta`` minimising ``sum(log L**2) + sum(u**2) + sum(dev.resids)``, every PIRLS run
  starting from the predictor of a first run at ``theta = 1`` from glm's starting values
  ``mu = (x + 1/2)/(n + 1)``. Its final linear predictor is ``lp0`` of stage 2.
  Stage 2 (``nAGQ = 7``), per study ``i`` with ``h_i(u) = d_i(beta + theta*u) + u**2``
  (``d_i`` the binomial deviance residual), the PIRLS mode ``u_i`` and ``s_i = 1/L_i``:
  ``sum_i [h_i(u_i) + log(L_i**2) - 2 log(sum_k w_k exp(-(h_i(u_i + z_k s_i) - h_i(u_i))/2 + z_k**2/2))]``
  with the 7-point Gauss-Hermite rule for the standard normal (lme4's ``GHrule(7)``:
  ``numpy.polynomial.hermite_e.hermegauss`` with the weights divided by ``sqrt(2*pi)``),
  minimised over ``(theta, beta)``. lme4 stops its Nelder-Mead when the deviance changes
  by less than 1e-5, about 1e-5 from the optimum; here scipy's Nelder-Mead runs to
  convergence (the deviance is even in ``theta``, so no bound is needed) and the result
  equals a tightly converged glmer fit (``tests/r/pooling/glmm.csv``, ``fit = "tight"``).
* **Standard error** as lme4's ``vcov`` for a GLMM: ``2 * solve(H)[beta, beta]``, ``H``
  the Hessian of the deviance in ``(theta, beta)`` by lme4's central differences
  (``deriv12``, step 1e-4). At ``theta = 0`` the cross term vanishes (the deviance is
  even in ``theta``) and the standard error is ``sqrt(2 / H[beta, beta])``.
* **Heterogeneity test** as ``rma.glmm``'s ``QE.Wld``: the Wald test that the study
  coefficients of the saturated logistic model (R ``glm`` with a study factor) are equal.
  It is replicated with R's IRLS iterations (start ``mu = (x + 1/2)/(n + 1)``, stop when
  the relative deviance change is below 1e-8, at most 25 iterations), because for 0/n
  and n/n studies the coefficients diverge and the statistic depends on where glm stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import optimize
from scipy.special import expit

_Z, _W = hermegauss(7)
_W = _W / math.sqrt(2 * math.pi)
#: lme4's deriv12 step
DELTA = 1e-4
#: lme4's glmerControl(tolPwrss)
TOL_PWRSS = 1e-7
#: theta or |beta| beyond this is a fit running off to infinity (all 0/n, separated data)
DIVERGED = 15.0


@dataclass(frozen=True)
class GlmmFit:
    """Raw numbers of a fit (logit scale): ``beta``, its ``se``, ``tau2``, the minimised
    ``deviance``, ``converged`` and a ``message`` ("" when all is well)."""

    beta: float
    se: float
    tau2: float
    deviance: float
    converged: bool
    message: str


def dev_resid(x, n, eta):
    """R ``binomial()$dev.resids`` for ``x`` events of ``n`` at logit ``eta`` (stable in the tails)."""
    log_mu = -np.logaddexp(0.0, -eta)
    log_1mmu = -np.logaddexp(0.0, eta)
    m = n - x
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(x > 0, x * (np.log(x / n) - log_mu), 0.0)
        b = np.where(m > 0, m * (np.log(m / n) - log_1mmu), 0.0)
    return 2 * (a + b)


def pirls(theta, x, n, eta, beta=None, tol=TOL_PWRSS, maxit=100):
    """lme4's ``pwrssUpdate`` from the linear predictor ``eta``: ``(u, beta, w)``.

    With ``beta=None`` the intercept is updated too (stage 1), else it is fixed. ``w`` are
    the IRLS weights at the start of the last iteration (those in lme4's factor ``L``).
    """
    old, u_old, b_old = np.finfo(float).max, None, beta
    for _ in range(maxit):
        mu = expit(eta)
        w = n * mu * (1 - mu)
        z = eta + (x - n * mu) / w  # working response (offset 0 in both stages)
        a = w / (1 + theta ** 2 * w)
        b = float(np.sum(a * z) / np.sum(a)) if beta is None else beta
        u = theta * w * (z - b) / (1 + theta ** 2 * w)
        eta = b + theta * u
        pdev = float(np.sum(dev_resid(x, n, eta)) + np.sum(u ** 2))
        if abs(old - pdev) < tol * abs(pdev):
            return u, b, w
        for _ in range(20):  # lme4's step halving (the factor L is not updated)
            if pdev <= old:
                break
            u, b = (u_old + u) / 2, (b_old + b) / 2
            eta = b + theta * u
            pdev = float(np.sum(dev_resid(x, n, eta)) + np.sum(u ** 2))
        old, u_old, b_old = pdev, u, b
    raise RuntimeError("PIRLS did not converge")


def _stage1(theta, x, n, eta0, tol):
    """glmer's nAGQ = 0 objective (up to a constant) and the final linear predictor."""
    u, b, w = pirls(theta, x, n, eta0, None, tol)
    eta = b + theta * u
    dev = float(np.sum(np.log1p(theta ** 2 * w)) + np.sum(u ** 2) + np.sum(dev_resid(x, n, eta)))
    return dev, eta


def start_predictor(x, n, tol=TOL_PWRSS):
    """``lp0`` of glmer's stage 2: the stage-1 (nAGQ = 0) fit's linear predictor."""
    mu = (x + 0.5) / (n + 1)
    _, eta_init = _stage1(1.0, x, n, np.log(mu / (1 - mu)), tol)  # mkGlmerDevfun at theta = 1
    grid = [0.0, 0.1, 0.3, 0.6, 1.0, 1.5, 2.5, 4.0, 7.0, 12.0]
    vals = [_stage1(t, x, n, eta_init, tol)[0] for t in grid]
    i = int(np.argmin(vals))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = optimize.minimize_scalar(lambda t: _stage1(t, x, n, eta_init, tol)[0], bounds=(lo, hi),
                                   method="bounded", options={"xatol": 1e-9})
    theta = res.x if res.fun < vals[i] else grid[i]
    return _stage1(theta, x, n, eta_init, tol)[1]


def deviance(theta, beta, x, n, lp0=None, tol=TOL_PWRSS):
    """lme4's nAGQ = 7 deviance at ``(theta, beta)`` (see the module docstring)."""
    if lp0 is None:
        lp0 = start_predictor(x, n, tol)
    u, _, w = pirls(theta, x, n, lp0, beta, tol)
    eta = beta + theta * u
    h0 = dev_resid(x, n, eta) + u ** 2
    l2 = 1 + theta ** 2 * w
    s = 1 / np.sqrt(l2)
    uk = u[:, None] + _Z[None, :] * s[:, None]
    hk = dev_resid(x[:, None], n[:, None], beta + theta * uk) + uk ** 2
    mult = np.sum(_W * np.exp(-0.5 * (hk - h0[:, None]) + _Z ** 2 / 2), axis=1)
    return float(np.sum(h0 + np.log(l2) - 2 * np.log(mult)))


def _derivs(fun, p, delta=DELTA):
    """Gradient and Hessian by central differences, as lme4's ``deriv12``."""
    p = np.asarray(p, dtype=float)
    f0 = fun(p)
    k = len(p)
    g, hess = np.zeros(k), np.zeros((k, k))
    e = np.eye(k) * delta
    for j in range(k):
        fa, fs = fun(p + e[j]), fun(p - e[j])
        hess[j, j] = (fa - 2 * f0 + fs) / delta ** 2
        g[j] = (fa - fs) / (2 * delta)
        for i in range(j):
            hess[i, j] = hess[j, i] = (fun(p + e[i] + e[j]) - fun(p + e[i] - e[j])
                                       - fun(p - e[i] + e[j]) + fun(p - e[i] - e[j])) / (4 * delta ** 2)
    return g, hess


def _minimise(fun, start, step=0.25):
    simplex = [start, (start[0] + step, start[1]), (start[0], start[1] + step)]
    res = optimize.minimize(fun, start, method="Nelder-Mead",
                            options={"initial_simplex": simplex, "xatol": 1e-10, "fatol": 1e-13,
                                     "maxiter": 4000, "maxfev": 8000})
    return res, np.array([abs(res.x[0]), res.x[1]])


def _curvature(fun, p):
    """``(variance of beta or NaN, gradient, messages)`` at ``p`` by lme4's finite differences."""
    g, hess = _derivs(fun, p)
    messages = []
    if p[0] == 0.0:  # the deviance is even in theta: no cross term at the boundary
        hess[0, 1] = hess[1, 0] = g[0] = 0.0
    eig = np.linalg.eigvalsh(hess)
    if (p[0] == 0.0 and hess[1, 1] > 0) or (p[0] > 0 and np.all(eig > 0)):
        var_beta = 2 / hess[1, 1] if p[0] == 0.0 else 2 * float(np.linalg.inv(hess)[1, 1])
    else:
        var_beta = math.nan
        messages.append("Hessian of the deviance not positive definite: standard error unavailable")
    if np.max(np.abs(g)) > 1e-3:
        messages.append(f"gradient not zero at the optimum (max |gradient| {np.max(np.abs(g)):.2g})")
    return var_beta, g, messages


#: PIRLS tolerance of the deviance at (nearly) exact conditional modes, see :func:`fit_glmm`
TOL_EXACT = 1e-10


def fit_glmm(events, totals, tol_pwrss: float = TOL_PWRSS) -> GlmmFit:
    """Maximum-likelihood fit of the random-intercept logistic model (see module doc).

    lme4's deviance stops PIRLS at ``tol_pwrss``, so it has small steps where PIRLS takes one
    iteration fewer; rarely (a flat likelihood at large tau2, e.g. an n/n study among very
    different ones) the minimiser settles in such a pocket, up to 1e-5 below the smooth
    deviance, where the finite-difference gradient and Hessian are meaningless. When the
    gradient or the Hessian check fails there, the fit is repeated on the deviance at
    (nearly) exact modes (PIRLS to ``TOL_EXACT``), which has no pockets, and checked again.
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    lp0 = start_predictor(x, n, tol_pwrss)

    def fun(p):
        return deviance(p[0], p[1], x, n, lp0, tol_pwrss)

    beta0 = math.log((x.sum() + 0.5) / (n.sum() - x.sum() + 0.5))
    start = min([(t, beta0) for t in (0.0, 0.3, 1.0, 2.5)], key=fun)
    res, p = _minimise(fun, start)
    messages = [] if res.success else [f"optimiser: {res.message}"]
    if p[0] > DIVERGED or abs(p[1]) > DIVERGED:
        return GlmmFit(float(p[1]), math.nan, float(p[0] ** 2), fun(p), False,
                       "the fit diverges (tau or the logit runs off to infinity); "
                       "no finite maximum-likelihood estimate")
    if p[0] < 1e-5 and fun([0.0, p[1]]) <= fun(p) + 1e-12:  # lme4's check.boundary
        p[0] = 0.0
    var_beta, g, problems = _curvature(fun, p)
    if problems and p[0] > 0 and tol_pwrss > TOL_EXACT:
        def smooth(q):
            return deviance(q[0], q[1], x, n, lp0, TOL_EXACT)

        res2, p2 = _minimise(smooth, tuple(p), step=0.05)
        var2, g2, problems2 = _curvature(smooth, p2)
        if not problems2:
            res, p, var_beta, g, problems = res2, p2, var2, g2, []
            messages = [] if res.success else [f"optimiser: {res.message}"]
    if p[0] == 0.0:
        messages.append("tau2 = 0 at the boundary (no heterogeneity beyond binomial sampling)")
    messages.extend(problems)
    converged = bool(res.success) and not problems
    return GlmmFit(float(p[1]), math.sqrt(var_beta) if var_beta > 0 else math.nan,
                   float(p[0] ** 2), fun(p), converged, "; ".join(messages))


def _r_linkinv(eta):
    """R's ``binomial()$linkinv`` (C ``logit_linkinv``: clamped beyond |eta| = 30)."""
    eps = np.finfo(float).eps
    t = np.where(eta < -30, eps, np.where(eta > 30, 1 / eps, np.exp(np.clip(eta, -30, 30))))
    return t / (1 + t)


def _r_mu_eta(eta):
    """R's ``binomial()$mu.eta`` (C ``logit_mu_eta``)."""
    e = np.exp(np.clip(eta, -30, 30))
    return np.where(np.abs(eta) > 30, np.finfo(float).eps, e / (1 + e) ** 2)


def _r_dev(y, mu, wt):
    """R's ``binomial()$dev.resids`` summed, from the mean ``mu`` as R computes it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(y > 0, y * np.log(y / mu), 0.0)
        b = np.where(y < 1, (1 - y) * np.log((1 - y) / (1 - mu)), 0.0)
    return float(np.sum(2 * wt * (a + b)))


def saturated_wald_q(events, totals, epsilon: float = 1e-8, maxit: int = 25) -> float:
    """``rma.glmm``'s ``QE.Wld``: Wald test of equal logits in the saturated ``glm`` fit.

    The saturated model fits every study exactly, so R's IRLS update is ``eta <- z`` per
    study; the statistic is ``sum(w * (eta - weighted.mean(eta, w))**2)`` with the IRLS
    weights ``w = n * mu.eta**2 / (mu (1 - mu))`` of glm's last iteration (those its
    ``vcov`` uses). R's clamped link functions and stopping rule are used, so the
    statistic equals R's also when 0/n or n/n studies make the coefficients diverge.
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    y = x / n
    mu = (n * y + 0.5) / (n + 1)
    eta = np.log(mu / (1 - mu))
    mu = _r_linkinv(eta)
    dev_old = _r_dev(y, mu, n)
    w = n * mu * (1 - mu)
    for _ in range(maxit):
        me = _r_mu_eta(eta)
        w = n * me ** 2 / (mu * (1 - mu))
        eta = eta + (y - mu) / me
        mu = _r_linkinv(eta)
        dev = _r_dev(y, mu, n)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            break
        dev_old = dev
    q = float(np.sum(w * (eta - np.sum(w * eta) / np.sum(w)) ** 2))
    return max(q, 0.0)


def common_effect_deviance(events, totals) -> float:
    """``rma.glmm``'s ``QE.LRT``: the deviance of the common-effect logistic model (one
    proportion, ``sum(x) / sum(n)``) against the saturated one, which fits every study exactly;
    chi2 with k - 1 df. Finite with 0/n and n/n studies, where the Wald test is not."""
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    p = x.sum() / n.sum()
    return max(float(np.sum(dev_resid(x, n, np.log(p / (1 - p))))), 0.0)
