"""Cohort statements: what cohorts report about survival without giving data for a curve.

Two kinds, both from ``cohort_outcomes`` rows (:func:`cohort_statements`), both drawn apart
from the curves (:mod:`.plot`), never as curves and never pooled with them:

* **points** -- "X % at time T": a row with ``time_qualifier`` ``at`` (or ``about``), a
  ``proportion`` or ``events``/``total``, and a survival-type outcome (:data:`POINT_OUTCOMES`:
  relapse-free, disease-free, event-free or overall survival; for relapse and progression the
  survival-scale value is 1 - the share). Drawn on the survival axes as a hollow marker with
  its interval: Clopper-Pearson (exact) where the source gives counts, none where it gives only
  a share (a share read off a Kaplan-Meier curve has no binomial interval; none is invented).
Case reports (design ``case_report``, or a case-report or anecdote source) are not cohort
statements: their patients are the case curves' or the timelines'. Several reports of one
cohort (``cohort_group``) give one drawn point per outcome and time.

* **ranges** -- "disease-free for up to 15 years" (relapse-free or disease-free rows with a
  time but no counts, ``up_to``/``at_least``, or ``at`` without a share): drawn as annotated
  ranges in their own panel, as before.

Times are converted to ``time_unit`` (:data:`analysis.timing.TIME_UNITS`); survival values
and limits are proportions (0-1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaincinv

from analysis.timing import TIME_UNITS, unit_days

STATEMENT_COLUMNS = ["outcome_id", "source_id", "study", "arm", "arm_role", "disease", "therapy", "design",
                     "evidence_level", "outcome", "time", "time_qualifier", "time_unit",
                     "proportion", "events", "total", "total_qualifier", "definition", "quote",
                     "kind", "endpoint", "survival", "ci_lower", "ci_upper", "ci_method", "drawn",
                     "note"]
"""Columns of ``cohort_statements.csv`` (``arm_role``: a control arm's point is drawn grey and
keyed "control arm"). ``kind``: ``point`` ("X % at T", drawn on the
survival axes) or ``range`` ("up to N years", drawn in its own panel); ``endpoint``: the
outcome on the survival scale in words; ``survival``/``ci_lower``/``ci_upper``: the value
drawn (1 - share for relapse and progression) and its interval; ``ci_method``:
``clopper-pearson`` (counts given), ``clopper-pearson, approximate counts`` or empty (only a
share given: no interval); ``drawn``: False for a row the figure leaves out, ``note`` says
why (another report of the same cohort, ``cohort_group``, stands for it: the largest total,
then the latest year, as in the rates analysis)."""

POINT_OUTCOMES = {
    "relapse_free": ("relapse-free", False),
    "disease_free": ("disease-free", False),
    "event_free_survival": ("event-free survival", False),
    "overall_survival": ("overall survival", False),
    "relapse": ("relapse-free (1 - relapse)", True),
    "progression": ("progression-free (1 - progression)", True),
}
"""Outcomes drawn as survival points: endpoint in words, and whether the survival-scale value
is 1 - the share (the outcome is the event, not its absence)."""
RANGE_OUTCOMES = ("relapse_free", "disease_free")
POINT_QUALIFIERS = ("at", "about")


def clopper_pearson(x, n, alpha: float = 0.05):
    """Exact (Clopper-Pearson) interval of ``x`` successes in ``n``: beta quantiles, 0 and 1
    at the ends (equal to statsmodels' ``proportion_confint(method="beta")``, which the
    rates analysis uses)."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(x > 0, betaincinv(x, n - x + 1, alpha / 2), 0.0)
        hi = np.where(x < n, betaincinv(x + 1, n - x, 1 - alpha / 2), 1.0)
    bad = ~(np.isfinite(x) & np.isfinite(n) & (n > 0))
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _same_cohort(out: pd.DataFrame, total: pd.Series, year: pd.Series):
    """(drawn, note): of the reports of one cohort (``cohort_group``) with the same kind,
    outcome, arm role and time, the largest total (then the latest year) is drawn."""
    drawn = pd.Series(True, index=out.index)
    note = pd.Series("", index=out.index)
    if "cohort_group" not in out.columns:
        return drawn, note
    grp = out["cohort_group"].astype(object).where(out["cohort_group"].notna(), "")
    role = out["arm_role"].astype(str) if "arm_role" in out.columns else pd.Series("", index=out.index)
    keyed = out.assign(_g=grp, _r=role, _n=total.fillna(-1), _y=year.fillna(-1))[grp != ""]
    for _, rows in keyed.groupby(["_g", "kind", "outcome", "_r", "time"], sort=False):
        if len(rows) < 2:
            continue
        keep = rows.sort_values(["_n", "_y"], ascending=False, kind="stable").index[0]
        for i in rows.index.drop(keep):
            drawn[i] = False
            note[i] = (f"same cohort ({rows.at[i, '_g']}) as {out.at[keep, 'outcome_id']}, "
                       "which is drawn for it")
    return drawn, note


