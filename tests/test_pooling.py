"""Pooling numbers (analysis.rates.meta, analysis.rates.glmm) checked against R.

Expected values come from tests/r/pooling_reference.R (metafor 3.8-1, lme4 1.1-31; see
tests/r/pooling/VERSIONS.txt); R is not needed to run these tests. All data are synthetic.
"""

from __future__ import annotations

import csv
import math
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from analysis.rates import glmm
from analysis.rates import meta as P
from analysis.timing import expect_one_of

FIX = Path(__file__).resolve().parent / "r" / "pooling"
TOL = 1e-6
TOL_GLMM = 1e-5
#: metafor's default rma.glmm stops lme4's Nelder-Mead when the deviance changes by < 1e-5,
#: so its numbers are that far from the optimum (see test_glmm_default_fit)
TOL_GLMM_DEFAULT = 1e-4


def rows(name: str) -> list[dict]:
    with (FIX / name).open(newline="") as f:
        return list(csv.DictReader(f))


def num(s: str) -> float:
    return math.nan if s in ("", "NA") else float(s)


def close(got, want, tol, what=""):
    got, want = float(got), num(want) if isinstance(want, str) else float(want)
    if math.isnan(want):
        assert math.isnan(got), f"{what}: expected NaN, got {got}"
    else:
        assert abs(got - want) <= tol, f"{what}: got {got!r}, R {want!r} (diff {got - want:.3g})"


PROPS: dict[str, dict] = {}
for r in rows("inputs_proportions.csv"):
    s = PROPS.setdefault(r["set"], {"xi": [], "ni": [], "yi": [], "vi": []})
    for key in s:
        s[key].append(float(r[key]))
ESCALC = rows("escalc.csv")


def effect_sizes(set_name: str):
    """yi, vi of a fixture set named ``<set>:<measure>`` (as R computed them)."""
    name, measure = set_name.split(":")
    if measure == "PLO":
        return np.array(PROPS[name]["yi"]), np.array(PROPS[name]["vi"])
    sel = [r for r in ESCALC if r["set"] == name and r["measure"] == measure and r["option"] == "default"]
    return np.array([float(r["yi"]) for r in sel]), np.array([float(r["vi"]) for r in sel])


FIELDS = ("estimate", "se", "ci_lower", "ci_upper", "tau2", "i2", "q", "q_p_value")


# --------------------------------------------------------------------------- rma


@pytest.mark.parametrize("row", rows("rma.csv"), ids=lambda r: f"{r['set']}-{r['method']}-{r['test']}-{r['level']}")
def test_rma_matches_metafor(row):
    yi, vi = effect_sizes(row["set"])
    for pi in ("z", "t"):
        res = P.rma(yi, vi, method=row["method"], test=row["test"], pi=pi, level=float(row["level"]))
        assert res.k == int(row["k"]) and res.test == row["test_used"]
        for f in FIELDS:
            close(getattr(res, f), row[f], TOL, f)
        close(res.pi_lower, row[f"pi_{pi}_lower"], TOL, f"pi_{pi}_lower")
        close(res.pi_upper, row[f"pi_{pi}_upper"], TOL, f"pi_{pi}_upper")


@pytest.mark.parametrize("row", rows("leave1out.csv"),
                         ids=lambda r: f"{r['set']}-{r['method']}-{r['test']}-{r['left_out']}")
def test_leave_one_out_matches_metafor(row):
    yi, vi = effect_sizes(row["set"])
    res = P.leave_one_out(yi, vi, method=row["method"], test=row["test"])[int(row["left_out"]) - 1]
    assert res.k == len(yi) - 1
    for f in FIELDS:
        close(getattr(res, f), row[f], TOL, f)


def test_knha_factor_not_truncated():
    """metafor's knha does not truncate s2 at 1: in a homogeneous set its se is smaller."""
    yi, vi = effect_sizes("k6_homog:PLO")
    z, kh = P.rma(yi, vi, test="z"), P.rma(yi, vi, test="knha")
    assert kh.se < z.se and kh.estimate == z.estimate


def test_k1_is_the_study_itself():
    res = P.rma([0.3], [0.04], method="REML", test="knha")
    assert (res.estimate, res.tau2, res.i2, res.q, res.q_p_value, res.k) == (0.3, 0.0, 0.0, 0.0, 1.0, 1)
    assert res.se == pytest.approx(0.2) and res.test == "z"
    assert math.isnan(res.pi_lower) and math.isnan(res.pi_upper)
    assert res.ci_lower == pytest.approx(0.3 - 1.959963984540054 * 0.2)
    assert "k = 1" in res.message


def test_k2_t_prediction_interval_has_one_df():
    yi, vi = effect_sizes("k2:PLO")
    res = P.rma(yi, vi, pi="t")
    half = 12.706204736174703 * math.sqrt(res.tau2 + res.se ** 2)
    assert res.pi_upper - res.estimate == pytest.approx(half, rel=1e-12)


