"""Case timelines: the tidy table, the lane layout, the drawn marks, paging, the notebook.

Fixture: tests/fixtures/timelines/cases (synthetic, for tests only):
F1 month-precision admission, exact and "about"/"within" offsets, relapse, follow-up with
active disease; F2 two lines, year-precision transplant, two chemotherapy cycles, a
lymphoma relapse (not the target disease); F3 undated transplant, an age-coded diagnosis
that cannot be placed, death; F4 an adverse-event anecdote (forum); F5 no follow-up event,
remission ongoing at the last report; F6 only an age-coded diagnosis (no lane placeable).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from analysis import timelines as tl  # noqa: E402
from analysis import timing  # noqa: E402
from analysis.load import load_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "timelines" / "cases"
MONTH = timing.MONTH


@pytest.fixture(scope="module")
def ds():
    return load_dataset(FIXTURE)


@pytest.fixture(scope="module")
def shipped():
    return load_dataset(ROOT / "data")


@pytest.fixture(scope="module")
def table(ds):
    return tl.timeline_table(ds)


@pytest.fixture(scope="module")
def layout(table):
    return tl.lane_layout(table)


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def row(t, event_id):
    r = t[t["event_id"] == event_id]
    assert len(r) == 1, event_id
    return r.iloc[0]


def text(t, event_id, column="time_text"):
    """A column of the exported events table (time_text, coded_time) for one event."""
    return row(tl.events_table(t), event_id)[column]


def days(iso):
    import datetime as dt

    return float(dt.date.fromisoformat(iso).toordinal() - dt.date(1970, 1, 1).toordinal())


# --------------------------------------------------------------------------- table


def test_table_has_one_row_per_event_and_the_documented_columns(ds, table):
    assert list(table.columns) == tl.TABLE_COLUMNS
    assert len(table) == len(ds.events)
    assert set(table["event_id"]) == set(ds.events["event_id"])
    assert table["lane_id"].unique().tolist() == [
        "F1 · line 1", "F2 · line 1", "F2 · line 2", "F3 · line 1", "F4 · line 1", "F5 · line 1", "F6 · line 0"]
    assert table["lane_order"].is_monotonic_increasing


def test_line_zero_events_join_the_first_line_and_count_from_its_day_zero(table):
    adm = row(table, "F1-E1")  # admission 2010-03, infusion "+2 weeks" after it
    assert adm["lane_id"] == "F1 · line 1"
    assert adm["time_best"] == pytest.approx(-14 / MONTH)
    assert adm["time_lo"] == adm["time_hi"] == pytest.approx(-14 / MONTH)
    assert not adm["imprecise"]
    assert row(table, "F1-E1")["anchor_event_id"] == "F1-E3"


@pytest.mark.parametrize(
    "event_id, lo, best, hi",
    [
        ("F1-E4", 7 / MONTH, 7 / MONTH, 7 / MONTH),  # +1 weeks, exact
        ("F1-E5", 0.9, 1.0, 1.1),  # about +1 months: +-10 %
        ("F1-E6", 0.0, 2.0, 4.0),  # within +4 months: 0..4, best the middle
        ("F1-E7", 21.6, 24.0, 26.4),  # about +2 years
        ("F1-E8", 36.0, 36.0, 36.0),
        ("F2-E4", 10.8, 12.0, 13.2),
        ("F2-E8", 18.0, 18.0, 18.0),  # line 2 counts from its own infusion
        ("F3-E3", 10.8, 12.0, 13.2),  # offsets from an undated transplant still place
    ],
)
def test_offsets_and_qualifiers_become_intervals_in_months(table, event_id, lo, best, hi):
    r = row(table, event_id)
    assert (r["time_lo"], r["time_best"], r["time_hi"]) == pytest.approx((lo, best, hi))
    assert r["imprecise"] == (lo != hi)
    assert r["time_unit"] == "months"


def test_year_and_month_precision_dates_give_intervals(table):
    # chemotherapy 2011-11 relative to a transplant dated only "2012"
    r = row(table, "F2-E1")
    lo = (days("2011-11-01") - days("2012-12-31")) / MONTH
    hi = (days("2011-11-30") - days("2012-01-01")) / MONTH
    best = ((days("2011-11-01") + days("2011-11-30")) / 2 - (days("2012-01-01") + days("2012-12-31")) / 2) / MONTH
    assert (r["time_lo"], r["time_best"], r["time_hi"]) == pytest.approx((lo, best, hi))
    assert r["imprecise"] and not r["open_lo"] and not r["open_hi"]


def test_open_bounds_are_flagged_and_infinite(table):
    r = row(table, "F2-E6")  # remission "at least +0 days" after the infusion
    assert r["time_lo"] == 0 and math.isinf(r["time_hi"]) and r["time_hi"] > 0
    assert r["open_hi"] and not r["open_lo"]
    assert text(table, "F2-E6") == "≥ 0.0"
    r = row(table, "F1-E2")  # active "at least +0 days" after admission
    assert r["open_hi"] and text(table, "F1-E2") == "≥ −0.5"


def test_events_that_cannot_be_related_to_time_zero_are_listed_not_placed(table):
    for eid in ("F3-E0", "F6-E1"):  # ages of patients without a calendar link
        r = row(table, eid)
        assert not r["placed"] and math.isnan(r["time_best"])
        assert text(table, eid) == "not placed: " + r["not_placed_reason"]
        assert "not relatable" in r["not_placed_reason"]
    assert row(table, "F6-E1")["lane_id"] == "F6 · line 0"
    np_lanes = tl.not_placeable(table)
    assert np_lanes["lane_id"].tolist() == ["F6 · line 0"]


def test_time_text_and_coded_time(table):
    assert text(table, "F1-E6") == "2.0 (0.0 to 4.0)"
    assert text(table, "F1-E8") == "36.0"
    assert text(table, "F2-E1") == "−7.5 (−14.0 to −1.1)"
    assert text(table, "F1-E6", "coded_time") == "F1-E3 +4 months (within)"
    assert text(table, "F1-E2", "coded_time") == "F1-E1 +0 days (at least)"
    assert text(table, "F3-E0", "coded_time") == "age 30 years"
    assert text(table, "F1-E1", "coded_time") == "2010-03"
    assert text(table, "F3-E1", "coded_time") == "not_reported"


def test_time_units(ds):
    weeks = tl.timeline_table(ds, time_unit="weeks")
    years = tl.timeline_table(ds, time_unit="years")
    assert row(weeks, "F1-E4")["time_best"] == pytest.approx(1.0)
    assert row(years, "F1-E7")["time_best"] == pytest.approx(2.0)
    assert text(years, "F1-E7") == "2.00 (1.80 to 2.20)"
    with pytest.raises(ValueError, match="time_unit: expected one of days, weeks, months, years, found 'decades'"):
        tl.timeline_table(ds, time_unit="decades")


def test_labels_citation_evidence_and_roles(table):
    r = row(table, "F4-E1")
    assert r["case_role"] == "adverse_event_anecdote"
    assert r["evidence_level"] == "anecdote"
    assert r["citation"] == "T2: Fixture forum thread"
    assert row(table, "F2-E5")["line_therapy"] == "UC-MSC"
    assert not row(table, "F2-E7")["target_disease"]  # the lymphoma relapse
    assert row(table, "F2-E4")["target_disease"]


def test_short_citation():
    assert tl.short_citation("Treatment of Psoriasis with Mesenchymal Stem Cells (letter, 2 cases)", "S001") == \
        "S001: Treatment of Psoriasis with Mesenchymal Stem…"
    assert tl.short_citation(float("nan"), "S9") == "S9"


@pytest.mark.parametrize(
    "kwargs, patients",
    [
        ({}, ["F1", "F2", "F3", "F4", "F5", "F6"]),
        ({"diseases": "lupus"}, ["F1", "F5"]),
        ({"diseases": ["PSORIASIS", "sclerosis"]}, ["F2", "F3", "F6"]),
        ({"therapies": "UC-MSC"}, ["F1", "F2", "F5"]),
        ({"source_kinds": ["forum"]}, ["F4"]),
        ({"min_evidence_level": "case_report"}, ["F1", "F2", "F3", "F5", "F6"]),
        ({"min_evidence_level": "uncontrolled_study"}, ["F3", "F6"]),
        ({"patient_ids": ["F5", "F2"]}, ["F2", "F5"]),
        ({"include_anecdotes": False}, ["F1", "F2", "F3", "F5", "F6"]),
    ],
)
def test_filters(ds, kwargs, patients):
    t = tl.timeline_table(ds, **kwargs)
    assert sorted(t["patient_id"].unique()) == patients


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"anchor": "surgery"}, "anchor: expected 'line', 'calendar' or an event type"),
        ({"min_evidence_level": "strong"}, "min_evidence_level: expected one of rct, "),
        ({"source_kinds": "tweet"}, "source_kinds: expected kinds among trial, "),
    ],
)
def test_bad_arguments_are_named(ds, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tl.timeline_table(ds, **kwargs)


def test_unknown_patient_ids_warn(ds):
    with pytest.warns(UserWarning, match="patient_ids not in the data: NOPE"):
        t = tl.timeline_table(ds, patient_ids=["F1", "NOPE"])
    assert t["patient_id"].unique().tolist() == ["F1"]


def test_calendar_anchor_uses_dates_and_lists_undated_lanes(ds):
    t = tl.timeline_table(ds, anchor="calendar")
    assert (t["time_unit"] == "calendar year").all()
    adm = row(t, "F1-E1")  # 2010-03: the whole month, best its middle
    assert adm["time_lo"] == pytest.approx(1970 + days("2010-03-01") / 365.25)
    assert adm["time_hi"] == pytest.approx(1970 + days("2010-03-31") / 365.25)
    assert text(t, "F1-E1") == "2010-03-16 (2010-03-01 to 2010-03-31)"
    rem = row(t, "F2-E6")  # at least after a dated infusion: open on the right
    assert rem["open_hi"] and text(t, "F2-E6") == "2014-05-10 (on or after 2014-05-10)"
    assert sorted(tl.not_placeable(t)["lane_id"]) == ["F3 · line 1", "F6 · line 0"]
    assert set(tl.not_placeable(t)["reason"]) == {"no calendar date (the source gives no date this event is linked to)"}


def test_named_anchor_counts_every_lane_of_a_patient_from_its_first_such_event(ds):
    t = tl.timeline_table(ds, anchor="transplant")
    # F2: line 2 infusion (2014-05-10) relative to the transplant dated "2012"
    r = row(t, "F2-E5")
    assert r["time_lo"] == pytest.approx((days("2014-05-10") - days("2012-12-31")) / MONTH)
    assert r["time_hi"] == pytest.approx((days("2014-05-10") - days("2012-01-01")) / MONTH)
    assert r["anchor_event_id"] == "F2-E3"
    assert row(t, "F2-E3")["time_best"] == 0
    # patients without a transplant cannot be placed
    assert not t.loc[t["patient_id"].isin(["F1", "F5"]), "placed"].any()


def test_named_anchor_follows_the_offset_chain_not_naive_subtraction(ds):
    # F5-E3 is "at least +0 days" after the remission F5-E2 ("within +3 months" of the
    # infusion). Relative to the remission it is [0, inf); subtracting the two intervals
    # from the line anchor would give [-3 months, inf).
    t = tl.timeline_table(ds, anchor="remission")
    r = row(t, "F5-E3")
    assert r["time_lo"] == 0 and r["open_hi"]
    assert row(t, "F5-E1")["time_best"] == pytest.approx(-1.5)
    assert (row(t, "F5-E1")["time_lo"], row(t, "F5-E1")["time_hi"]) == pytest.approx((-3.0, 0.0))


def test_loader_graph_relates_events_as_the_resolved_times(ds):
    graph = ds.graph
    for eid, anchor in (("F1-E7", "F1-E3"), ("F2-E1", "F2-E3"), ("F1-E2", "F1-E3")):
        iv = graph.relative(eid, anchor)
        r = ds.events.set_index("event_id").loc[eid]
        assert (iv.lo, iv.best, iv.hi) == pytest.approx((r["t_lo"], r["t_best"], r["t_hi"]))
    assert graph.relative("F3-E0", "F3-E1") is None
    assert isinstance(graph, timing.OffsetGraph)


def test_events_table_for_export(table):
    e = tl.events_table(table)
    assert list(e.columns) == tl.EXPORT_COLUMNS
    assert len(e) == len(table)


# --------------------------------------------------------------------------- layout


def test_lane_order_longest_follow_up_first_patients_kept_together(layout):
    assert layout.lanes["lane_id"].tolist() == [
        "F1 · line 1", "F2 · line 1", "F2 · line 2", "F3 · line 1", "F5 · line 1", "F4 · line 1"]
    y = layout.lanes["y"].to_numpy()
    assert (np.diff(y) > 0).all()
    assert layout.lanes["first_in_patient"].tolist() == [True, True, False, True, True, True]
    # the two lines of F2 are closer to each other than to the neighbouring patients
    gaps = np.diff(layout.lanes["y_top"].to_numpy())
    assert layout.lanes["y_top"].iloc[2] - layout.lanes["y_bottom"].iloc[1] == pytest.approx(0)
    assert layout.lanes["y_top"].iloc[3] - layout.lanes["y_bottom"].iloc[2] > 1
    assert len(gaps) == 5
    assert layout.left_out["lane_id"].tolist() == ["F6 · line 0"]


@pytest.mark.parametrize(
    "sort_by, ascending, first_patients",
    [
        ("data", None, ["F1", "F2", "F3", "F4", "F5"]),
        ("follow_up", True, ["F4", "F5", "F3", "F2", "F1"]),
        ("evidence_level", None, ["F3", "F1", "F2", "F5", "F4"]),
        ("patient_id", False, ["F5", "F4", "F3", "F2", "F1"]),
        (["diseases", "patient_id"], None, ["F4", "F1", "F5", "F2", "F3"]),
    ],
)
def test_sort_by(table, sort_by, ascending, first_patients):
    lay = tl.lane_layout(table, sort_by=sort_by, ascending=ascending)
    assert list(dict.fromkeys(lay.lanes["patient_id"])) == first_patients
    f2 = lay.lanes[lay.lanes["patient_id"] == "F2"]["line"].tolist()
    assert f2 == [1, 2]


def test_sort_by_unknown_column(table):
    with pytest.raises(ValueError, match=r"sort_by: expected 'follow_up', 'data' or columns of the table, found \['x'\]"):
        tl.lane_layout(table, sort_by="x")


def test_lane_ends_and_ongoing_remission(layout):
    la = layout.lanes.set_index("lane_id")
    assert la.loc["F1 · line 1", "end_kind"] == "last_followup" and la.loc["F1 · line 1", "end"] == 36
    assert la.loc["F2 · line 1", "end_kind"] == "next_line"
    assert la.loc["F3 · line 1", "end_kind"] == "death"
    assert la.loc["F4 · line 1", "end_kind"] == "not_reported"
    assert la.loc["F5 · line 1", "end_kind"] == "not_reported"
    ongoing = la["ongoing"].fillna(False)
    assert ongoing[ongoing].index.tolist() == ["F2 · line 2", "F5 · line 1"]
    assert la.loc["F1 · line 1", "last_status"] == "active"  # relapse, active at follow-up: no arrow


def test_status_segments_follow_the_coded_statuses(layout):
    seg = layout.segments
    f1 = seg[seg["lane_id"] == "F1 · line 1"]
    assert f1["status"].tolist() == ["active", "partial", "complete", "relapse"]
    assert f1["x0"].tolist() == pytest.approx([-14 / MONTH, 1.0, 2.0, 24.0])
    assert f1["x1"].tolist() == pytest.approx([1.0, 2.0, 24.0, 36.0])
    # the lymphoma relapse of F2 line 2 does not end the psoriasis remission
    f2 = seg[seg["lane_id"] == "F2 · line 2"]
    assert f2[["status", "x0", "x1"]].values.tolist() == [["complete", 0.0, 18.0]]
    f3 = seg[seg["lane_id"] == "F3 · line 1"]
    assert f3[["status", "x0", "x1"]].values.tolist() == [["improving", 6.0, 12.0]]
    assert (seg["x1"] > seg["x0"]).all()


def test_which_marks_appear(layout):
    ev = layout.events
    marks = ev.groupby("lane_id")["mark"].apply(lambda m: sorted(m)).to_dict()
    assert marks["F2 · line 2"] == ["infusion", "last_followup", "relapse_other_disease", "remission"]
    assert marks["F4 · line 1"] == ["adverse_event", "followup_not_reported", "transplant"]
    assert marks["F5 · line 1"] == ["assessment", "followup_not_reported", "infusion", "remission"]
    assert "followup_not_reported" not in marks["F2 · line 1"]  # continued in line 2
    assert "diagnosis" not in marks["F3 · line 1"]  # not placeable
    spans = layout.spans
    assert spans[["lane_id", "event_type", "n"]].values.tolist() == [["F2 · line 1", "chemotherapy", 2]]


def test_marks_of_a_row_never_overlap(layout):
    ev = layout.events
    x0, x1 = layout.xlim
    half = layout.min_sep / 2
    lo = np.where(np.isfinite(ev["time_lo"]), np.clip(ev["time_lo"], x0, x1), x0)
    hi = np.where(np.isfinite(ev["time_hi"]), np.clip(ev["time_hi"], x0, x1), x1)
    left = np.minimum(ev["x"], lo) - half
    right = np.maximum(ev["x"], hi) + half
    for (lane, r), idx in ev.groupby(["lane_id", "row"]).groups.items():
        iv = sorted(zip(left[ev.index.get_indexer(idx)], right[ev.index.get_indexer(idx)]))
        for (a, b), (c, d) in zip(iv, iv[1:]):
            assert c >= b, (lane, r)
    # key marks stay on the lane's main row
    main = ev[ev["event_id"].isin(["F1-E3", "F1-E8", "F2-E5", "F2-E8", "F3-E3"])]
    assert (main["row"] == 0).all()


def test_events_before_the_window_are_drawn_at_the_edge_and_named(table):
    lay = tl.lane_layout(table, pre_window=3)
    off = lay.events[lay.events["offscale"] == "left"]
    assert sorted(off["event_id"]) == ["F2-E1", "F2-E2"]
    assert (off["x"] > lay.xlim[0]).all() and (off["x"] < lay.xlim[0] + lay.min_sep).all()
    labels = tl.lane_labels(lay).set_index("lane_id")["lane_label"]
    assert "◂ chemotherapy at −8 mo (off axis)" in labels["F2 · line 1"]
    assert "beyond the axis" in lay.caption


def test_lane_labels(layout):
    lab = tl.lane_labels(layout).set_index("lane_id")
    assert lab.loc["F1 · line 1", "lane_label"] == "line 1 · UC-MSC\n2 infusions, 10⁶ cells/kg\nfollow-up 36 mo"
    assert lab.loc["F2 · line 2", "lane_label"] == "line 2 · UC-MSC\n1 infusion, 2×10⁶ cells/kg\nfollow-up 18 mo"
    assert lab.loc["F3 · line 1", "lane_label"].endswith("died at 12 mo (11 to 13)")
    assert lab.loc["F5 · line 1", "lane_label"].endswith("follow-up not reported")
    assert lab.loc["F1 · line 1", "header"] == "F1  ·  lupus  ·  female, 40 y"
    assert lab.loc["F3 · line 1", "header"] == "F3  ·  systemic sclerosis  ·  sex/age not reported"
    assert lab.loc["F4 · line 1", "header"].endswith("ADVERSE-EVENT ANECDOTE")
    assert lab.loc["F4 · line 1", "header_source"] == "T2: Fixture forum thread  ·  evidence: anecdote"
    assert lab.loc["F2 · line 2", "header"] == ""  # one header per patient


def test_caption_states_time_zero_units_and_what_is_left_out(layout):
    cap = layout.caption
    assert cap.startswith("Time zero = first stem-cell transplant or infusion of each treatment line")
    assert "Time in months (1 month = 30.4375 days)" in cap
    assert "Not drawn: 1 lane(s) cannot be placed on this time axis (F6 · line 0)" in cap
    assert layout.axis_label == "Months since first stem-cell therapy of the treatment line"


def test_empty_selection_is_a_clear_error(ds):
    t = tl.timeline_table(ds, diseases="gout")
    assert t.empty and list(t.columns) == tl.TABLE_COLUMNS
    with pytest.raises(ValueError, match="no events to lay out: the filters left no patient"):
        tl.lane_layout(t)


# --------------------------------------------------------------------------- drawing


def _collections_by_label(ax):
    return {c.get_label(): c for c in ax.collections if not c.get_label().startswith("_")}


def test_figure_draws_one_collection_per_kind_with_one_mark_per_event(table):
    fig, lay = tl.plot_timelines(table)
    ax = fig.axes[0]
    by_label = _collections_by_label(ax)
    counts = lay.events["mark"].value_counts()
    for mark, n in counts.items():
        label = tl.mark_style(mark)["label"]
        assert len(by_label[label].get_offsets()) == n, mark
    # one status bar per segment, one track per lane, one arrow per ongoing lane
    polys = [c for c in ax.collections if type(c).__name__ == "PolyCollection"]
    assert any(len(c.get_paths()) == len(lay.segments) for c in polys)
    heads = [c for c in ax.collections if type(c).__name__ == "PathCollection" and len(c.get_offsets()) == 2
             and c.get_label().startswith("_")]
    assert heads, "ongoing arrow heads"
    assert len(ax.collections) + len(ax.lines) < 40  # one artist per kind of mark, not per mark
    legend_texts = [t.get_text() for t in ax.get_legend().get_texts()]
    for mark in counts.index:
        assert tl.mark_style(mark)["label"] in legend_texts or mark == "assessment"
    assert "Status: Active disease / relapse" in legend_texts
    assert "Only a bound known (may lie beyond the edge)" in legend_texts
    assert "Remission ongoing at last report" in legend_texts
    assert "Adverse-event anecdote" in legend_texts
    assert ax.get_xlabel() == "Months since first stem-cell therapy of the treatment line"
    caption = fig.texts[-1].get_text().replace("\n", " ")
    assert "Time zero = first stem-cell transplant" in caption


def test_draw_functions_compose_on_a_users_axes(layout):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    tl.draw_lanes(ax, layout)
    seg = tl.draw_status_segments(ax, layout)
    unc = tl.draw_uncertainty(ax, layout)
    marks = tl.draw_event_markers(ax, layout)
    arrows = tl.draw_ongoing_arrows(ax, layout)
    tl.draw_labels(ax, layout)
    assert len(seg["segments"].get_paths()) == len(layout.segments)
    assert len(arrows["heads"].get_offsets()) == 2
    n_open = int(((layout.events["open_hi"] == True) & (layout.events["offscale"] != "right")).sum())  # noqa: E712
    assert len(unc["open_right"].get_offsets()) == n_open
    e = layout.events[layout.events["mark"] != "followup_not_reported"]
    x0, x1 = layout.xlim
    fin_lo = np.clip(np.where(np.isfinite(e["x_lo"]), e["x_lo"], e["time_best"]), x0, x1)
    fin_hi = np.clip(np.where(np.isfinite(e["x_hi"]), e["x_hi"], e["time_best"]), x0, x1)
    finite = e[fin_hi > fin_lo]  # the finite part of every interval, half-open ones included
    assert len(finite) == 9
    assert tl.n_segments(unc["whiskers"]) == len(finite)
    n_caps = int((np.isfinite(e["x_lo"]) & (fin_hi > fin_lo) & (e["x_lo"] >= x0)).sum() + (np.isfinite(e["x_hi"]) & (fin_hi > fin_lo)
                                                                        & (e["x_hi"] <= x1)).sum())
    assert tl.n_segments(unc["caps"]) == n_caps
    # dotted: open sides, and finite whiskers that run beyond the axis (F2's chemotherapy)
    n_left = int((((e["open_lo"] == True) | (e["x_lo"] < x0)) & (e["offscale"] != "left")).sum())  # noqa: E712
    assert n_left == 2
    assert sum(tl.n_segments(line) for line in unc["open"].values()) == n_open + n_left
    assert sum(len(c.get_offsets()) for c in marks.values()) == len(layout.events)
    band = tl.draw_uncertainty(ax, layout, style="band")
    assert len(band["bands"].get_paths()) == len(finite)
    assert ax.get_xlim() == pytest.approx(layout.xlim)


def test_plot_timelines_respects_max_lanes_and_says_what_it_left_out(table):
    with pytest.warns(UserWarning, match=r"3 lane\(s\) beyond max_lanes=3 are not drawn"):
        _, lay = tl.plot_timelines(table, max_lanes=3)
    assert lay.lanes["lane_id"].tolist() == ["F1 · line 1", "F2 · line 1", "F2 · line 2"]
    assert "Not drawn: 3 lane(s) beyond max_lanes=3 (F3 · line 1, F5 · line 1, F4 · line 1)" in lay.caption


def test_pages_split_whole_patients(table):
    pages = tl.plot_timeline_pages(table, max_lanes=2)
    figs, layouts = [p.figure for p in pages], [p.layout for p in pages]
    lanes = [lay.lanes["lane_id"].tolist() for lay in layouts]
    assert lanes == [["F1 · line 1"], ["F2 · line 1", "F2 · line 2"], ["F3 · line 1", "F5 · line 1"],
                     ["F4 · line 1"]]
    assert [f.axes[0].get_title(loc="left") for f in figs] == [
        f"Case timelines — page {i} of 4" for i in range(1, 5)]
    assert len({lay.xlim for lay in layouts}) == 1  # one time axis for all pages
    assert layouts[-1].left_out["lane_id"].tolist() == ["F6 · line 0"]
    assert layouts[0].left_out.empty


def test_pages_beyond_max_pages_are_named(table):
    with pytest.warns(UserWarning, match=r"3 lane\(s\) on 2 page\(s\) beyond max_pages=2 are not drawn"):
        pages = tl.plot_timeline_pages(table, max_lanes=2, max_pages=2)
    assert len(pages) == 2
    cap = pages[-1].layout.caption
    assert "3 lane(s) beyond max_pages=2 (F3 · line 1, F5 · line 1, F4 · line 1)" in cap
    assert "1 lane(s) cannot be placed on this time axis (F6 · line 0)" in cap


def test_page_files_are_named_by_one_function():
    assert [tl.page_name(i) for i in (1, 2, 3)] == ["case_timelines", "case_timelines_page2", "case_timelines_page3"]


def test_a_figure_with_no_placeable_lane_says_so(ds):
    t = tl.timeline_table(ds, anchor="calendar", patient_ids=["F3", "F6"])
    fig, _ = tl.plot_timelines(t)
    text = fig.axes[0].texts[0].get_text().replace("\n", " ")
    assert text.startswith("No lane can be placed on this time axis.")
    assert "F3 · line 1" in text and "F6 · line 0" in text


def test_compact_mode_for_many_lanes(ds):
    t = tl.timeline_table(ds)
    lay = tl.lane_layout(t, compact=True)
    lab = tl.lane_labels(lay).set_index("lane_id")["lane_label"]
    assert lab["F2 · line 2"] == "F2 L2"
    fig, _ = tl.plot_timelines(lay)
    # one plain label per lane, no patient header rows, one row per lane
    assert sorted(t.get_text() for t in fig.axes[0].texts) == sorted(lab)
    assert (lay.events["row"] == 0).all()


# --------------------------------------------------------------------------- shipped data


def test_shipped_cases_as_the_sources_tell_them(shipped):
    t = tl.timeline_table(shipped)
    lay = tl.lane_layout(t)
    la = lay.lanes.set_index("lane_id")
    # letter, patient 1: two lines
    assert [lid for lid in la.index if lid.startswith("S001-P1")] == ["S001-P1 · line 1", "S001-P1 · line 2"]
    relapse = row(t, "S001-P1-E08")  # lesions back within 6 weeks of the (second) conditioning
    assert relapse["lane_id"] == "S001-P1 · line 1" and relapse["time_lo"] == 0 and relapse["open_hi"]
    assert sorted(t.loc[t["lane_id"] == "S001-P1 · line 1", "event_type"].unique()) == [
        "admission", "adverse_event", "assessment", "chemotherapy", "conditioning", "diagnosis", "relapse",
        "transplant"]
    clear = row(t, "S001-P1-E13")  # relieved at 6 months, skin normal within 12 months of the dose
    assert (clear["time_lo"], clear["time_hi"]) == pytest.approx((6, 12))
    fu = row(t, "S001-P1-E14")  # nearly 5 years, no relapse
    assert (fu["time_lo"], fu["time_best"], fu["time_hi"]) == pytest.approx((54, 60, 66))
    assert la.loc["S001-P1 · line 2", "ongoing"] and la.loc["S001-P1 · line 2", "last_status"] == "complete"
    # patient 2: five infusions, relapse-free 4 years
    p2 = lay.events[lay.events["lane_id"] == "S001-P2 · line 1"]
    assert (p2["mark"] == "infusion").sum() == 5
    assert la.loc["S001-P2 · line 1", "end"] == pytest.approx(48)
    assert la.loc["S001-P2 · line 1", "ongoing"]
    assert not (lay.events["mark"] == "relapse").loc[lay.events["lane_id"].str.startswith("S001-P2")].any()
    # the journal case: follow-up not reported, the myeloma relapse is not a psoriasis relapse
    assert la.loc["S000-P1 · line 1", "end_kind"] == "not_reported"
    j = lay.events[lay.events["lane_id"] == "S000-P1 · line 1"]
    assert "followup_not_reported" in set(j["mark"])
    assert "relapse_other_disease" in set(j["mark"]) and "relapse" not in set(j["mark"])
    labels = tl.lane_labels(lay).set_index("lane_id")
    assert "follow-up not reported" in labels.loc["S000-P1 · line 1", "lane_label"]
    # anecdotes are included by default and marked
    assert lay.groups.set_index("patient_id").loc[["S000-P2", "S000-P3"], "anecdote"].all()
    assert labels.loc["S000-P2 · line 1", "header"].endswith("ADVERSE-EVENT ANECDOTE")
    no_anecdotes = tl.timeline_table(shipped, include_anecdotes=False)
    assert set(no_anecdotes["patient_id"]) == {"S001-P1", "S001-P2", "S000-P1"}


# --------------------------------------------------------------------------- notebook


NOTEBOOK = ROOT / "notebooks" / "01_case_timelines.ipynb"


@pytest.mark.slow
@pytest.mark.parametrize("data_dir, params", [
    (ROOT / "data", {}),
    (FIXTURE, {"anchor": "calendar", "time_unit": "years", "max_lanes": 2}),
])
def test_notebook_renders_with_papermill(tmp_path, data_dir, params):
    import papermill

    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        papermill.execute_notebook(
            str(NOTEBOOK), str(tmp_path / "executed.ipynb"), cwd=str(NOTEBOOK.parent), kernel_name="python3",
            parameters={"data_dir": str(data_dir), "output_dir": str(out), **params}, progress_bar=False,
        )
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert "case_timelines.png" in figures and "case_timelines.svg" in figures
    if params.get("max_lanes") == 2:
        assert "case_timelines_page2.png" in figures
    import pandas as pd

    events = pd.read_csv(out / "tables" / "timeline_events.csv")
    assert list(events.columns) == tl.EXPORT_COLUMNS
    assert len(events) > 0


def test_text_from_data_is_drawn_literally(ds, tmp_path):
    """Dollar signs and underscores in data (ids, diseases, citations) are not mathtext."""
    import copy

    from analysis.style import save_figure

    odd = copy.copy(ds)
    odd.patients = ds.patients.copy()
    odd.patients.loc[odd.patients["patient_id"] == "F1", "diseases"] = r"lupus $\nocommand_1$ (cost)"
    t = tl.timeline_table(odd, patient_ids=["F1", "F6"])
    fig, _ = tl.plot_timelines(t)
    save_figure(fig, tmp_path, "odd")  # would raise on unbalanced mathtext
    texts = [x.get_text() for x in fig.axes[0].texts]
    assert r"F1  ·  lupus $\nocommand_1$ (cost)  ·  female, 40 y" in texts
    compact, _ = tl.plot_timelines(tl.lane_layout(t, compact=True))
    save_figure(compact, tmp_path, "odd_compact")


def test_follow_up_not_reported_marker_is_the_mathtext_question_mark_without_mathtext():
    import matplotlib as mpl
    from matplotlib.markers import MarkerStyle

    ours = tl.mark_style(tl.FOLLOWUP_NOT_REPORTED)["marker"]
    with mpl.rc_context({"text.parse_math": True}):  # the house style turns mathtext off for data text
        ref = MarkerStyle("$?$")
    a = ours.get_path().transformed(ours.get_transform())
    b = ref.get_path().transformed(ref.get_transform())
    assert (a.codes == b.codes).all()
    np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-12)
    assert np.abs(a.vertices).max() == pytest.approx(0.5)  # centred, larger side 1 (as "$?$")


# --------------------------------------------------------------------------- issue 13


def test_a_status_is_solid_only_where_it_is_known_to_hold(layout):
    seg = layout.segments.set_index("event_id")
    # F2 line 2: remission "at least 0 days" after the infusion, confirmed at the 18-month follow-up:
    # the whole stretch is uncertain (it may have begun just before 18 months), none of it solid
    assert seg.loc["F2-E6", "x0"] == 0 and seg.loc["F2-E6", "solid_from"] == pytest.approx(18.0)
    # F1: complete remission "within 4 months" of the infusion (best 2): solid from 4 months on
    assert seg.loc["F1-E6", "x0"] == pytest.approx(2.0) and seg.loc["F1-E6", "solid_from"] == pytest.approx(4.0)
    # an exact report is solid from its time
    assert seg.loc["F3-E2", "solid_from"] == seg.loc["F3-E2", "x0"]
    assert (seg["solid_from"] >= seg["x0"]).all() and (seg["solid_from"] <= seg["x1"]).all()


def test_uncertain_stretches_are_drawn_pale_and_named_in_the_legend(layout):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    drawn = tl.draw_status_segments(ax, layout)
    unsure = layout.segments[layout.segments["solid_from"] > layout.segments["x0"]]
    assert len(drawn["uncertain"].get_paths()) == len(unsure) > 0
    labels = [h.get_label() for h in tl.legend_handles(layout)]
    assert any(lbl.startswith("Status began somewhere in this stretch") for lbl in labels)


def test_follow_up_not_reported_comes_after_every_reported_event(shipped, layout):
    for lay in (layout, tl.lane_layout(tl.timeline_table(shipped))):
        ev = lay.events
        for lane, g in ev.groupby("lane_id"):
            q = g[g["mark"] == tl.FOLLOWUP_NOT_REPORTED]
            if len(q):
                others = g[g["mark"] != tl.FOLLOWUP_NOT_REPORTED]
                assert (q["x"].iloc[0] > others["x"]).all(), lane
                assert q["row"].iloc[0] == 0, lane  # at the end of the lane's own row


def _glyph(h):
    from matplotlib.colors import to_hex
    from matplotlib.patches import Patch

    if isinstance(h, Patch):
        return ("patch", to_hex(h.get_facecolor(), keep_alpha=False), h.get_hatch(), to_hex(h.get_edgecolor()))
    marker = h.get_marker()
    has_marker = marker not in ("", "None", "none", None)
    marker = repr(marker.vertices.round(3).tolist()) if hasattr(marker, "vertices") else str(marker)
    has_line = h.get_linestyle() not in ("", "None", "none", None)
    # what a reader sees: the marker's shape and fill, the line's colour and dash (edges aside)
    return ("line", marker if has_marker else "", to_hex(h.get_markerfacecolor()) if has_marker else "",
            to_hex(h.get_color()) if has_line else "", str(h.get_linestyle()) if has_line else "")


@pytest.mark.parametrize("folder", ["data", "examples/primary-studies", "tests/fixtures/timelines/cases"])
def test_no_two_legend_entries_share_a_glyph_and_colour(folder):
    ds = load_dataset(ROOT / folder)
    lay = tl.lane_layout(tl.timeline_table(ds))
    handles = tl.legend_handles(lay)
    glyphs = [_glyph(h) for h in handles]
    dupes = {g: [h.get_label() for h in handles if _glyph(h) == g] for g in glyphs if glyphs.count(g) > 1}
    assert dupes == {}
    labels = [h.get_label() for h in handles]
    if "Conditioning" in labels and "Evidence: case report" in labels:  # both orange: square vs bookmark
        assert _glyph(handles[labels.index("Conditioning")]) != _glyph(handles[labels.index("Evidence: case report")])


def test_timeline_lanes_one_row_per_lane_with_remission_and_curve(shipped):
    t = tl.timeline_table(shipped)
    lanes = tl.timeline_lanes(t, shipped, tl.lane_layout(t)).set_index("lane_id")
    assert list(lanes.reset_index().columns) == tl.LANE_TABLE_COLUMNS
    assert len(lanes) == t["lane_id"].nunique()
    p1 = lanes.loc["S001-P1 · line 2"]  # skin normal within 12 months of the dose (6 to 12), no relapse ~5 y
    assert p1["best_response"] == "complete" and p1["time_to_response_lo"] == pytest.approx(6.0)
    assert p1["time_to_response_hi"] == pytest.approx(12.0)
    assert p1["remission_end"] == "ongoing at last follow-up" and p1["remission_ongoing"]
    assert (p1["remission_duration_lo"], p1["remission_duration_hi"]) == (pytest.approx(42.0), pytest.approx(60.0))
    assert p1["curve"] == "case reports" and p1["survival_note"] == ""
    anecdote = lanes.loc["S000-P3 · line 1"]
    assert anecdote["curve"] == "" and "adverse-event anecdote" in anecdote["survival_note"]


def test_timeline_lanes_remission_known_only_as_at_least_is_an_interval():
    """The Gut letter (examples/primary-studies, P22): remission "at least" after the HSCT,
    relapse about 8 years after it: at most 8.8 years, not a remission from day 0."""
    ds = load_dataset(ROOT / "examples" / "primary-studies")
    t = tl.timeline_table(ds)
    row = tl.timeline_lanes(t, ds).set_index("lane_id").loc["P22-P1 · line 1"]
    assert row["remission_end"] == "relapse" and not row["remission_ongoing"]
    assert row["remission_duration_lo"] == 0 and row["remission_duration_hi"] == pytest.approx(8 * 12 * 1.1)
    assert row["time_to_response_lo"] == 0 and np.isinf(row["time_to_response_hi"])
    assert row["curve"] == "case reports"
