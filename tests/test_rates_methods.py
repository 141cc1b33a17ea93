"""pool_rates with each method, CI and prediction-interval rule, checked against R through the
fixtures of tests/r/pooling (metafor 3.8-1, lme4 1.1-31; see tests/r/pooling_reference.R).
The proportion sets are synthetic test data; each set becomes one subgroup of a rates table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import rates as R
from test_pooling import PROPS, TOL, TOL_GLMM, num, rows
from test_rates import SOURCES, outcome_rows

GLMM_SETS = ("k2", "k3_zero", "k4_mixed", "k5_full", "k6_homog", "k8_het", "k8_sparse", "k3_large")


def rates_of(sets, outcome="response") -> pd.DataFrame:
    """A rates table with one subgroup (``disease``) per fixture set, one study per proportion."""
    rows_ = [dict(study=f"{s} study {i}", disease=s, outcome=outcome, events=int(x), total=int(n))
             for s in sets for i, (x, n) in enumerate(zip(PROPS[s]["xi"], PROPS[s]["ni"]))]
    return R.study_rates(outcome_rows(rows_), SOURCES)


def close_p(got, want_logit, tol, what):
    """``got`` (a proportion) against R's value on the logit scale, compared on the logit scale."""
    want = num(want_logit)
    assert abs(math.log(got / (1 - got)) - want) <= tol, f"{what}: got logit {math.log(got / (1 - got))!r}, R {want!r}"


@pytest.fixture(scope="module")
def glmm_pools():
    rt = rates_of(GLMM_SETS)
    return {opts: R.pool_rates(rt, subgroup_by="disease", min_studies=2, **dict(opts))
            for opts in ((), (("pooled_ci", "hartung-knapp"), ("pi_method", "z")))}


@pytest.mark.parametrize("row", [r for r in rows("glmm.csv") if r["fit"] == "tight"], ids=lambda r: r["set"])
def test_glmm_is_the_default_and_matches_lme4(row, glmm_pools):
    """Defaults: GLMM, z CI, t prediction interval (k - 1 df); the other rules by option."""
    default = glmm_pools[()].pooled.set_index("subgroup").loc[row["set"]]
    assert (default["method"], default["transform"], default["pooled_ci"], default["pi_method"]) == \
        ("GLMM", "logit", "z", "t")
    assert default["warning"] == "" and default["k"] == int(row["k"])
    z, t = stats.norm.ppf(0.975), stats.t.ppf(0.975, int(row["k"]) - 1)
    close_p(default["pooled"], row["estimate"], TOL_GLMM, "estimate")
    for col, want in (("tau2", "tau2"), ("i2", "i2")):
        assert abs(default[col] - num(row[want])) <= TOL_GLMM, col
    # heterogeneity: the likelihood-ratio test QE.LRT, not the Wald QE.Wld (see the next test)
    assert abs(default["q"] - num(row["q_lrt"])) <= TOL
    assert default["q_p_value"] == pytest.approx(stats.chi2.sf(num(row["q_lrt"]), int(row["k"]) - 1), abs=TOL)
    for col in ("ci_lower", "ci_upper"):
        close_p(default[col], row[col], TOL_GLMM * z, col)
    for col, want in (("pi_lower", "pi_t_lower"), ("pi_upper", "pi_t_upper")):
        close_p(default[col], row[want], TOL_GLMM * t, col)
    other = glmm_pools[(("pooled_ci", "hartung-knapp"), ("pi_method", "z"))].pooled.set_index("subgroup").loc[row["set"]]
    assert (other["method"], other["pooled_ci"], other["pi_method"]) == ("GLMM", "t", "z")
    for col, want in (("ci_lower", "ci_t_lower"), ("ci_upper", "ci_t_upper")):
        close_p(other[col], row[want], TOL_GLMM * t, col)
    for col, want in (("pi_lower", "pi_z_lower"), ("pi_upper", "pi_z_upper")):
        close_p(other[col], row[want], TOL_GLMM * z, col)


