"""Response and safety rates: per-study proportions, exact intervals, random-effects pooling.

Conventions (all proportions are fractions 0-1; ``i2`` is a percentage 0-100 as in metafor):

* **Per-study intervals** come from ``statsmodels.stats.proportion.proportion_confint``:
  ``clopper-pearson`` (exact, statsmodels' ``beta``; equals R ``binom.test``) or ``wilson``
  (score interval without continuity correction; equals R ``prop.test(correct=FALSE)``).
  The normal (Wald) approximation is never used: it collapses to a zero-width interval at 0/n.
* **Rows without counts.** A row with a proportion and a total but no event count (a share
  such as "three out of every four of over 200") gets an *approximate, derived* interval:
  ``events = round(proportion * total)`` out of the coded total; when the total is a lower
  bound ("over 200") its lower bound is used, which gives the widest, most conservative
  interval. The derived count is kept in ``events_used`` and explained in ``note``; the
  coded ``events`` stay empty and the input data are never changed. A row with only a
  proportion, or only a duration, is listed without an interval and ``note`` says why.
* **Case reports** (design ``case_report``; or at most ``case_report_max_n`` patients in a
  case series or a row of unreported design) are flagged ``is_case_report`` and never pooled
  with cohorts (see :func:`is_case_report`).
* **Pooling** follows R metafor (``escalc`` + ``rma.uni`` + ``predict``) with its defaults:
  effect sizes ``PLO`` (logit; 0/n and n/n studies get 1/2 added to events and non-events,
  ``add=1/2, to="only0"``) or ``PFT`` (Freeman-Tukey double arcsine
  ``(asin(sqrt(x/(n+1))) + asin(sqrt((x+1)/(n+1))))/2`` with variance ``1/(4n+2)``, no
  correction), back-transformed with ``plogis`` or metafor's ``transf.ipft.hm`` (at the
  harmonic mean of the study sizes). tau2 by REML (Fisher scoring from the Hedges start
  value, stopping when the change is below ``threshold=1e-5``, with metafor's check against
  the likelihood at tau2 = 0), DerSimonian-Laird (truncated at 0) or Paule-Mandel (Brent's
  root finder on ``[0, tau2_max]`` with ``tol = eps**0.25``, as R's ``uniroot``). The
  stopping rules are metafor's, so results equal what ``rma()`` prints with its defaults;
  pass smaller ``threshold``/``tol`` for the exact root. CI and prediction interval use the
  normal quantile (metafor ``test="z"``); the prediction interval is
  ``mu +/- z * sqrt(se^2 + tau2)``. Q is the fixed-effect Cochran Q with k - 1 degrees of
  freedom; ``I2 = 100 * tau2 / (tau2 + v_typical)`` and ``H2 = tau2 / v_typical + 1`` with
  ``v_typical = (k - 1) / (sum(w) - sum(w^2) / sum(w))``, ``w = 1/v`` (metafor's definition,
  for every estimator).
* **What statsmodels provides and what it does not.** ``combine_effects`` supplies Cochran's
  Q and the untruncated DerSimonian-Laird moment estimate, which are used here. It has no
  REML estimator, does not truncate DL's tau2 at 0, stops Paule-Mandel on a different rule
  from metafor, computes I2 from Q rather than from tau2, has no prediction interval and no
  Freeman-Tukey transform; those parts are written here and tested against metafor.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# statsmodels and scipy.stats (~0.8 s) are imported with this module, not on the first
# interval: a notebook pays for them in its import cell, and its analysis cells time the
# analysis. ``import analysis`` does not import this module.
from scipy import stats
from scipy.special import expit
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.proportion import proportion_confint

from analysis.schemas import EVIDENCE_LEVELS, SAFETY_OUTCOMES, evidence_rank, evidence_words
from analysis.timing import expect_one_of
from analysis.select import apply_filters  # noqa: F401  (the filter syntax every notebook shares)

#: columns of ``tables/rates.csv``, in order (the output contract); extras follow them
RATES_COLUMNS = [
    "study", "arm", "outcome", "events", "total", "proportion", "ci_lower", "ci_upper",
    "ci_method",
]
#: columns of ``tables/pooled_rates.csv``, in order (the output contract)
POOLED_COLUMNS = [
    "subgroup", "outcome", "k", "total", "pooled", "ci_lower", "ci_upper", "pi_lower",
    "pi_upper", "tau2", "i2", "q", "q_p_value", "method", "transform",
]
CI_METHODS = {"clopper-pearson": "beta", "wilson": "wilson"}
POOL_METHODS = ("REML", "DL", "PM")
TRANSFORMS = ("logit", "freeman-tukey")
OVERALL = "All studies"
EPS = np.finfo(float).eps


# --------------------------------------------------------------------------- per study


def proportion_ci(events, total, method: str = "clopper-pearson", alpha: float = 0.05):
    """Interval for ``events / total`` (arrays or scalars); returns ``(lower, upper)``.

    ``method`` is ``clopper-pearson`` (exact) or ``wilson``; anything else raises
    ``ValueError`` (the normal approximation is deliberately not offered).
    """
    expect_one_of("ci_method", method, sorted(CI_METHODS))
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    events = np.asarray(events, dtype=float)
    total = np.asarray(total, dtype=float)
    if np.any(total <= 0) or np.any(events < 0) or np.any(events > total):
        raise ValueError("need 0 <= events <= total and total > 0")
    lo, hi = proportion_confint(events, total, alpha=alpha, method=CI_METHODS[method])
    lo = np.clip(np.where(events == 0, 0.0, lo), 0.0, 1.0)
    hi = np.clip(np.where(events == total, 1.0, hi), 0.0, 1.0)
    return lo, hi


def _is_missing(v) -> bool:
    return v is None or (not isinstance(v, str) and pd.isna(v))


def _fmt_int(v) -> str:
    return str(int(v))


def _row_counts(r) -> dict:
    """What can be computed for one cohort_outcomes row (no interval yet)."""
    ev, tot, prop = r.get("events"), r.get("total"), r.get("proportion")
    tq = r.get("total_qualifier")
    tq = "exact" if _is_missing(tq) else str(tq)
    pq = r.get("proportion_qualifier")
    pq = "exact" if _is_missing(pq) else str(pq)
    notes, approx_reasons = [], []
    if bool(r.get("approximate", False)) if not _is_missing(r.get("approximate")) else False:
        approx_reasons.append("coded as approximate")
    if tq == "at_least":
        approx_reasons.append(f"total is a lower bound (at least {_fmt_int(tot)})" if not _is_missing(tot)
                              else "total is a lower bound")
    elif tq == "about":
        approx_reasons.append(f"total is approximate (about {_fmt_int(tot)})" if not _is_missing(tot)
                              else "total is approximate")
    if pq == "about" and not _is_missing(prop):
        approx_reasons.append(f"proportion is approximate (about {float(prop):.3g})")
    out = {"events_used": np.nan, "total_used": np.nan, "proportion": np.nan, "derived": False}
    if not _is_missing(ev) and not _is_missing(tot):
        out.update(events_used=float(ev), total_used=float(tot), proportion=float(ev) / float(tot))
        if tq == "at_least":
            notes.append(f"interval uses the lower bound of the total ({_fmt_int(tot)}), the widest")
    elif not _is_missing(prop) and not _is_missing(tot):
        derived = float(round(float(prop) * float(tot)))
        out.update(events_used=derived, total_used=float(tot), proportion=float(prop), derived=True)
        bound = ", the lower bound of the total (the widest interval)" if tq == "at_least" else ""
        notes.append(
            f"derived: no event count reported, so the interval uses "
            f"{_fmt_int(derived)}/{_fmt_int(tot)} = round({float(prop):.3g} x {_fmt_int(tot)}){bound}"
        )
        approx_reasons.append("event count derived from a proportion")
    elif not _is_missing(prop):
        out["proportion"] = float(prop)
        notes.append("no interval: proportion reported without the number of patients")
    elif not _is_missing(ev):
        notes.append("no interval: event count reported without the number of patients")
    elif not _is_missing(tot):
        notes.append("no interval: number of patients reported without events or a proportion")
    else:
        notes.append("no interval: no counts or proportion reported (duration or statement only)")
    out["approximate"] = bool(approx_reasons)
    shown = [a for a in approx_reasons if a not in ("coded as approximate", "event count derived from a proportion")]
    if approx_reasons:
        notes.insert(0, "approximate: " + ("; ".join(dict.fromkeys(shown)) if shown else approx_reasons[0]))
    out["note"] = "; ".join(notes)
    return out


def study_label(study, arm) -> str:
    """Short row label: the study label, plus the arm when it says something (used when a
    study has several arms in the table)."""
    study = "" if _is_missing(study) else str(study)
    if _is_missing(arm) or str(arm).strip().lower() in ("", "all", "single arm", "single_arm", "total"):
        return study
    return f"{study} ({arm})"


COHORT_DESIGNS = ("uncontrolled_cohort", "controlled_cohort", "rct", "registry")


def is_case_report(design, total, case_report_max_n: int = 5) -> pd.Series:
    """Which rows are case reports, shown but never pooled with cohorts.

    A row is a case report when its design is ``case_report``, or when it has at most
    ``case_report_max_n`` patients and its design is ``case_series``, not reported or
    anything else that is not a cohort design (:data:`COHORT_DESIGNS`): a coded cohort
    design is trusted whatever its size.
    """
    design = pd.Series(design).astype("string").str.strip().str.lower()
    small = (pd.Series(total, index=design.index).astype(float) <= case_report_max_n).fillna(False)
    return ((design == "case_report").fillna(False)
            | (small & ~design.isin(COHORT_DESIGNS).fillna(False))).astype(bool)


def study_rates(outcomes: pd.DataFrame, sources: pd.DataFrame | None = None, *,
                ci_method: str = "clopper-pearson", alpha: float = 0.05,
                case_report_max_n: int = 5) -> pd.DataFrame:
    """One row per cohort_outcomes row: proportion with its interval, flags and a note.

    ``outcomes`` has the columns of ``Dataset.cohort_outcomes``; ``sources`` (optional)
    adds ``evidence_level`` and ``citation`` through ``source_id``. Returns the columns of
    :data:`RATES_COLUMNS` first (``events``/``total`` exactly as coded, ``proportion`` =
    events/total or the coded proportion), then ``label``, ``source_id``, ``evidence_level``,
    ``design``, ``disease``, ``therapy``, ``cell_source``, ``definition``, ``total_qualifier``,
    ``approximate``, ``derived``, ``events_used``, ``total_used`` (the counts behind the
    interval), ``has_interval``, ``is_case_report``, ``is_safety``, ``time_value``,
    ``time_unit``, ``time_qualifier``, ``note``. The input is not modified.
    """
    expect_one_of("ci_method", ci_method, sorted(CI_METHODS))
    if case_report_max_n < 0:
        raise ValueError(f"case_report_max_n must be >= 0, got {case_report_max_n!r}")
    missing = [c for c in ("study", "outcome") if c not in outcomes.columns]
    if missing:
        raise ValueError(f"cohort outcomes lack the column(s) {', '.join(missing)}")
    df = outcomes.reset_index(drop=True).copy()
    for col in ("arm", "events", "total", "proportion", "total_qualifier", "proportion_qualifier",
                "approximate", "design", "disease", "therapy", "cell_source", "definition",
                "source_id", "time_value", "time_unit", "time_qualifier"):
        if col not in df.columns:
            df[col] = pd.NA
    computed = pd.DataFrame([_row_counts(r) for r in df.to_dict("records")], index=df.index,
                            columns=["events_used", "total_used", "proportion", "derived",
                                     "approximate", "note"])
    out = pd.DataFrame({
        "study": df["study"].astype("string"),
        "arm": df["arm"].astype("string"),
        "outcome": df["outcome"].astype("string"),
        "events": pd.array(df["events"], dtype="Int64"),
        "total": pd.array(df["total"], dtype="Int64"),
        "proportion": computed["proportion"].astype(float),
    })
    has = computed["events_used"].notna() & computed["total_used"].notna()
    bad = has & ((computed["total_used"] <= 0) | (computed["events_used"] < 0)
                 | (computed["events_used"] > computed["total_used"]))
    if bad.any():
        ids = df["outcome_id"] if "outcome_id" in df.columns else df["study"]
        raise ValueError("cohort outcomes need 0 <= events <= total and total > 0; not so for "
                         + ", ".join(f"{i} ({e:g}/{t:g})" for i, e, t in zip(
                             ids[bad], computed.loc[bad, "events_used"], computed.loc[bad, "total_used"])))
    lo = pd.Series(np.nan, index=df.index)
    hi = pd.Series(np.nan, index=df.index)
    if has.any():
        l_, h_ = proportion_ci(computed.loc[has, "events_used"], computed.loc[has, "total_used"],
                               ci_method, alpha)
        lo[has], hi[has] = l_, h_
    out["ci_lower"], out["ci_upper"] = lo, hi
    out["ci_method"] = pd.Series(np.where(has, ci_method, None), index=df.index, dtype="string")
    arms = df["arm"].astype("string").fillna("").groupby(
        df["study"].astype("string").fillna(""), sort=False).transform("nunique")
    out["label"] = [study_label(s, a) if n > 1 else ("" if _is_missing(s) else str(s))
                    for s, a, n in zip(df["study"], df["arm"], arms)]
    out["source_id"] = df["source_id"]
    if sources is not None and "source_id" in sources.columns:
        src = sources.drop_duplicates("source_id").set_index("source_id")
        for col in ("evidence_level", "citation"):
            out[col] = df["source_id"].map(src[col]) if col in src.columns else pd.NA
    else:
        out["evidence_level"] = df["evidence_level"] if "evidence_level" in df.columns else pd.NA
        out["citation"] = df["citation"] if "citation" in df.columns else pd.NA
    out["evidence_level"] = pd.Categorical(out["evidence_level"].astype("object"),
                                           categories=EVIDENCE_LEVELS, ordered=True)
    for col in ("design", "disease", "therapy", "cell_source", "definition", "total_qualifier"):
        out[col] = df[col]
    out["approximate"] = computed["approximate"].astype(bool)
    out["derived"] = computed["derived"].astype(bool)
    out["events_used"] = computed["events_used"].astype(float)
    out["total_used"] = computed["total_used"].astype(float)
    out["has_interval"] = has.astype(bool)
    out["is_case_report"] = is_case_report(df["design"], computed["total_used"], case_report_max_n)
    out["is_safety"] = out["outcome"].isin(SAFETY_OUTCOMES).fillna(False).astype(bool)
    for col in ("time_value", "time_unit", "time_qualifier"):
        out[col] = df[col]
    for col in df.columns:  # anything else the caller had (outcome_id, quote, ...) follows
        if col not in out.columns and col not in ("proportion_qualifier", "approximate"):
            out[col] = df[col]
    note = computed["note"].copy()
    cr = out["is_case_report"]
    note[cr] = np.where(note[cr] == "", "case report: shown, never pooled",
                        "case report: shown, never pooled; " + note[cr])
    out["note"] = note
    return out


# --------------------------------------------------------------------------- metafor


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


# --------------------------------------------------------------------------- per subgroup


@dataclass
class PoolingResult:
    """Output of :func:`pool_rates`.

    ``pooled``: the ``pooled_rates.csv`` table (:data:`POOLED_COLUMNS`), one row per pooled
    outcome and subgroup (plus ``All studies`` across subgroups when ``subgroup_by`` is set).
    ``status``: one row per outcome and subgroup saying how many rows qualified, why others
    did not, and whether (or why not) it was pooled. ``weights``: the random-effects weight
    (percent within its subgroup) of each pooled row of the rates table, by its index.
    ``settings``: the options used.
    """

    pooled: pd.DataFrame
    status: pd.DataFrame
    weights: pd.Series
    settings: dict = field(default_factory=dict)


def eligibility(rates: pd.DataFrame, include_approximate: bool = True,
                min_evidence_level: str | None = None) -> pd.Series:
    """Why each row of a rates table cannot be pooled ("" where it can)."""
    if min_evidence_level is not None:
        expect_one_of("min_evidence_level", min_evidence_level, EVIDENCE_LEVELS)
    limit = None if min_evidence_level is None else EVIDENCE_LEVELS.index(min_evidence_level)
    reasons = []
    # only the columns read (itertuples over a wide table costs more than the loop)
    for r in rates[["is_case_report", "has_interval", "approximate", "evidence_level"]].itertuples():
        if r.is_case_report:
            reasons.append("case report")
        elif not r.has_interval:
            reasons.append("no counts")
        elif r.approximate and not include_approximate:
            reasons.append("approximate")
        elif limit is not None and not (evidence_rank(r.evidence_level) <= limit):
            reasons.append("evidence below " + min_evidence_level)
        else:
            reasons.append("")
    return pd.Series(reasons, index=rates.index, dtype=object)


def pool_rates(rates: pd.DataFrame, *, subgroup_by: str | None = None, outcomes=None,
               method: str = "REML", transform: str = "logit", min_studies: int = 3,
               include_approximate: bool = True, min_evidence_level: str | None = None,
               alpha: float = 0.05, overall: bool = True) -> PoolingResult:
    """Random-effects pooled proportion per outcome and subgroup of a :func:`study_rates` table.

    Rows qualify unless they are case reports, have no counts, are approximate (when
    ``include_approximate`` is false) or come from evidence weaker than
    ``min_evidence_level``. Nothing is pooled in a subgroup where fewer than ``min_studies``
    rows qualify (``status`` says so). With ``subgroup_by`` and ``overall``, an
    ``All studies`` row pools every qualifying row of the outcome (one tau2 across subgroups).
    """
    expect_one_of("pool_method", method, POOL_METHODS)
    expect_one_of("transform", transform, TRANSFORMS)
    if int(min_studies) != min_studies or min_studies < 2:
        raise ValueError(f"min_studies must be a whole number >= 2, got {min_studies!r}")
    if subgroup_by is not None and subgroup_by not in rates.columns:
        raise ValueError(f"cannot pool by {subgroup_by!r}: no such column in the rates table")
    reasons = eligibility(rates, include_approximate, min_evidence_level)
    if outcomes is not None:
        outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
        rates = rates[rates["outcome"].isin(outcomes)]
    pooled_rows, status_rows = [], []
    weights = pd.Series(np.nan, index=rates.index, dtype=float)
    # rows are selected by position in plain arrays: pandas selections of the (wide) rates
    # table per outcome and subgroup cost far more than the pooling itself
    why_all = reasons.loc[rates.index].to_numpy(dtype=object)
    outcome_all = rates["outcome"].to_numpy(dtype=object, na_value=None)
    events_all = rates["events_used"].to_numpy(dtype=float)
    total_all = rates["total_used"].to_numpy(dtype=float)
    group_all = (rates[subgroup_by].astype("string").fillna("(not given)").to_numpy(dtype=object)
                 if subgroup_by is not None else None)

    def one(pos: np.ndarray, outcome: str, label: str, keep_weights: bool):
        why = why_all[pos]
        ok = pos[why == ""]
        k_ok = len(ok)
        counts = Counter(w for w in why if w)  # reasons not to pool, by reason
        st = {"outcome": outcome, "subgroup": label, "rows": len(pos), "k_qualifying": k_ok,
              "case_reports": int(counts.get("case report", 0)),
              "no_counts": int(counts.get("no counts", 0)),
              "approximate_excluded": int(counts.get("approximate", 0)),
              "low_evidence_excluded": int(sum(v for k_, v in counts.items() if k_.startswith("evidence"))),
              "pooled": False, "reason": ""}
        if k_ok < min_studies:
            if k_ok == 0 and st["case_reports"] == len(pos):
                st["reason"] = "not pooled: only case reports, which are never pooled"
            else:
                st["reason"] = (f"not pooled: {k_ok} {'study qualifies' if k_ok == 1 else 'studies qualify'}, "
                                f"fewer than the minimum of {min_studies}")
            status_rows.append(st)
            return
        res = pool_proportions(events_all[ok], total_all[ok], method, transform, alpha)
        st["pooled"], st["reason"] = True, f"pooled {k_ok} studies"
        status_rows.append(st)
        if keep_weights:
            weights.iloc[ok] = res["weights"]
        pooled_rows.append({
            "subgroup": label, "outcome": outcome, "k": res["k"], "total": res["total"],
            "pooled": res["estimate"], "ci_lower": res["ci_lower"], "ci_upper": res["ci_upper"],
            "pi_lower": res["pi_lower"], "pi_upper": res["pi_upper"], "tau2": res["tau2"],
            "i2": res["i2"], "q": res["q"], "q_p_value": res["q_p_value"], "method": method,
            "transform": transform,
        })

    for outcome in pd.unique(rates["outcome"].dropna()):
        rows = np.flatnonzero(outcome_all == outcome)
        if subgroup_by is None:
            one(rows, outcome, OVERALL, True)
            continue
        groups = group_all[rows]
        labels = sorted(set(groups))
        for g in labels:
            one(rows[groups == g], outcome, str(g), True)
        if overall and len(labels) > 1:
            one(rows, outcome, OVERALL, False)
    pooled = pd.DataFrame(pooled_rows, columns=POOLED_COLUMNS)
    for col in POOLED_COLUMNS:
        if col in ("k", "total"):
            pooled[col] = pooled[col].astype(int)
        elif col not in ("subgroup", "outcome", "method", "transform"):
            pooled[col] = pooled[col].astype(float)
    status = pd.DataFrame(status_rows, columns=[
        "outcome", "subgroup", "rows", "k_qualifying", "case_reports", "no_counts",
        "approximate_excluded", "low_evidence_excluded", "pooled", "reason"])
    settings = {"subgroup_by": subgroup_by, "method": method, "transform": transform,
                "min_studies": min_studies, "include_approximate": include_approximate,
                "min_evidence_level": min_evidence_level, "alpha": alpha}
    return PoolingResult(pooled, status, weights, settings)


def sensitivity_table(rates: pd.DataFrame, *, low_evidence_below: str = "uncontrolled_study",
                      **pool_kwargs) -> pd.DataFrame:
    """The same pooling three ways, side by side (long format, one row per analysis).

    ``analysis`` is ``main`` (the options given), ``without approximate rows`` and
    ``without evidence below <level>`` (``low_evidence_below``, default: keep
    uncontrolled studies and stronger). Columns: ``analysis``, the :data:`POOLED_COLUMNS`,
    and ``reason`` where an analysis pooled nothing for an outcome and subgroup.
    """
    main_level = pool_kwargs.pop("min_evidence_level", None)
    main_approx = pool_kwargs.pop("include_approximate", True)
    stricter = main_level if (main_level is not None and
                              EVIDENCE_LEVELS.index(main_level) < EVIDENCE_LEVELS.index(low_evidence_below)
                              ) else low_evidence_below
    variants = [
        ("main", dict(include_approximate=main_approx, min_evidence_level=main_level)),
        ("without approximate rows", dict(include_approximate=False, min_evidence_level=main_level)),
        (f"without evidence below {stricter}",
         dict(include_approximate=main_approx, min_evidence_level=stricter)),
    ]
    parts = []
    for name, opts in variants:
        res = pool_rates(rates, **pool_kwargs, **opts)
        table = res.status[["outcome", "subgroup", "k_qualifying", "reason"]].merge(
            res.pooled, on=["outcome", "subgroup"], how="left")
        table["k"] = table["k"].astype(float).fillna(table["k_qualifying"]).astype(int)
        table.insert(0, "analysis", name)
        table["reason"] = np.where(table["pooled"].isna(), table["reason"], "")
        parts.append(table[["analysis"] + POOLED_COLUMNS + ["reason"]])
    return pd.concat(parts, ignore_index=True)


def response_categories(rates: pd.DataFrame) -> pd.DataFrame:
    """Complete / partial / other response / none per study arm, where studies report them.

    Uses the ``complete_response``, ``partial_response`` and ``response`` rows of a rates
    table (proportions as computed there). Columns: ``label``, ``complete``, ``partial``,
    ``response_unspecified`` (responders not split into complete/partial), ``none``,
    ``not_reported`` (the share the source does not account for), ``total``,
    ``approximate``, ``is_case_report``. Shares sum to 1. Arms reporting none of these outcomes are left out.
    """
    cols = ["label", "complete", "partial", "response_unspecified", "none", "not_reported",
            "total", "approximate", "is_case_report"]
    sel = rates[rates["outcome"].isin(["complete_response", "partial_response", "response"])
                & rates["proportion"].notna()]
    rows = []
    for label, g in sel.groupby("label", sort=False):
        p = {o: float(g.loc[g["outcome"] == o, "proportion"].iloc[0])
             for o in ("complete_response", "partial_response", "response") if (g["outcome"] == o).any()}
        cr, pr, rr = p.get("complete_response"), p.get("partial_response"), p.get("response")
        row = dict.fromkeys(cols[1:6], 0.0)  # the five shares
        if rr is None and cr is not None and pr is not None:
            rr = cr + pr
        row["complete"] = cr or 0.0
        row["partial"] = pr if pr is not None else 0.0
        if rr is not None:
            row["response_unspecified"] = max(0.0, rr - (cr or 0.0) - (pr or 0.0))
            row["none"] = max(0.0, 1.0 - rr)
        row["not_reported"] = max(0.0, 1.0 - sum(row[c] for c in cols[1:5]))
        tot = g["total_used"].max()
        rows.append({"label": label, **row, "total": tot, "approximate": bool(g["approximate"].any()),
                     "is_case_report": bool(g["is_case_report"].all())})
    return pd.DataFrame(rows, columns=cols)


def statement(status: pd.DataFrame) -> list[str]:
    """Plain-language sentences, one per outcome and subgroup of a ``PoolingResult.status``."""
    lines = []
    for r in status.itertuples():
        what = f"{str(r.outcome).replace('_', ' ').capitalize()} ({r.subgroup})"
        if r.pooled:
            lines.append(f"{what}: {r.reason}.")
            continue
        extra = []
        for n, word in ((r.case_reports, "case report{s} shown separately"),
                        (r.no_counts, "row{s} without counts"),
                        (r.approximate_excluded, "approximate row{s} left out"),
                        (r.low_evidence_excluded, "low-evidence row{s} left out")):
            if n:
                extra.append(f"{n} " + word.format(s="" if n == 1 else "s"))
        tail = f" ({'; '.join(extra)})" if extra else ""
        lines.append(f"{what}: {r.reason}{tail}.")
    return lines


def _level_text(level) -> str:
    return evidence_words(level, missing="evidence level not given")


def _count_words(r) -> str:
    n = "" if pd.isna(r["total_used"]) else str(int(r["total_used"]))
    if r.get("total_qualifier") == "at_least" and n:
        n = "at least " + n
    elif r.get("total_qualifier") == "about" and n:
        n = "about " + n
    if r["has_interval"]:
        ev = ("about " if r["derived"] else "") + str(int(r["events_used"]))
        return (f"{ev} of {n} patients ({100 * r['proportion']:.1f}%, 95% CI "
                f"{100 * r['ci_lower']:.1f}-{100 * r['ci_upper']:.1f}%"
                f"{'; approximate' if r['approximate'] else ''})")
    if pd.notna(r["proportion"]):
        return f"{100 * r['proportion']:.0f}% of an unstated number of patients (no interval)"
    return "no numbers given" + (f" (of {n} patients)" if n else "")


def safety_lines(rates: pd.DataFrame) -> list[str]:
    """One plain sentence per safety row (severe adverse events, adverse events, deaths)."""
    lines = []
    for r in rates[rates["is_safety"]].to_dict("records"):
        what = str(r["outcome"]).replace("_", " ")
        definition = f" - “{r['definition']}”" if isinstance(r.get("definition"), str) and r["definition"] else ""
        lines.append(f"**{what.capitalize()}**, {r['label']}: {_count_words(r)}{definition} "
                     f"({_level_text(r['evidence_level'])}).")
    return lines


def evidence_summary(rates: pd.DataFrame) -> str:
    """What the rows shown rest on, in words (evidence levels, approximate and controlled rows)."""
    if rates.empty:
        return "No rows match the chosen outcomes and filters."
    levels = rates["evidence_level"].value_counts(sort=False)
    levels = levels[levels > 0]
    parts = [f"{n} {_level_text(lvl)}" for lvl, n in levels.items()]
    unknown = int(rates["evidence_level"].isna().sum())
    if unknown:
        parts.append(f"{unknown} without an evidence level")
    text = f"The {len(rates)} rows shown rest on: {', '.join(parts)}."
    ranks = [evidence_rank(x) for x in rates["evidence_level"].dropna()]
    if ranks:
        best = EVIDENCE_LEVELS[int(min(ranks))]
        text += f" The strongest evidence is **{_level_text(best)}**."
        if min(ranks) > EVIDENCE_LEVELS.index("controlled_study"):
            text += (" No row comes from a controlled study, so no rate here can be compared with "
                     "standard treatment or attributed to the stem cells alone.")
    n_approx = int(rates["approximate"].sum())
    if n_approx:
        text += f" {n_approx} row{'s are' if n_approx > 1 else ' is'} approximate as coded."
    n_case = int(rates["is_case_report"].sum())
    if n_case:
        text += f" {n_case} row{'s are case reports' if n_case > 1 else ' is a case report'}, shown but never pooled."
    return text
