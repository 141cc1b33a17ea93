"""Per-study proportions with exact or Wilson intervals (the data -> numbers step).

Proportions are fractions 0-1. See the package docstring for the conventions.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
# statsmodels/scipy are imported with this module (about 0.3 s), not on first use: a notebook
# pays for them in its import cell. ``import analysis`` does not import this module.
from statsmodels.stats.proportion import proportion_confint

from analysis.rates.vocab import CI_METHODS
from analysis.schemas import EVIDENCE_LEVELS, SAFETY_OUTCOMES
from analysis.timing import expect_one_of


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
        for col in ("evidence_level", "citation", "year"):
            out[col] = df["source_id"].map(src[col]) if col in src.columns else pd.NA
    else:
        out["evidence_level"] = df["evidence_level"] if "evidence_level" in df.columns else pd.NA
        out["citation"] = df["citation"] if "citation" in df.columns else pd.NA
        out["year"] = df["year"] if "year" in df.columns else pd.NA
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
