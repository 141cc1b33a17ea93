"""The survival numbers in words, for figures, captions and the notebook text: the
confidence-interval method, the log-rank and Gray tests with what they compared (and what
they did not, and why), medians, median follow-up, restricted mean survival, Turnbull's
curve and the caveats a reader needs.

Reads fits and tables made by :mod:`.km`, :mod:`.summaries` and :mod:`.methods`; computes
nothing of its own. Times are printed in the fit's ``time_unit``; survival as a percentage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.survival.km import KMFit, km_summary
from analysis.timing import amount
from analysis.survival.summaries import logrank

COMPARISON_RULE = ("Tests compare only the arms of one study, the curves of one published "
                   "figure, or case-report curves with each other; curves of different studies "
                   "or sources are not compared (selection, disease, era and the definition of "
                   "relapse differ between them).")
"""The rule of :func:`analysis.survival.methods.comparisons`, as written on the figure."""


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def logrank_text(fit: KMFit, table: pd.DataFrame | None = None, comparisons=None,
                 test: str = "Log-rank test") -> str:
    """The test results in words, one line per comparison, naming the test, the number of
    curves compared, what they are and the strata. ``table`` is ``logrank.csv`` (or
    ``cif_tests.csv`` with ``test="Gray's test"``; one row per cause); default the plain
    test of all groups. ``comparisons`` (from :func:`analysis.survival.methods.comparisons`)
    lets an empty table say why: no comparable curves, or no events."""
    k = len(fit.groups)
    if k < 2:
        return f"{test}: not done (one group)"
    table = logrank(fit) if table is None else table
    if table.empty:
        if comparisons is not None and not len(comparisons):
            return f"{test}: not done: no two curves come from the same study or source. " + COMPARISON_RULE
        return f"{test}, {k} groups: not computable (no relapses or deaths to compare)"
    lines = []
    for _, r in table.iterrows():
        groups = [g for g in str(r.get("groups", "")).split(" | ") if g] or [g.label for g in fit.groups]
        what = str(r.get("comparison", "") or "all curves")
        head = f"{test}, {len(groups)} groups"
        if what != "all curves":
            head += f" ({what})"
        if "cause" in r.index:
            head += f", {r['cause']}"
        strata = str(r.get("strata", "") or "")
        strat = f", stratified by {strata}" if strata else ""
        if pd.isna(r["statistic"]):
            why = "" if "nothing is compared" in what else " (singular variance)"
            lines.append(f"{head}: not computable{why}{strat}")
            continue
        lines.append(f"{head}: chi-squared = {r['statistic']:.2f}, df = {int(r['df'])}, {_p(r['p_value'])}{strat}")
    compared = {g for gs in table.get("groups", pd.Series(dtype=str)) for g in str(gs).split(" | ") if g}
    if comparisons is not None and compared and len(compared) < k:
        lines.append("Curves of different studies or sources are not compared.")
    return "\n".join(lines)


def ci_text(fit: KMFit) -> str:
    """The confidence-interval method in words, for figures and captions."""
    words = {"log-log": "log-log", "log": "log", "plain": "plain (linear)"}[fit.ci_method]
    return f"{fit.conf_level:.0%} pointwise CI: {words} transform, Greenwood variance"


def _num(v: float, digits: int) -> str:
    return "not reached" if np.isnan(v) else f"{v:.{digits}f}"


def _ci(lo: float, hi: float, conf: float, digits: int) -> str:
    """ "95% CI 3.1 to 9.0", "95% CI 3.1 to not reached", or "95% CI not estimable" when
    neither limit is reached."""
    if np.isnan(lo) and np.isnan(hi):
        return f"{conf:.0%} CI not estimable"
    return f"{conf:.0%} CI {_num(lo, digits)} to {_num(hi, digits)}"


def median_text(fit: KMFit, summary: pd.DataFrame | None = None, digits: int = 1) -> list[str]:
    """One sentence per group giving the median and its CI, or saying it is not reached."""
    summary = km_summary(fit) if summary is None else summary
    out = []
    for _, r in summary.iterrows():
        if np.isnan(r["median"]):
            out.append(f"{r['group']}: median not reached ({r['events']} event(s) in {r['n']})")
            continue
        out.append(f"{r['group']}: median {amount(r['median'], fit.time_unit, f'.{digits}f')} "
                   f"({_ci(r['median_ci_lower'], r['median_ci_upper'], fit.conf_level, digits)})")
    return out


def followup_text(fit: KMFit, followup: pd.DataFrame, digits: int = 1) -> list[str]:
    """One sentence per curve: its median follow-up by reverse Kaplan-Meier and the CI."""
    out = []
    for _, r in followup.iterrows():
        if np.isnan(r["median_followup"]):
            out.append(f"{r['curve']}: median follow-up not reached")
            continue
        out.append(f"{r['curve']}: {amount(r['median_followup'], fit.time_unit, f'.{digits}f')} "
                   f"({_ci(r['ci_lower'], r['ci_upper'], fit.conf_level, digits)})")
    return out


def rmst_text(fit: KMFit, rmst: pd.DataFrame, digits: int = 1) -> list[str]:
    """One sentence per curve and tau: the mean relapse-free time up to tau, with ±1.96 se,
    and a warning where tau is beyond the curve's last follow-up."""
    out = []
    for _, r in rmst.iterrows():
        line = (f"{r['curve']}: {r['rmst']:.{digits}f} of the first {amount(r['tau'], fit.time_unit)} "
                f"relapse-free on average (se {r['se']:.{digits}f})")
        if r["beyond_follow_up"]:
            line += "; tau is beyond the last follow-up, so the curve is assumed flat to it"
        out.append(line)
    return out


