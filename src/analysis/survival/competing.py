"""Competing risks: Aalen-Johansen cumulative incidence and Gray's test, equal to R.

* :func:`cumulative_incidence` is R's ``survfit(Surv(time, factor(cause)) ~ 1)`` for
  competing risks (survival 3.5-3, ``survfitCI``): the Aalen-Johansen estimate of each
  cause's cumulative incidence (``pstate``), its infinitesimal-jackknife standard error
  (``std.err``) and pointwise confidence limits (``lower``/``upper``), computed exactly
  with tied times (no jitter).
* :func:`cumulative_incidence_by` does the same per group of a DataFrame.
* :func:`gray_test` is Gray's (1988) K-sample test of ``cmprsk::cuminc(...)$Tests``
  (the ``crstm`` Fortran routine ported line by line, ``rho = 0`` by default).

Input conventions (all functions): ``time`` in the caller's unit, finite and >= 0;
``cause`` is the cause of the event at ``time`` as text; ``""``, ``None`` or NaN mean
censored. Causes, groups and strata are reported in sorted (code-point) order: R's
default factor levels, for labels that R's locale collation orders the same way (it may
put e.g. "b" before "C"; pass ``causes`` to fix the order).

In :mod:`analysis.survival` above :mod:`.km`: the confidence limits are
:func:`analysis.survival.km.confidence_limits` (with ``logse=False``: the standard error is
of the cumulative incidence itself), the input checks and R's ``timefix`` are
:mod:`.inputs`. Fixtures: ``tests/r/km_more_reference.R`` (survival 3.5-3, cmprsk 2.2-11).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from analysis.survival.inputs import (aeq_times, check_causes, check_labels, check_same_length,
                                      check_times)
from analysis.survival.km import confidence_limits

CIF_COLUMNS = ["cause", "time", "n_at_risk", "n_event", "cif", "std_err", "ci_lower", "ci_upper"]
GRAY_COLUMNS = ["cause", "statistic", "df", "p_value"]
CONF_TYPES = ("log", "log-log", "plain")
"""Confidence-interval types of the cumulative incidence (R's multi-state default first)."""


def _check_level(level: float, conf_type: str, what: str) -> None:
    if conf_type not in CONF_TYPES:
        raise ValueError(f"{what}: conf_type must be one of {', '.join(CONF_TYPES)}, "
                         f"found {conf_type!r}")
    if not (0 < float(level) < 1):
        raise ValueError(f"{what}: level must be between 0 and 1, found {level!r}")


# --------------------------------------------------------------------------- Aalen-Johansen


def _aalen_johansen(t: np.ndarray, c: np.ndarray, causes: list[str]):
    """Aalen-Johansen estimate and infinitesimal-jackknife standard error of one group.

    Mirrors survival's ``survfitci`` C routine for one observation per subject, all
    starting in the initial state "(s0)" (state 0 here; cause k is state k). At each
    distinct time t (event or censoring), with Y at risk (time >= t) and d_k events of
    cause k, the transition matrix H has H[0,0] = 1 - d/Y, H[0,k] = d_k/Y; p <- p H.
    The influence matrix U (one row per subject) follows U <- U H, then each subject at
    risk gets - H[0,:] p0(t-)/Y + e_{state after t} p0(t-)/Y; std.err = sqrt(colSums U^2).

    Subjects still at risk share one row of U (same history), and the rows of those who
    have left evolve only by ``U H``; so instead of the n x (K+1) matrix this keeps that
    common row, and the subjects who have left are kept as a triangular factor R with
    R'R = U'U of their rows (R <- R H; leavers are appended as rows scaled by sqrt(count)
    and R re-triangularised by QR). The variances are column sums of squares of R, as in
    R's own sum over subjects (no cancellation): exact, O(times x K^2) instead of
    O(n x times x K); about 0.1 ms per distinct time (a Python loop over times).
    """
    k = len(causes) + 1
    code = np.zeros(len(t), dtype=np.int64)
    for j, name in enumerate(causes, start=1):
        code[c == name] = j
    order = np.argsort(t, kind="stable")
    ts, cs = t[order], code[order]
    starts = np.flatnonzero(np.concatenate([[True], ts[1:] != ts[:-1]]))
    uniq = ts[starts]
    m = len(uniq)
    block = np.repeat(np.arange(m), np.diff(np.append(starts, len(ts))))
    counts = np.zeros((m, k), dtype=np.int64)  # column 0: censored, k: cause k
    np.add.at(counts, (block, cs), 1)
    n_risk = len(ts) - starts

    p = np.zeros(k)
    p[0] = 1.0
    u_risk = np.zeros(k)  # common influence row of the subjects at risk
    # rows whose R'R = U'U of the subjects no longer at risk: a buffer of `used` rows,
    # re-triangularised by QR (same R'R) when full
    cap = 32 * k
    left = np.zeros((cap + k + 1, k))
    used = 0
    pstate = np.empty((m, k))
    var = np.empty((m, k))
    for i in range(m):
        y = float(n_risk[i])
        d_k = counts[i, 1:]
        d = int(d_k.sum())
        cens = int(counts[i, 0])
        if used > cap:
            r = np.linalg.qr(left[:used], mode="r")
            used = r.shape[0]
            left[:used] = r
        if d > 0:
            h_k = d_k / y  # H[0, k]; H[0, 0] = 1 - d/y; other rows of H: identity
            h_0 = 1 - d / y
            a = p[0] / y
            # U <- U H for the subjects who have left
            lv = left[:used]
            lv[:, 1:] += lv[:, :1] * h_k
            lv[:, 0] *= h_0
            # the subjects at risk: u H - a H[0, :] + a e_(state after t)
            base = np.empty(k)
            base[1:] = u_risk[1:] + u_risk[0] * h_k - a * h_k
            base[0] = u_risk[0] * h_0 - a * h_0
            stay = base.copy()
            stay[0] += a
            # those leaving now: the subjects with an event, and those censored at t
            for j in np.flatnonzero(d_k):
                row = left[used]
                row[:] = base
                row[j + 1] += a
                row *= math.sqrt(d_k[j])
                used += 1
            if cens:
                left[used] = math.sqrt(cens) * stay
                used += 1
            var[i] = (left[:used] ** 2).sum(axis=0) + (y - d - cens) * stay ** 2
            u_risk = stay
            p[1:] += p[0] * h_k
            p[0] *= h_0
            pstate[i] = p
            continue
        var[i] = (left[:used] ** 2).sum(axis=0) + y * u_risk ** 2
        pstate[i] = p
        if cens:
            left[used] = math.sqrt(cens) * u_risk
            used += 1
    return uniq, n_risk, counts, pstate, np.sqrt(var)


def cumulative_incidence(time, cause, level: float = 0.95, conf_type: str = "log",
                         groups=None, causes=None, timefix: bool = True) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of each cause, as R's
    ``survfit(Surv(time, factor(cause)) ~ 1)`` (multi-state ``pstate``, survival 3.5-3).

    ``time``: follow-up in the caller's unit (finite, >= 0); ``cause``: the cause of the
    event at ``time`` as text, ``""``/``None``/NaN for censored. Tied times are handled
    exactly as ``survfit`` does, without jitter: at each distinct time all events of all
    causes count against the subjects at risk (time >= t), then those censored at t leave
    (events before censorings). Works with a single cause (then ``cif`` = 1 - Kaplan-Meier).

    Returns one row per cause and distinct time (event or censoring, like ``survfit``'s
    rows): ``cause``, ``time``, ``n_at_risk`` (still event-free and followed, time >= t),
    ``n_event`` (events of this cause at t), ``cif``, ``std_err`` (``survfit``'s
    ``std.err``: infinitesimal-jackknife standard error of the cumulative incidence
    itself, not of its log), ``ci_lower``/``ci_upper``.

    Confidence limits are ``survfit``'s for multi-state curves, whose default
    ``conf.type`` is ``"log"`` (checked in R 4.2.2 / survival 3.5-3; the default here too):
    ``cif * exp(±z std_err / cif)``, upper limit capped at 1, both NaN where ``cif`` = 0.
    ``"log-log"`` and ``"plain"`` are also available (``survfit_confint`` with
    ``logse = FALSE``).

    ``groups`` (optional, one label per row) gives one curve per group, in sorted label
    order, with a leading ``group`` column. ``causes`` (optional) lists the causes to
    report, in that order, like the levels of R's factor: a listed cause that never occurs
    has ``cif`` 0 (R keeps such a level as a state too); by default the causes that occur,
    in sorted order. With no cause at all (everyone censored and ``causes`` not given) the
    table is empty (R's ``survfit`` stops with an error there).

    ``timefix`` (default True, as ``survfit``): times that differ by less than
    sqrt(machine eps) are treated as tied (:func:`aeq_times`, R's ``aeqSurv``; over all
    groups at once, as R does before splitting by group).
    """
    what = "cumulative_incidence"
    t = check_times(time, what)
    c = check_causes(cause)
    check_same_length(what, len(t), cause=c)
    _check_level(level, conf_type, what)
    if timefix:
        (t,) = aeq_times(t, t)
    if causes is None:
        causes = sorted(set(c.tolist()) - {""})
    else:
        causes = [str(x) for x in causes]
        if "" in causes or len(set(causes)) != len(causes):
            raise ValueError(f"{what}: causes must be distinct, non-empty labels")
        unknown = sorted(set(c.tolist()) - {""} - set(causes))
        if unknown:
            raise ValueError(f"{what}: cause {unknown[0]!r} occurs but is not in causes")
    if groups is None:
        return _cif_table(t, c, causes, float(level), conf_type)
    g = check_labels(groups, what, "groups")
    check_same_length(what, len(t), groups=g)
    frames = []
    for label in sorted(set(g.tolist())):
        idx = g == label
        frames.append(_cif_table(t[idx], c[idx], causes, float(level), conf_type).assign(group=label))
    out = pd.concat(frames, ignore_index=True)
    return out[["group"] + CIF_COLUMNS]


def _cif_table(t, c, causes, level, conf_type) -> pd.DataFrame:
    if not causes:
        return pd.DataFrame({col: pd.Series(dtype=object if col == "cause" else float)
                             for col in CIF_COLUMNS})
    uniq, n_risk, counts, pstate, se = _aalen_johansen(t, c, causes)
    frames = []
    for j, name in enumerate(causes, start=1):
        lo, hi = confidence_limits(pstate[:, j], se[:, j], conf_type, 1 - level, logse=False)
        frames.append(pd.DataFrame({
            "cause": name, "time": uniq, "n_at_risk": n_risk.astype(np.int64),
            "n_event": counts[:, j].astype(np.int64), "cif": pstate[:, j],
            "std_err": se[:, j], "ci_lower": lo, "ci_upper": hi,
        }))
    return pd.concat(frames, ignore_index=True)[CIF_COLUMNS]


def cumulative_incidence_by(df: pd.DataFrame, group_col, time_col: str = "time",
                            cause_col: str = "cause", level: float = 0.95,
                            conf_type: str = "log", causes=None,
                            timefix: bool = True) -> pd.DataFrame:
    """:func:`cumulative_incidence` of ``df[time_col]``/``df[cause_col]`` per value of
    ``df[group_col]`` (``None`` for one curve, group "all")."""
    for col in (time_col, cause_col) + ((group_col,) if group_col is not None else ()):
        if col not in df.columns:
            raise ValueError(f"cumulative_incidence_by: no column {col!r}")
    groups = (np.full(len(df), "all", dtype=object) if group_col is None
              else df[group_col].to_numpy(dtype=object))
    return cumulative_incidence(df[time_col].to_numpy(), df[cause_col].to_numpy(dtype=object),
                                level=level, conf_type=conf_type, groups=groups, causes=causes,
                                timefix=timefix)


# --------------------------------------------------------------------------- Gray's test


def _crst(y, m, ig, ng: int, rho: float):
    """Score and variance of Gray's test in one stratum: cmprsk's ``crst`` Fortran routine.

    ``y`` sorted times; ``m`` 0 censored, 1 the cause of interest, 2 another cause;
    ``ig`` group 0..ng-1. Returns s (ng-1 scores) and v ((ng-1) x (ng-1) variance).
    Variable names follow the Fortran (paper notation: tr = sum_r h_r, tq = sum_r R_r).
    """
    ng1 = ng - 1
    rs = np.bincount(ig, minlength=ng).astype(float)  # risk set size per group
    s = np.zeros(ng1)
    v = np.zeros((ng1, ng1))
    f1m = np.zeros(ng)
    f1 = np.zeros(ng)
    skmm = np.ones(ng)
    skm = np.ones(ng)
    v3 = np.zeros(ng)
    v2 = np.zeros((ng1, ng))
    c = np.zeros((ng, ng))
    fm = 0.0
    f = 0.0
    n = len(y)
    starts = np.flatnonzero(np.concatenate([[True], y[1:] != y[:-1]]))
    ends = np.append(starts[1:], n)
    for ll, lu in zip(starts, ends):
        d = np.zeros((3, ng))
        np.add.at(d, (m[ll:lu], ig[ll:lu]), 1)
        nd1 = d[1].sum()
        nd2 = d[2].sum()
        if nd1 > 0 or nd2 > 0:
            tr = 0.0
            tq = 0.0
            for i in range(ng):
                if rs[i] <= 0:
                    continue
                td = d[1, i] + d[2, i]
                skm[i] = skmm[i] * (rs[i] - td) / rs[i]
                f1[i] = f1m[i] + (skmm[i] * d[1, i]) / rs[i]
                tr = tr + rs[i] / skmm[i]
                tq = tq + rs[i] * (1 - f1m[i]) / skmm[i]
            f = fm + nd1 / tr
            fb = (1 - fm) ** rho
            a = np.zeros((ng, ng))
            for i in range(ng):
                if rs[i] <= 0:
                    continue
                t1 = rs[i] / skmm[i]
                a[i, i] = fb * t1 * (1 - t1 / tr)
                c[i, i] = c[i, i] + a[i, i] * nd1 / (tr * (1 - fm))
                for j in range(i + 1, ng):
                    if rs[j] <= 0:
                        continue
                    a[i, j] = -fb * t1 * rs[j] / (skmm[j] * tr)
                    c[i, j] = c[i, j] + a[i, j] * nd1 / (tr * (1 - fm))
            for i in range(1, ng):
                for j in range(i):
                    a[i, j] = a[j, i]
                    c[i, j] = c[j, i]
            for i in range(ng1):
                if rs[i] <= 0:
                    continue
                s[i] = s[i] + fb * (d[1, i] - nd1 * rs[i] * (1 - f1m[i]) / (skmm[i] * tq))
            if nd1 > 0:
                for k in range(ng):
                    if rs[k] <= 0:
                        continue
                    t4 = 1.0
                    if skm[k] > 0:
                        t4 = 1 - (1 - f) / skm[k]
                    t5 = 1.0
                    if nd1 > 1:
                        t5 = 1 - (nd1 - 1) / (tr * skmm[k] - 1)
                    t3 = t5 * skmm[k] * nd1 / (tr * rs[k])
                    v3[k] = v3[k] + t4 * t4 * t3
                    for i in range(ng1):
                        t1 = a[i, k] - t4 * c[i, k]
                        v2[i, k] = v2[i, k] + t1 * t4 * t3
                        for j in range(i + 1):
                            t2 = a[j, k] - t4 * c[j, k]
                            v[i, j] = v[i, j] + t1 * t2 * t3
            if nd2 > 0:
                for k in range(ng):
                    if skm[k] <= 0 or d[2, k] <= 0:
                        continue
                    t4 = (1 - f) / skm[k]
                    t5 = 1.0
                    if d[2, k] > 1:
                        t5 = 1 - (d[2, k] - 1) / (rs[k] - 1)
                    t3 = t5 * ((skmm[k] ** 2) * d[2, k]) / (rs[k] ** 2)
                    v3[k] = v3[k] + t4 * t4 * t3
                    for i in range(ng1):
                        t1 = t4 * c[i, k]
                        v2[i, k] = v2[i, k] - t1 * t4 * t3
                        for j in range(i + 1):
                            t2 = t4 * c[j, k]
                            v[i, j] = v[i, j] + t1 * t2 * t3
        if lu >= n:
            break
        np.subtract.at(rs, ig[ll:lu], 1)
        fm = f
        f1m = f1.copy()
        skmm = skm.copy()
    for i in range(ng1):
        for j in range(i + 1):
            for k in range(ng):
                v[i, j] = v[i, j] + c[i, k] * c[j, k] * v3[k]
                v[i, j] = v[i, j] + c[i, k] * v2[j, k]
                v[i, j] = v[i, j] + c[j, k] * v2[i, k]
    v = np.tril(v) + np.tril(v, -1).T
    return s, v


def gray_test(time, cause, group, strata=None, rho: float = 0.0) -> pd.DataFrame:
    """Gray's (1988) K-sample test of equal cumulative incidence across groups, for each
    cause: ``cmprsk::cuminc(time, cause, group, strata, rho)$Tests``.

    Port of cmprsk's ``crstm``/``crst`` Fortran: per stratum the score ``s`` (first K-1
    groups) and its variance ``V`` are summed; statistic = s' V^-1 s, chi-squared on
    K - 1 degrees of freedom. ``cause`` as in :func:`cumulative_incidence` (``""``,
    ``None``, NaN = censored; times are used as given: cmprsk has no ``timefix``);
    causes are those that occur, in sorted order; groups
    (and strata) in sorted label order, groups without observations are dropped (as
    ``cuminc`` does). A cause that occurs in one group only is tested as usual.

    Returns ``cause``, ``statistic``, ``df``, ``p_value`` (upper chi-squared tail; cmprsk
    prints ``1 - pchisq``, equal to within 1e-16). Where V is singular cmprsk reports a
    statistic of -1 (and p = 1); here statistic and p_value are NaN. Singularity is
    judged as R's ``qr`` (LINPACK, tolerance 1e-7) would, approximately: relative to the
    largest pivot of a column-pivoted QR.
    """
    what = "gray_test"
    t = check_times(time, what)
    c = check_causes(cause)
    g = check_labels(group, what, "group")
    check_same_length(what, len(t), cause=c, group=g)
    st = np.zeros(len(t), dtype=np.int64)
    if strata is not None:
        s_lab = check_labels(strata, what, "strata")
        check_same_length(what, len(t), strata=s_lab)
        _, st = np.unique(s_lab, return_inverse=True)
    glabels, gi = np.unique(g, return_inverse=True)
    ng = len(glabels)
    if ng < 2:
        raise ValueError(f"{what}: needs at least two groups, found {ng}")
    rho = float(rho)
    order = np.argsort(t, kind="stable")
    t, c, gi, st = t[order], c[order], gi[order], st[order]
    rows = []
    for name in sorted(set(c.tolist()) - {""}):
        m = np.where(c == "", 0, np.where(c == name, 1, 2))
        s = np.zeros(ng - 1)
        v = np.zeros((ng - 1, ng - 1))
        for k in np.unique(st):
            idx = st == k
            sk, vk = _crst(t[idx], m[idx], gi[idx], ng, rho)
            s += sk
            v += vk
        stat = float("nan")
        if _full_rank(v):
            stat = float(s @ np.linalg.solve(v, s))
        df = ng - 1
        rows.append({"cause": name, "statistic": stat, "df": df,
                     "p_value": float(chdtrc(df, stat)) if not math.isnan(stat) else float("nan")})
    return pd.DataFrame(rows, columns=GRAY_COLUMNS)


def _full_rank(v: np.ndarray, tol: float = 1e-7) -> bool:
    if not np.isfinite(v).all():
        return False
    if v.shape == (1, 1):
        return abs(v[0, 0]) > 0
    from scipy.linalg import qr

    r = qr(v, mode="r", pivoting=True)[0]
    diag = np.abs(np.diag(r))
    return bool(diag[0] > 0 and (diag >= tol * diag[0]).all())
