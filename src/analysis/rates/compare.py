"""Controlled studies: intervention vs control arm (risk ratio, odds ratio, risk difference),
per comparison and pooled across studies.

A **comparison** is what ``load`` validates: rows of a rates table with the same
``source_id``, ``study``, ``outcome`` and time point (``time_value``, ``time_unit``), one
``arm_role`` ``control`` and one or more ``intervention`` arms; each intervention arm gives one
comparison with the control arm. Effect sizes follow metafor's ``escalc`` (``measure`` RR, OR
or RD of intervention vs control; 1/2 added to every cell of a table with a zero cell, RD
included; double-zero tables kept), see :func:`analysis.rates.meta.escalc_2x2`.

Pooling follows the rules of single-arm pools: a comparison whose arms include a secondary
summary, an anecdote or a case report, has no counts, or is excluded by
``include_approximate``/``min_evidence_level`` never enters a pool; one comparison per
study (the largest, then the longest follow-up); nothing is pooled where fewer than
``min_studies`` studies qualify. The model is metafor's ``rma`` on the log scale (RR, OR) or
the risk-difference scale with the chosen tau2 method; the GLMM is a model for single
proportions, so with ``method="GLMM"`` comparisons are pooled by REML.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.rates.meta import escalc_2x2, rma
from analysis.rates.pool import group_labels
from analysis.rates.rules import REASON_CONTROL, eligibility, study_keys
from analysis.rates.vocab import EFFECT_MEASURES, PI_METHODS, POOL_METHODS, POOLED_CI
from analysis.timing import TIME_UNITS, expect_one_of

COMPARISON_COLUMNS = ["study", "outcome", "measure", "events_int", "total_int", "events_ctl", "total_ctl",
                      "estimate", "ci_lower", "ci_upper"]
"""``tables/comparisons.csv`` (the contract); the columns of :data:`COMPARISON_EXTRA` follow."""
COMPARISON_EXTRA = ["label", "source_id", "disease", "time_value", "time_unit", "comparison_id", "arm_int",
                    "arm_ctl", "proportion_int", "proportion_ctl", "evidence_level", "approximate", "yi", "vi",
                    "corrected", "not_pooled_reason"]
POOLED_COMPARISON_COLUMNS = ["subgroup", "outcome", "measure", "k", "estimate", "ci_lower", "ci_upper", "pi_lower",
                             "pi_upper", "tau2", "i2", "q", "q_p_value", "method"]
"""``tables/pooled_comparisons.csv`` (the contract); ``k_studies``, ``pooled_ci``, ``pi_method``,
``warning`` and ``comparisons`` (the ``comparison_id`` of each pooled comparison) follow."""
MEASURE_NAMES = {"RR": "risk ratio", "OR": "odds ratio", "RD": "risk difference"}
REASON_SAME_STUDY = "another comparison of the same study stands for it (one per study: the largest, then the longest follow-up)"


def _text(v) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def comparisons(rates: pd.DataFrame, effect_measure: str = "RR", *, include_approximate: bool = True,
                min_evidence_level: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """One row per intervention arm of a controlled study (see the module docstring).

    Columns: :data:`COMPARISON_COLUMNS` (``measure`` RR, OR or RD; ``estimate`` and the
    ``1 - alpha`` interval on the ratio or difference scale, NaN where an arm has no counts),
    then :data:`COMPARISON_EXTRA`: ``label`` ("study (arm) vs control arm", with the time
    point), ``yi``/``vi`` (log scale for RR and OR), ``corrected`` (1/2 added to every cell)
    and ``not_pooled_reason`` (why the comparison cannot enter a pool, "" if it can; the
    one-per-study and ``min_studies`` rules are applied by :func:`pool_comparisons`).
    """
    expect_one_of("effect_measure", effect_measure, EFFECT_MEASURES)
    out_columns = COMPARISON_COLUMNS + COMPARISON_EXTRA
    if "arm_role" not in rates.columns or rates.empty:
        return pd.DataFrame(columns=out_columns)
    why = eligibility(rates, include_approximate, min_evidence_level)
    role = rates["arm_role"].map(_text)
    key_cols = ("source_id", "study", "outcome", "time_value", "time_unit")
    keys = list(zip(*[rates[c].map(_text).tolist() if c in rates.columns else [""] * len(rates)
                      for c in key_cols]))
    groups: dict[tuple, dict[str, list]] = {}
    for idx, k, rl in zip(rates.index, keys, role):
        if rl in ("control", "intervention"):
            groups.setdefault(k, {"control": [], "intervention": []})[rl].append(idx)
    rows = []
    for k, arms in groups.items():
        if len(arms["control"]) != 1 or not arms["intervention"]:
            continue  # load names these; nothing to compare
        c = rates.loc[arms["control"][0]]
        for i_idx in arms["intervention"]:
            r = rates.loc[i_idx]
            both = bool(r["has_interval"]) and bool(c["has_interval"])
            reasons = [w for w in (why[i_idx], why[arms["control"][0]]) if w and w != REASON_CONTROL]
            when = _when(r)
            rows.append({
                "study": r["study"], "outcome": r["outcome"], "measure": effect_measure,
                "events_int": r["events_used"] if both else np.nan, "total_int": r["total_used"] if both else np.nan,
                "events_ctl": c["events_used"] if both else np.nan, "total_ctl": c["total_used"] if both else np.nan,
                "label": f"{r['study']}: {_text(r['arm']) or 'intervention'} vs {_text(c['arm']) or 'control'}"
                         + (f", {when}" if when else ""),
                "source_id": r.get("source_id"), "disease": r.get("disease"), "time_value": r.get("time_value"),
                "time_unit": r.get("time_unit"), "arm_int": r.get("arm"), "arm_ctl": c.get("arm"),
                "proportion_int": r["proportion"], "proportion_ctl": c["proportion"],
                "evidence_level": r.get("evidence_level"),
                "approximate": bool(r["approximate"]) or bool(c["approximate"]),
                "not_pooled_reason": "; ".join(dict.fromkeys(reasons)),
                "cohort_group": _text(r.get("cohort_group")), "year": r.get("year"),
            })
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=out_columns)
    table["comparison_id"] = [f"C{i + 1}" for i in range(len(table))]
    for col in ("estimate", "ci_lower", "ci_upper", "yi", "vi"):
        table[col] = np.nan
    table["corrected"] = False
    has = table["events_int"].notna() & table["events_ctl"].notna()
    if has.any():
        es = escalc_2x2(table.loc[has, "events_int"], table.loc[has, "total_int"], table.loc[has, "events_ctl"],
                        table.loc[has, "total_ctl"], effect_measure, 1 - alpha)
        for col in ("estimate", "ci_lower", "ci_upper", "yi", "vi", "corrected"):
            table.loc[has, col] = getattr(es, col)
    table["corrected"] = table["corrected"].astype(bool)
    for col in ("events_int", "total_int", "events_ctl", "total_ctl"):  # counts stay whole numbers
        table[col] = pd.array(table[col].round(), dtype="Int64")
    for col in ("estimate", "ci_lower", "ci_upper"):  # exp(log(0.5)) is 0.5000000000000001: no float residue
        table[col] = table[col].astype(float).round(12) + 0.0
    return table[out_columns + ["cohort_group", "year"]]


def _when(r) -> str:
    v, u = r.get("time_value"), r.get("time_unit")
    if v is None or pd.isna(v) or not isinstance(u, str):
        return ""
    return f"{float(v):g} {u}"


def pool_comparisons(table: pd.DataFrame, *, subgroup_by: str | None = None, method: str = "REML",
                     pooled_ci: str = "z", pi_method: str = "t", min_studies: int = 3,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Random-effects pool of a :func:`comparisons` table per outcome (and ``subgroup_by``).

    A comparison qualifies where its ``not_pooled_reason`` is empty and it has counts; one per
    study (cohort group, else source and study label): the largest (both arms' patients), then
    the longest follow-up. Pooled where at least ``min_studies`` studies qualify, by metafor's
    ``rma`` with tau2 by ``method`` (``GLMM``: REML, see the module docstring), CI ``z`` or
    ``hartung-knapp``, prediction interval ``t`` (k - 1 df) or ``z``; ``estimate``,
    ``ci_*`` and ``pi_*`` on the ratio (RR, OR) or difference (RD) scale, ``tau2`` on the
    model scale. Columns :data:`POOLED_COMPARISON_COLUMNS`, then ``k_studies``, ``pooled_ci``,
    ``pi_method``, ``warning``, ``comparisons``. An empty table (columns only) when nothing is
    pooled.
    """
    expect_one_of("pool_method", method, POOL_METHODS)
    expect_one_of("pooled_ci", pooled_ci, POOLED_CI)
    expect_one_of("pi_method", pi_method, PI_METHODS)
    if int(min_studies) != min_studies or min_studies < 2:
        raise ValueError(f"min_studies must be a whole number >= 2, got {min_studies!r}")
    columns = POOLED_COMPARISON_COLUMNS + ["k_studies", "pooled_ci", "pi_method", "warning", "comparisons"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    if subgroup_by is not None and subgroup_by not in table.columns:
        raise ValueError(f"cannot pool by {subgroup_by!r}: no such column in the comparisons table")
    used = "REML" if method == "GLMM" else method
    ok = table[(table["not_pooled_reason"] == "") & table["yi"].notna()]
    ok = ok.assign(_group=group_labels(ok[subgroup_by]) if subgroup_by else "All studies",
                   _study=study_keys(ok["source_id"].map(_text).to_numpy(), ok["study"].map(_text).to_numpy(),
                                     ok["cohort_group"].map(_text).to_numpy()),
                   _size=(ok["total_int"] + ok["total_ctl"]).astype(float),
                   _days=[_days(r) for r in ok.to_dict("records")])
    rows = []
    for (outcome, group), g in ok.groupby(["outcome", "_group"], sort=False):
        g = g.sort_values(["_size", "_days"], ascending=False, kind="stable").drop_duplicates("_study")
        g = g.loc[[i for i in ok.index if i in g.index]]  # back in the table's order
        if len(g) < min_studies:
            continue
        res = rma(g["yi"].to_numpy(float), g["vi"].to_numpy(float), used, "knha" if pooled_ci == "hartung-knapp" else "z",
                  pi_method, 1 - alpha)
        back = np.exp if table["measure"].iloc[0] in ("RR", "OR") else (lambda v: v)
        rows.append({"subgroup": group, "outcome": outcome, "measure": g["measure"].iloc[0], "k": res.k,
                     "estimate": float(back(res.estimate)), "ci_lower": float(back(res.ci_lower)),
                     "ci_upper": float(back(res.ci_upper)), "pi_lower": float(back(res.pi_lower)),
                     "pi_upper": float(back(res.pi_upper)), "tau2": res.tau2, "i2": res.i2, "q": res.q,
                     "q_p_value": res.q_p_value, "method": used, "k_studies": len(g),
                     "pooled_ci": {"z": "z", "knha": "hartung-knapp"}[res.test], "pi_method": res.pi_method,
                     "warning": "" if res.converged else res.message,
                     "comparisons": "; ".join(g["comparison_id"])})
    return pd.DataFrame(rows, columns=columns)


def comparison_placement(table: pd.DataFrame, pooled: pd.DataFrame, *, subgroup_by: str | None = None,
                         min_studies: int = 3) -> pd.DataFrame:
    """Where each comparison of ``table`` went (same index): ``pooled_in`` ("outcome:
    subgroup" of its pooled row, "" if none) and ``not_pooled_reason`` (its own reason, the
    one-per-study rule, or too few studies)."""
    into = {}
    for p in pooled.to_dict("records"):
        for c in str(p["comparisons"]).split("; "):
            into[c] = f"{p['outcome']}: {p['subgroup']}"
    pooled_groups = {(p["outcome"], p["subgroup"]) for p in pooled.to_dict("records")}
    groups = (group_labels(table[subgroup_by]) if subgroup_by and subgroup_by in table.columns
              else pd.Series("All studies", index=table.index))
    where, why = [], []
    for (i, r), g in zip(table.iterrows(), groups):
        where.append(into.get(r["comparison_id"], ""))
        if where[-1]:
            why.append("")
        elif r["not_pooled_reason"]:
            why.append(r["not_pooled_reason"])
        elif pd.isna(r["yi"]):
            why.append("no counts")
        elif (r["outcome"], g) in pooled_groups:
            why.append(REASON_SAME_STUDY)
        else:
            why.append(f"fewer than {min_studies} controlled studies qualify")
    return pd.DataFrame({"pooled_in": where, "not_pooled_reason": why}, index=table.index)


def _days(r) -> float:
    v, u = r.get("time_value"), r.get("time_unit")
    if v is None or pd.isna(v) or u not in TIME_UNITS:
        return -np.inf
    return float(v) * TIME_UNITS[u]