def turnbull_text(fit: KMFit, turnbull: pd.DataFrame, imprecise_curves) -> list[str]:
    """Which curves have a Turnbull estimate drawn, and which imprecise curves cannot have
    one (every event known only as "after" a time)."""
    drawn = set(turnbull["curve"]) if len(turnbull) else set()
    out = []
    if drawn:
        out.append("Wide pale line: Turnbull's estimate using each imprecise time as the interval it is "
                   f"known to lie in ({', '.join(sorted(drawn))}); the solid curve uses the best estimate.")
        for label in sorted(drawn):
            diff = turnbull_difference(fit, turnbull, label)
            out.append(f"  {label}: the two differ by at most {diff:.0%} (absolute)" +
                       (", so the imprecision of the times does not change the curve." if diff < 0.01 else "."))
    missing = [c for c in imprecise_curves if c not in drawn]
    if missing:
        out.append(f"No Turnbull estimate for {', '.join(missing)}: every relapse or death there is known "
                   "only as 'after' a time, so none can be placed.")
    return out


def turnbull_difference(fit: KMFit, turnbull: pd.DataFrame, label: str) -> float:
    """Largest absolute difference between a curve and its Turnbull estimate (both step
    functions, compared at every time of either)."""
    g = fit.group(label)
    tb = turnbull[turnbull["curve"] == label]
    times = np.union1d(g.time, tb["time"].to_numpy(dtype=float))

    def at(t_steps, s_steps):
        i = np.searchsorted(t_steps, times, side="right") - 1
        return np.where(i >= 0, np.asarray(s_steps)[np.maximum(i, 0)], 1.0)

    return float(np.max(np.abs(at(g.time, g.survival) - at(tb["time"].to_numpy(dtype=float), tb["survival"]))))


def evidence_statement(fit: KMFit, summary: pd.DataFrame | None = None, pooled: bool = False) -> str:
    """Plain-language caveats for the notebook: medians not reached, thin data, case reports,
    reconstructed curves, pooling across studies."""
    summary = km_summary(fit) if summary is None else summary
    n = int(summary["n"].sum()) if len(summary) else 0
    events = int(summary["events"].sum()) if len(summary) else 0
    parts = [f"{n} treatment line(s) or patient(s) in {len(fit.groups)} curve(s), {events} relapse(s) or death(s)."]
    if len(summary) == 0:
        return "No survival data to analyse."
    if summary["median"].isna().all():
        parts.append("No median relapse-free survival is reached in any group: the curves never "
                     "fall to 50%.")
    levels = {lvl for g in fit.groups for lvl in g.evidence_levels}
    if levels & {"case_report", "case_series", "anecdote", "secondary_summary"} or n < 20:
        parts.append("Case reports and small series are selected, mostly favourable, stories: "
                     "they describe what happened to these patients and cannot support inference "
                     "about how often or how long remission lasts.")
    tiny = [g for g, m in zip(fit.groups, summary["median"]) if not np.isnan(m) and g.n < 10]
    for g in tiny:
        parts.append(f"The 'median' of {g.label} rests on {g.n} line(s) or patient(s) and is "
                     "not a meaningful estimate.")
    if any(g.reconstructed for g in fit.groups):
        parts.append("Curves marked 'reconstructed' are rebuilt from published figures "
                     "(Guyot et al. 2012), not observed patient data.")
    if pooled:
        parts.append("The curves pool patients of different studies and sources (pool_curves = True): "
                     "they answer a loose question, and the log-rank test is stratified by study.")
    return " ".join(parts)
