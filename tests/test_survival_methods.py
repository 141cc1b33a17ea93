"""Issue 13 on a whole data folder: curves never merge unlike things, what is compared, and
every method of notebook 02 (stratified log-rank, cumulative incidence and Gray's test, RMST,
median follow-up, Turnbull, cohort points) equal to R on tests/reference_data/methods_folder
(data and expected values made by tests/r/survival_methods_reference.R; no R needed here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import survival as sv
from analysis.load import load_dataset

HERE = Path(__file__).parent
FOLDER = HERE / "reference_data" / "methods_folder"
EXP = HERE / "r" / "methods"
TOL = 1e-6


def expected(name: str) -> pd.DataFrame:
    return pd.read_csv(EXP / f"{name}.csv", keep_default_na=False, na_values=[""])


def close(ours, theirs, what, atol=TOL):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, what
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{what}: NaN pattern")
    ok = ~np.isnan(ours)
    np.testing.assert_allclose(ours[ok], theirs[ok], rtol=0, atol=atol, err_msg=what)


@pytest.fixture(scope="module")
def ds():
    return load_dataset(FOLDER)


@pytest.fixture(scope="module")
def data(ds):
    return sv.survival_data(ds, time_unit="months")[0]


@pytest.fixture(scope="module")
def fit(data):
    return sv.km_fit(data, "curve", time_unit="months")


# --------------------------------------------------------------------------- curves


def test_default_curves_keep_studies_and_sources_apart(data):
    curves = data.groupby("curve").agg(sources=("survival_source", "nunique"), studies=("study", "nunique"))
    assert set(curves.index) == {"case reports", "M-mgus: F", "M-mgus: M", "M-trial: A", "M-trial: B"}
    assert (curves["sources"] == 1).all() and (curves["studies"] == 1).all()
    # the interval-censored IPD rows: time is the middle of (time_lo, time_hi)
    iv = data[(data["survival_source"] == "ipd") & (data["time_hi"] > data["time_lo"])]
    assert len(iv) > 10 and np.allclose(iv["time"], (iv["time_lo"] + iv["time_hi"]) / 2)


def test_disease_and_therapy_come_from_the_named_row_or_the_source(data):
    by = data.drop_duplicates("curve").set_index("curve")
    # outcome_id names a cohort_outcomes row; else the source's rows name one disease
    assert by.loc["M-trial: A", "disease"] == "acute myeloid leukaemia"
    assert by.loc["M-trial: A", "therapy"] == "maintenance chemotherapy"
    assert by.loc["M-mgus: F", "disease"] == "monoclonal gammopathy"
    grouped = sv.assign_curves(data, "disease")
    assert "not stated" not in " ".join(grouped["curve"])
    assert set(grouped["curve"]) >= {"monoclonal gammopathy · M-mgus: F", "lupus · case reports"}


def test_pooling_is_explicit_and_tested_stratified_by_study(data):
    pooled = sv.assign_curves(data, "group", pool_curves=True)
    assert set(pooled["curve"]) == {"A", "B", "F", "M", "UC-MSC"}
    fit = sv.km_fit(pooled, "curve", time_unit="months")
    table = sv.logrank_table(fit, pool_curves=True)
    assert list(table["strata"]) == ["study"] and "pooled across studies" in table.loc[0, "comparison"]
    direct = sv.logrank_stratified(pooled["time"], pooled["event"], pooled["curve"], pooled["study"])
    assert table.loc[0, "statistic"] == pytest.approx(direct.statistic, abs=1e-12)


def test_a_stratified_test_where_no_study_holds_two_groups_compares_nothing(data):
    pooled = sv.assign_curves(data, "disease", pool_curves=True)  # each disease comes from one study
    fit = sv.km_fit(pooled, "curve", time_unit="months")
    table = sv.logrank_table(fit, pool_curves=True)
    assert len(table) == 1 and np.isnan(table.loc[0, "statistic"]) and table.loc[0, "df"] == 0
    assert "nothing is compared" in table.loc[0, "comparison"]
    assert "not computable" in sv.logrank_text(fit, table, sv.comparisons(fit, True))


def test_anecdotes_never_share_a_curve_with_case_reports():
    df = pd.DataFrame({"survival_source": "cases", "study": ["S1", "S2", "S3"], "group": "UC-MSC",
                       "evidence_level": ["case_report", "case_series", "anecdote"], "time": [1.0, 2, 3],
                       "event": [0, 1, 0], "time_unit": "months"})
    assert list(sv.assign_curves(df)["curve"]) == ["case reports", "case reports", "cases (anecdote)"]


# --------------------------------------------------------------------------- numbers equal to R


def test_km_summary_per_curve_matches_r(fit):
    ours = sv.km_summary(fit).set_index("group").sort_index()
    r = expected("km_summary").set_index("curve").sort_index()
    assert list(ours.index) == list(r.index)
    assert list(ours["n"]) == list(r["n"]) and list(ours["events"]) == list(r["events"])
    for col in ("median", "median_ci_lower", "median_ci_upper"):
        close(ours[col], r[col], col)


@pytest.mark.parametrize("strata", [False, True])
def test_logrank_compares_within_studies_only_and_matches_survdiff(fit, strata):
    table = sv.logrank_table(fit, strata="strata" if strata else None)
    assert list(table.columns) == sv.LOGRANK_COLUMNS
    # never the case reports against a study, never one study against another
    for groups in table["groups"]:
        assert len({g.split(":")[0] for g in groups.split(" | ")}) == 1
    r = expected("logrank")
    for study in ("M-mgus", "M-trial"):
        row = table[table["groups"].str.startswith(study)].iloc[0]
        rr = r[(r.study == study) & (r.strata == (strata and study == "M-mgus"))].iloc[0]
        assert row["strata"] == ("strata" if strata and study == "M-mgus" else "")
        assert row["statistic"] == pytest.approx(rr["statistic"], abs=TOL) and row["df"] == rr["df"]
        assert row["p_value"] == pytest.approx(rr["p_value"], abs=TOL)


def test_cumulative_incidence_per_curve_matches_r(fit):
    ours = sv.cif_table(fit)
    assert list(ours.columns) == sv.CIF_ESTIMATE_COLUMNS
    r = expected("cif")
    for (curve, cause), rr in r.groupby(["curve", "cause"]):
        o = ours[(ours.curve == curve) & (ours.cause == cause)]
        close(o["time"], rr["time"], f"{curve} {cause} time", 0)
        close(o["cif"], rr["cif"], f"{curve} {cause} cif", 1e-10)
        close(o["ci_lower"], rr["ci_lower"], f"{curve} {cause} lower")
        close(o["ci_upper"], rr["ci_upper"], f"{curve} {cause} upper")


def test_cif_shows_an_absent_competing_event_as_zero():
    df = pd.DataFrame({"time": [1.0, 2, 3, 4], "event": [1, 0, 1, 0], "cause": ["relapse", "", "relapse", ""],
                       "time_unit": "months", "curve": "c"})
    cif = sv.cif_table(sv.km_fit(df, "curve"), competing_event="death")
    assert list(pd.unique(cif["cause"])) == ["relapse", "death"] and (cif[cif.cause == "death"]["cif"] == 0).all()


@pytest.mark.parametrize("strata", [False, True])
def test_gray_tests_within_studies_match_cmprsk(fit, strata):
    ours = sv.gray_table(fit, strata="strata" if strata else None)
    assert list(ours.columns) == sv.CIF_TEST_COLUMNS
    r = expected("gray")
    for study in ("M-mgus", "M-trial"):
        o = ours[ours["groups"].str.startswith(study)].set_index("cause")
        rr = r[(r.study == study) & (r.strata == (strata and study == "M-mgus"))].set_index("cause")
        assert sorted(o.index) == sorted(rr.index)
        close(o.loc[rr.index, "statistic"], rr["statistic"], f"{study} Gray")
        close(o.loc[rr.index, "p_value"], rr["p_value"], f"{study} Gray p")
    # the case reports have two causes but one curve: no test
    assert not ours["groups"].str.contains("case reports").any()


def test_rmst_followup_match_r(fit):
    ours = sv.rmst_table(fit, [12, 60]).set_index(["curve", "tau"]).sort_index()
    r = expected("rmst").set_index(["curve", "tau"]).sort_index()
    assert list(ours.columns) == ["rmst", "se", "beyond_follow_up"]
    close(ours["rmst"], r["rmst"], "rmst")
    close(ours["se"], r["se"], "se(rmst)")
    fu = sv.followup_table(fit).set_index("curve").sort_index()
    rf = expected("followup").set_index("curve").sort_index()
    for col in ("median_followup", "ci_lower", "ci_upper"):
        close(fu[col], rf[col], col)


def test_turnbull_of_imprecise_curves_matches_r(fit):
    ours = sv.turnbull_table(fit)
    r = expected("turnbull")
    assert set(ours["curve"]) == set(r["curve"]) == {"case reports", "M-mgus: F", "M-mgus: M"}
    for curve, rr in r.groupby("curve"):
        o = ours[ours.curve == curve]
        close(o["time"], rr["time"], f"{curve} time", 1e-9)
        close(o["survival"], rr["survival"], f"{curve} survival", 1e-4)
    # the coded cases' intervals: within 6 months (0, 6]; about 24 months censored known to 21.6
    lo, hi = sv.turnbull_intervals(fit.data[fit.data["curve"] == "case reports"])
    assert (lo[0], hi[0]) == (0.0, pytest.approx(6.0)) and np.isinf(hi[1]) and lo[1] == pytest.approx(21.6)


def test_cohort_points_have_exact_intervals_equal_to_binom_test(ds):
    st = sv.cohort_statements(ds.cohort_outcomes, ds.sources, "months").set_index("outcome_id")
    r = expected("statements").set_index("outcome_id")
    for oid in r.index:
        assert st.loc[oid, "kind"] == "point" and st.loc[oid, "time"] == pytest.approx(60.0)
        close(st.loc[oid, ["survival", "ci_lower", "ci_upper"]], r.loc[oid], oid, 1e-9)


def test_issue_scenario_rebuilt_curve_and_case_reports_stay_apart(tmp_path, tables):
    """The issue's first try: a curve rebuilt from a published figure beside psoriasis case
    reports. Default: separate curves, no test between them; group_by=disease names the
    rebuilt curve's disease (from its source's cohort_outcomes row), never "not stated"."""
    import shutil

    from conftest import write_folder

    ref = HERE / "reference_data" / "ipd_folder"
    tables["sources"].append({"source_id": "R-lung", "kind": "cohort", "citation": "Rebuilt curves",
                              "evidence_level": "uncontrolled_study"})
    tables["cohort_outcomes"].append({
        "outcome_id": "O2", "source_id": "R-lung", "study": "Rebuilt", "arm": "all", "disease": "Crohn's disease",
        "therapy": "autologous HSCT", "design": "uncontrolled_cohort", "controlled": "no", "outcome": "relapse_free",
        "definition": "relapse-free", "events": "", "total": "228", "total_qualifier": "exact", "approximate": "no",
        "quote": "q"})
    folder = write_folder(tmp_path / "data", tables)
    shutil.copytree(ref / "km_curves", folder / "km_curves")
    ds = load_dataset(folder)
    data = sv.survival_data(ds, time_unit="months")[0]
    assert set(data["curve"]) == {"case reports", "R-lung: female", "R-lung: male"}
    fit = sv.km_fit(data, "curve", time_unit="months")
    table = sv.logrank_table(fit)
    assert list(table["groups"]) == ["R-lung: female | R-lung: male"]
    text = sv.logrank_text(fit, table, sv.comparisons(fit))
    assert "published figure" in text and "case reports" not in text.split("\n")[0]
    by_disease = sv.survival_data(ds, time_unit="months", group_by="disease")[0]
    assert set(by_disease["curve"]) == {"psoriasis · case reports", "Crohn's disease · R-lung: female",
                                        "Crohn's disease · R-lung: male"}
    assert (by_disease.loc[by_disease["survival_source"] == "reconstructed", "therapy"] == "autologous HSCT").all()


def test_a_case_report_and_a_rebuilt_curve_alone_are_not_compared(data):
    two = data[data["curve"].isin(["case reports", "M-trial: A"])]
    fit = sv.km_fit(two, "curve", time_unit="months")
    assert sv.comparisons(fit) == [] and sv.logrank_table(fit).empty
    assert sv.logrank_text(fit, sv.logrank_table(fit), sv.comparisons(fit)).startswith(
        "Log-rank test: not done: no two curves come from the same study or source")


@pytest.mark.slow
def test_notebook_competing_risks_and_strata(tmp_path):
    import papermill

    nb = HERE.parent / "notebooks" / "02_relapse_free_survival.ipynb"
    out = tmp_path / "out"
    papermill.execute_notebook(str(nb), str(tmp_path / "run.ipynb"), cwd=str(nb.parent), progress_bar=False,
                               kernel_name="python3",
                               parameters={"data_dir": str(FOLDER), "output_dir": str(out), "competing_event": "death",
                                           "logrank_strata": "strata", "rmst_tau": [12, 60]})
    tables = out / "tables"
    cif = pd.read_csv(tables / "cif_estimates.csv")
    assert list(cif.columns[:6]) == ["curve", "cause", "time", "cif", "ci_lower", "ci_upper"]
    assert set(cif["cause"]) == {"relapse", "death"}
    tests = pd.read_csv(tables / "cif_tests.csv", keep_default_na=False)
    assert list(tests.columns[:4]) == ["cause", "statistic", "df", "p_value"]
    logrank = pd.read_csv(tables / "logrank.csv", keep_default_na=False)
    # M-mgus is stratified by its strata; M-trial has one stratum, so its test is the plain one
    assert len(logrank) == 2 and sorted(logrank["strata"]) == ["", "strata"]
    assert sorted(tests["strata"]) == ["", "", "strata", "strata"]
    assert list(pd.read_csv(tables / "rmst.csv").columns[:4]) == ["curve", "tau", "rmst", "se"]
    assert list(pd.read_csv(tables / "followup.csv").columns) == sv.FOLLOWUP_COLUMNS
    assert set(pd.read_csv(tables / "turnbull.csv")["curve"]) == {"case reports", "M-mgus: F", "M-mgus: M"}
    assert (out / "figures" / "cumulative_incidence.png").exists()


@pytest.mark.slow
def test_real_evidence_folder_renders_with_no_merged_curve(tmp_path):
    """examples/primary-studies (issue 13's "done when"): every curve from one study or the
    case reports, the cohort statements drawn as points, nothing compared across studies."""
    import subprocess
    import sys

    out = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "analysis", "render", "--data", str(HERE.parent / "examples" /
                           "primary-studies"), "--out", str(out), "--only", "02_relapse_free_survival", "--force"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tables = out / "02_relapse_free_survival" / "tables"
    survival = pd.read_csv(tables / "survival_data.csv")
    assert (survival.groupby("curve")["study"].nunique()[lambda s: s.index != "case reports"] == 1).all()
    assert survival.groupby("curve")["survival_source"].nunique().max() == 1
    statements = pd.read_csv(tables / "cohort_statements.csv", keep_default_na=False)
    points = statements[statements["kind"] == "point"]
    assert len(points) >= 20 and not (points["design"] == "case_report").any()
    assert points.loc[points["drawn"].astype(str) == "False", "note"].str.startswith("same cohort").all()
