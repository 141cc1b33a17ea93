"""Tests of analysis.survival.reconstruct (Guyot et al. 2012): curves generated from known data are
reconstructed, refitted and compared with the original at every time and at the median.

Tolerances: survival within 0.02 (absolute) at every time of the original curve, median
within 3% of the original, self-check RMSE below 0.01 -- the accuracy Guyot et al. report
for well-digitized curves with numbers at risk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import survival as sv
from analysis.survival import reconstruct as rc
from time_limit import time_limit

HERE = Path(__file__).parent
FOLDER = HERE / "reference_data" / "ipd_folder"
EXP = HERE / "r" / "expected"
SURV_TOL = 0.02
MEDIAN_TOL = 0.03


def survival_at(fit_group, times):
    idx = np.searchsorted(fit_group.time, times, side="right") - 1
    return np.where(idx >= 0, fit_group.survival[np.maximum(idx, 0)], 1.0)


def test_reconstructs_r_lung_curves():
    points = pd.read_csv(FOLDER / "km_curves" / "points.csv")
    at_risk = pd.read_csv(FOLDER / "km_curves" / "at_risk.csv")
    ipd, checks = rc.reconstruct_curves(points, at_risk)
    assert list(checks.columns) == rc.CHECK_COLUMNS
    assert set(ipd["evidence_level"]) == {"reconstructed"}
    assert ipd["patient_id"].is_unique
    truth = pd.read_csv(EXP / "lung_months_km.csv")
    medians = pd.read_csv(EXP / "lung_months_median.csv").set_index("group")["median"]
    fit = sv.km_fit(ipd.assign(time_unit="months"), "group")
    summary = sv.km_summary(fit).set_index("group")
    for group, r in truth.groupby("group"):
        g = fit.group(group)
        assert g.n == len(pd.read_csv(HERE / "reference_data" / "lung.csv").query("group == @group"))
        err = np.abs(survival_at(g, r["time"].to_numpy()) - r["survival"].to_numpy())
        assert err.max() <= SURV_TOL, (group, err.max())
        assert summary.loc[group, "median"] == pytest.approx(medians[group], rel=MEDIAN_TOL)
    for group, chk in checks.groupby("group"):
        assert chk["rmse"].iloc[0] < 0.01 and chk["max_abs_error"].iloc[0] < SURV_TOL
        diff = (chk["n_at_risk_reconstructed"] - chk["n_at_risk_reported"]).abs()
        assert diff.max() <= 1, (group, chk)
        assert abs(chk["events_reconstructed"].iloc[0] - chk["events_reported"].iloc[0]) <= 3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reconstructs_weibull_data(seed):
    rng = np.random.default_rng(seed)
    n = 250
    event_time = rng.weibull(1.4, n) * 30.0
    censor_time = rng.uniform(6, 72, n)
    time = np.round(np.minimum(event_time, censor_time), 2)
    event = (event_time <= censor_time).astype(int)
    tab = sv.km_table(time, event)
    # digitized: the corner of every step and the end of the curve
    keep = (tab["n_events"] > 0) | (np.arange(len(tab["time"])) == len(tab["time"]) - 1)
    pts_t, pts_s = tab["time"][keep], tab["survival"][keep]
    risk_t = np.arange(0, 72, 12.0)
    risk_n = [(time >= t).sum() for t in risk_t]
    rec = rc.guyot(pts_t, pts_s, risk_t, risk_n, total_events=event.sum())
    assert rec.n == n
    refit = sv.km_fit(pd.DataFrame({"time": rec.time, "event": rec.event, "time_unit": "months"}))
    g = refit.groups[0]
    err = np.abs(survival_at(g, tab["time"]) - tab["survival"])
    assert err.max() <= SURV_TOL
    assert rec.rmse < 0.01
    true_median = sv.r_median(tab["time"], tab["survival"])
    assert sv.r_median(g.time, g.survival) == pytest.approx(true_median, rel=MEDIAN_TOL)
    assert abs(rec.events_reconstructed - event.sum()) <= 2
    assert (rec.at_risk["n_at_risk_reconstructed"] - rec.at_risk["n_at_risk_reported"]).abs().max() <= 1


def test_exact_small_curve_and_self_check():
    # 10 patients: one event at 1, one at 2, then flat to 5; nobody censored before 5
    rec = rc.guyot([1, 2, 5], [0.9, 0.8, 0.8], [0], [10], total_events=2)
    assert rec.n == 10 and rec.events_reconstructed == 2
    np.testing.assert_array_equal(np.sort(rec.time[rec.event == 1]), [1, 2])
    assert rec.rmse < 1e-12 and rec.max_abs_error < 1e-12
    assert list(rec.at_risk["n_at_risk_reconstructed"]) == [10]
    assert rec.events_reported == 2


def test_total_events_steers_the_last_interval():
    # same curve, censoring in the last interval is what total_events decides
    t = [0.5, 1, 2, 3, 4, 6]
    s = [0.95, 0.9, 0.8, 0.7, 0.65, 0.65]
    without = rc.guyot(t, s, [0, 2], [20, 15])
    with_total = rc.guyot(t, s, [0, 2], [20, 15], total_events=6)
    assert with_total.events_reconstructed == 6
    assert np.isnan(without.events_reported) and with_total.events_reported == 6


def test_prepare_points_cleans_digitizing_noise():
    t, s = rc.prepare_points([3, 1, 2, 2, 4], [0.7, 0.95, 0.9, 0.85, 0.72], risk_times=[0, 2.5])
    np.testing.assert_array_equal(t, [0, 1, 2, 2.5, 3, 4])
    np.testing.assert_allclose(s, [1, 0.95, 0.85, 0.85, 0.7, 0.7])
    with pytest.raises(ValueError, match="divide percentages by 100"):
        rc.prepare_points([1, 2], [95, 80])
    with pytest.raises(ValueError, match="times must be >= 0"):
        rc.prepare_points([-1, 2], [0.9, 0.8])


def test_bad_input_messages():
    with pytest.raises(ValueError, match="first number at risk must be at time 0"):
        rc.guyot([1, 2], [0.9, 0.8], [1], [10])
    with pytest.raises(ValueError, match="must not increase"):
        rc.guyot([1, 2], [0.9, 0.8], [0, 1], [10, 12])
    points = pd.DataFrame({"study": "S1", "group": "A", "time": [1.0, 2.0], "time_unit": "months",
                           "survival": [0.9, 0.8]})
    at_risk = pd.DataFrame({"study": ["S1"], "group": ["B"], "time": [0.0], "time_unit": ["months"],
                            "n_at_risk": [10], "total_events": [np.nan]})
    with pytest.raises(ValueError, match="curve S1 / A: no numbers at risk"):
        rc.reconstruct_curves(points, at_risk)
    with pytest.raises(ValueError, match="curve S1 / A: the first number at risk must be at time 0"):
        rc.reconstruct_curves(points, at_risk.assign(group="A", time=3.0))
    with pytest.raises(ValueError, match="total_events given with different values"):
        rc.reconstruct_curves(points, pd.concat([at_risk.assign(group="A")] * 2).assign(
            time=[0.0, 1.0], n_at_risk=[10, 9], total_events=[2, 3]))


# A curve from 439 patients down to 16.3% whose total_events (100) is far below what the fall
# takes: the last interval's loop censored on (R does too) for ~8,000 rounds and minutes,
# towards 116,000 censored of 439 patients. (The at-risk count at 129.6 lies beyond the curve.)
FALL = dict(time=[.01, .1, .333, 26.5, 82.3, 118.3], survival=[.936, .727, .6, .499, .317, .163],
            risk_times=[0, 129.6], n_at_risk=[439, 82])
TOO_FEW = ("expected total_events of at least 203, found 100: with 439 at risk at time 0, a fall to survival "
           "0.163 by {when} takes that many events however many patients are censored; check total_events "
           "and n_at_risk in km_curves/at_risk")


def test_too_few_total_events_for_the_fall_is_refused_at_once():
    with time_limit(10, "guyot"), pytest.raises(ValueError) as exc:
        rc.guyot(**FALL, total_events=100)
    assert str(exc.value) == TOO_FEW.format(when="time 118.3")
    with time_limit(10, "guyot"), pytest.raises(ValueError) as exc:
        rc.guyot(**FALL, total_events=202)
    assert str(exc.value).startswith("expected total_events of at least 203, found 202:")
    # a total the fall allows: that many events, the rest censored, nobody censored twice
    rec = rc.guyot(**FALL, total_events=250)
    assert rec.events_reconstructed == 250 and rec.n == 439 and (rec.event == 0).sum() == 189


def test_too_few_total_events_names_the_curve_and_its_unit():
    points = pd.DataFrame({"study": "S7", "group": "HSCT", "time": FALL["time"], "time_unit": "months",
                           "survival": FALL["survival"]})
    at_risk = pd.DataFrame({"study": "S7", "group": "HSCT", "time": FALL["risk_times"], "time_unit": "months",
                            "n_at_risk": FALL["n_at_risk"], "total_events": [100, np.nan]})
    with time_limit(10, "reconstruct_curves"), pytest.raises(ValueError) as exc:
        sv.survival_from_reconstructed(points, at_risk)
    assert str(exc.value) == "curve S7 / HSCT: " + TOO_FEW.format(when="118.3 months")


def test_at_risk_in_other_unit_and_survival_layout():
    points = pd.DataFrame({"study": "S1", "group": "A", "time": [1.0, 2.0, 3.0],
                           "time_unit": "months", "survival": [0.9, 0.8, 0.8]})
    at_risk = pd.DataFrame({"study": ["S1", "S1"], "group": ["A", "A"], "time": [0.0, 8.0],
                            "time_unit": ["weeks", "weeks"], "n_at_risk": [10, 8],
                            "total_events": [2, np.nan]})
    ipd, checks = rc.reconstruct_curves(points, at_risk)
    assert set(ipd["time_unit"]) == {"months"}
    assert checks["time"].tolist() == pytest.approx([0, 8 * 7 / 30.4375])
    sources = pd.DataFrame({"source_id": ["S1"], "kind": ["trial"], "evidence_level": ["rct"]})
    surv, chk = sv.survival_from_reconstructed(points, at_risk, sources, "weeks")
    assert set(surv["evidence_level"]) == {"reconstructed"}
    assert set(surv["survival_source"]) == {"reconstructed"} and set(surv["source_kind"]) == {"trial"}
    assert len(chk) == 2


def test_empty_input_gives_empty_tables():
    ipd, checks = rc.reconstruct_curves(pd.DataFrame(), pd.DataFrame())
    assert ipd.empty and checks.empty and list(checks.columns) == rc.CHECK_COLUMNS
