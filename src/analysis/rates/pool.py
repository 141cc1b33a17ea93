"""Pooling per outcome and subgroup of a study-rates table, the sensitivity table and the
response categories (numbers; the forest plots are in :mod:`analysis.forest`)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.rates.metafor import pool_proportions
from analysis.rates.rules import (REASON_APPROXIMATE, REASON_CASE, REASON_CONTROL, REASON_NO_COUNTS,
                                  REASON_SUMMARY, eligibility, one_per_cohort, study_keys)
from analysis.rates.study import proportion_ci
from analysis.rates.vocab import (DEFAULT_POOL_METHOD, OVERALL, PI_METHODS, POOL_METHODS, POOLED_CI,
                                  POOLED_COLUMNS, TRANSFORMS)
from analysis.schemas import EVIDENCE_LEVELS
from analysis.timing import TIME_UNITS, amount, expect_one_of

MODEL_COLUMNS = ["subgroup", "outcome", "method", "transform", "estimate", "se", "k", "tau2"]
"""``PoolingResult.model``: each pooled row's estimate and standard error on the model scale
(logit or Freeman-Tukey; NaN for an exact count), the numbers a test between subgroups needs."""

WEIGHTS_GLMM = ("none: the GLMM has no inverse-variance study weights (as R meta, whose w.random is NA); "
                "its squares are drawn the same size")
WEIGHTS_RMA = "random-effects weights 1/(v_i + tau2), in percent of the subgroup's pool"


@dataclass
class PoolingResult:
    """Output of :func:`pool_rates`.

    ``pooled``: the ``pooled_rates.csv`` table (:data:`POOLED_COLUMNS`), one row per pooled
    outcome and subgroup (plus a row across subgroups when ``overall`` is set).
    ``status``: one row per outcome and subgroup saying how many rows qualified, why others
    did not, and whether (or why not) it was pooled. ``weights``: the random-effects weight
    (percent within its subgroup) of each pooled row of the rates table, by its index; NaN
    for rows of a GLMM pool (the GLMM has no study weights) or an exact count.
    ``settings``: the options used (``weights`` says what the weights are).
    """

    pooled: pd.DataFrame
    status: pd.DataFrame
    weights: pd.Series
    settings: dict = field(default_factory=dict)
    placement: pd.DataFrame | None = None
    """Per row of the rates table (same index): ``pooled_in`` (the pooled rows it entered, as
    "outcome: subgroup", "; "-separated; empty if none) and ``not_pooled_reason``."""
    model: pd.DataFrame | None = None
    """Per pooled row: :data:`MODEL_COLUMNS` (estimate and se on the model scale)."""
    members: dict = field(default_factory=dict)
    """``(outcome, subgroup)`` -> the rates-table index labels in that pool, in model order."""


def fit_pool(events, total, method: str = DEFAULT_POOL_METHOD, transform: str = "logit",
             pooled_ci: str = "z", pi_method: str = "t", alpha: float = 0.05) -> tuple[dict, str, str]:
    """One pool: ``(result, method used, warning)``; ``result`` as
    :func:`~analysis.rates.pool_proportions` returns it (proportions 0-1).

    * every study 0/n (or n/n): the exact total count (:func:`exact_count`), method
      ``exact count``, and the warning says why no model is fitted;
    * ``GLMM``: where it does not converge (the optimiser, the Hessian or a diverging fit), REML
      on the logit scale instead, and the warning says why;
    * ``REML``/``DL``/``PM``: metafor's model; a boundary note (REML's local-maximum check)
      becomes the warning. ``RuntimeError`` when tau2 cannot be estimated.
    """
    ev = np.asarray(events, dtype=float)
    tot = np.asarray(total, dtype=float)
    if np.all(ev == 0) or np.all(ev == tot):
        res = exact_count(ev, tot, alpha)
        return res, "exact count", res["warning"]
    opts = dict(pooled_ci=pooled_ci, pi_method=pi_method)
    if method == "GLMM":
        try:
            res = pool_proportions(ev, tot, "GLMM", transform, alpha, **opts)
            why = res["message"]
            if res["converged"] and math.isfinite(res["se"]):
                return res, "GLMM", ""
        except (RuntimeError, ArithmeticError, np.linalg.LinAlgError) as err:
            why = str(err)
        res = pool_proportions(ev, tot, "REML", "logit", alpha, **opts)
        return res, "REML", (f"GLMM did not converge ({why}); pooled by REML on the logit scale instead "
                             "(1/2 added to events and non-events of 0/n and n/n studies)")
    res = pool_proportions(ev, tot, method, transform, alpha, **opts)
    note = res["message"] if res["k"] > 1 else ""
    return res, method, note


def pool_rates(rates: pd.DataFrame, *, subgroup_by: str | None = None, outcomes=None,
               method: str = DEFAULT_POOL_METHOD, transform: str = "logit", pooled_ci: str = "z",
               pi_method: str = "t", min_studies: int = 3, include_approximate: bool = True,
               min_evidence_level: str | None = None, alpha: float = 0.05,
               overall: bool = False) -> PoolingResult:
    """Random-effects pooled proportion per outcome and subgroup of a :func:`study_rates` table.

    ``method``: ``GLMM`` (default, as R meta for proportions: random-intercept logistic model
    by ML, = metafor ``rma.glmm(measure="PLO")``; 0/n and n/n studies need no correction;
    logit scale only), or an inverse-variance model with tau2 by ``REML``, ``DL`` or ``PM``
    on the ``transform`` scale. Where the GLMM does not converge the pool falls back to REML
    (logit) and ``warning`` (in ``pooled_rates.csv`` and the status) says why; ``method``
    says what was used. ``pooled_ci``: ``z`` (default) or ``hartung-knapp`` (for the GLMM:
    t with k - 1 df, metafor ``rma.glmm(test="t")``, as R meta does); ``pi_method``: ``t``
    (default, k - 1 df, R meta's) or ``z`` (metafor's ``predict``). A GLMM pool's ``q`` is the
    likelihood-ratio test of heterogeneity (metafor ``QE.LRT``), not the Wald test, which
    collapses towards 0 with 0/n or n/n studies. See :mod:`analysis.rates.meta` for the
    formulas.

    Rows qualify by :func:`analysis.rates.rules.eligibility` (never control arms, secondary
    summaries, anecdotes or case reports; no rows without counts; approximate rows when
    ``include_approximate`` is false; evidence weaker than ``min_evidence_level``), then one
    row per ``cohort_group``. ``k`` in ``pooled_rates.csv`` is the number of rows in the model,
    ``k_studies`` the number of distinct studies (a cohort group is one study); nothing is
    pooled where fewer than ``min_studies`` studies qualify (``status`` says so). When every
    qualifying study has 0 events (or all patients), no random-effects model is fitted: the
    pooled row is the total count with its exact (Clopper-Pearson) interval, ``method``
    ``exact count``, and ``warning`` says why. ``overall`` (off by default) adds a row across
    subgroups, labelled exploratory (:func:`overall_label`).
    """
    expect_one_of("pool_method", method, POOL_METHODS)
    expect_one_of("transform", transform, TRANSFORMS)
    expect_one_of("pooled_ci", pooled_ci, POOLED_CI)
    expect_one_of("pi_method", pi_method, PI_METHODS)
    if method == "GLMM" and transform != "logit":
        raise ValueError(f"transform: the GLMM pools on the logit scale; expected logit with pool_method GLMM, "
                         f"found {transform!r} (use REML, DL or PM for {transform})")
    if int(min_studies) != min_studies or min_studies < 2:
        raise ValueError(f"min_studies must be a whole number >= 2, got {min_studies!r}")
    if subgroup_by is not None and subgroup_by not in rates.columns:
        raise ValueError(f"cannot pool by {subgroup_by!r}: no such column in the rates table")
    reasons = eligibility(rates, include_approximate, min_evidence_level)
    overall_name = overall_label(subgroup_by)
    if outcomes is not None:
        outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
        rates = rates[rates["outcome"].isin(outcomes)]
    pooled_rows, status_rows, model_rows, members = [], [], [], {}
    weights = pd.Series(np.nan, index=rates.index, dtype=float)
    # rows are selected by position in plain arrays: pandas selections of the (wide) rates
    # table per outcome and subgroup cost far more than the pooling itself
    why_all = reasons.loc[rates.index].to_numpy(dtype=object)
    outcome_all = rates["outcome"].to_numpy(dtype=object, na_value=None)
    events_all = rates["events_used"].to_numpy(dtype=float)
    total_all = rates["total_used"].to_numpy(dtype=float)
    group_all = (group_labels(rates[subgroup_by]).to_numpy(dtype=object)
                 if subgroup_by is not None else None)
    n_all = len(rates)

    def col(name, default=""):
        if name not in rates.columns:
            return np.array([default] * n_all, dtype=object)
        return rates[name].astype(object).where(rates[name].notna(), default).to_numpy(dtype=object)

    cohort_all = np.array([str(g).strip() for g in col("cohort_group")], dtype=object)
    year_all = pd.to_numeric(rates["year"], errors="coerce").to_numpy(dtype=float) if "year" in rates.columns \
        else np.full(n_all, np.nan)
    label_all = col("label")
    arm_all = np.array([f"{s}\x1f{t}\x1f{a}\x1f{d}" for s, t, a, d in
                        zip(col("source_id"), col("study"), col("arm"), col("disease"))], dtype=object)
    unit_days = {u: d for u, d in TIME_UNITS.items()}
    days_all = np.array([float(v) * unit_days[u] if u in unit_days and v != "" else np.nan
                         for v, u in zip(col("time_value"), col("time_unit"))], dtype=float)
    study_all = study_keys(col("source_id"), col("study"), cohort_all)
    pooled_in = [[] for _ in range(n_all)]
    why_not = list(why_all)

    def one(pos: np.ndarray, outcome: str, label: str, keep_weights: bool):
        why = why_all[pos]
        ok, same_cohort = one_per_cohort(pos[why == ""], cohort_all, total_all, year_all, label_all,
                                         arm_all, days_all)
        k_ok = len(ok)
        k_studies = len(set(study_all[ok]))
        counts = Counter(w for w in why if w)  # reasons not to pool, by reason
        st = {"outcome": outcome, "subgroup": label, "rows": len(pos), "k_qualifying": k_ok,
              "k_studies": k_studies,
              "control_arms": int(counts.get(REASON_CONTROL, 0)),
              "summaries": int(counts.get(REASON_SUMMARY, 0)),
              "case_reports": int(counts.get(REASON_CASE, 0)),
              "no_counts": int(counts.get(REASON_NO_COUNTS, 0)),
              "approximate_excluded": int(counts.get(REASON_APPROXIMATE, 0)),
              "low_evidence_excluded": int(sum(v for k_, v in counts.items() if k_.startswith("evidence"))),
              "same_cohort_excluded": len(same_cohort),
              "pooled": False, "reason": "", "warning": ""}
        if keep_weights:
            for p_, text in same_cohort.items():
                why_not[p_] = text
        if k_studies < min_studies:
            if k_ok == 0 and st["case_reports"] == len(pos):
                st["reason"] = "not pooled: only case reports, which are never pooled"
            else:
                st["reason"] = (f"not pooled: {k_studies} {'study qualifies' if k_studies == 1 else 'studies qualify'}, "
                                f"fewer than the minimum of {min_studies}")
            if keep_weights:
                for p_ in ok:
                    why_not[p_] = f"{label}: {st['reason'].removeprefix('not pooled: ')}"
            status_rows.append(st)
            return
        ev, tot = events_all[ok], total_all[ok]
        try:
            res, used, st["warning"] = fit_pool(ev, tot, method, transform, pooled_ci, pi_method, alpha)
        except RuntimeError as err:  # tau2 could not be estimated (Paule-Mandel beyond its limit)
            st["reason"] = f"not pooled: {err}"
            if keep_weights:
                for p_ in ok:
                    why_not[p_] = f"{label}: {err}"
            status_rows.append(st)
            return
        where = f"{outcome}: {label}"
        for p_ in ok:
            pooled_in[p_].append(where)
        members[(outcome, label)] = list(rates.index[ok])
        st["pooled"], st["reason"] = True, (f"pooled {k_studies} {'study' if k_studies == 1 else 'studies'}"
                                            + (f" ({k_ok} arms)" if k_ok != k_studies else ""))
        n_groups = len(set(group_all[ok])) if group_all is not None else 1
        if label == overall_name and n_groups > 1:
            st["warning"] = (st["warning"] + " " if st["warning"] else "") + \
                f"pools {n_groups} values of {subgroup_by}: exploratory"
        status_rows.append(st)
        if keep_weights and "weights" in res:
            weights.iloc[ok] = res["weights"]
        exact = used == "exact count"
        model_rows.append({"subgroup": label, "outcome": outcome, "method": used,
                           "transform": "" if exact else (transform if used != "GLMM" else "logit"),
                           "estimate": np.nan if exact else res["estimate_transformed"],
                           "se": np.nan if exact else res["se"], "k": res["k"], "tau2": res["tau2"]})
        pooled_rows.append({
            "subgroup": label, "outcome": outcome, "k": res["k"], "total": res["total"],
            "pooled": res["estimate"], "ci_lower": res["ci_lower"], "ci_upper": res["ci_upper"],
            "pi_lower": res["pi_lower"], "pi_upper": res["pi_upper"], "tau2": res["tau2"],
            "i2": res["i2"], "q": res["q"], "q_p_value": res["q_p_value"], "method": used,
            "transform": "" if exact else (transform if used != "GLMM" else "logit"), "k_studies": k_studies,
            "pooled_ci": "clopper-pearson" if exact else CI_USED[res["test"]],
            "pi_method": "" if exact else res["pi_method"],
            "warning": st["warning"],
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
            one(rows, outcome, overall_name, False)
    columns = POOLED_COLUMNS
    pooled = pd.DataFrame(pooled_rows, columns=columns)
    for c in columns:
        if c in ("k", "total", "k_studies"):
            pooled[c] = pooled[c].astype(int)
        elif c not in ("subgroup", "outcome", "method", "transform", "warning", "pooled_ci", "pi_method"):
            pooled[c] = pooled[c].astype(float)
    status = pd.DataFrame(status_rows, columns=[
        "outcome", "subgroup", "rows", "k_qualifying", "k_studies", "control_arms", "summaries",
        "case_reports", "no_counts", "approximate_excluded", "low_evidence_excluded",
        "same_cohort_excluded", "pooled", "reason", "warning"])
    placement = pd.DataFrame({"pooled_in": ["; ".join(x) for x in pooled_in],
                              "not_pooled_reason": [w if not x else "" for w, x in zip(why_not, pooled_in)]},
                             index=rates.index)
    settings = {"subgroup_by": subgroup_by, "method": method, "transform": transform,
                "pooled_ci": pooled_ci, "pi_method": pi_method,
                "min_studies": min_studies, "include_approximate": include_approximate,
                "min_evidence_level": min_evidence_level, "alpha": alpha, "overall": overall,
                "weights": WEIGHTS_GLMM if method == "GLMM" else WEIGHTS_RMA}
    model = pd.DataFrame(model_rows, columns=MODEL_COLUMNS)
    return PoolingResult(pooled, status, weights, settings, placement, model, members)


CI_USED = {"z": "z", "knha": "hartung-knapp", "t": "t"}
"""``pooled_ci`` in ``pooled_rates.csv`` from the model's test: ``t`` is the GLMM's t interval
(k - 1 df) where ``hartung-knapp`` was asked for."""



def overall_label(subgroup_by: str | None) -> str:
    """Label of the pooled row across subgroups: exploratory by name."""
    if subgroup_by is None:
        return OVERALL
    return "across diseases (exploratory)" if subgroup_by == "disease" else \
        f"across {subgroup_by.replace('_', ' ')} groups (exploratory)"


def group_labels(values: pd.Series) -> pd.Series:
    """Subgroup labels as pooled: trimmed, grouped case-insensitively (the first spelling met
    names the group), empty as ``(not given)``."""
    text = values.astype("string").str.strip()
    first: dict[str, str] = {}
    out = []
    for v in text.tolist():
        if v is None or v is pd.NA or v == "":
            out.append("(not given)")
            continue
        out.append(first.setdefault(v.casefold(), v))
    return pd.Series(out, index=values.index, dtype=object)


def exact_count(events, total, alpha: float = 0.05) -> dict:
    """The pooled row of an all-zero (or all-n) set: sum of events over sum of patients with
    the Clopper-Pearson interval. A random-effects model on such a set only reflects the
    continuity correction (0.5 added to each study gives every study the same weight), so
    none is fitted; ``warning`` says so."""
    e, n = float(np.sum(events)), float(np.sum(total))
    lo, hi = proportion_ci([e], [n], "clopper-pearson", alpha)
    which = "0 events" if e == 0 else "events in every patient"
    return {"k": len(events), "total": int(n), "estimate": e / n, "ci_lower": float(lo[0]),
            "ci_upper": float(hi[0]), "pi_lower": np.nan, "pi_upper": np.nan, "tau2": np.nan,
            "i2": np.nan, "q": np.nan, "q_p_value": np.nan,
            "warning": (f"every study has {which}: no random-effects estimate (it would reflect only the "
                        f"continuity correction); pooled as the total count {int(e)}/{int(n)} with its exact interval")}


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


CATEGORY_COLUMNS = ["label", "time", "complete", "partial", "response_unspecified", "died", "none",
                    "not_reported", "total", "approximate", "is_case_report", "arm_role", "disease",
                    "evidence_level"]


def _time_words(r) -> str:
    """A row's time point in words ("5 years", "1 year"), "" when not given."""
    v, u = r.get("time_value"), r.get("time_unit")
    if v is None or pd.isna(v) or not isinstance(u, str):
        return ""
    return amount(v, u)


