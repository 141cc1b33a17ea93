"""Turnbull's nonparametric estimate for interval-censored data, equal to R's
``survfit(Surv(lo, hi, type = "interval2") ~ 1)`` (survival 3.5-3, ``survfitTurnbull``).

R's algorithm is followed step by step, so that its output (which stops the EM at a
tolerance, not at the exact NPMLE) is reproduced to ~1e-12, not only to the tolerance:

1. The "jump points": every exact time, plus the midpoint of each pair "left end of an
   interval or right-censored time (`(`) / exact time (`[`)" immediately followed, in
   time order, by a right end (`]`) (ties ordered `[`, `]`, `(`).
2. A (weighted) Kaplan-Meier estimate -- :func:`analysis.survival.km.km_table` with case
   weights, the package's one estimator -- on a pseudo data set: the exact and right-censored
   observations with weight 1 and one event at each jump point whose weight is the
   expected number of interval/left-censored observations with their event there.
3. EM: the jumps of that curve redistribute each interval-censored observation over the
   jump points inside it ((lo, hi]) and each left-censored one over those <= hi; every
   5th iteration an Aitken extrapolation is tried (kept only if it raises the
   likelihood); stop when two consecutive plain EM iterations change the curve at the
   jump points by at most 5e-5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.survival.inputs import aeq_times
from analysis.survival.km import km_table

TURNBULL_COLUMNS = ["time", "survival"]


def _rsum(x: np.ndarray, axis=None) -> np.ndarray:
    """R's ``sum``: sequential, accumulated in long double, rounded to double."""
    if axis is None:
        return float(np.cumsum(x, dtype=np.longdouble)[-1]) if len(x) else 0.0
    return np.take(np.cumsum(x, axis=axis, dtype=np.longdouble), -1, axis=axis).astype(float)


