"""Individual patient data reconstructed from published Kaplan-Meier curves.

The algorithm of Guyot, Ades, Ouwens and Welton (2012), "Enhanced secondary analysis of
survival data: reconstructing the data from published Kaplan-Meier survival curves", BMC
Medical Research Methodology 12:9, ported from the authors' published R code. Input: the
digitized points ``(time, survival)`` of one curve, the numbers at risk printed under it
at given times, and the total number of events if reported. Within each at-risk
interval the number censored is chosen so that the next reported number at risk is met,
censorings are spread evenly over the interval, and the number of events at each
digitized point is the one that reproduces the digitized survival. Events fall on the
digitized times; censorings midway between consecutive digitized times; whoever remains
is censored at the last digitized time.

Every reconstruction carries its self-check, as R's IPDfromKM reports it: the root mean
squared, mean and largest absolute difference between the digitized survival and the
Kaplan-Meier curve of the reconstructed data (at the digitized times), and the
reconstructed against the reported numbers at risk (and total events).

Reconstructed data are their own evidence tier, ``reconstructed``: they approximate, never
replace, the original patient data.

**Conventions.** Survival is a proportion (0-1; percentages are refused). Times stay in the
unit of the curve's digitized points (``time_unit``, one per curve); numbers at risk given
in another unit are converted with :data:`analysis.timing.TIME_UNITS`. The self-check's
Kaplan-Meier is :func:`analysis.survival.km.km_table`, the estimator of every curve in the
package. Sits above :mod:`.km` and below :mod:`.data`, which turns its output into survival
data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.schemas import RECONSTRUCTED
from analysis.survival.km import km_table
from analysis.timing import TIME_UNITS, amount

EVIDENCE_LEVEL = RECONSTRUCTED
CHECK_COLUMNS = [
    "study", "group", "time", "time_unit", "n_at_risk_reported", "n_at_risk_reconstructed",
    "n_points", "n_patients", "events_reported", "events_reconstructed", "rmse",
    "mean_abs_error", "max_abs_error",
]
"""Self-check table: one row per curve and at-risk time; the per-curve figures (RMSE etc.)
repeat on each row of the curve."""

_MAX_ITER = 10_000


@dataclass
class Reconstruction:
    """Result of :func:`guyot`: ``time``/``event`` arrays of the reconstructed patients and
    the self-check."""

    time: np.ndarray
    event: np.ndarray
    rmse: float
    mean_abs_error: float
    max_abs_error: float
    at_risk: pd.DataFrame  # time, n_at_risk_reported, n_at_risk_reconstructed
    events_reported: float
    events_reconstructed: int
    n_points: int

    @property
    def n(self) -> int:
        return int(len(self.time))


def prepare_points(time, survival, risk_times=()) -> tuple[np.ndarray, np.ndarray]:
    """Clean digitized points for the algorithm: sorted by time, a point (0, 1) first,
    survival clipped to [0, 1] and made non-increasing (digitizing noise), one point per
    time (the lowest survival), and a point at every at-risk time within the curve (with
    the survival of the step it falls on) so every at-risk interval holds a point."""
    t = np.asarray(time, dtype=float)
    s = np.asarray(survival, dtype=float)
    if len(t) != len(s) or not len(t):
        raise ValueError("digitized points need as many survival values as times (at least one)")
    if not (np.isfinite(t).all() and np.isfinite(s).all()):
        raise ValueError("digitized points must be finite numbers")
    if (t < 0).any():
        raise ValueError("digitized times must be >= 0")
    if (s > 1.000001).any():
        raise ValueError("digitized survival must be a proportion (0-1), found values above 1; "
                         "divide percentages by 100")
    order = np.argsort(t, kind="stable")
    t, s = t[order], np.clip(s[order], 0.0, 1.0)
    t = np.concatenate([[0.0], t])
    s = np.concatenate([[1.0], s])
    s = np.minimum.accumulate(s)
    # one point per time: the lowest survival (the end of a vertical drop)
    uniq, first = np.unique(t[::-1], return_index=True)
    last_idx = len(t) - 1 - first
    t, s = uniq, s[last_idx]
    s[0] = 1.0 if t[0] == 0 else s[0]
    for r in risk_times:
        if 0 < r <= t[-1] and not np.any(t == r):
            j = np.searchsorted(t, r) - 1
            t = np.insert(t, j + 1, r)
            s = np.insert(s, j + 1, s[j])
    return t, s


def _hist(values: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """R ``hist(values, breaks, plot = FALSE)$counts``: right-closed bins, first bin closed."""
    idx = np.searchsorted(breaks, values, side="left") - 1
    idx = np.clip(idx, 0, len(breaks) - 2)
    return np.bincount(idx, minlength=len(breaks) - 1)


def _spread(n_cens: int, t0: float, t1: float, breaks: np.ndarray) -> np.ndarray:
    cen_t = t0 + np.arange(1, n_cens + 1) * (t1 - t0) / (n_cens + 1)
    return _hist(cen_t, breaks)


def guyot(time, survival, risk_times, n_at_risk, total_events=None, time_unit: str = "") -> Reconstruction:
    """Reconstruct individual data of one curve (Guyot et al. 2012).

    ``time``/``survival``: digitized points (survival as a proportion); ``risk_times``/
    ``n_at_risk``: the numbers at risk under the curve, the first at time 0;
    ``total_events``: total number of events if the publication gives it, else None;
    ``time_unit``: the unit of ``time``, for messages only. Returns a :class:`Reconstruction`
    with its self-check. Raises ``ValueError`` for inconsistent input, among it a
    ``total_events`` below what the curve's fall takes however many patients are censored.
    """
    trisk = np.asarray(risk_times, dtype=float)
    nrisk_in = np.asarray(n_at_risk, dtype=float)
    if len(trisk) != len(nrisk_in) or not len(trisk):
        raise ValueError("numbers at risk need as many counts as times (at least the one at time 0)")
    order = np.argsort(trisk, kind="stable")
    trisk, nrisk_in = trisk[order], nrisk_in[order]
    if trisk[0] != 0:
        raise ValueError(f"the first number at risk must be at time 0, found time {trisk[0]:g}")
    if (np.diff(trisk) == 0).any():
        raise ValueError("numbers at risk: each time may appear only once")
    if (nrisk_in < 0).any() or (np.diff(nrisk_in) > 0).any():
        raise ValueError("numbers at risk must be >= 0 and must not increase over time")
    t_S, S = prepare_points(time, survival, trisk)
    keep = trisk <= t_S[-1]
    trisk, nrisk_in = trisk[keep], nrisk_in[keep]
    nrisk = nrisk_in.copy()
    n_t, n_int = len(t_S), len(trisk)
    lower = np.searchsorted(t_S, trisk, side="left")
    upper = np.append(lower[1:] - 1, n_t - 1)

    n_censor = np.zeros(n_int)
    n_hat = np.full(n_t + 1, nrisk[0] + 1)
    cen = np.zeros(n_t)
    d = np.zeros(n_t)
    km_hat = np.ones(n_t)
    last_i = np.zeros(n_int, dtype=int)

    def events_on(lo, hi, last, first_interval, last_interval):
        """Events at each point of an interval so the KM estimate follows the digitized
        survival (negative or impossible counts are clamped to [0, at risk])."""
        for k in range(lo, hi + 1):
            if first_interval and k == lo:
                d[k], km_hat[k] = 0, 1.0
            elif km_hat[last] == 0 or n_hat[k] <= 0:
                d[k], km_hat[k] = 0, km_hat[last]
            else:
                d[k] = min(max(np.round(n_hat[k] * (1 - S[k] / km_hat[last])), 0), n_hat[k])
                km_hat[k] = km_hat[last] * (1 - d[k] / n_hat[k])
            n_hat[k + 1] = n_hat[k] - d[k] - cen[k]
            if last_interval and n_hat[k + 1] < 0:  # no. at risk cannot be negative
                n_hat[k + 1] = 0
                cen[k] = n_hat[k] - d[k]
            if d[k] != 0:
                last = k
        return last

    last = 0
    for i in range(n_int - 1):
        lo, hi, nxt = lower[i], upper[i], lower[i + 1]
        n_censor[i] = np.round(nrisk[i] * S[nxt] / S[lo] - nrisk[i + 1]) if S[lo] > 0 else 0
        it = 0
        while (n_hat[nxt] > nrisk[i + 1]) or (n_hat[nxt] < nrisk[i + 1] and n_censor[i] > 0):
            it += 1
            if it > _MAX_ITER:
                raise ValueError("the reconstruction did not converge; check that the "
                                 "numbers at risk belong to this curve")
            if n_censor[i] <= 0:
                cen[lo:hi + 1] = 0
                n_censor[i] = 0
            if n_censor[i] > 0:
                cen[lo:hi + 1] = _spread(int(n_censor[i]), t_S[lo], t_S[nxt], t_S[lo:nxt + 1])
            n_hat[lo] = nrisk[i]
            last = events_on(lo, hi, last_i[i], i == 0, False)
            n_censor[i] += n_hat[nxt] - nrisk[i + 1]
        if n_hat[nxt] < nrisk[i + 1]:
            nrisk[i + 1] = n_hat[nxt]
        last_i[i + 1] = last

    # last interval: same censoring rate as on average before
    i = n_int - 1
    lo, hi = lower[i], upper[i]

    def last_interval(n_cens):
        if n_cens <= 0 or hi == lo:
            cen[lo:hi] = 0
            n_cens = 0
        else:
            cen[lo:hi] = _spread(int(n_cens), t_S[lo], t_S[hi], t_S[lo:hi + 1])
        n_hat[lo] = nrisk[i]
        events_on(lo, hi, last_i[i], n_int == 1, True)
        return n_cens

    if n_int > 1:
        span = t_S[upper[i - 1]] - t_S[lower[0]]
        with np.errstate(over="ignore"):  # a span of 1e-300 gives inf: as many censored as at risk
            rate = n_censor[:i].sum() * (t_S[hi] - t_S[lo]) / span if span > 0 else 0
        n_censor[i] = min(np.round(rate), nrisk[i])
    else:
        n_censor[i] = 0
    n_censor[i] = last_interval(n_censor[i])

    if total_events is not None and not pd.isna(total_events):
        tot = float(total_events)
        sum_dl = d[: upper[i - 1] + 1].sum() if n_int > 1 else 0.0
        if n_int > 1 and sum_dl >= tot:
            d[lo:hi + 1] = 0
            cen[lo:hi] = 0
            n_hat[lo + 1:hi + 2] = nrisk[i]
        else:
            sumd = d[: hi + 1].sum()
            it = 0
            while sumd > tot or (sumd < tot and n_censor[i] > 0):
                it += 1
                if it > _MAX_ITER:
                    break
                # fewer events take more censored patients, but never more than are at risk
                # (R's loop censors on: total_events 100 for a curve whose fall takes at least
                # 203 ran 8,000 rounds, towards 116,000 censored of 439 patients)
                if sumd > tot and n_censor[i] >= nrisk[i]:
                    raise ValueError(_too_few_events(tot, sumd, nrisk_in[0], S[-1], t_S[-1], time_unit))
                n_censor[i] = last_interval(min(n_censor[i] + (sumd - tot), nrisk[i]))
                sumd = d[: hi + 1].sum()

    # individual data
    d_int = d.astype(int)
    cen_int = np.maximum(cen, 0).astype(int)
    ev_t = np.repeat(t_S, d_int)
    mids = (t_S[:-1] + t_S[1:]) / 2
    cen_t = np.repeat(mids, cen_int[:-1])
    n_rest = int(max(nrisk_in[0] - len(ev_t) - len(cen_t), 0))
    out_t = np.concatenate([ev_t, cen_t, np.full(n_rest, t_S[-1])])
    out_e = np.concatenate([np.ones(len(ev_t), int), np.zeros(len(cen_t) + n_rest, int)])
    return _self_check(out_t, out_e, t_S, S, np.asarray(risk_times, float)[order],
                       np.asarray(n_at_risk, float)[order], total_events, len(np.asarray(time)))


def _too_few_events(total: float, least: float, n0: float, s_end: float, t_end: float, unit: str) -> str:
    """The reconstruction's error for a ``total_events`` below what the curve's fall takes."""
    when = amount(t_end, unit) if unit else f"time {t_end:g}"
    return (f"expected total_events of at least {least:.0f}, found {total:g}: with {n0:.0f} at risk at time 0, "
            f"a fall to survival {s_end:.3g} by {when} takes that many events however many patients are "
            "censored; check total_events and n_at_risk in km_curves/at_risk")


def _survival_at(uniq, s, times):
    """Survival of the step curve ``(uniq, s)`` at each time (1 before its first time)."""
    idx = np.searchsorted(uniq, times, side="right") - 1
    return np.where(idx >= 0, s[np.maximum(idx, 0)], 1.0)


def _self_check(out_t, out_e, t_S, S, trisk, nrisk, total_events, n_points) -> Reconstruction:
    """Refit the reconstructed patients (:func:`analysis.survival.km.km_table`, the same
    Kaplan-Meier as every curve of the package) and compare with what was digitized."""
    tab = km_table(out_t, out_e)
    fitted = _survival_at(tab["time"], tab["survival"], t_S)
    err = fitted - S
    sorted_t = tab["durations"]
    rec_risk = len(sorted_t) - np.searchsorted(sorted_t, trisk, side="left")
    at_risk = pd.DataFrame({"time": trisk, "n_at_risk_reported": nrisk.astype(int),
                            "n_at_risk_reconstructed": rec_risk.astype(int)})
    return Reconstruction(
        time=out_t, event=out_e,
        rmse=float(np.sqrt(np.mean(err ** 2))), mean_abs_error=float(np.mean(np.abs(err))),
        max_abs_error=float(np.max(np.abs(err))), at_risk=at_risk,
        events_reported=float("nan") if total_events is None or pd.isna(total_events) else float(total_events),
        events_reconstructed=int(out_e.sum()), n_points=int(n_points),
    )


def reconstruct_curves(points: pd.DataFrame, at_risk: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reconstruct every curve (``study``, ``group``) of ``km_curves/points.csv`` with its
    ``km_curves/at_risk.csv`` rows.

    Returns ``(ipd, checks)``: ``ipd`` in the ``ipd/*.csv`` layout (``study, patient_id,
    group, time, time_unit, event``) plus ``evidence_level = "reconstructed"``, in the time
    unit of the curve's points; ``checks`` has :data:`CHECK_COLUMNS`. Raises ``ValueError``
    naming the curve when its numbers at risk are missing or inconsistent.
    """

    ipd_frames, checks = [], []
    if points is None or points.empty:
        return (pd.DataFrame(columns=["study", "patient_id", "group", "time", "time_unit", "event",
                                      "evidence_level"]),
                pd.DataFrame(columns=CHECK_COLUMNS))
    at_risk = at_risk if at_risk is not None else pd.DataFrame(columns=["study", "group"])
    for (study, group), pts in points.groupby(["study", "group"], sort=True):
        name = f"curve {study} / {group}"
        units = pts["time_unit"].astype(str).unique()
        if len(units) != 1:
            raise ValueError(f"{name}: digitized points use several time units ({', '.join(units)}); use one")
        unit = units[0]
        if unit not in TIME_UNITS:
            raise ValueError(f"{name}: unknown time_unit {unit!r}")
        risk = at_risk[(at_risk["study"] == study) & (at_risk["group"] == group)]
        if risk.empty:
            raise ValueError(f"{name}: no numbers at risk in km_curves/at_risk.csv; the Guyot "
                             "algorithm needs at least the number at risk at time 0")
        r_time = risk["time"].astype(float) * risk["time_unit"].map(TIME_UNITS).astype(float) / TIME_UNITS[unit]
        totals = risk["total_events"].dropna().unique() if "total_events" in risk else []
        if len(totals) > 1:
            raise ValueError(f"{name}: total_events given with different values {list(totals)}; give it once")
        total = float(totals[0]) if len(totals) else None
        try:
            rec = guyot(pts["time"].astype(float), pts["survival"].astype(float),
                        r_time.to_numpy(), risk["n_at_risk"].astype(float).to_numpy(), total, unit)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        ipd_frames.append(pd.DataFrame({
            "study": study, "patient_id": [f"{group}-R{i + 1}" for i in range(rec.n)],
            "group": group, "time": rec.time, "time_unit": unit, "event": rec.event,
            "evidence_level": EVIDENCE_LEVEL,
        }))
        chk = rec.at_risk.assign(
            study=study, group=group, time_unit=unit, n_points=rec.n_points, n_patients=rec.n,
            events_reported=rec.events_reported, events_reconstructed=rec.events_reconstructed,
            rmse=rec.rmse, mean_abs_error=rec.mean_abs_error, max_abs_error=rec.max_abs_error,
        )
        checks.append(chk[CHECK_COLUMNS])
    return pd.concat(ipd_frames, ignore_index=True), pd.concat(checks, ignore_index=True)