@pytest.mark.parametrize("row", [r for r in rows("glmm.csv") if r["fit"] == "tight"], ids=lambda r: r["set"])
def test_glmm_heterogeneity_is_the_likelihood_ratio_test(row):
    """QE.LRT and QE.Wld both equal R; the Wald statistic collapses with 0/n studies
    (k3_zero: 0.20 against 6.38), so pools report the LRT and keep the Wald one as q_wald."""
    x, n = PROPS[row["set"]]["xi"], PROPS[row["set"]]["ni"]
    fit = R.meta.glmm_proportions(x, n)
    assert fit.q_lrt == pytest.approx(num(row["q_lrt"]), abs=TOL)
    assert fit.q_lrt_p_value == pytest.approx(stats.chi2.sf(num(row["q_lrt"]), fit.k - 1), abs=TOL)
    pooled = R.pool_proportions(x, n, "GLMM")
    assert (pooled["q"], pooled["q_wald"]) == (fit.q_lrt, fit.q)
    assert abs(pooled["q_wald"] - num(row["q"])) <= TOL


def test_glmm_pools_have_no_study_weights_and_say_so(glmm_pools):
    res = glmm_pools[()]
    assert res.weights.isna().all()
    assert res.settings["weights"].startswith("none: the GLMM has no inverse-variance study weights")
    assert (res.settings["method"], res.settings["pooled_ci"], res.settings["pi_method"]) == ("GLMM", "z", "t")
    # the model-scale numbers behind the subgroup test
    model = res.model.set_index("subgroup")
    fit = R.meta.glmm_proportions(PROPS["k8_het"]["xi"], PROPS["k8_het"]["ni"])
    assert model.loc["k8_het", "estimate"] == pytest.approx(fit.estimate, abs=1e-12)
    assert model.loc["k8_het", "se"] == pytest.approx(fit.se, abs=1e-12)


def test_mixed_sets_with_zero_studies_use_the_glmm_uncorrected(glmm_pools):
    pooled = glmm_pools[()].pooled.set_index("subgroup")
    for s in ("k3_zero", "k4_mixed", "k8_sparse"):  # some 0/n (and n/n) studies among others
        assert pooled.loc[s, "method"] == "GLMM" and pooled.loc[s, "warning"] == ""


@pytest.mark.parametrize("method,pooled_ci,pi_method,set_", [
    ("REML", "hartung-knapp", "t", "k5_full"), ("DL", "z", "t", "k8_het"), ("PM", "hartung-knapp", "z", "k8_het"),
    ("REML", "z", "z", "k3_zero"), ("DL", "hartung-knapp", "t", "k4_mixed")])
def test_inverse_variance_methods_with_each_ci_and_pi_rule_match_metafor(method, pooled_ci, pi_method, set_):
    res = R.pool_rates(rates_of([set_]), method=method, pooled_ci=pooled_ci, pi_method=pi_method, min_studies=2)
    p = res.pooled.iloc[0]
    test = "knha" if pooled_ci == "hartung-knapp" else "z"
    want = [r for r in rows("rma.csv") if (r["set"], r["method"], r["test"], r["level"]) ==
            (f"{set_}:PLO", method, test, "0.95")][0]
    assert (p["method"], p["pooled_ci"], p["pi_method"], p["transform"]) == (method, pooled_ci, pi_method, "logit")
    close_p(p["pooled"], want["estimate"], TOL, "estimate")
    for col in ("ci_lower", "ci_upper"):
        close_p(p[col], want[col], TOL, col)
    close_p(p["pi_lower"], want[f"pi_{pi_method}_lower"], TOL, "pi_lower")
    close_p(p["pi_upper"], want[f"pi_{pi_method}_upper"], TOL, "pi_upper")
    for col in ("tau2", "i2", "q", "q_p_value"):
        assert p[col] == pytest.approx(num(want[col]), abs=TOL), col
    assert res.weights.notna().all() and res.weights.sum() == pytest.approx(100)
    assert res.settings["weights"].startswith("random-effects weights")


