"""Tests of analysis.survival: survival data from cases and IPD, Kaplan-Meier tables
against R's survival package (expected values made by tests/r/make_expected.R), against
lifelines, and the figure."""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis import survival as sv
from analysis import timing

HERE = Path(__file__).parent
REF = HERE / "reference_data"
EXP = HERE / "r" / "expected"
TOL = 1e-6
MONTH = timing.MONTH


def read_ref(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{name.replace('_pooled', '')}.csv").assign(time_unit="days")


def assert_same(ours, theirs, what):
    ours = np.asarray(ours, dtype=float)
    theirs = np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, what
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{what}: NaN pattern")
    ok = ~np.isnan(ours)
    np.testing.assert_allclose(ours[ok], theirs[ok], rtol=0, atol=TOL, err_msg=what)


# --------------------------------------------------------------------------- R: estimates

R_EST = pd.read_csv(EXP / "km_estimates.csv")
R_SUMMARY = pd.read_csv(EXP / "km_summary.csv")
R_LAND = pd.read_csv(EXP / "km_landmarks.csv")
FITS = sorted(R_EST.groupby(["dataset", "conf_type", "conf_int"]).groups)


def fit_like_r(dataset, conf_type, conf_int):
    group_by = None if dataset.endswith("_pooled") else "group"
    return sv.km_fit(read_ref(dataset), group_by, time_unit="days", ci_method=conf_type,
                     alpha=1 - conf_int)


@pytest.mark.parametrize("dataset,conf_type,conf_int", FITS)
def test_km_estimates_match_r(dataset, conf_type, conf_int):
    fit = fit_like_r(dataset, conf_type, conf_int)
    ours = sv.km_estimates(fit)
    r = R_EST[(R_EST.dataset == dataset) & (R_EST.conf_type == conf_type)
              & (R_EST.conf_int == conf_int)].reset_index(drop=True)
    assert list(ours.columns) == sv.KM_ESTIMATES_COLUMNS
    assert list(ours["group"]) == list(r["group"])
    for col in ("n_at_risk", "n_events", "n_censored"):
        assert list(ours[col]) == list(r[col]), col
    for col in ("time", "survival", "ci_lower", "ci_upper"):
        assert_same(ours[col], r[col], f"{dataset} {conf_type} {col}")
    assert_same(np.concatenate([g.se_log for g in fit.groups]), r["std_err"], "std.err")


@pytest.mark.parametrize("dataset,conf_type,conf_int", FITS)
def test_median_and_ci_match_r(dataset, conf_type, conf_int):
    fit = fit_like_r(dataset, conf_type, conf_int)
    r = R_SUMMARY[(R_SUMMARY.dataset == dataset) & (R_SUMMARY.conf_type == conf_type)
                  & (R_SUMMARY.conf_int == conf_int)].reset_index(drop=True)
    printed = sv.km_summary(fit)
    assert list(printed.columns) == sv.KM_SUMMARY_COLUMNS
    assert list(printed["group"]) == list(r["group"])
    assert list(printed["n"]) == list(r["n"]) and list(printed["events"]) == list(r["events"])
    for col in ("median", "median_ci_lower", "median_ci_upper"):
        assert_same(printed[col], r[col], f"{dataset} {conf_type} {col} (print)")
    quant = sv.km_summary(fit, rule="quantile")
    for ours, theirs in (("median", "q_median"), ("median_ci_lower", "q_lower"),
                         ("median_ci_upper", "q_upper")):
        assert_same(quant[ours], r[theirs], f"{dataset} {conf_type} {ours} (quantile)")


def test_median_conventions_on_edge_cases():
    fit = sv.km_fit(read_ref("edge"), "group", time_unit="days", ci_method="log")
    s = sv.km_summary(fit).set_index("group")
    # flat at exactly 0.5 from 3 to 6: midpoint
    assert s.loc["flat_half", "median"] == pytest.approx(4.5)
    # never reaches 0.5: empty, never infinite
    assert math.isnan(s.loc["all_censored", "median"])
    assert math.isnan(s.loc["one_event", "median"])
    assert not np.isinf(s[["median", "median_ci_lower", "median_ci_upper"]].to_numpy(float)).any()
    # at 0.5 until the last follow-up: print() gives the start, quantile() the midpoint
    assert s.loc["half_to_end", "median"] == 3
    q = sv.km_summary(fit, rule="quantile").set_index("group")
    assert q.loc["half_to_end", "median"] == 5
    # where survival reaches 0 the log-type limits are empty
    est = sv.km_estimates(fit)
    zero = est[(est.group == "to_zero") & (est.survival == 0)]
    assert len(zero) == 1 and zero[["ci_lower", "ci_upper"]].isna().all(axis=None)
    with pytest.raises(ValueError, match="rule must be"):
        sv.km_summary(fit, rule="mean")


@pytest.mark.parametrize("dataset,conf_type,conf_int", [f for f in FITS if not f[0].endswith("_pooled")])
def test_landmarks_match_r(dataset, conf_type, conf_int):
    fit = fit_like_r(dataset, conf_type, conf_int)
    r = R_LAND[(R_LAND.dataset == dataset) & (R_LAND.conf_type == conf_type)
               & (R_LAND.conf_int == conf_int)]
    times = sorted(set(r["time"]) | {1e9})  # 1e9: beyond every follow-up
    ours = sv.km_landmarks(fit, times)
    assert list(ours.columns) == sv.KM_LANDMARK_COLUMNS
    merged = ours.merge(r, on=["group", "time"], how="left", suffixes=("", "_r"),
                        indicator=True)
    in_r = merged["_merge"] == "both"
    for col in ("survival", "ci_lower", "ci_upper"):
        assert_same(merged.loc[in_r, col], merged.loc[in_r, col + "_r"], f"{dataset} {col}")
    # R omits landmarks after the last follow-up; ours are empty there
    assert merged.loc[~in_r, ["survival", "ci_lower", "ci_upper"]].isna().all(axis=None)
    assert (~in_r).sum() >= fit.groups.__len__()


def test_at_risk_table_matches_r_summary_times():
    r_all = pd.read_csv(EXP / "at_risk.csv")
    for dataset, r in r_all.groupby("dataset"):
        fit = sv.km_fit(read_ref(dataset), "group", time_unit="days")
        ours = sv.at_risk_table(fit, sorted(set(r["time"])))
        assert list(ours.columns) == sv.AT_RISK_COLUMNS
        r = r.reset_index(drop=True)
        for col in ("group", "time", "n_at_risk", "n_events", "n_censored"):
            assert list(ours[col]) == list(r[col]), (dataset, col)
        cum = ours.groupby("group")["n_events"].cumsum()
        assert list(cum) == list(ours["cum_events"])


def test_logrank_matches_r_survdiff():
    r_all = pd.read_csv(EXP / "logrank.csv")
    assert len(r_all) >= 5
    for _, r in r_all.iterrows():
        fit = sv.km_fit(read_ref(r["dataset"]), "group", time_unit="days")
        ours = sv.logrank(fit)
        assert list(ours.columns) == sv.LOGRANK_COLUMNS
        row = ours.iloc[0]
        assert row["statistic"] == pytest.approx(r["statistic"], abs=TOL)
        assert row["df"] == r["df"]
        assert row["p_value"] == pytest.approx(r["p_value"], abs=TOL)


# --------------------------------------------------------------------------- lifelines


@pytest.mark.parametrize("dataset", ["lung", "colon", "aml", "edge"])
def test_km_table_equals_lifelines(dataset):
    from lifelines import KaplanMeierFitter

    df = read_ref(dataset)
    fit = sv.km_fit(df, "group", time_unit="days", ci_method="log-log")
    for g in fit.groups:
        sub = df[df.group == g.label]
        kmf = KaplanMeierFitter().fit(sub["time"], sub["event"])
        table = kmf.event_table[kmf.event_table["removed"] > 0]
        np.testing.assert_array_equal(g.time, table.index.to_numpy(float))
        np.testing.assert_array_equal(g.n_at_risk, table["at_risk"])
        np.testing.assert_array_equal(g.n_events, table["observed"])
        np.testing.assert_array_equal(g.n_censored, table["censored"])
        surv = kmf.survival_function_.iloc[:, 0].reindex(table.index).to_numpy()
        np.testing.assert_allclose(g.survival, surv, atol=1e-12)
        ci = kmf.confidence_interval_.reindex(table.index).to_numpy()
        inside = (g.survival > 0) & (g.survival < 1)  # lifelines reports 1/1 and 0/0 there
        np.testing.assert_allclose(g.ci_lower[inside], ci[inside, 0], atol=1e-9)
        np.testing.assert_allclose(g.ci_upper[inside], ci[inside, 1], atol=1e-9)


def test_km_table_equals_lifelines_on_random_data_with_ties():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(7)
    t = rng.integers(0, 40, 500).astype(float)
    e = rng.random(500) < 0.6
    tab = sv.km_table(t, e)
    kmf = KaplanMeierFitter().fit(t, e)
    table = kmf.event_table[kmf.event_table["removed"] > 0]
    np.testing.assert_array_equal(tab["n_at_risk"], table["at_risk"])
    np.testing.assert_allclose(tab["survival"],
                               kmf.survival_function_.iloc[:, 0].reindex(table.index), atol=1e-12)


def test_logrank_equals_lifelines():
    from lifelines.statistics import multivariate_logrank_test

    for dataset in ("lung_ecog", "colon", "aml"):
        df = read_ref(dataset)
        fit = sv.km_fit(df, "group", time_unit="days")
        ours = sv.logrank(fit).iloc[0]
        res = multivariate_logrank_test(df["time"], df["group"], df["event"])
        assert ours["statistic"] == pytest.approx(res.test_statistic, abs=1e-8)
        assert ours["df"] == res.degrees_of_freedom
        assert ours["p_value"] == pytest.approx(res.p_value, abs=1e-10)


def test_logrank_one_group_is_empty():
    fit = sv.km_fit(read_ref("aml"), None, time_unit="days")
    assert sv.logrank(fit).empty
    assert "not done" in sv.logrank_text(fit)


# --------------------------------------------------------------------------- CI helpers


def test_confidence_limits_by_hand():
    s, se = np.array([1.0, 0.8, 0.5, 0.0]), np.array([0.0, 0.25, 0.5, np.inf])
    z = 1.959963984540054
    lo, hi = sv.confidence_limits(s, se, "log", 0.05)
    assert lo[1] == pytest.approx(0.8 * math.exp(-z * 0.25)) and hi[1] == 1.0
    assert lo[0] == hi[0] == 1.0 and np.isnan(lo[3]) and np.isnan(hi[3])
    lo, hi = sv.confidence_limits(s, se, "log-log", 0.05)
    assert np.isnan(lo[0]) and np.isnan(hi[0]) and np.isnan(lo[3])
    assert lo[2] == pytest.approx(0.5 ** math.exp(-z * 0.5 / math.log(0.5)))
    assert hi[2] == pytest.approx(0.5 ** math.exp(z * 0.5 / math.log(0.5)))
    lo, hi = sv.confidence_limits(s, se, "plain", 0.05)
    assert lo[2] == pytest.approx(0.5 - z * 0.25) and hi[2] == pytest.approx(0.5 + z * 0.25)
    assert np.isnan(lo[3]) and lo[0] == hi[0] == 1.0
    lo, hi = sv.confidence_limits([0.5], [1.5], "plain", 0.05)
    assert lo[0] == 0.0 and hi[0] == 1.0  # clipped to [0, 1]
    with pytest.raises(ValueError, match="ci_method: expected one of log-log, log, plain"):
        sv.confidence_limits(s, se, "logit")
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        sv.km_fit(read_ref("aml"), alpha=5)


# --------------------------------------------------------------------------- survival data


def _ds(patients, events, lines, sources=None, graph=None):
    if sources is None:
        sources = pd.DataFrame({"source_id": ["S1", "S2"], "kind": ["case_report", "case_series"],
                                "evidence_level": ["case_report", "case_series"]})
    ev = pd.DataFrame(events)
    for col in ("disease", "date_lo", "date_best", "date_hi"):
        if col not in ev:
            ev[col] = pd.NaT if col.startswith("date") else np.nan
    ev["line"] = ev["line"].astype("Int64")
    return SimpleNamespace(
        sources=sources, patients=pd.DataFrame(patients), events=ev,
        lines=pd.DataFrame(lines), cohort_outcomes=pd.DataFrame(),
        ipd=pd.DataFrame(), km_curves_points=pd.DataFrame(), km_curves_at_risk=pd.DataFrame(),
        graph=graph)


def _calendar_graph(dates: dict) -> timing.OffsetGraph:
    """The loader's offset graph of events dated ``{event_id: (lo, best, hi)}`` (text dates)."""
    def day(text):
        return (pd.Timestamp(text) - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    return timing.OffsetGraph({e: (timing.CALENDAR, timing.Interval(day(lo), day(best), day(hi)))
                               for e, (lo, best, hi) in dates.items()})


def _pat(pid, role="autoimmune_case", source="S1", diseases="psoriasis", therapy="UC-MSC"):
    return {"patient_id": pid, "source_id": source, "case_role": role, "diseases": diseases,
            "therapy": therapy}


def _ev(eid, pid, line, kind, best, lo=None, hi=None, disease=np.nan, **dates):
    return {"event_id": eid, "patient_id": pid, "line": line, "event_type": kind,
            "disease": disease, "t_best": best, "t_lo": best if lo is None else lo,
            "t_hi": best if hi is None else hi, **dates}


def _line(pid, line, anchor, therapy="UC-MSC", source="S1"):
    return {"patient_id": pid, "line": line, "anchor_event_id": anchor, "anchor_type": "infusion",
            "therapy": therapy, "source_id": source}


def test_cases_event_censoring_and_exclusions():
    ds = _ds(
        patients=[_pat("P1"), _pat("P2"), _pat("P3"), _pat("P4", role="adverse_event_anecdote"),
                  _pat("P5", source="S2"), _pat("P6"), _pat("P7")],
        events=[
            # P1: imprecise relapse ("within 6 months") after the anchor -> event, interval kept
            _ev("P1-E1", "P1", 1, "infusion", 0.0),
            _ev("P1-E2", "P1", 1, "relapse", 91.3125, 0.0, 182.625),
            _ev("P1-E3", "P1", 1, "relapse", 400.0),
            _ev("P1-E4", "P1", 1, "last_followup", 900.0),
            # P2: comorbidity relapse does not count; relapse before the anchor neither;
            #     censored at last follow-up "at least 5 years" (unbounded above)
            _ev("P2-E1", "P2", 1, "infusion", 0.0),
            _ev("P2-E2", "P2", 1, "relapse", 200.0, disease="multiple myeloma"),
            _ev("P2-E0", "P2", 0, "relapse", -100.0),
            _ev("P2-E3", "P2", 1, "last_followup", 1826.25, 1826.25, np.inf),
            # P3: no follow-up at all -> excluded
            _ev("P3-E1", "P3", 1, "infusion", 0.0),
            _ev("P3-E2", "P3", 1, "assessment", 30.0),
            # P4: adverse-event anecdote -> excluded
            _ev("P4-E1", "P4", 1, "transplant", 0.0),
            _ev("P4-E2", "P4", 1, "death", 20.0),
            # P5: death -> event
            _ev("P5-E1", "P5", 1, "transplant", 0.0),
            _ev("P5-E2", "P5", 1, "death", 60.0),
            # P6: relapse without a usable time -> excluded, not censored
            _ev("P6-E1", "P6", 1, "infusion", 0.0),
            _ev("P6-E2", "P6", 1, "relapse", np.nan, np.nan, np.nan),
            _ev("P6-E3", "P6", 1, "last_followup", 300.0),
            # P7: last follow-up not relatable to the anchor -> excluded
            _ev("P7-E1", "P7", 1, "infusion", 0.0),
            _ev("P7-E2", "P7", 1, "last_followup", np.nan, np.nan, np.nan),
        ],
        lines=[_line("P1", 1, "P1-E1"), _line("P2", 1, "P2-E1"), _line("P3", 1, "P3-E1"),
               _line("P4", 1, "P4-E1", "autologous HSCT"), _line("P5", 1, "P5-E1", "autologous HSCT", "S2"),
               _line("P6", 1, "P6-E1"), _line("P7", 1, "P7-E1")],
    )
    surv, excluded = sv.survival_from_cases(ds, "months")
    assert list(surv.columns) == sv.SURVIVAL_COLUMNS
    by = surv.set_index("patient_id")
    assert set(by.index) == {"P1", "P2", "P5"}
    assert by.loc["P1", "event"] == 1 and by.loc["P1", "end"] == "relapse"
    assert by.loc["P1", "time"] == pytest.approx(91.3125 / MONTH)
    assert by.loc["P1", "time_lo"] == 0 and by.loc["P1", "time_hi"] == pytest.approx(6.0)
    assert by.loc["P2", "event"] == 0 and by.loc["P2", "end"] == "last_followup"
    assert by.loc["P2", "time"] == pytest.approx(60.0) and np.isinf(by.loc["P2", "time_hi"])
    assert by.loc["P5", "event"] == 1 and by.loc["P5", "end"] == "death"
    assert by.loc["P5", "evidence_level"] == "case_series" and by.loc["P5", "source_kind"] == "case_series"
    assert by.loc["P5", "therapy"] == "autologous HSCT" and by.loc["P1", "disease"] == "psoriasis"
    assert (surv["time_unit"] == "months").all()
    reasons = excluded.set_index("patient_id")["reason"]
    assert set(reasons.index) == {"P3", "P4", "P6", "P7"}
    assert "no usable follow-up" in reasons["P3"]
    assert "adverse_event_anecdote" in reasons["P4"]
    assert "P6-E2" in reasons["P6"] and "no time" in reasons["P6"]
    assert "last follow-up has no time" in reasons["P7"]
    assert list(excluded.columns) == sv.EXCLUDED_COLUMNS


def test_cases_two_treatment_lines():
    d = pd.Timestamp
    ds = _ds(
        patients=[_pat("P1", therapy="autologous HSCT; UC-MSC")],
        events=[
            _ev("E1", "P1", 1, "transplant", 0.0, date_lo=d("2010-01-01"), date_best=d("2010-01-01"),
                date_hi=d("2010-01-01")),
            _ev("E2", "P1", 1, "relapse", 42.0, 0.0, 42.0),
            _ev("E3", "P1", 2, "infusion", 0.0, date_lo=d("2010-06-01"), date_best=d("2010-06-15"),
                date_hi=d("2010-06-30")),
            _ev("E4", "P1", 2, "last_followup", 1500.0, 1400.0, 1600.0),
            # line 3 (a later infusion) without own follow-up: censored at line 4's start
            _ev("E5", "P1", 3, "infusion", 0.0, date_lo=d("2015-01-01"), date_best=d("2015-01-01"),
                date_hi=d("2015-01-01")),
            _ev("E6", "P1", 4, "infusion", 0.0, date_lo=d("2015-03-01"), date_best=d("2015-03-01"),
                date_hi=d("2015-03-01")),
        ],
        lines=[_line("P1", 1, "E1", "autologous HSCT"), _line("P1", 2, "E3"),
               _line("P1", 3, "E5"), _line("P1", 4, "E6")],
        graph=_calendar_graph({"E1": ("2010-01-01",) * 3, "E3": ("2010-06-01", "2010-06-15", "2010-06-30"),
                               "E5": ("2015-01-01",) * 3, "E6": ("2015-03-01",) * 3}),
    )
    surv, excluded = sv.survival_from_cases(ds, "days")
    by = surv.set_index("line")
    assert list(by.index) == [1, 2, 3]
    assert by.loc[1, "event"] == 1 and by.loc[1, "time"] == 42 and by.loc[1, "therapy"] == "autologous HSCT"
    assert by.loc[2, "event"] == 0 and by.loc[2, "time"] == 1500
    assert (by.loc[2, "time_lo"], by.loc[2, "time_hi"]) == (1400, 1600)
    assert by.loc[3, "end"] == "next_line" and by.loc[3, "time"] == 59
    assert excluded.set_index("line").loc[4, "reason"].startswith("no usable follow-up")


def test_next_line_censoring_asks_the_offset_graph(make_folder, tables):
    """Issue 13: admission undated (not_reported); line 1's infusion 2 weeks after it, its
    follow-up 3 years after the infusion; line 2's infusion 1 year after the first, its
    follow-up 1 year after that. No event has a date, yet the graph knows line 2 starts
    12 months after line 1: line 1 is censored there, not at its 36-month follow-up."""
    from analysis.load import load_dataset

    def ev(eid, line, kind, offset, ref):
        return {"event_id": eid, "patient_id": "P1", "line": line, "event_type": kind, "offset": offset,
                "offset_from": ref, "source_id": "T1", "quote": "q",
                **({"product": "UC-MSC"} if kind == "infusion" else {})}

    tables["events"] = [
        {"event_id": "E1", "patient_id": "P1", "line": "0", "event_type": "admission", "date": "not_reported",
         "source_id": "T1", "quote": "q"},
        ev("E2", "1", "infusion", "+2 weeks", "E1"),
        ev("E3", "1", "last_followup", "+3 years", "E2"),
        ev("E4", "2", "infusion", "+1 years", "E2"),
        ev("E5", "2", "last_followup", "+1 years", "E4"),
    ]
    ds = load_dataset(make_folder(tables))
    assert ds.graph.relative("E4", "E2").best == pytest.approx(365.25)
    surv, excluded = sv.survival_from_cases(ds, "months")
    by = surv.set_index("line")
    assert list(by.index) == [1, 2] and excluded.empty
    assert by.loc[1, "end"] == "next_line" and by.loc[1, "event"] == 0
    assert by.loc[1, "time"] == pytest.approx(12.0)
    assert (by.loc[1, "time_lo"], by.loc[1, "time_hi"]) == (pytest.approx(12.0), pytest.approx(12.0))
    assert by.loc[2, "end"] == "last_followup" and by.loc[2, "time"] == pytest.approx(12.0)


def test_survival_from_ipd_units_and_errors():
    ipd = pd.DataFrame({"study": ["S1"] * 3, "patient_id": ["1", "2", "3"], "group": ["A", "A", "B"],
                        "time": [1.0, 2.0, 365.25], "time_unit": ["years", "months", "days"],
                        "event": [1, 0, 1]})
    sources = pd.DataFrame({"source_id": ["S1"], "kind": ["trial"], "evidence_level": ["rct"]})
    out = sv.survival_from_ipd(ipd, sources, "months")
    assert list(out.columns) == sv.SURVIVAL_COLUMNS
    np.testing.assert_allclose(out["time"], [12.0, 2.0, 12.0])
    assert set(out["evidence_level"]) == {"rct"} and set(out["source_kind"]) == {"trial"}
    rec = sv.survival_from_ipd(ipd, sources, "years", survival_source="reconstructed",
                               evidence_level="reconstructed")
    assert set(rec["evidence_level"]) == {"reconstructed"}
    np.testing.assert_allclose(rec["time"], [1.0, 2 / 12, 1.0])
    with pytest.raises(ValueError, match="row 1: event must be 1 .* found 2"):
        sv.survival_from_ipd(ipd.assign(event=[1, 2, 0]))
    with pytest.raises(ValueError, match="row 0: time_unit must be one of days, weeks, months, years"):
        sv.survival_from_ipd(ipd.assign(time_unit=["decades", "days", "days"]))
    with pytest.raises(ValueError, match="row 2: time must be a number >= 0"):
        sv.survival_from_ipd(ipd.assign(time=[1, 2, -3]))
    with pytest.raises(ValueError, match="time_unit: expected one of"):
        sv.survival_from_ipd(ipd, time_unit="fortnights")


def test_km_fit_converts_units_and_groups_by_several_columns():
    df = pd.DataFrame({"time": [12.0, 1.0, 730.5, 6.0], "time_unit": ["months", "years", "days", "months"],
                       "event": [1, 0, 1, 1], "therapy": ["A", "A", "B", None],
                       "study": ["S1", "S1", "S1", "S2"]})
    fit = sv.km_fit(df, ["therapy", "study"], time_unit="years")
    assert [g.label for g in fit.groups] == ["A / S1", "B / S1", "not stated / S2"]
    np.testing.assert_allclose(fit.group("A / S1").time, [1.0])
    assert fit.group("A / S1").n == 2
    np.testing.assert_allclose(fit.group("B / S1").time, [2.0])
    with pytest.raises(ValueError, match="cannot group by 'disease'"):
        sv.km_fit(df, "disease")
    with pytest.raises(ValueError, match="event must be 0"):
        sv.km_fit(df.assign(event=[1, 0, 3, 1]))
    with pytest.raises(KeyError, match="no group"):
        fit.group("C")


def test_apply_filters():
    df = pd.DataFrame({"therapy": ["UC-MSC", "autologous HSCT", "uc-msc"], "time": [1, 2, 3]})
    assert list(sv.apply_filters(df, {"therapy": "UC-MSC"})["time"]) == [1, 3]
    assert list(sv.apply_filters(df, {"therapy": ["autologous HSCT"]})["time"]) == [2]
    assert sv.apply_filters(df, None) is df
    assert list(sv.apply_filters(df, ["therapy=uc-msc", "therapy=autologous HSCT"])["time"]) == [1, 2, 3]
    assert list(sv.apply_filters(df, "therapy=autologous HSCT")["time"]) == [2]
    diseases = pd.DataFrame({"disease": ["psoriasis vulgaris; psoriatic arthritis", "lupus"]})
    assert len(sv.apply_filters(diseases, {"disease": "Psoriatic arthritis"})) == 1
    with pytest.raises(ValueError, match="must be written column=value"):
        sv.apply_filters(df, ["therapy"])
    with pytest.raises(ValueError, match="cannot filter on 'arm'"):
        sv.apply_filters(df, {"arm": "x"})


def test_small_sample_statement():
    df = pd.DataFrame({"time": [10.0, 30.0, 60.0], "event": [0, 0, 0], "time_unit": "months",
                       "evidence_level": "case_report", "survival_source": "cases"})
    fit = sv.km_fit(df)
    text = sv.evidence_statement(fit)
    assert "No median relapse-free survival is reached" in text
    assert "cannot support inference" in text
    assert sv.median_text(fit) == ["all: median not reached (0 event(s) in 3)"]


def test_cohort_statements_table():
    co = pd.DataFrame({
        "outcome_id": ["O1", "O2", "O3"], "source_id": ["S1", "S1", "S2"],
        "study": ["HSCT cohort", "HSCT cohort", "MSC"], "arm": ["all"] * 3,
        "disease": ["MS"] * 3, "therapy": ["HSCT"] * 3, "design": ["uncontrolled_cohort"] * 3,
        "outcome": ["disease_free", "response", "relapse_free"], "definition": ["", "", ""],
        "events": pd.array([pd.NA, 3, 4], dtype="Int64"), "total": pd.array([200, 4, 5], dtype="Int64"),
        "total_qualifier": ["at_least", "exact", "exact"], "proportion": [np.nan] * 3,
        "time_value": [15, 2, 1], "time_unit": ["years"] * 3,
        "time_qualifier": ["up_to", "at", "at"], "quote": ["up to 15 years", "", ""]})
    out = sv.cohort_statements(co, pd.DataFrame({"source_id": ["S1"], "kind": ["cohort"],
                                                 "evidence_level": ["uncontrolled_study"]}), "months")
    assert list(out.columns) == sv.STATEMENT_COLUMNS
    # issue 13: "4 of 5 relapse-free at 1 year" is a point with its exact interval; "up to 15
    # years" stays a range; a response is no survival statement
    assert list(out["outcome_id"]) == ["O3", "O1"] and list(out["kind"]) == ["point", "range"]
    rng = out.set_index("outcome_id").loc["O1"]
    assert rng["time"] == pytest.approx(180.0) and rng["evidence_level"] == "uncontrolled_study"
    assert np.isnan(rng["survival"]) and rng["ci_method"] == ""
    pt = out.set_index("outcome_id").loc["O3"]
    assert pt["time"] == pytest.approx(12.0) and pt["survival"] == pytest.approx(0.8)
    from analysis.rates import proportion_ci  # the rates analysis' Clopper-Pearson (statsmodels)

    lo, hi = proportion_ci(4, 5, "clopper-pearson")
    assert (pt["ci_lower"], pt["ci_upper"]) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    assert pt["ci_method"] == "clopper-pearson"


def test_cohort_points_relapse_is_one_minus_and_a_share_gets_no_interval():
    co = pd.DataFrame({
        "outcome_id": ["A", "B", "C", "D"], "source_id": ["S1"] * 4, "study": ["X"] * 4, "arm": ["all"] * 4,
        "disease": ["MS"] * 4, "therapy": ["HSCT"] * 4, "design": ["uncontrolled_cohort"] * 4,
        "outcome": ["relapse", "event_free_survival", "overall_survival", "disease_free"],
        "definition": [""] * 4, "events": pd.array([9, pd.NA, 68, 0], dtype="Int64"),
        "total": pd.array([37, 99, 81, 10], dtype="Int64"), "total_qualifier": ["exact"] * 4,
        "proportion": [np.nan, 0.8, np.nan, np.nan], "time_value": [5, 48.9, 5, 2],
        "time_unit": ["years", "months", "years", "years"], "time_qualifier": ["at", "at", "at", "up_to"],
        "quote": [""] * 4})
    out = sv.cohort_statements(co, None, "months").set_index("outcome_id")
    assert list(out.index) == ["A", "B", "C"]  # D: "0 disease-free up to 2 years" is neither
    lo, hi = sv.clopper_pearson(28, 37)
    assert out.loc["A", "survival"] == pytest.approx(28 / 37) and out.loc["A", "endpoint"].startswith("relapse-free")
    assert (out.loc["A", "ci_lower"], out.loc["A", "ci_upper"]) == (pytest.approx(lo), pytest.approx(hi))
    assert out.loc["B", "survival"] == 0.8 and np.isnan(out.loc["B", "ci_lower"]) and out.loc["B", "ci_method"] == ""
    assert out.loc["C", "time"] == pytest.approx(60.0) and out.loc["C", "endpoint"] == "overall survival"


# --------------------------------------------------------------------------- figure


def _texts(fig):
    """All text of the figure, whitespace (and line wrapping) collapsed."""
    parts = [t.get_text() for ax in fig.axes for t in ax.texts + [ax.title, ax.xaxis.label]]
    parts += [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    return " ".join(" ".join(parts).split())


def test_plot_km_carries_what_a_reader_checks(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.style import save_figure

    df = read_ref("aml").assign(evidence_level="rct", survival_source="ipd")
    df.loc[df.group == "Nonmaintained", ["evidence_level", "survival_source"]] = "reconstructed"
    fit = sv.km_fit(df, "group", time_unit="weeks", ci_method="log")
    stmts = pd.DataFrame([{"outcome_id": "O1", "source_id": "S1", "study": "Cohort X", "arm": "all",
                           "disease": "MS", "therapy": "HSCT", "design": "uncontrolled_cohort",
                           "evidence_level": "uncontrolled_study", "outcome": "disease_free",
                           "time": 150.0, "time_qualifier": "up_to", "time_unit": "weeks",
                           "proportion": np.nan, "events": pd.NA, "total": 200,
                           "total_qualifier": "at_least", "definition": "", "quote": ""}])
    ticks = [0, 30, 60, 90, 120, 150]
    fig = sv.plot_km(fit, landmarks=[12, 24, 200], ticks=ticks, statements=stmts)
    text = _texts(fig)
    assert "Log-rank test, 2 groups" in text
    assert "95% pointwise CI: log transform, Greenwood variance" in text
    assert "reconstructed" in text and "evidence: rct" in text
    assert "Time since anchor stem-cell therapy (weeks)" in text
    assert "Maintained at 12 weeks" in text and "not estimable" in text
    assert "disease-free up to 150 weeks" in text and "over 200 patients" in text
    at_risk = sv.at_risk_table(fit, ticks)
    first = at_risk[(at_risk.group == "Maintained")]["n_at_risk"].iloc[0]
    assert f"{first:,}" in text and "At risk" in text and "Censored" in text
    styles = {line.get_label(): line.get_linestyle() for line in fig.axes[0].get_lines()
              if not line.get_label().startswith("_")}
    assert any(v == "--" for k, v in styles.items() if "reconstructed" in k)
    paths = save_figure(fig, tmp_path, "km")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    plt.close(fig)


def test_plot_km_says_median_not_reached():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = pd.DataFrame({"time": [20.0, 40.0, 58.0], "event": [0, 0, 0], "time_unit": "months",
                       "therapy": "UC-MSC", "evidence_level": "case_report", "survival_source": "cases"})
    fit = sv.km_fit(df, "therapy")
    fig = sv.plot_km(fit, landmarks=[12, 24, 60])
    text = _texts(fig)
    assert "median not reached" in text and "Log-rank test: not done (one group)" in text
    assert "log-log transform" in text
    plt.close(fig)


# --------------------------------------------------------------------------- notebook

NOTEBOOK = HERE.parent / "notebooks" / "02_relapse_free_survival.ipynb"


def _run_notebook(tmp_path, **params):
    import papermill

    out = tmp_path / "out"
    papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "executed.ipynb"), cwd=str(NOTEBOOK.parent),
        parameters={"output_dir": str(out), **params}, progress_bar=False, kernel_name="python3")
    text = (tmp_path / "executed.ipynb").read_text(encoding="utf-8")
    return out, text


@pytest.mark.slow
def test_notebook_on_shipped_data(tmp_path):
    out, text = _run_notebook(tmp_path, data_dir=str(HERE.parent / "data"))
    for name in ("km_estimates", "km_summary", "km_landmarks", "logrank", "km_at_risk", "km_excluded",
                 "cohort_statements", "survival_data", "followup", "rmst", "turnbull"):
        assert (out / "tables" / f"{name}.csv").exists(), name
    summary = pd.read_csv(out / "tables" / "km_summary.csv")
    assert list(summary.columns) == sv.KM_SUMMARY_COLUMNS
    assert summary["median"].isna().all()
    assert list(pd.read_csv(out / "tables" / "km_estimates.csv").columns) == sv.KM_ESTIMATES_COLUMNS
    assert list(pd.read_csv(out / "tables" / "logrank.csv").columns) == sv.LOGRANK_COLUMNS
    # the notebook escapes Markdown punctuation in sentences that carry data ("relapse\\-free" in JSON)
    shown = re.sub(r"\\\\([!-/:-@\[-`{-~])", r"\1", text)
    assert "No median relapse-free survival is reached" in shown
    assert "cannot support inference" in shown
    assert (out / "figures" / "km_relapse_free_survival.png").exists()


@pytest.mark.slow
def test_notebook_on_reference_data(tmp_path):
    out, text = _run_notebook(tmp_path, data_dir=str(REF / "ipd_folder"), group_by="group",
                              ci_method="log", time_unit="days", landmarks=[12, 24])
    summary = pd.read_csv(out / "tables" / "km_summary.csv").set_index("group")
    # the colon IPD arms are R's colon recurrence curves (log CI): compare with R; each curve
    # is labelled with its study (issue 13: curves of different studies never merge)
    r = R_SUMMARY[(R_SUMMARY.dataset == "colon") & (R_SUMMARY.conf_type == "log")
                  & (R_SUMMARY.conf_int == 0.95)].set_index("group")
    for arm in r.index:
        for col in ("median", "median_ci_lower", "median_ci_upper"):
            assert_same([summary.loc[f"R-colon: {arm}", col]], [r.loc[arm, col]], f"{arm} {col}")
    checks = pd.read_csv(out / "tables" / "reconstruction_checks.csv")
    assert set(checks["group"]) == {"female", "male"} and (checks["rmse"] < 0.01).all()
    # one test among the colon arms, one between the two reconstructed lung curves; never colon vs lung
    logrank = pd.read_csv(out / "tables" / "logrank.csv", keep_default_na=False)
    assert "reconstructed" in text and len(logrank) == 2
    assert set(logrank["groups"]) == {"R-colon: Lev | R-colon: Lev+5FU | R-colon: Obs",
                                      "R-lung: female | R-lung: male"}
    survival = pd.read_csv(out / "tables" / "survival_data.csv")
    assert survival.groupby("curve")["study"].nunique().max() == 1


def test_logrank_without_events_is_empty_and_said_in_words():
    df = pd.DataFrame({"time": [5.0, 8.0, 3.0, 9.0], "event": [0, 0, 0, 0], "time_unit": "months",
                       "therapy": ["A", "A", "B", "B"]})
    fit = sv.km_fit(df, "therapy")
    table = sv.logrank(fit)
    assert table.empty and list(table.columns) == sv.LOGRANK_COLUMNS
    assert sv.logrank_text(fit, table) == ("Log-rank test, 2 groups: not computable "
                                           "(no relapses or deaths to compare)")


def test_medians_and_follow_up_read_as_english():
    """A median whose CI has no limit at all says "CI not estimable", not "not reached to not
    reached"; one unit reads "1 year", not "1 years"."""
    df = pd.DataFrame({"time": [1.0, 1.0, 2.0, 3.0], "event": [1, 1, 0, 0], "time_unit": "years",
                       "evidence_level": "cohort", "survival_source": "cases"})
    fit = sv.km_fit(df)
    summary = sv.km_summary(fit).assign(median=1.0, median_ci_lower=np.nan, median_ci_upper=np.nan)
    assert sv.median_text(fit, summary) == ["all: median 1.0 year (95% CI not estimable)"]
    summary = summary.assign(median=2.0, median_ci_lower=1.0)
    assert sv.median_text(fit, summary) == ["all: median 2.0 years (95% CI 1.0 to not reached)"]


def test_time_points_in_forest_rows_and_landmarks_say_one_year():
    from analysis.forest.rates import time_text
    assert time_text({"time_value": 1.0, "time_unit": "years", "time_qualifier": "at_least"}) == "at least 1 year"
    assert time_text({"time_value": 18.0, "time_unit": "months", "time_qualifier": "up_to"}) == "up to 18 months"
    from analysis import timing
    assert timing.amount(0.999, "years", ".1f") == "1.0 year" and timing.amount(1.25, "years", ".1f") == "1.2 years"


def test_numbers_beside_cohort_statements_at_one_time_do_not_overlap():
    """Statements at (about) the same time and survival get their numbers moved apart, the
    highest first; a statement alone keeps its number beside it."""
    import matplotlib.pyplot as plt

    from analysis.survival.plot import _label_lifts

    fig, ax = plt.subplots(figsize=(8, 3))
    t = np.array([60.0, 60.0, 60.5, 12.0, 60.0])
    v = np.array([0.98, 0.97, 0.96, 0.5, 0.2])
    lifts = _label_lifts(ax, t, v, gap_pt=8.0)
    plt.close(fig)
    per_unit = ax.get_position().height * 3 * 72 / 1.06
    y = v * per_unit + lifts
    assert lifts[0] == 0 and lifts[3] == 0 and lifts[4] == 0
    assert y[0] - y[1] == pytest.approx(8.0) and y[1] - y[2] == pytest.approx(8.0)


def test_cohort_statement_key_columns_never_run_into_each_other():
    """A long study, arm and endpoint still leave the key's left column short of the right one:
    the arm is shortened further (to at least 8 characters) so each line fits its column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.survival.plot import KEY_LINE_CHARS

    fit = sv.km_fit(read_ref("aml").assign(evidence_level="rct", survival_source="ipd"), "group", time_unit="months")
    long_arm = "myeloablative autologous haematopoietic stem-cell transplantation after CD34 selection"
    coded = pd.DataFrame([{"outcome_id": f"O{i}", "source_id": "S1", "study": f"Shevchenko-Kuznetsova 20{i:02d} cohort",
                           "arm": long_arm, "arm_role": "control" if i % 3 == 0 else "intervention",
                           "disease": "MS", "therapy": "HSCT", "design": "uncontrolled_cohort",
                           "outcome": "progression", "time_value": 6.0 * (i + 1), "time_unit": "months",
                           "time_qualifier": "about", "proportion": 0.17, "events": np.nan, "total": 1234,
                           "total_qualifier": np.nan, "approximate": False} for i in range(12)])
    sources = pd.DataFrame({"source_id": ["S1"], "evidence_level": ["uncontrolled_study"]})
    stmts = sv.cohort_statements(coded, sources, "months")
    assert len(stmts) == 12
    fig = sv.plot_km(fit, ticks=[0, 24, 48, 72], statements=stmts)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    key = [t for ax in fig.axes for t in ax.texts if t.get_text().startswith("1. ")]
    assert len(key) == 1
    right = [t for t in key[0].axes.texts if t.get_text().startswith("7. ")]
    assert len(right) == 1
    lines = key[0].get_text().splitlines() + right[0].get_text().splitlines()
    assert max(map(len, lines)) <= KEY_LINE_CHARS
    entries = " ".join(" ".join(lines).split()).split(" (no CI)")[:-1]  # wrapped lines joined
    assert len(entries) == 12
    assert all("…" in e and "83% at about" in e and "n=1234" in e for e in entries)  # shortened, numbers kept
    assert sum("control arm" in e for e in entries) == 4
    assert key[0].get_window_extent(renderer).x1 < right[0].get_window_extent(renderer).x0
    plt.close(fig)