def _first_text(g: pd.DataFrame, column: str) -> str:
    value = g[column].iloc[0] if column in g.columns and len(g) else ""
    return value if isinstance(value, str) else ""


def response_categories(rates: pd.DataFrame) -> pd.DataFrame:
    """Complete / partial / other response / died / the rest, per study arm and time point.

    Uses the ``complete_response``, ``partial_response`` and ``response`` rows of a rates
    table (proportions as computed there), and the arm's ``treatment_related_death`` row at the
    same time point (or without a time point) for ``died``. Columns: ``label``, ``time`` (the
    time point in words, "" when not given), ``complete``, ``partial``,
    ``response_unspecified`` (responders not split into complete/partial), ``died``,
    ``none`` (the rest: no response, not assessed or lost; the source does not split them),
    ``not_reported`` (the share the source does not account for), ``total``, ``approximate``,
    ``is_case_report``, ``arm_role``, ``disease``, ``evidence_level``. Shares are fractions that sum to 1, rounded to 12
    decimals (no float residue). Arms reporting none of these outcomes are left out.
    """
    shares = CATEGORY_COLUMNS[2:8]
    resp = rates[rates["outcome"].isin(["complete_response", "partial_response", "response"])
                 & rates["proportion"].notna()]
    deaths = rates[(rates["outcome"] == "treatment_related_death") & rates["proportion"].notna()]
    death_keys = [(lbl, _time_words(r)) for lbl, r in zip(deaths["label"], deaths.to_dict("records"))]
    keys = [(lbl, _time_words(r)) for lbl, r in zip(resp["label"], resp.to_dict("records"))]
    rows = []
    for key in dict.fromkeys(keys):
        g = resp[[k == key for k in keys]]
        p = {o: float(g.loc[g["outcome"] == o, "proportion"].iloc[0])
             for o in ("complete_response", "partial_response", "response") if (g["outcome"] == o).any()}
        cr, pr, rr = p.get("complete_response"), p.get("partial_response"), p.get("response")
        if rr is None and cr is not None and pr is not None:
            rr = cr + pr
        died = next((float(v) for k, v in zip(death_keys, deaths["proportion"])
                     if k[0] == key[0] and k[1] in (key[1], "")), 0.0)
        row = dict.fromkeys(shares, 0.0)
        row["complete"] = cr or 0.0
        row["partial"] = pr if pr is not None else 0.0
        if rr is not None:
            row["response_unspecified"] = max(0.0, rr - (cr or 0.0) - (pr or 0.0))
            row["died"] = min(died, max(0.0, 1.0 - rr))
            row["none"] = max(0.0, 1.0 - rr - row["died"])
        else:
            row["died"] = min(died, max(0.0, 1.0 - row["complete"] - row["partial"]))
        row["not_reported"] = max(0.0, 1.0 - sum(row[c] for c in shares[:-1]))
        row = {c: round(v, 12) + 0.0 for c, v in row.items()}  # no float residue, no "-0.0"
        role = g["arm_role"].iloc[0] if "arm_role" in g.columns else "single_arm"
        rows.append({"label": key[0], "time": key[1], **row, "total": g["total_used"].max(),
                     "approximate": bool(g["approximate"].any()),
                     "is_case_report": bool(g["is_case_report"].all()),
                     "arm_role": role if isinstance(role, str) else "single_arm",
                     "disease": _first_text(g, "disease"), "evidence_level": _first_text(g, "evidence_level")})
    return pd.DataFrame(rows, columns=CATEGORY_COLUMNS)
