"""The real-evidence example (examples/primary-studies, coded from published abstracts) rendered
as a user would (`make example`), with the pooling rules asserted on its tables: the rules hold
for every row, not only for the rows an issue named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.load import load_dataset

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "primary-studies"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("example") / "reports"
    proc = subprocess.run([sys.executable, "-m", "analysis", "render", "--data", str(EXAMPLE), "--out", str(out),
                           "--only", "03_response_rates", "--force"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out / "03_response_rates" / "tables"


def test_example_folder_is_valid_and_traceable():
    ds = load_dataset(EXAMPLE)
    src = ds.sources.set_index("source_id")
    assert len(src) >= 12 and src["link"].notna().all()  # every source carries its DOI or URL
    co = ds.cohort_outcomes
    assert co["quote"].str.len().gt(0).all()
    # what the issue asks the folder to hold
    assert (co["arm_role"] == "control").any() and (co["design"] == "rct").any()
    assert co["cohort_group"].notna().any() and (co.groupby("cohort_group")["source_id"].nunique() >= 2).any()
    assert (co["outcome"] == "relapse").any()
    assert co["disease"].str.lower().nunique() >= 3


@pytest.mark.slow
def test_example_rates_follow_the_pooling_rules(rendered):
    rates = pd.read_csv(rendered / "rates.csv", keep_default_na=False)
    pooled = pd.read_csv(rendered / "pooled_rates.csv", keep_default_na=False)
    status = pd.read_csv(rendered / "pooling_status.csv", keep_default_na=False)
    sources = load_dataset(EXAMPLE).sources.set_index("source_id")
    level = rates["source_id"].map(sources["evidence_level"].astype(str))
    into = rates["pooled_in"] != ""
    # never a control arm, a secondary summary, an anecdote or a case report in a pool
    assert not (into & (rates["arm_role"] == "control")).any()
    assert not (into & level.isin(["secondary_summary", "anecdote", "background"])).any()
    assert not (into & rates["is_case_report"].astype(str).eq("True")).any()
    # every row says where it went
    assert (into ^ (rates["not_pooled_reason"] != "")).all()
    # one row per cohort group and per study arm in each pool
    for where, g in rates[into].groupby("pooled_in"):
        groups = g["cohort_group"][g["cohort_group"] != ""]
        assert groups.is_unique, where
        assert not g.duplicated(["source_id", "study", "arm", "disease"]).any(), where
    # no pool across diseases by default, k counts studies, all-zero sets as exact counts
    assert not pooled["subgroup"].str.contains("exploratory").any()
    assert (pooled["k_studies"] <= pooled["k"]).all() and (pooled["k_studies"] >= 3).all()
    for p in pooled.itertuples():
        members = rates[rates["pooled_in"] == f"{p.outcome}: {p.subgroup}"]
        assert len(members) == p.k and members["total_used"].astype(float).sum() == p.total
        if (members["events_used"].astype(float) == 0).all():
            assert p.method == "exact count" and "no random-effects estimate" in p.warning
    assert set(status.columns) >= {"control_arms", "summaries", "same_cohort_excluded", "k_studies", "warning"}


@pytest.mark.slow
def test_example_methods_tables(rendered):
    """The GLMM by default (z CI, t prediction interval), the subgroup and leave-one-out tables,
    and the RCT's comparisons (Deng 2017: 9/12 vs 5/6 responders, 2/12 vs 2/6 adverse events)."""
    from analysis import rates as R

    pooled = pd.read_csv(rendered / "pooled_rates.csv", keep_default_na=False)
    fitted = pooled[pooled["method"] != "exact count"]
    assert set(fitted["method"]) <= {"GLMM", "REML"} and (fitted["pooled_ci"] == "z").all()
    assert (fitted["pi_method"] == "t").all()
    assert (fitted.loc[fitted["method"] == "REML", "warning"].str.startswith("GLMM did not converge")).all()
    loo = pd.read_csv(rendered / "leave_one_out.csv", keep_default_na=False)
    assert list(loo.columns[:7]) == R.LEAVE_ONE_OUT_COLUMNS
    for p in pooled[pooled["k"] >= 3].itertuples():
        assert (loo[(loo["outcome"] == p.outcome) & (loo["subgroup"] == p.subgroup)].shape[0]) == p.k
    assert list(pd.read_csv(rendered / "subgroup_tests.csv").columns[:4]) == R.SUBGROUP_TEST_COLUMNS
    cmp = pd.read_csv(rendered / "comparisons.csv", keep_default_na=False)
    assert list(cmp.columns[:10]) == R.COMPARISON_COLUMNS and set(cmp["measure"]) == {"RR"}
    deng = cmp[cmp["study"] == "Deng 2017"].set_index("outcome")
    # as written in the CSV: whole counts, no float residue (exp(log(0.5)) is 0.5000000000000001)
    assert deng.loc["response", ["events_int", "total_int", "events_ctl", "total_ctl"]].tolist() == ["9", "12", "5", "6"]
    assert deng.loc["response", "estimate"] == "0.9" and deng.loc["adverse_event", "estimate"] == "0.5"
    assert (cmp.loc[cmp["study"] != "Deng 2017", "estimate"] == "").all()  # no counts: no estimate
    pooled_cmp = pd.read_csv(rendered / "pooled_comparisons.csv")
    assert pooled_cmp.empty and list(pooled_cmp.columns[:14]) == R.POOLED_COMPARISON_COLUMNS
    assert (rendered.parent / "figures" / "forest_comparisons.png").exists()
