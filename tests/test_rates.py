"""Rates: per-study intervals and pooling, checked against R (binom.test, prop.test, metafor).

Expected values come from tests/r/metafor_reference.R (metafor 3.8-1); see that script.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import rates as R

HERE = Path(__file__).resolve().parent
RDIR = HERE / "r"
REF_DATA = HERE / "reference_data" / "rates_metadat"
TOL = 1e-6


@pytest.fixture(scope="module")
def inputs() -> pd.DataFrame:
    return pd.read_csv(RDIR / "input_proportions.csv")


def _set(inputs: pd.DataFrame, dataset: str, subgroup: str) -> pd.DataFrame:
    if dataset == "combined":
        d = inputs[inputs["dataset"].isin(["pritz1997", "debruin2009"])]
    else:
        d = inputs[inputs["dataset"] == dataset]
    return d if subgroup == "All studies" else d[d["subgroup"] == subgroup]


def outcome_rows(rows: list[dict]) -> pd.DataFrame:
    """cohort_outcomes-like frame (as load_dataset returns it) from a few dicts."""
    base = dict(source_id="S1", arm="", disease="lupus", therapy="MSC", cell_source="",
                design="uncontrolled_cohort", controlled=False, outcome="response", definition="responded",
                events=pd.NA, total=pd.NA, total_qualifier="exact", proportion=np.nan,
                proportion_qualifier="", approximate=False, time_value=np.nan, time_unit="",
                time_qualifier="", quote="q", notes="")
    df = pd.DataFrame([{**base, "outcome_id": f"O{i}", **r} for i, r in enumerate(rows)])
    df["events"] = pd.array(df["events"], dtype="Int64")
    df["total"] = pd.array(df["total"], dtype="Int64")
    return df


SOURCES = pd.DataFrame({"source_id": ["S1", "S2", "S3"],
                        "evidence_level": ["uncontrolled_study", "secondary_summary", "case_report"],
                        "citation": ["one", "two", "three"]})


# --------------------------------------------------------------------------- per-study intervals


@pytest.mark.parametrize("method,cols", [("clopper-pearson", ("cp_lower", "cp_upper")),
                                         ("wilson", ("wilson_lower", "wilson_upper"))])
def test_intervals_match_r(method, cols):
    exp = pd.read_csv(RDIR / "expected_metafor_intervals.csv")
    lo, hi = R.proportion_ci(exp["xi"], exp["ni"], method)
    np.testing.assert_allclose(lo, exp[cols[0]], atol=TOL, rtol=0)
    np.testing.assert_allclose(hi, exp[cols[1]], atol=TOL, rtol=0)
    assert len(exp) == 39 and (exp["xi"] == 0).any() and (exp["xi"] == exp["ni"]).any()


def test_intervals_at_zero_and_all():
    lo, hi = R.proportion_ci([0, 5], [5, 5], "clopper-pearson")
    assert lo[0] == 0.0 and hi[1] == 1.0
    assert hi[0] == pytest.approx(1 - 0.025 ** (1 / 5), abs=1e-12)  # exact: 1 - (alpha/2)^(1/n)
    assert lo[1] == pytest.approx(0.025 ** (1 / 5), abs=1e-12)
    lo, hi = R.proportion_ci([0, 5], [5, 5], "wilson")
    assert lo[0] == 0.0 and hi[1] == 1.0
    assert hi[0] == pytest.approx(0.43448246, abs=1e-8)  # R: prop.test(0, 5, correct = FALSE)
    assert hi[0] > 0 and lo[1] < 1  # never the zero-width Wald interval


def test_normal_approximation_is_refused():
    with pytest.raises(ValueError, match="ci_method: expected one of"):
        R.proportion_ci([1], [10], "normal")
    with pytest.raises(ValueError, match="events <= total"):
        R.proportion_ci([11], [10])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from(["clopper-pearson", "wilson"]))
def test_interval_contains_estimate(xn, method):
    x, n = xn
    lo, hi = R.proportion_ci([x], [n], method)
    assert 0 <= lo[0] <= x / n <= hi[0] <= 1
    assert hi[0] - lo[0] > 0


# --------------------------------------------------------------------------- metafor agreement


def test_escalc_matches_metafor(inputs):
    exp = pd.read_csv(RDIR / "expected_metafor_escalc.csv")
    for tr, part in exp.groupby("transform"):
        yi, vi = R.escalc_prop(inputs["xi"], inputs["ni"], tr)
        np.testing.assert_allclose(yi, part["yi"], atol=1e-10, rtol=0)
        np.testing.assert_allclose(vi, part["vi"], atol=1e-10, rtol=0)


def test_logit_continuity_correction_only_for_zero_and_all():
    yi, vi = R.escalc_prop([0, 3, 5], [5, 5, 5], "logit")
    assert yi[0] == pytest.approx(math.log(0.5 / 5.5)) and vi[0] == pytest.approx(1 / 0.5 + 1 / 5.5)
    assert yi[1] == pytest.approx(math.log(3 / 2)) and vi[1] == pytest.approx(1 / 3 + 1 / 2)
    assert yi[2] == pytest.approx(math.log(5.5 / 0.5))


POOLED_KEYS = ["pooled", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "h2", "q",
               "q_p_value", "estimate_transformed", "se"]


@pytest.mark.parametrize("control", ["default", "exact"])
def test_pooling_matches_metafor(inputs, control):
    exp = pd.read_csv(RDIR / "expected_metafor_pooled.csv")
    exp = exp[exp["control"] == control]
    opts = {} if control == "default" else dict(threshold=1e-12, tol=1e-12, maxiter=1000)
    assert len(exp) == 42  # 7 data sets or subgroups x 3 methods x 2 transforms
    for r in exp.itertuples():
        d = _set(inputs, r.dataset, r.subgroup)
        res = R.pool_proportions(d["xi"], d["ni"], r.method, r.transform, **opts)
        assert res["k"] == r.k and res["total"] == r.total
        for key in POOLED_KEYS:
            got = res["estimate" if key == "pooled" else key]
            assert got == pytest.approx(getattr(r, key), abs=TOL), (r.dataset, r.subgroup, r.method, r.transform, key)


def test_dl_tau2_truncated_at_zero_and_i2_zero(inputs):
    d = inputs[inputs["dataset"] == "homogeneous"]
    for method in R.RMA_METHODS:
        res = R.pool_proportions(d["xi"], d["ni"], method, "logit")
        assert res["tau2"] == 0.0 and res["i2"] == 0.0 and res["h2"] == 1.0
        assert (res["pi_lower"], res["pi_upper"]) == pytest.approx((res["ci_lower"], res["ci_upper"]))


def test_freeman_tukey_back_transform_uses_harmonic_mean():
    ni = np.array([10.0, 40.0, 200.0])
    nhm = 3 / np.sum(1 / ni)
    for p in (0.1, 0.5, 0.93):
        assert R.transf_ipft_hm(R.transf_pft(p, nhm), ni) == pytest.approx(p, abs=1e-12)
    assert R.transf_ipft_hm(R.transf_pft(1.0, nhm) + 0.01, ni) == 1.0
    assert R.transf_ipft_hm(R.transf_pft(0.0, nhm) - 0.01, ni) == 0.0


def test_rma_rejects_bad_input():
    with pytest.raises(ValueError, match="pool_method: expected one of"):
        R.rma([0.1, 0.2], [0.1, 0.1], method="ML")
    with pytest.raises(ValueError, match="variances positive"):
        R.rma([0.1, 0.2], [0.1, 0.0])
    with pytest.raises(ValueError, match="transform: expected one of"):
        R.pool_proportions([1, 2], [5, 5], transform="arcsine")


# --------------------------------------------------------------------------- study_rates


def test_lupus_share_of_lower_bound_total_is_derived_and_approximate():
    oc = outcome_rows([dict(study="Lupus MSC", total=200, total_qualifier="at_least", proportion=0.75,
                            proportion_qualifier="about", approximate=True)])
    before = oc.copy()
    rt = R.study_rates(oc, SOURCES)
    r = rt.iloc[0]
    assert pd.isna(r["events"]) and r["total"] == 200  # coded values, unchanged
    assert r["events_used"] == 150 and r["total_used"] == 200 and r["derived"] and r["approximate"]
    lo, hi = R.proportion_ci([150], [200])
    assert (r["ci_lower"], r["ci_upper"]) == pytest.approx((lo[0], hi[0]), abs=1e-12)
    assert r["proportion"] == 0.75
    assert r["note"].startswith("approximate: total is a lower bound (at least 200)")
    assert "derived: no event count reported" in r["note"] and "150/200" in r["note"]
    pd.testing.assert_frame_equal(oc, before)  # never written back


def test_zero_events_of_at_least_n_uses_lower_bound():
    rt = R.study_rates(outcome_rows([dict(study="Lupus MSC", outcome="severe_adverse_event", events=0,
                                          total=200, total_qualifier="at_least", approximate=True)]), SOURCES)
    r = rt.iloc[0]
    assert r["ci_lower"] == 0.0 and r["ci_upper"] == pytest.approx(1 - 0.025 ** (1 / 200), abs=1e-12)
    assert r["approximate"] and r["is_safety"] and not r["derived"]
    assert "lower bound" in r["note"]


def test_rows_without_total_or_counts_get_no_interval_and_say_why():
    rt = R.study_rates(outcome_rows([
        dict(study="A", proportion=0.6),
        dict(study="B", outcome="disease_free", time_value=15, time_unit="years", time_qualifier="up_to"),
        dict(study="C", total=200, total_qualifier="at_least", approximate=True),
    ]), SOURCES)
    assert not rt["has_interval"].any()
    assert rt[["ci_lower", "ci_upper"]].isna().all().all()
    assert rt["ci_method"].isna().all()
    assert rt.loc[0, "proportion"] == 0.6
    assert "proportion reported without the number of patients" in rt.loc[0, "note"]
    assert "no counts or proportion reported" in rt.loc[1, "note"]
    assert "without events or a proportion" in rt.loc[2, "note"]


def test_impossible_counts_name_the_row():
    with pytest.raises(ValueError, match=r"not so for O1 \(7/5\)"):
        R.study_rates(outcome_rows([dict(study="A", events=1, total=5), dict(study="B", events=7, total=5)]))


def test_rates_columns_start_with_the_contract(tmp_path):
    from analysis.export import save_table

    rt = R.study_rates(outcome_rows([dict(study="A", events=3, total=4)]), SOURCES, ci_method="wilson")
    assert list(rt.columns[: len(R.RATES_COLUMNS)]) == R.RATES_COLUMNS
    path = save_table(rt, tmp_path, "rates")
    back = pd.read_csv(path)
    assert list(back.columns[:9]) == R.RATES_COLUMNS
    assert back.loc[0, "ci_method"] == "wilson" and back.loc[0, "proportion"] == 0.75


def test_case_reports_are_separated():
    oc = outcome_rows([
        dict(study="JCO case", design="case_report", outcome="complete_response", events=1, total=1),
        dict(study="Letter", design="case_report", outcome="relapse_free", events=2, total=2),
        dict(study="Big case series", design="case_report", events=9, total=12),
        dict(study="Small series", design="case_series", events=3, total=5),
        dict(study="Larger series", design="case_series", events=4, total=6),
        dict(study="Small cohort", design="uncontrolled_cohort", events=4, total=5),
        dict(study="Unreported design, 3 patients", design="not_reported", events=2, total=3),
    ])
    rt = R.study_rates(oc, SOURCES)
    assert rt["is_case_report"].tolist() == [True, True, True, True, False, False, True]
    assert rt.loc[rt["is_case_report"], "note"].str.startswith("case report").all()
    assert R.study_rates(oc, SOURCES, case_report_max_n=2)["is_case_report"].tolist() == \
        [True, True, True, False, False, False, False]


def test_case_reports_never_pooled():
    rows = [dict(study=f"Cohort {i}", events=10 + i, total=30) for i in range(3)]
    rows += [dict(study="Case", design="case_report", events=1, total=1)]
    res = R.pool_rates(R.study_rates(outcome_rows(rows), SOURCES), min_studies=3, method="REML", pi_method="z")
    assert res.pooled.loc[0, "k"] == 3 and res.pooled.loc[0, "total"] == 90
    assert res.status.loc[0, "case_reports"] == 1
    d = pd.DataFrame([dict(xi=10 + i, ni=30) for i in range(3)])
    expected = R.pool_proportions(d["xi"], d["ni"])
    assert res.pooled.loc[0, "pooled"] == pytest.approx(expected["estimate"], abs=1e-12)


def test_filters():
    rt = R.study_rates(outcome_rows([dict(study="A", disease="Lupus", events=1, total=5),
                                     dict(study="B", disease="psoriasis", events=1, total=5)]))
    assert R.apply_filters(rt, {"disease": "lupus"})["study"].tolist() == ["A"]
    assert len(R.apply_filters(rt, {"disease": ["lupus", "Psoriasis"]})) == 2
    assert R.apply_filters(rt, ["disease=psoriasis"])["study"].tolist() == ["B"]
    assert R.apply_filters(rt, None) is rt
    with pytest.raises(ValueError, match="cannot filter on 'colour'"):
        R.apply_filters(rt, {"colour": "red"})


# --------------------------------------------------------------------------- pool_rates


def _cohorts(n: int, **extra) -> list[dict]:
    return [dict(study=f"Cohort {i}", events=5 + 3 * i, total=20 + 5 * i, **extra) for i in range(n)]


def test_minimum_studies_rule():
    rt = R.study_rates(outcome_rows(_cohorts(2)), SOURCES)
    res = R.pool_rates(rt, min_studies=3)
    assert res.pooled.empty and list(res.pooled.columns) == R.POOLED_COLUMNS
    st_ = res.status.iloc[0]
    assert not st_["pooled"] and st_["k_qualifying"] == 2
    assert st_["reason"] == "not pooled: 2 studies qualify, fewer than the minimum of 3"
    assert res.weights.isna().all()
    assert "fewer than the minimum of 3" in R.statement(res.status)[0]
    res2 = R.pool_rates(rt, min_studies=2, method="REML", pi_method="z")
    assert len(res2.pooled) == 1 and res2.pooled.loc[0, "k"] == 2
    assert res2.weights.sum() == pytest.approx(100)
    with pytest.raises(ValueError, match="min_studies must be a whole number >= 2"):
        R.pool_rates(rt, min_studies=1)


def test_only_case_reports_reason():
    rt = R.study_rates(outcome_rows([dict(study="Case", design="case_report", events=1, total=1)]))
    assert R.pool_rates(rt).status.loc[0, "reason"] == "not pooled: only case reports, which are never pooled"


def test_approximate_and_evidence_switches():
    rows = _cohorts(3) + [dict(study="Approx", events=30, total=60, total_qualifier="about", approximate=True),
                          dict(study="Summary", source_id="S2", events=20, total=25)]
    rt = R.study_rates(outcome_rows(rows), SOURCES)
    # a secondary summary never enters a pool with studies, whatever min_evidence_level says
    main = R.pool_rates(rt)
    assert main.pooled.loc[0, "k"] == 4 and main.status.loc[0, "summaries"] == 1
    assert R.pool_rates(rt, include_approximate=False).pooled.loc[0, "k"] == 3
    strict = R.pool_rates(rt, min_evidence_level="uncontrolled_study")
    assert strict.pooled.loc[0, "k"] == 4 and strict.status.loc[0, "low_evidence_excluded"] == 0
    with pytest.raises(ValueError, match="min_evidence_level: expected one of"):
        R.pool_rates(rt, min_evidence_level="strong")
    sens = R.sensitivity_table(rt)
    assert sens["analysis"].tolist() == ["main", "without approximate rows",
                                         "without evidence below uncontrolled_study"]
    assert sens["k"].tolist() == [4, 3, 4]
    assert list(sens.columns) == ["analysis"] + R.POOLED_COLUMNS + ["reason"]
    assert sens["pooled"].notna().all()


def test_sensitivity_reports_unpooled_analyses():
    rows = _cohorts(2) + [dict(study="Approx", events=30, total=60, total_qualifier="about", approximate=True)]
    sens = R.sensitivity_table(R.study_rates(outcome_rows(rows), SOURCES), min_studies=3)
    assert sens["pooled"].notna().tolist() == [True, False, True]
    assert "fewer than the minimum of 3" in sens.loc[1, "reason"] and sens.loc[0, "reason"] == ""


def test_subgroups_and_overall_from_reference_folder_match_metafor():
    from analysis.load import load_dataset

    ds = load_dataset(REF_DATA)
    rt = R.study_rates(ds.cohort_outcomes, ds.sources)
    exp = pd.read_csv(RDIR / "expected_metafor_pooled.csv")
    exp = exp[(exp["control"] == "default") & (exp["subgroup"] == "All studies")]
    names = {"cerebral vasospasm (pritz1997)": "pritz1997", "HIV (debruin2009)": "debruin2009",
             R.overall_label("disease"): "combined"}
    for method in R.RMA_METHODS:
        for tr in R.TRANSFORMS:
            res = R.pool_rates(rt, subgroup_by="disease", method=method, transform=tr, overall=True, pi_method="z")
            assert list(res.pooled.columns) == R.POOLED_COLUMNS and len(res.pooled) == 3
            for row in res.pooled.itertuples():
                e = exp[(exp["dataset"] == names[row.subgroup]) & (exp["method"] == method)
                        & (exp["transform"] == tr)].iloc[0]
                assert row.k == e["k"] and row.total == e["total"]
                for col in ["pooled", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q",
                            "q_p_value"]:
                    assert getattr(row, col) == pytest.approx(e[col], abs=TOL), (row.subgroup, method, tr, col)


def test_subgroup_by_any_column_matches_metafor_subgroups():
    from analysis.load import load_dataset

    ds = load_dataset(REF_DATA)
    rt = R.study_rates(ds.cohort_outcomes[ds.cohort_outcomes["source_id"] == "DEBRUIN2009"], ds.sources)
    res = R.pool_rates(rt, subgroup_by="arm", method="PM", transform="freeman-tukey", pi_method="z")
    exp = pd.read_csv(RDIR / "expected_metafor_pooled.csv")
    exp = exp[(exp["dataset"] == "debruin2009") & (exp["method"] == "PM") & (exp["transform"] == "freeman-tukey")
              & (exp["control"] == "default")]
    for row in res.pooled.itertuples():
        e = exp[exp["subgroup"] == row.subgroup].iloc[0]
        assert row.pooled == pytest.approx(e["pooled"], abs=TOL)
        assert row.pi_upper == pytest.approx(e["pi_upper"], abs=TOL)
    with pytest.raises(ValueError, match="cannot pool by 'colour'"):
        R.pool_rates(rt, subgroup_by="colour")


def test_response_categories():
    rows = [dict(study="A", outcome="complete_response", events=3, total=10),
            dict(study="A", outcome="partial_response", events=4, total=10),
            dict(study="B", outcome="response", proportion=0.75, total=200, total_qualifier="at_least",
                 approximate=True),
            dict(study="C", outcome="complete_response", events=1, total=1, design="case_report"),
            dict(study="D", outcome="severe_adverse_event", events=0, total=10)]
    cat = R.response_categories(R.study_rates(outcome_rows(rows), SOURCES))
    assert cat["label"].tolist() == ["A", "B", "C"]
    a, b, c = (cat.iloc[i] for i in range(3))
    assert (a["complete"], a["partial"], a["none"], a["not_reported"]) == pytest.approx((0.3, 0.4, 0.3, 0.0))
    assert (b["response_unspecified"], b["none"]) == pytest.approx((0.75, 0.25)) and b["approximate"]
    assert (c["complete"], c["not_reported"]) == pytest.approx((1.0, 0.0))
    shares = cat[["complete", "partial", "response_unspecified", "died", "none", "not_reported"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
