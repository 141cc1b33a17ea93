"""Kaplan-Meier estimates, confidence limits, R's median and quantiles and at-risk tables:
the one Kaplan-Meier estimator of the package, agreeing with R's ``survival`` package.

A bottom room of :mod:`analysis.survival` (above :mod:`.inputs`): numpy and pandas; no
matplotlib, no figure, no data loading. :mod:`.summaries` (log-rank, RMST, median
follow-up), :mod:`.competing` (cumulative incidence), :mod:`.interval` (Turnbull),
:mod:`.reconstruct`, :mod:`.data` and :mod:`.plot` build on it: every curve, reverse curve
and confidence limit of the package is :func:`km_table` and :func:`confidence_limits`, every
median :func:`r_median` / :func:`r_quantile_time`.

**Why numpy, not lifelines.** :func:`km_table` and the log-rank test are short numpy code,
tested equal to lifelines' ``KaplanMeierFitter`` and ``multivariate_logrank_test`` (and to
R), for two reasons:

* *R-exactness.* The reference is R's ``survfit``/``survdiff`` to 1e-6. lifelines gives one
  interval type (log-log, "exponential Greenwood"), not R's ``log`` (R's default) or
  ``plain``; it reports limits 1/1 and 0/0 where R leaves them undefined; and its median
  (the first time S <= 0.5, infinite if never) is not R's rule below.
* *Speed.* On a million distinct times lifelines' ``KaplanMeierFitter`` takes about 2 s,
  :func:`km_table` about 0.2 s, and importing lifelines alone about 1 s.

This package never imports lifelines; only the tests do, as a second reference.

**Conventions.** Times are in the fit's ``time_unit`` (days, weeks, months, years; a month
is 365.25/12 = 30.4375 days, :data:`analysis.timing.TIME_UNITS`); survival and its limits
are proportions (0-1). Each group's arrays have one entry per distinct time, event or
censoring, as R's ``survfit``. The Greenwood variance and the three confidence-interval
types follow R's ``survfit(conf.type = "log-log" | "log" | "plain")`` to the detail:

* ``log-log`` (lifelines' and SAS's default): ``S^exp(±z se / log S)``; empty where S is 0 or 1;
* ``log`` (R's default): ``S exp(±z se)``, upper limit capped at 1; empty where S is 0;
* ``plain``: ``S ± z S se`` clipped to [0, 1];

with ``se² = Σ d / (n (n - d))`` (Greenwood, on the log scale). Medians and their
confidence limits are found as R's ``quantile.survfit`` does: where a curve is flat at
exactly 0.5 the median is the midpoint of the flat stretch; a median or limit that is not
reached is empty (NaN), never infinite. Landmarks and at-risk tables follow
``summary(fit, times = ...)``: at risk = still followed at the start of the time, events
and censored = counted in the period since the previous time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist  # inv_cdf is AS 241, as R's qnorm

import numpy as np
import pandas as pd

from analysis.schemas import RECONSTRUCTED
from analysis.timing import TIME_UNITS, expect_one_of, unit_days

CI_METHODS = ("log-log", "log", "plain")
GROUP_COLUMNS = ("therapy", "disease", "source_kind", "study", "group", "evidence_level",
                 "survival_source")
"""Columns of the survival layout one may group a fit by (named in the error for another)."""
NOT_STATED = "not stated"
"""Group label of a missing value."""

_R_TOL = float(np.sqrt(np.finfo(float).eps))  # R's quantile.survfit tolerance


# --------------------------------------------------------------------------- helpers


def _check_ci(ci_method: str, alpha: float) -> None:
    if ci_method not in CI_METHODS:
        expect_one_of("ci_method", ci_method, CI_METHODS)
    if not (0 < float(alpha) < 1):
        raise ValueError(f"alpha must be between 0 and 1 (0.05 for 95% intervals), found {alpha!r}")


def _text(value) -> str:
    """A cell as text: "" for missing (None, NaN, NA); shared by the rooms of this package."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _texts(values) -> np.ndarray:
    """:func:`_text` of every cell of a column, as an object array; each distinct value is
    converted once (a million rows of a few groups cost a hash each, not a call each)."""
    values = pd.Series(values) if not isinstance(values, pd.Series) else values
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    if not all(isinstance(u, str) for u in uniques):  # 1 and 1.0 share a hash, not a text
        return np.array([_text(v) for v in values], dtype=object)
    return np.append(uniques, "")[codes]