def test_result_is_frozen():
    res = P.rma([0.1, 0.5], [0.04, 0.05])
    with pytest.raises(FrozenInstanceError):
        res.estimate = 0.0  # type: ignore[misc]


# --------------------------------------------------------------------------- GLMM


def _glmm_rows(fit):
    return [r for r in rows("glmm.csv") if r["fit"] == fit]


@pytest.fixture(scope="module")
def glmm_fits():
    return {s: (P.glmm_proportions(PROPS[s]["xi"], PROPS[s]["ni"]),
                P.glmm_proportions(PROPS[s]["xi"], PROPS[s]["ni"], test="t", pi="z"))
            for s in {r["set"] for r in _glmm_rows("tight")}}


@pytest.mark.parametrize("row", _glmm_rows("tight"), ids=lambda r: r["set"])
def test_glmm_matches_lme4_converged(row, glmm_fits):
    """estimate, se, tau2 to 1e-5; interval limits to 1e-5 times their critical value.

    lme4's se comes from a finite-difference Hessian (step 1e-4) of its deviance, which
    carries rounding noise: two tightly converged optimisers in R give ses up to 1.7e-5
    apart (k3_large, n = 10000); an interval limit inherits that noise times z or t.
    """
    res, res_t = glmm_fits[row["set"]]
    assert res.converged, res.message
    z, t = stats.norm.ppf(0.975), stats.t.ppf(0.975, res.k - 1)
    for f in ("estimate", "se", "tau2", "i2", "q_p_value"):
        close(getattr(res, f), row[f], TOL_GLMM, f)
    close(res.q, row["q"], TOL, "QE.Wld")  # replicates glm's IRLS
    for obj, fields, crit in ((res, ("ci_lower", "ci_upper"), z), (res_t, ("ci_t_lower", "ci_t_upper"), t),
                              (res, ("pi_t_lower", "pi_t_upper"), t), (res_t, ("pi_z_lower", "pi_z_upper"), z)):
        for f in fields:
            attr = f.replace("_t_", "_").replace("_z_", "_")
            close(getattr(obj, attr), row[f], TOL_GLMM * crit, f)


@pytest.mark.parametrize("row", _glmm_rows("default"), ids=lambda r: r["set"])
def test_glmm_default_fit(row, glmm_fits):
    """metafor's default control stops within ~1e-5 of the optimum (tau2: relative)."""
    res, _ = glmm_fits[row["set"]]
    for f in ("estimate", "se", "ci_lower", "ci_upper", "q", "q_p_value"):
        close(getattr(res, f), row[f], TOL_GLMM_DEFAULT, f)
    close(res.tau2, row["tau2"], TOL_GLMM_DEFAULT * max(1.0, num(row["tau2"])), "tau2")


def test_glmm_deviance_is_lme4s():
    """lme4's devfun (glmer(..., nAGQ = 7, devFunOnly = TRUE)) at two points of k5_full."""
    x, n = np.array(PROPS["k5_full"]["xi"]), np.array(PROPS["k5_full"]["ni"])
    lp0 = glmm.start_predictor(x, n)
    assert glmm.deviance(1.0, 0.0, x, n, lp0) == pytest.approx(26.831579258561, abs=1e-9)
    assert glmm.deviance(math.sqrt(5.20816662286805), -0.481095479909105, x, n, lp0) == \
        pytest.approx(20.2077163999119, abs=1e-9)


def test_glmm_homogeneous_set_has_tau2_zero(glmm_fits):
    res, _ = glmm_fits["k6_homog"]
    assert res.tau2 == 0.0 and res.i2 == 0.0 and res.converged and "boundary" in res.message


def test_glmm_divergent_fit_is_flagged():
    res = P.glmm_proportions([0, 10], [10, 10])  # 0/10 and 10/10: tau runs off to infinity
    assert not res.converged and "diverges" in res.message


def test_all_zero_goes_to_exact_count():
    zero = PROPS["all_zero"]
    with pytest.raises(ValueError, match="exact_pooled_count"):
        P.glmm_proportions(zero["xi"], zero["ni"])
    res = P.exact_pooled_count(zero["xi"], zero["ni"])
    assert (res.events, res.total, res.proportion, res.ci_lower) == (0, 781, 0.0, 0.0)
    assert res.ci_upper == pytest.approx(0.0047, abs=5e-5)


# --------------------------------------------------------------------------- counts, subgroups, 2x2


@pytest.mark.parametrize("row", rows("exact.csv"), ids=lambda r: r["set"])
def test_exact_pooled_count_matches_binom_test(row):
    xi, ni = PROPS[row["set"]]["xi"], PROPS[row["set"]]["ni"]
    res = P.exact_pooled_count(xi, ni)
    assert (res.events, res.total) == (int(row["events"]), int(row["total"]))
    for f in ("proportion", "ci_lower", "ci_upper"):
        close(getattr(res, f), row[f], TOL, f)
    res90 = P.exact_pooled_count(xi, ni, level=0.90)
    close(res90.ci_lower, row["ci90_lower"], TOL, "ci90_lower")
    close(res90.ci_upper, row["ci90_upper"], TOL, "ci90_upper")


