"""Comparisons of controlled studies (rates.compare): intervention vs control per study with
metafor's escalc conventions, pooled with metafor's rma, checked against tests/r/pooling
(escalc.csv, rma.csv on the synthetic two-arm sets cmp5 and cmp4); the pooling rules."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis import rates as R
from test_pooling import INPUTS_2X2, TOL, num, rows
from test_rates import SOURCES, outcome_rows

SRC = pd.concat([SOURCES, pd.DataFrame({"source_id": ["T1"], "evidence_level": ["rct"], "citation": ["trial"],
                                        "year": [2020]})], ignore_index=True)
TRIAL = dict(source_id="T1", design="rct", controlled=True)


def trial_rows(set_name: str, outcome="response") -> list[dict]:
    out = []
    for r in INPUTS_2X2[set_name]:
        study = f"{set_name} trial {r['study']}"
        out += [dict(study=study, arm="MSC", arm_role="intervention", outcome=outcome, events=int(r["ai"]),
                     total=int(r["n1i"]), **TRIAL),
                dict(study=study, arm="placebo", arm_role="control", outcome=outcome, events=int(r["ci"]),
                     total=int(r["n2i"]), **TRIAL)]
    return out


def rates_of(rows_):
    return R.study_rates(outcome_rows(rows_), SRC)


@pytest.mark.parametrize("set_,measure", [(s, m) for s in ("cmp5", "cmp4") for m in ("RR", "OR", "RD")])
def test_comparisons_match_escalc(set_, measure):
    table = R.comparisons(rates_of(trial_rows(set_)), measure)
    assert list(table.columns[:10]) == R.COMPARISON_COLUMNS
    want = [r for r in rows("escalc.csv") if (r["set"], r["measure"], r["option"]) == (set_, measure, "default")]
    assert len(table) == len(want) and (table["measure"] == measure).all()
    for got, w, inp in zip(table.itertuples(), want, INPUTS_2X2[set_]):
        assert (got.events_int, got.total_int, got.events_ctl, got.total_ctl) == \
            tuple(float(inp[c]) for c in ("ai", "n1i", "ci", "n2i"))
        for col in ("yi", "vi", "estimate", "ci_lower", "ci_upper"):
            assert getattr(got, col) == pytest.approx(num(w[col]), abs=TOL), col
    assert table["corrected"].tolist() == [((float(r["ai"]) * float(r["ci"]) == 0)
                                            or float(r["ai"]) == float(r["n1i"]) or float(r["ci"]) == float(r["n2i"]))
                                           for r in INPUTS_2X2[set_]]
    assert table["label"].iloc[0] == f"{set_} trial 1: MSC vs placebo"


@pytest.mark.parametrize("set_,measure,method,test,pi", [
    ("cmp5", "RR", "REML", "z", "t"), ("cmp4", "OR", "DL", "knha", "z"), ("cmp5", "RD", "PM", "z", "z"),
    ("cmp4", "RR", "PM", "knha", "t"), ("cmp5", "OR", "REML", "knha", "t")])
def test_pooled_comparisons_match_metafor(set_, measure, method, test, pi):
    table = R.comparisons(rates_of(trial_rows(set_)), measure)
    pooled = R.pool_comparisons(table, method=method, pooled_ci="hartung-knapp" if test == "knha" else "z", pi_method=pi)
    assert list(pooled.columns[:14]) == R.POOLED_COMPARISON_COLUMNS and len(pooled) == 1
    p = pooled.iloc[0]
    want = [r for r in rows("rma.csv") if (r["set"], r["method"], r["test"], r["level"]) ==
            (f"{set_}:{measure}", method, test, "0.95")][0]
    back = math.exp if measure != "RD" else (lambda v: v)
    assert (p["k"], p["method"], p["measure"], p["subgroup"]) == (int(want["k"]), method, measure, "All studies")
    for col in ("estimate", "ci_lower", "ci_upper"):
        assert p[col] == pytest.approx(back(num(want[col])), abs=TOL, rel=TOL), col
    for col in ("pi_lower", "pi_upper"):
        assert p[col] == pytest.approx(back(num(want[col.replace("pi_", f"pi_{pi}_")])), abs=TOL, rel=TOL), col
    for col in ("tau2", "i2", "q", "q_p_value"):
        assert p[col] == pytest.approx(num(want[col]), abs=TOL), col
    assert p["comparisons"] == "; ".join(table["comparison_id"])


def test_comparison_pooling_rules():
    rows_ = trial_rows("cmp4")
    # a second intervention arm of trial 1 (smaller): one comparison per study
    rows_.append(dict(study="cmp4 trial 1", arm="MSC low dose", arm_role="intervention", events=3, total=20, **TRIAL))
    # a review table's trial and a case report never enter a pool
    rows_ += [dict(study="Review trial", source_id="S2", arm="HSCT", arm_role="intervention", events=5, total=10,
                   design="rct", controlled=True),
              dict(study="Review trial", source_id="S2", arm="CYC", arm_role="control", events=2, total=10,
                   design="rct", controlled=True)]
    table = R.comparisons(rates_of(rows_), "RR")
    assert len(table) == 6
    by = table.set_index("label")
    assert by.loc["Review trial: HSCT vs CYC", "not_pooled_reason"].startswith("secondary summary")
    pooled = R.pool_comparisons(table, method="GLMM")  # the GLMM is for single proportions: REML
    assert pooled.loc[0, "method"] == "REML" and pooled.loc[0, "k"] == 4 and pooled.loc[0, "k_studies"] == 4
    place = R.comparison_placement(table, pooled).set_index(table["label"])
    assert place.loc["cmp4 trial 1: MSC vs placebo", "pooled_in"] == "response: All studies"
    assert place.loc["cmp4 trial 1: MSC low dose vs placebo", "not_pooled_reason"].startswith(
        "another comparison of the same study stands for it")
    assert place.loc["Review trial: HSCT vs CYC", "pooled_in"] == ""
    few = R.pool_comparisons(table, min_studies=5)
    assert few.empty and list(few.columns[:14]) == R.POOLED_COMPARISON_COLUMNS
    assert R.comparison_placement(table, few, min_studies=5)["not_pooled_reason"].iloc[0] == \
        "fewer than 5 controlled studies qualify"


def test_no_comparisons_give_tables_with_headers_only():
    rt = rates_of([dict(study="Cohort", events=3, total=10)])
    table = R.comparisons(rt)
    assert table.empty and list(table.columns[:10]) == R.COMPARISON_COLUMNS
    pooled = R.pool_comparisons(table)
    assert pooled.empty and list(pooled.columns[:14]) == R.POOLED_COMPARISON_COLUMNS


def test_arms_without_counts_are_listed_without_an_estimate():
    rt = rates_of([dict(study="SCOT", arm="HSCT", arm_role="intervention", outcome="event_free_survival",
                        proportion=0.79, time_value=54, time_unit="months", **TRIAL),
                   dict(study="SCOT", arm="CYC", arm_role="control", outcome="event_free_survival", proportion=0.5,
                        time_value=54, time_unit="months", **TRIAL)])
    c = R.comparisons(rt).iloc[0]
    assert math.isnan(c["estimate"]) and c["not_pooled_reason"] == "no counts"
    assert (c["proportion_int"], c["proportion_ctl"]) == (0.79, 0.5)
    assert c["label"] == "SCOT: HSCT vs CYC, 54 months"


@pytest.mark.parametrize("call,message", [
    (lambda t: R.comparisons(t, "HR"), "effect_measure: expected one of RR, OR, RD, found 'HR'"),
    (lambda t: R.pool_comparisons(R.comparisons(t), method="ML"), "pool_method: expected one of REML, DL, PM, GLMM"),
    (lambda t: R.pool_comparisons(R.comparisons(t), pi_method="HTS"), "pi_method: expected one of t, z, found 'HTS'"),
])
def test_bad_options_name_the_parameter(call, message):
    with pytest.raises(ValueError) as err:
        call(rates_of(trial_rows("cmp4")))
    assert message in str(err.value)
