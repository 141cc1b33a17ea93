"""The pooling rules of a careful reviewer (rates.rules and rates.pool): what never enters a
pool, one row per cohort and per study arm, k counts studies, all-zero sets, the overall row.
Synthetic rows, for tests only."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from analysis import rates as R
from test_rates import SOURCES, outcome_rows

SRC = pd.concat([SOURCES, pd.DataFrame({"source_id": ["S4", "S5", "S6"],
                                        "evidence_level": ["rct", "uncontrolled_study", "uncontrolled_study"],
                                        "citation": ["trial", "early", "late"], "year": [2015, 2010, 2014]})],
                ignore_index=True)


def cohorts(n, **extra):
    return [dict(study=f"Cohort {i}", events=5 + 3 * i, total=20 + 5 * i, **extra) for i in range(n)]


def pool(rows, **kw):
    rt = R.study_rates(outcome_rows(rows), SRC)
    res = R.pool_rates(rt, **kw)
    return rt.join(res.placement), res


def test_control_arms_never_enter_a_single_arm_pool():
    rows = cohorts(2) + [dict(study="Trial", source_id="S4", arm="MSC", arm_role="intervention", events=9, total=12,
                              design="rct", controlled=True),
                         dict(study="Trial", source_id="S4", arm="placebo", arm_role="control", events=5, total=6,
                              design="rct", controlled=True)]
    rt, res = pool(rows, method="REML", pi_method="z")
    assert res.pooled.loc[0, ["k", "k_studies", "total"]].tolist() == [3, 3, 20 + 25 + 12]
    assert res.status.loc[0, "control_arms"] == 1 and res.status.loc[0, "reason"] == "pooled 3 studies"
    ctl = rt[rt["arm"] == "placebo"].iloc[0]
    assert ctl["pooled_in"] == "" and ctl["not_pooled_reason"].startswith("control arm")
    assert rt[rt["arm"] == "MSC"].iloc[0]["pooled_in"] == "response: All studies"
    # the same numbers as pooling the treated rows alone
    alone = R.pool_proportions([5, 8, 9], [20, 25, 12])
    assert res.pooled.loc[0, "pooled"] == pytest.approx(alone["estimate"], abs=1e-12)


def test_summaries_anecdotes_and_case_reports_never_enter_a_pool():
    rows = cohorts(3) + [dict(study="Review", source_id="S2", events=20, total=25),
                         dict(study="Table", design="review_summary", events=7, total=9),
                         dict(study="Case", source_id="S3", design="case_report", events=1, total=1),
                         dict(study="Series", design="case_series", events=4, total=4)]
    rt, res = pool(rows, min_studies=2)
    assert res.pooled.loc[0, "k"] == 3
    st_ = res.status.iloc[0]
    assert (st_["summaries"], st_["case_reports"]) == (2, 2)
    reasons = rt.set_index("study")["not_pooled_reason"]
    assert reasons["Review"].startswith("secondary summary") and reasons["Table"].startswith("secondary summary")
    assert reasons["Case"] == reasons["Series"] == "case report"


def test_one_row_per_cohort_group_the_largest_then_the_latest():
    rows = cohorts(2) + [dict(study="Early", source_id="S5", cohort_group="Nanjing", events=23, total=83),
                         dict(study="Late", source_id="S6", cohort_group="Nanjing", events=22, total=81),
                         dict(study="Tie early", source_id="S5", cohort_group="Pilot", events=3, total=10),
                         dict(study="Tie late", source_id="S6", cohort_group="Pilot", events=4, total=10)]
    rt, res = pool(rows)
    assert res.pooled.loc[0, ["k", "k_studies"]].tolist() == [4, 4]
    assert res.status.loc[0, "same_cohort_excluded"] == 2
    by = rt.set_index("study")
    assert by.loc["Early", "pooled_in"] and not by.loc["Late", "pooled_in"]
    assert by.loc["Late", "not_pooled_reason"].startswith("same cohort as Early (cohort group 'Nanjing'")
    assert by.loc["Tie late", "pooled_in"] and by.loc["Tie early", "not_pooled_reason"].startswith("same cohort as Tie late")


def test_one_row_per_study_arm_across_time_points():
    rows = cohorts(2) + [dict(study="Followed", arm="MSC", events=9, total=30, time_value=1, time_unit="years"),
                         dict(study="Followed", arm="MSC", events=12, total=30, time_value=60, time_unit="months")]
    rt, res = pool(rows, min_studies=2)
    assert res.pooled.loc[0, "k"] == 3
    kept = rt[rt["pooled_in"] != ""]
    assert kept[kept["study"] == "Followed"]["time_value"].tolist() == [60]
    assert "another time point" in rt[(rt["study"] == "Followed") & (rt["time_value"] == 1)].iloc[0]["not_pooled_reason"]


def test_k_counts_studies_not_arms():
    rows = [dict(study="Two doses", arm="low", events=3, total=10), dict(study="Two doses", arm="high", events=6, total=10),
            dict(study="Other", events=4, total=12)]
    _, res = pool(rows, min_studies=3)
    assert res.pooled.empty and res.status.loc[0, ["k_qualifying", "k_studies"]].tolist() == [3, 2]
    assert res.status.loc[0, "reason"] == "not pooled: 2 studies qualify, fewer than the minimum of 3"


def test_all_zero_sets_are_the_exact_total_count_with_a_warning():
    rows = [dict(study=s, outcome="treatment_related_death", events=0, total=n)
            for s, n in (("A", 55), ("B", 109), ("C", 617))]
    _, res = pool(rows)
    p = res.pooled.iloc[0]
    assert (p["method"], p["pooled"], p["ci_lower"], p["total"]) == ("exact count", 0.0, 0.0, 781)
    assert p["ci_upper"] == pytest.approx(stats.beta.ppf(0.975, 1, 781), abs=1e-12)
    assert round(100 * p["ci_upper"], 2) == 0.47
    assert "no random-effects estimate" in p["warning"] and "0/781" in p["warning"]
    assert pd.isna(p["pi_lower"]) and pd.isna(p["tau2"])
    rows = [dict(study=s, events=n, total=n) for s, n in (("A", 5), ("B", 7), ("C", 9))]
    p = pool(rows)[1].pooled.iloc[0]
    assert p["method"] == "exact count" and p["pooled"] == 1 and "every patient" in p["warning"]


def test_no_pool_across_diseases_unless_asked_and_then_labelled():
    rows = cohorts(3) + cohorts(3, disease="multiple sclerosis")
    _, res = pool(rows, subgroup_by="disease")
    assert sorted(res.pooled["subgroup"]) == ["lupus", "multiple sclerosis"]
    _, res = pool(rows, subgroup_by="disease", overall=True)
    across = res.pooled[res.pooled["subgroup"] == "across diseases (exploratory)"].iloc[0]
    assert across["k"] == 6 and across["warning"] == "pools 2 values of disease: exploratory"


def test_subgroup_labels_group_case_insensitively_after_trimming():
    rows = cohorts(1, disease="Lupus ") + cohorts(1, disease="lupus") + cohorts(1, disease="LUPUS")
    for r, s in zip(rows, "ABC"):
        r["study"] = s
    _, res = pool(rows, subgroup_by="disease")
    assert res.pooled["subgroup"].tolist() == ["Lupus"] and res.pooled.loc[0, "k"] == 3
