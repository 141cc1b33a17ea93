"""Test for subgroup differences and leave-one-out (rates.explore) through pool_rates, checked
against R (tests/r/pooling: metafor rma(method = "FE") on the subgroup fits, leave1out, and
rma.glmm refitted without each study). Synthetic proportion sets, one subgroup per set."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from analysis import rates as R
from test_pooling import TOL, TOL_GLMM, num, rows
from test_rates import SOURCES, outcome_rows
from test_rates_methods import close_p, rates_of

SUBGROUP = {r["name"]: r for r in rows("subgroup.csv")}


@pytest.mark.parametrize("name,kwargs,tol", [
    ("REML_z", dict(method="REML"), TOL), ("DL_z", dict(method="DL"), TOL),
    ("PM_knha", dict(method="PM", pooled_ci="hartung-knapp"), TOL), ("GLMM_z", dict(), 1e-4)])
def test_subgroup_differences_match_metafor(name, kwargs, tol):
    want = SUBGROUP[name]
    sets = [s.split(":")[0] for s in want["sets"].split()]
    res = R.pool_rates(rates_of(sets), subgroup_by="disease", min_studies=2, overall=True, **kwargs)
    table = R.subgroup_tests(res)
    assert list(table.columns[:4]) == R.SUBGROUP_TEST_COLUMNS and len(table) == 1
    row = table.iloc[0]
    assert row["outcome"] == "response" and row["df"] == int(want["df"]) == len(sets) - 1
    assert row["subgroups"] == "; ".join(sorted(sets)) and row["note"] == ""  # the exploratory row is no subgroup
    assert row["q_between"] == pytest.approx(num(want["q"]), abs=tol)
    assert row["p_value"] == pytest.approx(num(want["q_p_value"]), abs=tol)
    model = res.model.set_index("subgroup")
    for s, est, se in zip(sets, want["estimates"].split(), want["ses"].split()):
        assert model.loc[s, "estimate"] == pytest.approx(float(est), abs=tol)
        assert model.loc[s, "se"] == pytest.approx(float(se), abs=tol)


def test_subgroup_test_leaves_out_exact_counts_and_needs_two_subgroups():
    rt = rates_of(["k3_zero", "k5_full", "all_zero"])
    table = R.subgroup_tests(R.pool_rates(rt, subgroup_by="disease", method="REML"))
    assert table.loc[0, "df"] == 1 and table.loc[0, "subgroups"] == "k3_zero; k5_full"
    assert table.loc[0, "note"] == "left out (exact count, no model): all_zero"
    one = R.subgroup_tests(R.pool_rates(rates_of(["k5_full"]), subgroup_by="disease"))
    assert one.empty and list(one.columns[:4]) == R.SUBGROUP_TEST_COLUMNS
    assert R.subgroup_tests(R.pool_rates(rates_of(["k5_full"]))).empty  # no subgroups at all


LOO = rows("leave1out.csv")


@pytest.mark.parametrize("set_,method,test", [("k5_full", "REML", "z"), ("k8_het", "DL", "knha"),
                                              ("k3_zero", "PM", "z"), ("k8_het", "REML", "knha")])
def test_leave_one_out_matches_metafor(set_, method, test):
    rt = rates_of([set_])
    res = R.pool_rates(rt, method=method, pooled_ci="hartung-knapp" if test == "knha" else "z", min_studies=2)
    table = R.leave_one_out_table(rt, res)
    want = [r for r in LOO if (r["set"], r["method"], r["test"]) == (f"{set_}:PLO", method, test)]
    assert list(table.columns[:7]) == R.LEAVE_ONE_OUT_COLUMNS and len(table) == len(want)
    for got, w in zip(table.itertuples(), want):
        assert got.left_out == f"{set_} study {int(w['left_out']) - 1}" and got.method == method
        for col in ("pooled", "ci_lower", "ci_upper"):
            close_p(getattr(got, col), w["estimate" if col == "pooled" else col], TOL, col)
        assert got.tau2 == pytest.approx(num(w["tau2"]), abs=TOL)
        assert got.i2 == pytest.approx(num(w["i2"]), abs=TOL)


GLMM_LOO = rows("glmm_leave1out.csv")


@pytest.mark.parametrize("set_", sorted({r["set"] for r in GLMM_LOO}))
def test_glmm_leave_one_out_refits_the_glmm(set_):
    rt = rates_of([set_])
    res = R.pool_rates(rt)
    table = R.leave_one_out_table(rt, res)
    want = [r for r in GLMM_LOO if r["set"] == set_]
    assert len(table) == len(want) and set(table["method"]) == {"GLMM"} and set(table["warning"]) == {""}
    for got, w in zip(table.itertuples(), want):
        z, t = stats.norm.ppf(0.975), stats.t.ppf(0.975, int(w["k"]) - 1)
        assert got.k == int(w["k"])
        close_p(got.pooled, w["estimate"], TOL_GLMM, "estimate")
        assert got.tau2 == pytest.approx(num(w["tau2"]), abs=TOL_GLMM * max(1.0, num(w["tau2"])))
        for col in ("ci_lower", "ci_upper"):
            close_p(getattr(got, col), w[col], TOL_GLMM * z * max(1.0, num(w["se"])), col)
        for col in ("pi_lower", "pi_upper"):
            close_p(getattr(got, col), w[col.replace("pi_", "pi_t_")], TOL_GLMM * t * max(1.0, num(w["se"])), col)


def test_leave_one_out_only_for_pools_of_three_or_more_and_labels_the_row():
    rt = rates_of(["k2", "k3_zero"])
    res = R.pool_rates(rt, subgroup_by="disease", min_studies=2)
    table = R.leave_one_out_table(rt, res)
    assert set(table["subgroup"]) == {"k3_zero"} and len(table) == 3
    assert table["left_out"].tolist() == ["k3_zero study 0", "k3_zero study 1", "k3_zero study 2"]
    assert (table["k"] == 2).all()
    empty = R.leave_one_out_table(rates_of(["k2"]), R.pool_rates(rates_of(["k2"]), min_studies=2))
    assert empty.empty and list(empty.columns[:7]) == R.LEAVE_ONE_OUT_COLUMNS


def test_leave_one_out_of_an_all_zero_pool_is_the_exact_count():
    rt = R.study_rates(outcome_rows([dict(study=s, outcome="treatment_related_death", events=0, total=n)
                                     for s, n in (("A", 55), ("B", 109), ("C", 617))]), SOURCES)
    table = R.leave_one_out_table(rt, R.pool_rates(rt))
    assert set(table["method"]) == {"exact count"} and (table["pooled"] == 0).all()
    assert table.loc[2, "ci_upper"] == pytest.approx(stats.beta.ppf(0.975, 1, 164), abs=1e-12)
    assert math.isnan(table.loc[0, "tau2"])