def _matvec(w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``w %*% v`` as the reference BLAS computes it (sequential sum over columns)."""
    return np.cumsum(w * v[None, :], axis=1)[:, -1]


def _encode(lo, hi):
    """R's ``Surv(lo, hi, type = "interval2")`` coding: status 0 right-censored (hi
    missing/inf), 1 exact (lo == hi), 2 left-censored (lo missing/-inf; its time is hi),
    3 interval (lo, hi]."""
    what = "turnbull"
    try:
        lo = np.asarray(lo, dtype=float).reshape(-1)
        hi = np.asarray(hi, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: lo and hi must be numbers (NaN/inf for open ends)") from None
    if not len(lo):
        raise ValueError(f"{what}: no observations (lo is empty)")
    if len(hi) != len(lo):
        raise ValueError(f"{what}: lo has {len(lo)} values but hi has {len(hi)}")
    lo_open = ~np.isfinite(lo)
    hi_open = ~np.isfinite(hi)
    if (lo_open & (lo > 0)).any() or (hi_open & (hi < 0)).any():
        raise ValueError(f"{what}: lo cannot be +inf and hi cannot be -inf")
    if (lo_open & hi_open).any():
        i = int(np.flatnonzero(lo_open & hi_open)[0])
        raise ValueError(f"{what}: observation {i} has neither lo nor hi (unknown time)")
    backwards = ~lo_open & ~hi_open & (lo > hi)
    if backwards.any():
        i = int(np.flatnonzero(backwards)[0])
        raise ValueError(f"{what}: observation {i} has lo > hi ({lo[i]} > {hi[i]})")
    status = np.where(lo_open, 2, np.where(hi_open, 0, np.where(lo == hi, 1, 3)))
    y1 = np.where(status == 2, hi, lo)
    y2 = np.where(status == 3, hi, 1.0)
    return y1, y2, status


def turnbull(lo, hi, tol: float = 5e-5, timefix: bool = True) -> pd.DataFrame:
    """Turnbull NPMLE of the survival curve from interval-censored data, as R's
    ``survfit(Surv(lo, hi, type = "interval2") ~ 1)``; see the module docstring.

    Each observation is an interval for its event time, in the caller's unit:

    * ``lo == hi``: exact event time;
    * ``hi`` = inf or NaN: right-censored at ``lo`` (event after ``lo``; R: NA upper);
    * ``lo`` = -inf or NaN: left-censored (event at or before ``hi``; R: NA lower);
    * otherwise interval-censored: event in ``(lo, hi]``.

    Returns ``time`` and ``survival`` with one row per time of R's fit (the exact,
    right-censored and jump times, sorted), the curve being constant between rows.
    ``tol`` is R's stopping rule (5e-5, fixed in R). ``timefix`` (default True, as
    ``survfit``) makes times closer than sqrt(machine eps) equal, as R's ``aeqSurv``
    (which also looks at the placeholder 1 that R stores as the upper time of
    non-interval observations; reproduced). R's ``n.event`` and confidence limits are
    not returned. Sums are done in R's order and precision (long double where R's
    ``sum`` uses it, on x86-64), so that R's accept/reject decisions in the EM are
    reproduced too.
    With only exact and right-censored observations R still runs the EM, giving one
    pseudo observation of total weight 1 (so not the Kaplan-Meier estimate): reproduced.
    """
    y1, y2, status = _encode(lo, hi)
    if timefix:
        y1, y2 = aeq_times(np.concatenate([y1, y2]), y1, y2)
        if ((status == 3) & (y1 == y2)).any():
            raise ValueError("turnbull: an interval has become of length 0 after merging "
                             "nearly equal times (R: 'aeqSurv exception')")
    interval = status == 3
    stat2 = np.concatenate([np.array([2, 0, 1, 2])[status], np.ones(interval.sum(), dtype=int)])
    time2 = np.concatenate([y1, y2[interval]])
    order = np.lexsort((stat2, time2))
    time2, stat2 = time2[order], stat2[order]
    pairs = (stat2[:-1] != 1) & (stat2[1:] == 1)
    jtimes = np.concatenate([time2[stat2 == 0], (0.5 * (time2[:-1] + time2[1:]))[pairs]])
    if not len(jtimes):
        raise ValueError("turnbull: no event can be placed (every observation is "
                         "right-censored); R's survfit fails here too")
    mintime = jtimes.min()
    who = (status == 2) & (y1 < mintime)
    if who.any():  # left-censored before every jump: treated as exact, as R does
        status = status.copy()
        status[who] = 1
        jtimes = np.concatenate([y1[who], jtimes])
    jtimes = np.unique(jtimes)
    njump = len(jtimes)
    real = status < 2
    split = np.flatnonzero(status > 1)
    if len(split):
        left = (status[split] == 2)[:, None]
        jt = jtimes[None, :]
        in_left = jt <= y1[split][:, None]
        in_int = (jt > y1[split][:, None]) & (jt <= y2[split][:, None])
        wtmat = np.where(left, in_left, in_int).astype(float)
        lwt = np.ones(len(split))
    else:
        wtmat = np.ones((1, njump))
        lwt = np.ones(1)
    temp_time = np.concatenate([y1[real], jtimes])
    temp_status = np.concatenate([status[real].astype(float), np.ones(njump)])
    real_wt = np.ones(int(real.sum()))

    temp = _rsum(wtmat, axis=0)
    fit_time = jtimes
    fit_surv = 1 - np.cumsum(temp) / temp.sum()
    old = fit_surv
    eps = 1.0
    it = 0
    aitken1 = jump1 = 0.0
    jump2 = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        while eps > tol:
            it += 1
            at_j = fit_surv[np.searchsorted(fit_time, jtimes)]
            jumps = -np.diff(np.concatenate([[1.0], at_j]))
            aitken2 = aitken1
            aitken1 = jumps - jump1
            jsave = jumps
            if it % 5 == 0:
                oldlik = _rsum(np.log(_matvec(wtmat, jumps)))
                jumps = jump2 - aitken2 ** 2 / (aitken1 - aitken2)
                bad = (jumps <= 0) | (jumps >= 1) | np.isnan(jumps)
                jumps = np.where(bad, jsave, jumps)
                newlik = _rsum(np.log(_matvec(wtmat, jumps)))
                if newlik < oldlik:
                    jumps = jsave
            jump2 = jump1
            jump1 = jsave
            wt2 = wtmat * jumps[None, :]
            wt2 = (lwt / _rsum(wt2, axis=1))[:, None] * wt2
            wt2 = _rsum(wt2, axis=0)
            km = km_table(temp_time, temp_status, weights=np.concatenate([real_wt, wt2]))
            fit_time, fit_surv = km["time"], km["survival"]
            stemp = fit_surv[np.searchsorted(fit_time, jtimes)]
            eps = 1.0 if it % 5 < 2 else float(np.max(np.abs(old - stemp)))
            old = stemp
            if it > 100000:
                raise RuntimeError("turnbull: the EM did not converge in 100000 iterations")
    return pd.DataFrame({"time": fit_time, "survival": fit_surv}, columns=TURNBULL_COLUMNS)
