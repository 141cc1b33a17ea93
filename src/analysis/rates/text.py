"""The rates analysis in sentences: pooling status, safety rows, what the evidence rests on."""

from __future__ import annotations

import pandas as pd

from analysis.schemas import EVIDENCE_LEVELS, evidence_rank, evidence_words


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


def methods_text(settings: dict) -> str:
    """The pooling method, the CI and prediction-interval rule and what the study weights are,
    in words, from ``PoolingResult.settings`` (what this run used)."""
    method = settings.get("method", "GLMM")
    level = f"{100 * (1 - settings.get('alpha', 0.05)):g}%"
    if method == "GLMM":
        text = ("Pooled by a random-effects logistic model (GLMM: one random intercept per study, fitted by maximum "
                "likelihood, as R meta does for proportions and metafor's rma.glmm computes it). It uses the counts "
                "themselves, so studies with no events, or with events in every patient, need no correction. Where it "
                "does not converge the pool falls back to REML and says why. Its test of heterogeneity (Q) is the "
                "likelihood-ratio test.")
    else:
        name = {"REML": "restricted maximum likelihood (REML)", "DL": "DerSimonian-Laird",
                "PM": "Paule-Mandel"}.get(method, method)
        scale = settings.get("transform", "logit")
        text = (f"Pooled by an inverse-variance random-effects model on the {scale} scale, the between-study "
                f"variance (tau²) by {name}, as R metafor computes it"
                + ("; studies with no events, or events in every patient, get 1/2 added to events and non-events."
                   if scale == "logit" else "."))
    ci = settings.get("pooled_ci", "z")
    if ci == "hartung-knapp" and method == "GLMM":
        ci_words = "t with k - 1 degrees of freedom (the GLMM's form of Hartung-Knapp, as R meta)"
    elif ci == "hartung-knapp":
        ci_words = "Hartung-Knapp (t with k - 1 degrees of freedom, the standard error scaled by the spread of the studies)"
    else:
        ci_words = "the normal (z) quantile"
    pi = settings.get("pi_method", "t")
    pi_words = "t with k - 1 degrees of freedom (R meta's rule)" if pi == "t" else "the normal (z) quantile (metafor's rule)"
    text += (f" The {level} confidence interval of the pooled proportion uses {ci_words}. The {level} prediction "
             f"interval, where a new study's proportion is expected to fall given the heterogeneity, uses {pi_words}.")
    if method == "GLMM":
        text += (" A GLMM has no inverse-variance study weights, so the squares of a GLMM pool are all drawn the "
                 "same size and no weight is given.")
    else:
        text += " A square's area is the study's random-effects weight in its pool."
    return text
