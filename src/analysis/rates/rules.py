"""What a careful reviewer pools, and what never: the pooling rules, row by row.

Defaults, each stated on the figure, in ``pooling_status.csv`` and in the report text:

* a **control arm** is shown beside its comparison and never pooled with treated arms;
* **secondary summaries** (review tables, clinic pages, news), **anecdotes** and **background**
  and **case reports** (design ``case_report``, or a series of at most ``case_report_max_n``
  patients) never enter a pool with studies; they are shown in their own sections;
* **one row per cohort**: rows sharing a ``cohort_group`` (the same patients in several
  reports) stand for one study; the row with the largest total stands for the group (ties: the
  latest year, then the first row), the others are shown as "same cohort as ...". Rows of one
  arm of one study (same source, study and arm) at several time points are the same patients
  too: the largest total stands for them (ties: the longest follow-up);
* rows without counts, approximate rows (when asked) and rows below ``min_evidence_level``
  are left out with that reason.

Every reason is a short phrase (``not_pooled_reason`` in ``rates.csv``); "" means the row may
enter a pool.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.schemas import EVIDENCE_LEVELS, evidence_rank
from analysis.timing import expect_one_of

SUMMARY_LEVELS = ("secondary_summary", "anecdote", "background")
"""Evidence levels that never enter a pool with studies."""
SUMMARY_DESIGNS = ("review_summary",)
CONTROL = "control"

REASON_CONTROL = "control arm (shown, never pooled with treated arms)"
REASON_CASE = "case report"
REASON_SUMMARY = "secondary summary or anecdote (never pooled with studies)"
REASON_NO_COUNTS = "no counts"
REASON_APPROXIMATE = "approximate"


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def eligibility(rates: pd.DataFrame, include_approximate: bool = True,
                min_evidence_level: str | None = None) -> pd.Series:
    """Why each row of a :func:`~analysis.rates.study_rates` table cannot be pooled ("" where
    it can), in the order of the rules above."""
    if min_evidence_level is not None:
        expect_one_of("min_evidence_level", min_evidence_level, EVIDENCE_LEVELS)
    limit = None if min_evidence_level is None else EVIDENCE_LEVELS.index(min_evidence_level)
    n = len(rates)
    role = rates["arm_role"] if "arm_role" in rates.columns else pd.Series([""] * n, index=rates.index)
    design = rates["design"] if "design" in rates.columns else pd.Series([""] * n, index=rates.index)
    reasons = []
    for r, rl, dz in zip(rates[["is_case_report", "has_interval", "approximate", "evidence_level"]].itertuples(),
                         role.tolist(), design.tolist()):
        level = _text(r.evidence_level)
        if _text(rl) == CONTROL:
            reasons.append(REASON_CONTROL)
        elif level in SUMMARY_LEVELS or _text(dz) in SUMMARY_DESIGNS:
            reasons.append(REASON_SUMMARY)
        elif r.is_case_report:
            reasons.append(REASON_CASE)
        elif not r.has_interval:
            reasons.append(REASON_NO_COUNTS)
        elif r.approximate and not include_approximate:
            reasons.append(REASON_APPROXIMATE)
        elif limit is not None and not (evidence_rank(r.evidence_level) <= limit):
            reasons.append("evidence below " + min_evidence_level)
        else:
            reasons.append("")
    return pd.Series(reasons, index=rates.index, dtype=object)


def one_per_cohort(pos: np.ndarray, group: np.ndarray, total: np.ndarray, year: np.ndarray,
                   label: np.ndarray, arm_key: np.ndarray | None = None,
                   days: np.ndarray | None = None) -> tuple[np.ndarray, dict[int, str]]:
    """Of the rows at positions ``pos``, keep one per cohort group and one per study arm.

    ``group`` holds each row's ``cohort_group`` ("" for none), ``total`` its patients,
    ``year`` its source's year (NaN unknown), ``label`` its label; ``arm_key`` (optional) the
    same text for rows of one arm of one study (source, study, arm), ``days`` their time
    point in days (NaN unknown). Within an arm the largest total, then the longest follow-up
    stands for the rest; within a cohort group the largest total, then the latest year. Returns
    the kept positions (in their order) and, for each dropped position, why.
    """
    def nz(x):
        return -np.inf if np.isnan(x) else x

    dropped: dict[int, str] = {}
    if arm_key is not None:
        days = np.full(len(total), np.nan) if days is None else days
        best_arm: dict[str, int] = {}
        for p in pos:
            b = best_arm.get(arm_key[p])
            if b is None or (total[p], nz(days[p])) > (total[b], nz(days[b])):
                best_arm[arm_key[p]] = p
        for p in pos:
            b = best_arm[arm_key[p]]
            if b != p:
                dropped[int(p)] = (f"same patients as {label[b]} at another time point (one row per study arm: "
                                   "the largest total, then the longest follow-up)")
        pos = np.asarray([p for p in pos if int(p) not in dropped], dtype=int)
    best: dict[str, int] = {}
    for p in pos:
        g = group[p]
        if not g:
            continue
        b = best.get(g)
        if b is None or (total[p], nz(year[p])) > (total[b], nz(year[b])):
            best[g] = p
    keep = []
    for p in pos:
        g = group[p]
        if g and best[g] != p:
            dropped[int(p)] = f"same cohort as {label[best[g]]} (cohort group {g!r}; the largest report stands for it)"
        else:
            keep.append(p)
    return np.asarray(keep, dtype=int), dropped


def study_keys(source_id: np.ndarray, study: np.ndarray, group: np.ndarray) -> np.ndarray:
    """What counts as one study: its cohort group where it has one, else source and study label."""
    return np.array([f"cohort:{g}" if g else f"{s}\x1f{t}" for s, t, g in zip(source_id, study, group)],
                    dtype=object)