@pytest.mark.parametrize("row", rows("subgroup.csv"), ids=lambda r: r["name"])
def test_subgroup_q_matches_metafor_fe(row):
    res = P.subgroup_q([float(v) for v in row["estimates"].split()], [float(v) for v in row["ses"].split()])
    assert res.df == int(row["df"])
    close(res.q, row["q"], TOL, "q")
    close(res.p_value, row["q_p_value"], TOL, "p")


def test_subgroup_q_from_pooled_fits():
    """The subgroup estimates and ses in subgroup.csv are what rma gives for those sets."""
    row = rows("subgroup.csv")[0]
    fits = [P.rma(*effect_sizes(s), method="REML") for s in row["sets"].split()]
    for fit, est, se in zip(fits, row["estimates"].split(), row["ses"].split()):
        close(fit.estimate, est, TOL, "estimate")
        close(fit.se, se, TOL, "se")


INPUTS_2X2: dict[str, list[dict]] = {}
for r in rows("inputs_2x2.csv"):
    INPUTS_2X2.setdefault(r["set"], []).append(r)
OPTIONS = {"default": {}, "drop00": {"drop00": True}, "to_all": {"to": "all"}, "to_if0all": {"to": "if0all"}}


@pytest.mark.parametrize("key", sorted({(r["set"], r["measure"], r["option"]) for r in ESCALC}), ids=str)
def test_escalc_2x2_matches_metafor(key):
    s, measure, option = key
    d = INPUTS_2X2[s]
    res = P.escalc_2x2(*[[float(r[c]) for r in d] for c in ("ai", "n1i", "ci", "n2i")], measure=measure,
                       **OPTIONS[option])
    want = [r for r in ESCALC if (r["set"], r["measure"], r["option"]) == key]
    for i, r in enumerate(want):
        for f in ("yi", "vi", "estimate", "ci_lower", "ci_upper"):
            close(getattr(res, f)[i], r[f], TOL, f"{f}[{i}]")


def test_escalc_corrects_rd_and_keeps_double_zero():
    res = P.escalc_2x2([0, 5], [25, 50], [0, 10], [27, 48], measure="RD")
    assert list(res.corrected) == [True, False] and not res.dropped.any()
    assert res.yi[0] == pytest.approx(0.5 / 26 - 0.5 / 28)
    dropped = P.escalc_2x2([0, 5], [25, 50], [0, 10], [27, 48], measure="RR", drop00=True)
    assert list(dropped.dropped) == [True, False] and math.isnan(dropped.yi[0])


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("call,message", [
    (lambda: P.rma([0.1, 0.2], [0.1, 0.1], method="REM"), "method: expected one of REML, DL, PM, found 'REM'"),
    (lambda: P.rma([0.1, 0.2], [0.1, 0.1], test="hk"), "test: expected one of z, knha, found 'hk'"),
    (lambda: P.rma([0.1, 0.2], [0.1, 0.1], pi="HTS"), "pi: expected one of t, z, found 'HTS'"),
    (lambda: P.rma([0.1, 0.2], [0.1, 0.1], level=95), "level: expected a number between 0 and 1"),
    (lambda: P.rma([0.1, 0.2], [0.1, 0.0]), "vi: expected positive numbers, found 0.0"),
    (lambda: P.rma([0.1, 0.2], [0.1]), "vi: expected one variance per effect size"),
    (lambda: P.rma([], []), "yi: expected a non-empty"),
    (lambda: P.rma([0.1, float("nan")], [0.1, 0.1]), "yi: expected finite numbers"),
    (lambda: P.glmm_proportions([1, 2], [10, 10], test="knha"), "test: expected one of z, t, found 'knha'"),
    (lambda: P.glmm_proportions([11, 2], [10, 10]), "events, totals: expected whole numbers"),
    (lambda: P.exact_pooled_count([1], [0]), "totals: expected positive numbers"),
    (lambda: P.escalc_2x2([1], [10], [2], [10], measure="SMD"), "measure: expected one of RR, OR, RD, found 'SMD'"),
    (lambda: P.escalc_2x2([1], [10], [2], [10], to="some"), "to: expected one of only0, all, if0all, none"),
    (lambda: P.subgroup_q([0.1], [0.2]), "at least 2 subgroups"),
    (lambda: P.leave_one_out([0.1], [0.2]), "at least 2 studies"),
    (lambda: expect_one_of("pool_method", "REM", P.POOL_METHODS),
     "pool_method: expected one of REML, DL, PM, GLMM, found 'REM'"),
])
def test_bad_arguments_name_the_parameter(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)