def test_glmm_that_does_not_converge_falls_back_to_reml_and_says_why():
    rt = R.study_rates(outcome_rows([dict(study="A", events=0, total=10), dict(study="B", events=10, total=10),
                                     dict(study="C", events=0, total=12)]), SOURCES)
    res = R.pool_rates(rt, min_studies=2)
    p = res.pooled.iloc[0]
    assert p["method"] == "REML" and p["transform"] == "logit"
    assert p["warning"].startswith("GLMM did not converge (the fit diverges")
    assert "pooled by REML on the logit scale instead" in p["warning"]
    assert res.status.loc[0, "warning"] == p["warning"]
    reml = R.pool_proportions([0, 10, 0], [10, 10, 12], "REML", pi_method="t")
    assert p["pooled"] == pytest.approx(reml["estimate"], abs=1e-12)
    assert p["pi_upper"] == pytest.approx(reml["pi_upper"], abs=1e-12)
    assert res.weights.notna().all()  # the REML model has weights


def test_sensitivity_table_follows_the_options():
    rows_ = [dict(study=f"Cohort {i}", events=5 + 3 * i, total=20 + 5 * i) for i in range(3)]
    rows_.append(dict(study="Approx", events=30, total=60, total_qualifier="about", approximate=True))
    rt = R.study_rates(outcome_rows(rows_), SOURCES)
    sens = R.sensitivity_table(rt)
    assert set(sens["method"]) == {"GLMM"} and set(sens["pi_method"]) == {"t"}
    sens = R.sensitivity_table(rt, method="DL", pooled_ci="hartung-knapp", pi_method="z")
    assert set(sens["method"]) == {"DL"} and set(sens["pooled_ci"]) == {"hartung-knapp"}
    main = R.pool_rates(rt, method="DL", pooled_ci="hartung-knapp", pi_method="z").pooled.iloc[0]
    assert sens.iloc[0]["pooled"] == main["pooled"] and sens.iloc[0]["pi_upper"] == main["pi_upper"]


@pytest.mark.parametrize("kwargs,message", [
    (dict(method="glmm"), "pool_method: expected one of REML, DL, PM, GLMM, found 'glmm'"),
    (dict(pooled_ci="hk"), "pooled_ci: expected one of z, hartung-knapp, found 'hk'"),
    (dict(pi_method="HTS"), "pi_method: expected one of t, z, found 'HTS'"),
    (dict(transform="freeman-tukey"), "transform: the GLMM pools on the logit scale; expected logit with "
                                      "pool_method GLMM, found 'freeman-tukey' (use REML, DL or PM"),
])
def test_bad_options_name_the_parameter(kwargs, message):
    rt = rates_of(["k3_zero"])
    with pytest.raises(ValueError) as err:
        R.pool_rates(rt, **kwargs)
    assert message in str(err.value)


def test_freeman_tukey_still_works_with_an_inverse_variance_method():
    res = R.pool_rates(rates_of(["k5_full"]), method="REML", transform="freeman-tukey")
    assert res.pooled.loc[0, "transform"] == "freeman-tukey" and res.pooled.loc[0, "pi_method"] == "t"
    assert np.isfinite(res.pooled.loc[0, ["pooled", "pi_lower", "pi_upper"]].astype(float)).all()


@pytest.mark.parametrize("row", rows("glmm_hard.csv"), ids=lambda r: r["set"])
def test_glmm_does_not_settle_in_a_pocket_of_lme4s_deviance(row):
    """Very heterogeneous sets with 0/n or n/n studies: the minimiser once stopped where PIRLS
    takes one iteration fewer (a spurious minimum 1e-5 below the smooth deviance, gradient
    0.04); the fit now leaves it and equals lme4 (se to 1e-5 relative: lme4's finite
    differences)."""
    res = R.meta.glmm_proportions([float(v) for v in row["xi"].split()], [float(v) for v in row["ni"].split()])
    assert res.converged, res.message
    for f in ("estimate", "tau2"):
        assert abs(getattr(res, f) - num(row[f])) <= TOL_GLMM * max(1.0, abs(num(row[f]))), f
    se = num(row["se"])
    assert abs(res.se - se) <= TOL_GLMM * max(1.0, se)
    for f in ("ci_lower", "ci_upper"):
        assert abs(getattr(res, f) - num(row[f])) <= TOL_GLMM * 1.96 * max(1.0, se), f
