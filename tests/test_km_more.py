"""Tests of analysis.survival's summaries, competing and interval modules: competing-risks
cumulative incidence, Gray's test, RMST, median follow-up, stratified log-rank and the
Turnbull estimate, against R (expected values and their input data made by
tests/r/km_more_reference.R; no R needed here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import survival as km

FIX = Path(__file__).parent / "r" / "km_more"
TOL_AJ = 1e-10  # Aalen-Johansen point estimates
TOL = 1e-6  # standard errors, confidence limits, tests, RMST, follow-up
TOL_TB = 1e-4  # Turnbull


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(FIX / name, keep_default_na=False, na_values=[""])


def read_inputs(name: str) -> pd.DataFrame:
    # keep "" as the censoring code of the cause column
    return pd.read_csv(FIX / name, keep_default_na=False,
                       converters={"time": float, "event": int, "lo": _num, "hi": _num})


def _num(text: str) -> float:
    return float(text) if text != "" else np.nan


CIF_IN = read_inputs("input_cif.csv")
KM_IN = read_inputs("input_km.csv")
INT_IN = read_inputs("input_interval.csv")


def assert_close(ours, theirs, atol, what):
    ours = np.asarray(ours, dtype=float)
    theirs = np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{what}: NaN pattern")
    ok = ~np.isnan(ours)
    np.testing.assert_allclose(ours[ok], theirs[ok], rtol=0, atol=atol, err_msg=what)


def cif_data(dataset):
    d = CIF_IN[CIF_IN.dataset == dataset]
    return d["time"].to_numpy(), d["cause"].to_numpy(dtype=object), d


# --------------------------------------------------------------------------- cumulative incidence

R_CIF = read("cif.csv")
CIF_CASES = sorted(R_CIF.groupby(["dataset", "by", "conf_type", "level"]).groups)


@pytest.mark.parametrize("dataset,by,conf_type,level", CIF_CASES)
def test_cumulative_incidence_matches_r(dataset, by, conf_type, level):
    time, cause, d = cif_data(dataset)
    groups = d["group"].to_numpy(dtype=object) if by == "group" else None
    ours = km.cumulative_incidence(time, cause, level=level, conf_type=conf_type, groups=groups)
    r = R_CIF[(R_CIF.dataset == dataset) & (R_CIF.by == by) & (R_CIF.conf_type == conf_type)
              & (R_CIF.level == level)]
    if groups is None:
        r = r.sort_values(["cause", "time"], kind="stable").reset_index(drop=True)
        assert list(ours.columns) == km.CIF_COLUMNS
    else:
        r = r.sort_values(["group", "cause", "time"], kind="stable").reset_index(drop=True)
        assert list(ours.columns) == ["group"] + km.CIF_COLUMNS
        assert list(ours["group"]) == list(r["group"])
    assert list(ours["cause"]) == list(r["cause"])
    for col in ("n_at_risk", "n_event"):
        assert list(ours[col]) == list(r[col]), col
    assert_close(ours["time"], r["time"], 0, "time")
    assert_close(ours["cif"], r["cif"], TOL_AJ, f"{dataset} cif")
    for col in ("std_err", "ci_lower", "ci_upper"):
        assert_close(ours[col], r[col], TOL, f"{dataset} {by} {conf_type} {col}")


def test_default_confidence_limits_are_rs_multistate_default_log():
    # cif.csv's "log" rows without by-group were made with survfit's default conf.type
    time, cause, _ = cif_data("ties")
    default = km.cumulative_incidence(time, cause)
    log = km.cumulative_incidence(time, cause, conf_type="log")
    pd.testing.assert_frame_equal(default, log)


def test_one_cause_is_one_minus_kaplan_meier():
    time, cause, _ = cif_data("one_cause")
    ours = km.cumulative_incidence(time, cause)
    assert set(ours["cause"]) == {"relapse"}
    tab = km.km_table(time, cause != "")
    assert_close(ours["cif"], 1 - tab["survival"], 1e-14, "1 - KM")


def test_causes_argument_keeps_absent_cause_and_order():
    time, cause, _ = cif_data("one_cause")
    ours = km.cumulative_incidence(time, cause, causes=["relapse", "death"])
    assert list(pd.unique(ours["cause"])) == ["relapse", "death"]
    death = ours[ours.cause == "death"]
    assert (death["cif"] == 0).all() and (death["std_err"] == 0).all()
    assert death["ci_lower"].isna().all() and death["ci_upper"].isna().all()
    with pytest.raises(ValueError, match="not in causes"):
        km.cumulative_incidence(time, cause, causes=["death"])


def test_all_censored_and_missing_causes():
    t = [1.0, 2.0, 2.0, 5.0]
    empty = km.cumulative_incidence(t, ["", None, np.nan, ""])
    assert list(empty.columns) == km.CIF_COLUMNS and len(empty) == 0
    zero = km.cumulative_incidence(t, ["", None, np.nan, ""], causes=["relapse"])
    assert list(zero["time"]) == [1.0, 2.0, 5.0] and (zero["cif"] == 0).all()
    assert list(zero["n_at_risk"]) == [4, 3, 1]


def test_cumulative_incidence_by_dataframe():
    _, _, d = cif_data("ties")
    by = km.cumulative_incidence_by(d, "group")
    direct = km.cumulative_incidence(d["time"], d["cause"], groups=d["group"])
    pd.testing.assert_frame_equal(by, direct)
    pooled = km.cumulative_incidence_by(d, None)
    assert set(pooled["group"]) == {"all"}
    with pytest.raises(ValueError, match="no column 'arm'"):
        km.cumulative_incidence_by(d, "arm")


def test_aalen_johansen_states_sum_to_one_and_is_input_order_free():
    time, cause, _ = cif_data("mgus2")
    ours = km.cumulative_incidence(time, cause)
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(time))
    shuffled = km.cumulative_incidence(time[perm], cause[perm])
    pd.testing.assert_frame_equal(ours, shuffled, rtol=0, atol=1e-13)
    tab = km.km_table(time, cause != "")
    total = ours.groupby("time")["cif"].sum().to_numpy()
    assert_close(total, 1 - tab["survival"], 1e-12, "sum of CIFs = 1 - KM")


# --------------------------------------------------------------------------- Gray's test

R_GRAY = read("gray.csv")


@pytest.mark.parametrize("dataset,strata,rho",
                         sorted(R_GRAY.groupby(["dataset", "strata", "rho"]).groups))
def test_gray_test_matches_cmprsk(dataset, strata, rho):
    time, cause, d = cif_data(dataset)
    ours = km.gray_test(time, cause, d["group"], strata=d["strata"] if strata else None, rho=rho)
    r = R_GRAY[(R_GRAY.dataset == dataset) & (R_GRAY.strata == strata)
               & (R_GRAY.rho == rho)].reset_index(drop=True)
    assert list(ours.columns) == km.GRAY_COLUMNS
    assert list(ours["cause"]) == list(r["cause"])
    assert list(ours["df"]) == list(r["df"])
    # cmprsk's -1 (p = 1) for a singular variance is NaN here
    singular = r["statistic"] == -1
    r.loc[singular, ["statistic", "p_value"]] = np.nan
    assert_close(ours["statistic"], r["statistic"], TOL, f"{dataset} statistic")
    assert_close(ours["p_value"], r["p_value"], TOL, f"{dataset} p")


def test_gray_test_singular_variance_is_nan():
    time, cause, d = cif_data("singular")
    ours = km.gray_test(time, cause, d["group"]).set_index("cause")
    assert np.isnan(ours.loc["b", "statistic"]) and np.isnan(ours.loc["b", "p_value"])
    assert ours.loc["a", "statistic"] == pytest.approx(1.0)


def test_timefix_merges_nearly_equal_times_only_when_asked():
    time, cause, _ = cif_data("near_ties")
    merged = km.cumulative_incidence(time, cause)
    raw = km.cumulative_incidence(time, cause, timefix=False)
    assert merged["time"].nunique() == 6 and raw["time"].nunique() == 9
    t, e, _ = km_data("near_ties")
    assert km.rmst(t, e, 6.5).rmst != km.rmst(t, e, 6.5, timefix=False).rmst


def test_gray_test_needs_two_groups():
    with pytest.raises(ValueError, match="at least two groups"):
        km.gray_test([1, 2, 3], ["a", "", "a"], ["x", "x", "x"])


# --------------------------------------------------------------------------- RMST

R_RMST = read("rmst.csv")


def km_data(dataset):
    d = KM_IN[KM_IN.dataset == dataset]
    return d["time"].to_numpy(), d["event"].to_numpy(), d


@pytest.mark.parametrize("dataset,tau", list(R_RMST[["dataset", "tau"]].itertuples(index=False)))
def test_rmst_matches_r(dataset, tau):
    time, event, _ = km_data(dataset)
    ours = km.rmst(time, event, tau)
    r = R_RMST[(R_RMST.dataset == dataset) & (R_RMST.tau == tau)].iloc[0]
    assert abs(ours.rmst - r["rmean"]) < TOL
    assert abs(ours.se - r["se_rmean"]) < TOL
    assert ours.tau == tau


def test_rmst_before_first_time_and_bad_tau():
    # R's summary() refuses such a tau; the area under S = 1 is tau itself
    res = km.rmst([3, 4, 5], [1, 0, 1], 2)
    assert res.rmst == 2 and res.se == 0
    for tau in (0, -1, np.inf, np.nan):
        with pytest.raises(ValueError, match="tau"):
            km.rmst([3, 4, 5], [1, 0, 1], tau)


# --------------------------------------------------------------------------- median follow-up

R_FU = read("followup.csv")


@pytest.mark.parametrize("dataset,conf_type,level",
                         list(R_FU[["dataset", "conf_type", "level"]].itertuples(index=False)))
def test_median_followup_matches_r(dataset, conf_type, level):
    time, event, _ = km_data(dataset)
    r = R_FU[(R_FU.dataset == dataset) & (R_FU.conf_type == conf_type) & (R_FU.level == level)].iloc[0]
    ours = km.median_followup(time, event, level=level, conf_type=conf_type)
    assert_close([ours.median, ours.ci_lower, ours.ci_upper],
                 [r["median"], r["ci_lower"], r["ci_upper"]], TOL, f"{dataset} print")
    q = km.median_followup(time, event, level=level, conf_type=conf_type, rule="quantile")
    assert_close([q.median, q.ci_lower, q.ci_upper],
                 [r["q_median"], r["q_lower"], r["q_upper"]], TOL, f"{dataset} quantile")


def test_median_followup_default_is_log_log():
    time, event, _ = km_data("lung")
    assert km.median_followup(time, event).conf_type == "log-log"


# --------------------------------------------------------------------------- log-rank

R_LR = read("logrank.csv")


@pytest.mark.parametrize("dataset,strata", sorted(R_LR.groupby(["dataset", "strata"]).groups))
def test_logrank_matches_survdiff(dataset, strata):
    time, event, d = km_data(dataset)
    ours = km.logrank_stratified(time, event, d["group"], d["strata"] if strata else None)
    r = R_LR[(R_LR.dataset == dataset) & (R_LR.strata == strata)].iloc[0]
    assert ours.df == r["df"]
    assert abs(ours.statistic - r["statistic"]) < TOL
    assert abs(ours.p_value - r["p_value"]) < TOL
    assert abs(ours.observed.sum() - event.sum()) < 1e-9
    assert abs(ours.expected.sum() - event.sum()) < 1e-9


def test_logrank_one_stratum_equals_plain():
    time, event, d = km_data("lung")
    a = km.logrank_stratified(time, event, d["group"])
    b = km.logrank_stratified(time, event, d["group"], np.full(len(time), "x"))
    assert a.statistic == b.statistic and a.df == b.df


def test_logrank_needs_two_groups_and_no_events():
    with pytest.raises(ValueError, match="at least two groups"):
        km.logrank_stratified([1, 2], [1, 0], ["a", "a"])
    res = km.logrank_stratified([1, 2, 3], [0, 0, 0], ["a", "b", "a"])
    assert res.statistic == 0 and res.df == 0 and np.isnan(res.p_value)


# --------------------------------------------------------------------------- Turnbull

R_TB = read("turnbull.csv")


@pytest.mark.parametrize("dataset", list(pd.unique(R_TB["dataset"])))
def test_turnbull_matches_r(dataset):
    d = INT_IN[INT_IN.dataset == dataset]
    ours = km.turnbull(d["lo"].to_numpy(), d["hi"].to_numpy())
    r = R_TB[R_TB.dataset == dataset].reset_index(drop=True)
    assert list(ours.columns) == km.TURNBULL_COLUMNS
    assert_close(ours["time"], r["time"], 1e-12, f"{dataset} time")
    assert_close(ours["survival"], r["survival"], TOL_TB, f"{dataset} survival")


def test_turnbull_open_ends_accept_inf_and_nan():
    d = INT_IN[INT_IN.dataset == "hand"]
    lo = d["lo"].to_numpy()
    hi = d["hi"].to_numpy()
    a = km.turnbull(lo, hi)
    b = km.turnbull(np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi))
    pd.testing.assert_frame_equal(a, b)


def test_turnbull_bad_input():
    with pytest.raises(ValueError, match="lo > hi"):
        km.turnbull([3, 1], [2, 4])
    with pytest.raises(ValueError, match="neither lo nor hi"):
        km.turnbull([np.nan, 1], [np.nan, 4])
    with pytest.raises(ValueError, match="right-censored"):
        km.turnbull([1, 2], [np.inf, np.nan])


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize("call", [
    lambda: km.cumulative_incidence([], []),
    lambda: km.gray_test([], [], []),
    lambda: km.rmst([], [], 5),
    lambda: km.median_followup([], []),
    lambda: km.logrank_stratified([], [], []),
    lambda: km.turnbull([], []),
])
def test_empty_input_raises_readable_error(call):
    with pytest.raises(ValueError, match="no observations"):
        call()


def test_bad_values_raise():
    with pytest.raises(ValueError, match="finite numbers >= 0"):
        km.cumulative_incidence([1, -2], ["a", ""])
    with pytest.raises(ValueError, match="2 values but time has 3"):
        km.cumulative_incidence([1, 2, 3], ["a", ""])
    with pytest.raises(ValueError, match="event must be 0"):
        km.rmst([1, 2], [1, 2], 3)
    with pytest.raises(ValueError, match="conf_type"):
        km.cumulative_incidence([1, 2], ["a", ""], conf_type="logit")
    with pytest.raises(ValueError, match="level"):
        km.median_followup([1, 2], [1, 0], level=95)
    with pytest.raises(ValueError, match="missing values"):
        km.gray_test([1, 2], ["a", ""], ["x", None])
