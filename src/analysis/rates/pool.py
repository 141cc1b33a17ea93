"""Pooling per outcome and subgroup of a study-rates table, the sensitivity table and the
response categories (numbers; the forest plots are in :mod:`analysis.forest`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.rates.metafor import pool_proportions
from analysis.rates.vocab import OVERALL, POOLED_COLUMNS, POOL_METHODS, TRANSFORMS
from analysis.schemas import EVIDENCE_LEVELS, evidence_rank
from analysis.timing import expect_one_of


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