# --------------------------------------------------------------------------- Kaplan-Meier


@dataclass
class KMGroup:
    """Kaplan-Meier estimate of one group; arrays have one entry per distinct time
    (as R's ``survfit``: event or censoring times)."""

    label: str
    time: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    n_censored: np.ndarray
    survival: np.ndarray
    se_log: np.ndarray  # Greenwood standard error of log S (R's std.err)
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    durations: np.ndarray  # sorted follow-up times of the group
    event_times: np.ndarray  # sorted times of its relapses or deaths
    evidence_levels: tuple = ()
    survival_sources: tuple = ()

    @property
    def n(self) -> int:
        return int(len(self.durations))

    @property
    def n_event_total(self) -> int:
        return int(len(self.event_times))

    @property
    def reconstructed(self) -> bool:
        return RECONSTRUCTED in self.survival_sources


@dataclass
class KMFit:
    """Kaplan-Meier fits of all groups, with the settings that made them."""

    groups: list[KMGroup]
    group_by: list[str]
    time_unit: str
    ci_method: str
    alpha: float
    data: pd.DataFrame = field(repr=False, default=None)
    codes: np.ndarray | None = field(repr=False, default=None, compare=False)
    """The group of every row of ``data`` (index into the sorted labels), as ``km_fit`` found it."""
    _positions: dict | None = field(repr=False, default=None, init=False, compare=False)
    _times: dict = field(repr=False, default_factory=dict, init=False, compare=False)

    @property
    def conf_level(self) -> float:
        return 1 - self.alpha

    def _codes(self) -> tuple[np.ndarray, list[str]]:
        if self.codes is None or len(self.codes) != len(self.data):
            self.codes, labels = _group_codes(self.data, self.group_by)
            return self.codes, labels
        return self.codes, [g.label for g in self.groups]  # km_fit's groups, in code order

    def row_labels(self) -> np.ndarray:
        """The group label of every row of ``data`` (as :func:`group_labels`, without
        grouping a million rows again)."""
        codes, labels = self._codes()
        return np.asarray(labels, dtype=object)[codes] if len(codes) else np.empty(0, dtype=object)

    def rows(self, label: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The rows of ``data`` in group ``label`` (only ``columns``, those of them it has)."""
        if self._positions is None:
            codes, labels = self._codes()
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
            self._positions = {lab: order[bounds[i]:bounds[i + 1]] for i, lab in enumerate(labels)}
        positions = self._positions.get(label, np.zeros(0, dtype=np.int64))
        if columns is None:
            return self.data.iloc[positions]
        # only these columns' rows are taken (not all of them, nor the whole columns first)
        return pd.DataFrame({c: self.data[c].array[positions] for c in columns if c in self.data.columns},
                            index=self.data.index[positions])

    def times(self, label: str) -> pd.DataFrame:
        """``time``, ``event``, ``time_lo``, ``time_hi`` (those of them ``data`` has) of the rows
        of group ``label``, taken once per fit for the tables that read them (not to be
        modified)."""
        if label not in self._times:
            self._times[label] = self.rows(label, ["time", "event", "time_lo", "time_hi"])
        return self._times[label]

    def group(self, label: str) -> KMGroup:
        for g in self.groups:
            if g.label == label:
                return g
        raise KeyError(f"no group {label!r}; groups are {[g.label for g in self.groups]}")


def _normalise_group_by(group_by) -> list[str]:
    if group_by is None or group_by == "" or group_by == "all":
        return []
    if isinstance(group_by, str):
        group_by = [group_by]
    return [str(c) for c in group_by]


def _group_codes(df: pd.DataFrame, group_by) -> tuple[np.ndarray, list[str]]:
    """Integer group code per row and the label of each code (sorted labels)."""
    cols = _normalise_group_by(group_by)
    if not cols:
        return np.zeros(len(df), dtype=np.int64), ["all"]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"cannot group by {', '.join(map(repr, missing))}; choose among "
                         f"{', '.join(c for c in GROUP_COLUMNS if c in df.columns) or ', '.join(df.columns)}")
    combined = np.zeros(len(df), dtype=np.int64)
    parts: list[list[str]] = [[]]
    for col in cols:
        codes, uniques = pd.factorize(df[col])  # missing -> -1
        texts = [_text(u) or NOT_STATED for u in uniques] + [NOT_STATED]
        # merge values that print the same (e.g. missing and "")
        text_codes, text_uniques = pd.factorize(pd.Index(texts))
        combined = combined * len(text_uniques) + text_codes[codes]
        parts = [p + [t] for p in parts for t in text_uniques]
    used, inverse = np.unique(combined, return_inverse=True)
    labels = [" / ".join(parts[int(u)]) for u in used]
    order = np.argsort(labels, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse], [labels[i] for i in order]


def group_labels(df: pd.DataFrame, group_by) -> pd.Series:
    """One text label per row: the ``group_by`` values joined by `` / `` ("all" if none;
    "not stated" for a missing value)."""
    codes, labels = _group_codes(df, group_by)
    return pd.Series(np.asarray(labels, dtype=object)[codes], index=df.index, dtype=object)


def km_table(time, event, weights=None) -> dict:
    """Kaplan-Meier table of one group, computed with numpy as R's ``survfit`` does: the one
    Kaplan-Meier estimator of the package (curves, reverse Kaplan-Meier of follow-up, RMST,
    the self-check of reconstructed curves and the steps of Turnbull's EM all call it).

    One entry per distinct time (event or censoring): ``time``, ``n_at_risk`` (time >= t),
    ``n_events``, ``n_censored``, ``survival`` = prod(1 - d/n), ``se_log`` = Greenwood
    standard error of log S (R's ``std.err``; infinite once S reaches 0). Equal to
    lifelines' ``KaplanMeierFitter`` event table and survival function (tested), but fast
    enough for a million rows. Also returns the sorted ``durations`` and ``event_times``.

    ``weights`` (case weights, as ``survfit(weights = )``): the weighted curve exactly as R's
    C routine computes it (:func:`_weighted`); then ``n_at_risk``/``n_events`` are weighted
    sums and ``se_log``, ``n_censored``, ``durations``, ``event_times`` are not returned.
    """
    if weights is not None:
        return _weighted(np.asarray(time, dtype=float), np.asarray(event, dtype=float),
                         np.asarray(weights, dtype=float))
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    ts = np.sort(t)
    te = np.sort(t[e])
    if not len(ts):
        empty = np.array([], dtype=float)
        ints = empty.astype(np.int64)
        return {"time": empty, "n_at_risk": ints, "n_events": ints, "n_censored": ints,
                "survival": empty, "se_log": empty, "durations": ts, "event_times": te}
    starts = np.flatnonzero(np.concatenate([[True], ts[1:] != ts[:-1]]))
    uniq = ts[starts]
    removed = np.diff(np.append(starts, len(ts)))
    d = np.bincount(np.searchsorted(uniq, te), minlength=len(uniq))
    n = len(ts) - starts
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n)
        var = np.cumsum(np.where(d > 0, d / (n * (n - d).astype(float)), 0.0))
    return {"time": uniq, "n_at_risk": n.astype(np.int64), "n_events": d.astype(np.int64),
            "n_censored": (removed - d).astype(np.int64), "survival": surv,
            "se_log": np.sqrt(var), "durations": ts, "event_times": te}


def _weighted(time: np.ndarray, status: np.ndarray, weight: np.ndarray) -> dict:
    """Weighted Kaplan-Meier as R's ``survfitKM`` (C ``survfitkm``) computes it, to the last
    bit (Turnbull's EM in :mod:`.interval` reproduces R's accept/reject decisions only so):
    subjects sorted by time (stable), weights accumulated from the last one backwards; the
    curve drops only where the weighted events are > 0, by ``(1 - events/at_risk)`` when
    some weight is not a whole number (R's robust branch) and ``(at_risk - events)/at_risk``
    otherwise."""
    order = np.argsort(time, kind="stable")
    ts, ss, ws = time[order], status[order], weight[order]
    n = len(ts)
    starts = np.flatnonzero(np.concatenate([[True], ts[1:] != ts[:-1]]))
    uniq = ts[starts]
    at_risk = np.cumsum(ws[::-1])[::-1][starts]  # R's order: element n-1, n-2, ..., 0
    ends = np.append(starts[1:], n)
    robust = bool(np.any(weight != np.floor(weight)))
    block = np.repeat(np.arange(len(uniq)), ends - starts)
    is_event = ss == 1
    ev = np.bincount(block, weights=np.where(is_event, ws, 0.0), minlength=len(uniq))
    for i in np.flatnonzero(np.bincount(block, weights=is_event, minlength=len(uniq)) > 1):
        ev[i] = 0.0  # several events at one time: added as R does, last one first
        for j in range(ends[i] - 1, starts[i] - 1, -1):
            if is_event[j]:
                ev[i] += ws[j]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = (1.0 - ev / at_risk) if robust else (at_risk - ev) / at_risk
    surv = np.cumprod(np.where(ev > 0, factor, 1.0))  # sequential, as R's loop
    return {"time": uniq, "n_at_risk": at_risk, "n_events": ev, "survival": surv}


def to_time_unit(df: pd.DataFrame, time_unit: str) -> pd.DataFrame:
    """``df`` with ``time`` (and ``time_lo``/``time_hi``) converted to ``time_unit`` using
    each row's ``time_unit``."""
    scale = unit_days(time_unit)
    if "time_unit" not in df.columns or not len(df):
        return df
    values = df["time_unit"].to_numpy()
    if (values == time_unit).all():
        return df
    codes, present = pd.factorize(values, use_na_sentinel=False)
    bad = [u for u in present if u not in TIME_UNITS]
    if bad:
        unit_days(bad[0])
    if list(present) == [time_unit]:
        return df
    factor = np.array([TIME_UNITS[u] for u in present])[codes] / scale
    out = df.copy()
    for col in ("time", "time_lo", "time_hi"):
        if col in out.columns:
            out[col] = out[col].to_numpy(dtype=float) * factor
    out["time_unit"] = time_unit
    return out


def km_fit(df: pd.DataFrame, group_by=None, time_unit: str | None = None,
           ci_method: str = "log-log", alpha: float = 0.05) -> KMFit:
    """Kaplan-Meier estimate per group with Greenwood confidence limits of type
    ``ci_method`` (``log-log``, ``log`` or ``plain``) at level ``1 - alpha``, as R's
    ``survfit(conf.type = ...)`` computes them.

    ``df`` needs ``time`` and ``event`` (and ``time_unit``: times are converted to
    ``time_unit``, default the unit of the first row); ``group_by`` is a column name, a
    list of them, or None for one group ("all"). The estimate itself is :func:`km_table`
    (numpy; identical to lifelines' ``KaplanMeierFitter``; why not lifelines: see the module
    docstring).
    """
    _check_ci(ci_method, alpha)
    for col in ("time", "event"):
        if col not in df.columns:
            raise ValueError(f"survival data lacks column {col!r}")
    if time_unit is None:
        time_unit = str(df["time_unit"].iloc[0]) if "time_unit" in df.columns and len(df) else "months"
    unit_days(time_unit)
    data = to_time_unit(df, time_unit)
    time = data["time"].to_numpy(dtype=float)
    event = data["event"].to_numpy()
    if len(time) and (not np.isfinite(time).all() or (time < 0).any()):
        raise ValueError("survival times must be finite numbers >= 0")
    if len(event) and not np.isin(event, (0, 1)).all():
        raise ValueError("event must be 0 (censored) or 1 (relapse or death)")
    cols = _normalise_group_by(group_by)
    inv, uniq = _group_codes(data, cols) if len(data) else (None, [])
    groups = []
    for gi, label in enumerate(uniq):
        idx = np.flatnonzero(inv == gi) if len(uniq) > 1 else slice(None)
        tab = km_table(time[idx], event[idx])
        lo, hi = confidence_limits(tab["survival"], tab["se_log"], ci_method, alpha)
        extra = {}
        for col, key in (("evidence_level", "evidence_levels"), ("survival_source", "survival_sources")):
            if col in data.columns:
                vals = pd.unique(data[col].to_numpy()[idx])
                extra[key] = tuple(sorted({_text(v) for v in vals} - {""}))
        groups.append(KMGroup(label=str(label), ci_lower=lo, ci_upper=hi, **tab, **extra))
    return KMFit(groups, cols, time_unit, ci_method, float(alpha), data, inv if len(uniq) else None)


def confidence_limits(surv, se, ci_method: str = "log-log", alpha: float = 0.05,
                      logse: bool = True):
    """Pointwise confidence limits of a survival curve exactly as R's ``survfit``
    (``survfit_confint``); the one place of the package where they are computed.

    ``se`` is the standard error of log S (Greenwood) when ``logse`` (Kaplan-Meier), else of
    the estimate itself (multi-state ``pstate``, the cumulative incidence of
    :mod:`.competing`: converted to the log scale as ``se / p``, 0 where se is 0, as R does).
    Returns ``(lower, upper)``; limits that R leaves undefined are NaN: both limits where
    S = 0 (log, log-log; plain where the variance is infinite) and where S = 1 for log-log.
    """
    _check_ci(ci_method, alpha)
    s = np.asarray(surv, dtype=float)
    se = np.asarray(se, dtype=float)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if not logse:
            se = np.where(se == 0, 0.0, se / s)
        if ci_method == "plain":
            half = z * se * s
            lower = np.maximum(s - half, 0.0)
            upper = np.minimum(s + half, 1.0)
            nan = np.isnan(half)
        elif ci_method == "log":
            xx = np.where(s == 0, np.nan, s)
            lower = np.exp(np.log(xx) - z * se)
            upper = np.minimum(np.exp(np.log(xx) + z * se), 1.0)
            nan = np.isnan(xx)
        else:
            xx = np.where((s == 0) | (s == 1), np.nan, s)
            log_xx = np.log(xx)
            lower = np.exp(-np.exp(np.log(-log_xx) - z * se / log_xx))
            upper = np.exp(-np.exp(np.log(-log_xx) + z * se / log_xx))
            nan = np.isnan(xx)
    lower = np.where(nan, np.nan, lower)
    upper = np.where(nan, np.nan, upper)
    return lower, upper


# --------------------------------------------------------------------------- quantiles (R)


def _r_approx_index(y: np.ndarray, p: float):
    """R ``approx(y, 1:n, p, method = "constant", f = 1)``: the position of the smallest
    non-missing ``y >= p``; None outside the range of ``y``."""
    pos = np.flatnonzero(~np.isnan(y))
    if not len(pos):
        return None
    order = np.argsort(y[pos], kind="stable")
    ys, ps = y[pos][order], pos[order]
    if p < ys[0] or p > ys[-1]:
        return None
    return int(ps[np.searchsorted(ys, p, side="left")])


def r_median(time, curve) -> float:
    """Median as R prints it (``survmean``'s ``minmin``): the first time the curve is at or
    below 50% (within sqrt(machine eps)); if it is at exactly 50% there and falls later,
    the midpoint between that time and the time it falls; NaN if never reached. Missing
    values of a confidence limit are skipped."""
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


def r_quantile_time(time, curve, p: float = 0.5, start: float = 0.0) -> float:
    """Time at which the curve first reaches ``1 - p`` (p = 0.5: the median), as R's
    ``quantile.survfit`` finds it (``findq``): flat at exactly the level (within
    sqrt(machine eps)) -> midpoint of the flat stretch; never reached -> NaN.

    ``curve`` may be the survival estimate or a confidence limit (NaN entries are skipped,
    as R does).
    """
    x = np.concatenate([[start], np.asarray(time, dtype=float)])
    y = np.concatenate([[0.0], 1 - np.asarray(curve, dtype=float)])
    with np.errstate(invalid="ignore"):
        if np.all(np.isnan(y)) or np.nanmax(y) < p:
            return float("nan")
    xmax = x[-1]
    # drop duplicated y (first occurrence kept; NaN equals NaN as in R's duplicated)
    keys = np.where(np.isnan(y), np.inf, y)
    _, first = np.unique(keys, return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    i1 = _r_approx_index(y + _R_TOL, p)
    i2 = _r_approx_index(y - _R_TOL, p)
    quant = (x[i1] + x[i2]) / 2 if i1 is not None and i2 is not None else float("nan")
    if p == 0:
        quant = x[0]
    if not np.isnan(y[-1]) and abs(p - y[-1]) < _R_TOL:
        quant = (x[i1] + xmax) / 2 if i1 is not None else float("nan")
    return float(quant)


# --------------------------------------------------------------------------- tables


KM_ESTIMATES_COLUMNS = ["group", "time", "n_at_risk", "n_events", "n_censored", "survival",
                        "ci_lower", "ci_upper"]
KM_SUMMARY_COLUMNS = ["group", "n", "events", "median", "median_ci_lower", "median_ci_upper"]
KM_LANDMARK_COLUMNS = ["group", "time", "survival", "ci_lower", "ci_upper"]
AT_RISK_COLUMNS = ["group", "time", "n_at_risk", "n_events", "n_censored", "cum_events",
                   "cum_censored"]


def km_estimates(fit: KMFit) -> pd.DataFrame:
    """``km_estimates.csv``: one row per group and distinct time, as R's ``survfit`` rows."""
    frames = [
        pd.DataFrame({
            "group": g.label, "time": g.time, "n_at_risk": g.n_at_risk, "n_events": g.n_events,
            "n_censored": g.n_censored, "survival": g.survival, "ci_lower": g.ci_lower,
            "ci_upper": g.ci_upper,
        })
        for g in fit.groups
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=KM_ESTIMATES_COLUMNS)


def km_summary(fit: KMFit, rule: str = "print") -> pd.DataFrame:
    """``km_summary.csv``: n, events, median and its confidence limits per group;
    unreached values are NaN (empty in the CSV).

    ``rule="print"`` (default) gives what R prints for a fit (``print(fit)``,
    ``summary(fit)$table``, :func:`r_median`); ``rule="quantile"`` what
    ``quantile(fit, 0.5)`` gives (:func:`r_quantile_time`). They differ only when a curve
    stays at exactly 50% until its last follow-up: the first gives the start of that
    stretch, the second its midpoint."""
    if rule not in ("print", "quantile"):
        raise ValueError(f"rule must be 'print' or 'quantile', found {rule!r}")
    find = r_median if rule == "print" else r_quantile_time
    rows = []
    for g in fit.groups:
        rows.append({
            "group": g.label, "n": g.n, "events": g.n_event_total,
            "median": find(g.time, g.survival),
            "median_ci_lower": find(g.time, g.ci_lower),
            "median_ci_upper": find(g.time, g.ci_upper),
        })
    return pd.DataFrame(rows, columns=KM_SUMMARY_COLUMNS)


def _lookup(g: KMGroup, times: np.ndarray):
    """Index of the last distinct time <= each time (-1 before the first)."""
    return np.searchsorted(g.time, times, side="right") - 1


def km_landmarks(fit: KMFit, times) -> pd.DataFrame:
    """``km_landmarks.csv``: survival and its confidence limits at each landmark time, as R's
    ``summary(fit, times = landmarks)``; NaN where the landmark is beyond the group's last
    follow-up (R omits those rows). Before the first observed time survival is 1 and both
    limits 1 (as R reports)."""
    times = np.asarray(sorted(float(t) for t in times), dtype=float)
    rows = []
    for g in fit.groups:
        idx = _lookup(g, times)
        last = g.time[-1] if len(g.time) else -np.inf
        for t, i in zip(times, idx):
            if t > last:
                rows.append({"group": g.label, "time": t, "survival": np.nan,
                             "ci_lower": np.nan, "ci_upper": np.nan})
            elif i < 0:
                rows.append({"group": g.label, "time": t, "survival": 1.0, "ci_lower": 1.0,
                             "ci_upper": 1.0})
            else:
                rows.append({"group": g.label, "time": t, "survival": g.survival[i],
                             "ci_lower": g.ci_lower[i], "ci_upper": g.ci_upper[i]})
    return pd.DataFrame(rows, columns=KM_LANDMARK_COLUMNS)


def at_risk_table(fit: KMFit, times) -> pd.DataFrame:
    """Numbers at risk, with the event and censored at each time, as R's
    ``summary(fit, times = times, extend = TRUE)``: ``n_at_risk`` = followed at the start
    of the time (time >= t), ``n_events``/``n_censored`` = in the period since the previous
    time (the first period includes everything up to the first time). ``cum_events`` and
    ``cum_censored`` are running totals (the KMunicate table)."""
    times = np.asarray(sorted(float(t) for t in times), dtype=float)
    rows = []
    for g in fit.groups:
        t_sorted = g.durations
        at_risk = len(t_sorted) - np.searchsorted(t_sorted, times, side="left")
        cum_e = np.concatenate([[0], np.cumsum(g.n_events)])[_lookup(g, times) + 1]
        cum_c = np.concatenate([[0], np.cumsum(g.n_censored)])[_lookup(g, times) + 1]
        ev = np.diff(np.concatenate([[0], cum_e]))
        ce = np.diff(np.concatenate([[0], cum_c]))
        rows.append(pd.DataFrame({
            "group": g.label, "time": times, "n_at_risk": at_risk.astype(np.int64),
            "n_events": ev.astype(np.int64), "n_censored": ce.astype(np.int64),
            "cum_events": cum_e.astype(np.int64), "cum_censored": cum_c.astype(np.int64),
        }))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=AT_RISK_COLUMNS)