def cohort_statements(cohort_outcomes: pd.DataFrame, sources: pd.DataFrame | None = None,
                      time_unit: str = "months", alpha: float = 0.05) -> pd.DataFrame:
    """Cohort survival statements (points and ranges, see the module docstring), times in
    ``time_unit``, intervals at level ``1 - alpha``. Columns :data:`STATEMENT_COLUMNS`;
    points first, then ranges, each in the data's order."""
    scale = unit_days(time_unit)
    co = cohort_outcomes
    if co is None or co.empty:
        return pd.DataFrame(columns=STATEMENT_COLUMNS)
    timed = co["time_value"].notna() & co["time_unit"].isin(list(TIME_UNITS))
    qual = co["time_qualifier"].astype(object).where(co["time_qualifier"].notna(), "at")
    events = pd.to_numeric(co["events"], errors="coerce").astype(float)
    total = pd.to_numeric(co["total"], errors="coerce").astype(float)
    prop = pd.to_numeric(co["proportion"], errors="coerce").astype(float)
    counted = events.notna() & total.notna() & (total > 0)
    point = (timed & co["outcome"].isin(list(POINT_OUTCOMES)) & qual.isin(POINT_QUALIFIERS)
             & (counted | prop.notna()))
    rng = timed & ~point & co["outcome"].isin(RANGE_OUTCOMES) & events.isna()
    level = pd.Series("", index=co.index)
    year = pd.Series(np.nan, index=co.index)
    if sources is not None and len(sources):
        src = sources.drop_duplicates("source_id").set_index("source_id")
        level = co["source_id"].map(src["evidence_level"].astype(str)).fillna("")
        if "year" in src.columns:
            year = co["source_id"].map(pd.to_numeric(src["year"], errors="coerce")).astype(float)
    case = co["design"].astype(str).eq("case_report") | level.isin(["case_report", "anecdote"])
    co = co[(point | rng) & ~case]
    if co.empty:
        return pd.DataFrame(columns=STATEMENT_COLUMNS)
    days = co["time_value"].astype(float) * co["time_unit"].map(TIME_UNITS).astype(float)
    out = co.assign(time=days / scale, time_unit=time_unit, time_qualifier=qual[co.index])
    out["kind"] = np.where(point[co.index], "point", "range")
    complement = co["outcome"].map(lambda o: POINT_OUTCOMES.get(o, ("", False))[1]).astype(bool)
    out["endpoint"] = co["outcome"].map(lambda o: POINT_OUTCOMES.get(o, (o.replace("_", "-"), False))[0])
    ev, tot, pr = events[co.index], total[co.index], prop[co.index]
    has_counts = counted[co.index]
    x = np.where(complement, tot - ev, ev)
    share = np.where(has_counts, x / tot, np.where(complement, 1 - pr, pr))
    lo, hi = clopper_pearson(np.where(has_counts, x, np.nan), np.where(has_counts, tot, np.nan), alpha)
    is_point = out["kind"].to_numpy() == "point"
    out["survival"] = np.where(is_point, share, np.nan)
    out["ci_lower"] = np.where(is_point & has_counts, lo, np.nan)
    out["ci_upper"] = np.where(is_point & has_counts, hi, np.nan)
    approx = co["total_qualifier"].isin(["about", "at_least"])
    if "approximate" in co.columns:
        approx = approx | co["approximate"].isin([True, "yes"])
    out["ci_method"] = np.where(is_point & has_counts,
                                np.where(approx, "clopper-pearson, approximate counts", "clopper-pearson"), "")
    out["evidence_level"] = level[co.index]
    out["drawn"], out["note"] = _same_cohort(out, total[co.index], year[co.index])
    for col in STATEMENT_COLUMNS:
        if col not in out.columns:
            out[col] = pd.NA
    out = out.assign(_k=np.where(is_point, 0, 1)).sort_values("_k", kind="stable")
    return out[STATEMENT_COLUMNS].reset_index(drop=True)
