"""Forest plots: rows, sections, pagination and what the figure shows."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis.forest import rates as F  # noqa: E402
from analysis import rates as R  # noqa: E402
from analysis.style import EVIDENCE_COLORS  # noqa: E402

from test_rates import SOURCES, outcome_rows  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def shipped_like() -> pd.DataFrame:
    """Rows shaped like the shipped data (synthetic copies for the tests)."""
    return R.study_rates(outcome_rows([
        dict(study="Lupus MSC", disease="lupus", total=200, total_qualifier="at_least", proportion=0.75,
             proportion_qualifier="about", approximate=True, definition="benefited from treatment"),
        dict(study="Lupus MSC", disease="lupus", outcome="severe_adverse_event", events=0, total=200,
             total_qualifier="at_least", approximate=True, definition="severe reactions to treatment"),
        dict(study="Letter", disease="psoriasis", design="case_report", outcome="relapse_free", events=2,
             total=2, source_id="S3", time_value=4, time_unit="years", time_qualifier="at_least"),
        dict(study="JCO case", disease="psoriasis", design="case_report", outcome="complete_response",
             events=1, total=1, source_id="S3"),
        dict(study="HSCT news", disease="several", outcome="disease_free", source_id="S2", approximate=True),
    ]), SOURCES)


def _texts(fig) -> list[str]:
    """Every text the figure shows: its Text artists and the lines of its text columns (the
    forest plot draws each column of cells as one artist, analysis.forest.textcolumn.TextColumn)."""
    from analysis.forest.textcolumn import TextColumn

    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)] + [
        line for column in fig.findobj(TextColumn) for line in column.get_texts()]


def test_rows_for_shipped_like_data(shipped_like):
    res = R.pool_rates(shipped_like, subgroup_by="disease")
    rows = F.forest_rows(shipped_like, res, show_definition=True)
    kinds = [r.kind for r in rows]
    assert "pooled" not in kinds  # fewer studies than the minimum anywhere
    lupus = next(r for r in rows if r.kind == "study" and r.label.startswith("≈ Lupus MSC"))
    assert lupus.approximate and lupus.counts == "≈150/≥200†" and lupus.right.startswith("75.0%")
    labels = [r.label for r in rows]
    assert labels.count("Case reports (shown, never pooled)") == 2
    assert "Reported without counts (no interval)" in labels
    assert any("none among at least 200 patients (upper 95% limit 1.8%)" in lbl for lbl in labels)
    assert any(lbl.startswith("“relapse free” ") or "at least 4 years" in lbl for lbl in labels)
    assert any("fewer than the minimum of 3" in lbl for lbl in labels)
    news = next(r for r in rows if r.kind == "nocount")
    assert math.isnan(news.lo) and "no counts or proportion" in news.note


def test_case_reports_in_their_own_section(shipped_like):
    rows = F.forest_rows(shipped_like, R.pool_rates(shipped_like), outcomes="relapse_free")
    assert [r.kind for r in rows] == ["section", "header", "study"]
    assert rows[1].label == "Case reports (shown, never pooled)" and rows[2].weight == "–"


def test_safety_panel_shows_zero_events(shipped_like):
    safety = shipped_like[shipped_like["is_safety"]]
    fig = F.forest_plot(safety, R.pool_rates(safety), title="Safety", show_definition=True)
    texts = _texts(fig)
    assert "Severe adverse events" in texts and "0/≥200" in texts
    assert any("none among at least 200 patients" in t for t in texts)
    assert not any(t == "Weight" for t in texts)  # nothing pooled, no weight column


def _cohort_rates(n_groups=2, per_group=5, **kw):
    rows = [dict(study=f"Study {g}-{i}", disease=f"disease {g}", events=3 + i + 2 * g, total=20 + 3 * i)
            for g in range(n_groups) for i in range(per_group)]
    return R.study_rates(outcome_rows(rows), SOURCES, **kw)


def test_pooled_figure_has_diamonds_pi_and_heterogeneity():
    rates = _cohort_rates()
    res = R.pool_rates(rates, subgroup_by="disease", overall=True, method="REML")  # REML pools have weights
    fig = F.forest_plot(rates, res, title="Pooled")
    texts = _texts(fig)
    assert sum(t.startswith("Heterogeneity: τ² = ") for t in texts) == 3  # two subgroups + overall
    assert "Across diseases (exploratory)" in texts and texts.count("Prediction interval") == 3
    ax = fig.axes[0]
    assert ax.get_xlim() == (0, 1) and "%" in ax.get_xlabel()
    assert ax.xaxis.get_major_formatter()(0.5, 0) == "50%"
    polys = [c for c in ax.collections if isinstance(c, matplotlib.collections.PolyCollection)]
    n_polys = sum(len(c.get_paths()) for c in polys)
    assert n_polys == 6  # 3 diamonds + 3 prediction-interval bars
    study_texts = [t for t in texts if "[" in t and t.count("%") == 2]  # "interval    weight" per study
    assert len(study_texts) == 10
    shown = [float(t.rsplit(F.FIGURE_SPACE * 4, 1)[1].strip(F.FIGURE_SPACE + "%")) for t in study_texts]
    assert sum(shown) == pytest.approx(200, abs=0.6)  # each subgroup's weights add to 100 %
    assert sorted(shown) == pytest.approx(sorted(np.round(res.weights.dropna(), 1)))
    square_colors = {tuple(np.round(c, 3)) for coll in ax.collections
                     if isinstance(coll, matplotlib.collections.PathCollection) for c in coll.get_facecolors()}
    assert tuple(np.round(matplotlib.colors.to_rgba(EVIDENCE_COLORS["uncontrolled_study"]), 3)) in square_colors


def test_square_area_follows_weight():
    rates = _cohort_rates(1, 6)
    rates.loc[0, ["events_used", "total_used"]] = [40, 400]  # one much larger study
    res = R.pool_rates(rates, method="REML")  # the GLMM (default) gives the studies no weights
    fig = F.forest_plot(rates, res)
    sizes = np.concatenate([c.get_sizes() for c in fig.axes[0].collections
                            if isinstance(c, matplotlib.collections.PathCollection)])
    w = res.weights.dropna().to_numpy()
    assert np.argmax(sizes) == np.argmax(w)
    np.testing.assert_allclose(sizes / sizes.max(), np.maximum(w / w.max(), 9 / sizes.max()), rtol=1e-9)


def test_approximate_rows_are_hollow_and_dashed(shipped_like):
    fig = F.forest_plot(shipped_like[shipped_like["outcome"] == "response"])
    ax = fig.axes[0]
    squares = [c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection)]
    assert len(squares) == 1 and tuple(squares[0].get_facecolors()[0]) == (1.0, 1.0, 1.0, 1.0)
    lines = [c for c in ax.collections if isinstance(c, matplotlib.collections.LineCollection)]
    assert lines and lines[0].get_linestyles()[0][1] is not None  # dashed
    assert any("approximate figures as coded" in t for t in _texts(fig))


def test_pagination_keeps_blocks_and_continues_titles():
    rates = _cohort_rates(3, 30)
    res = R.pool_rates(rates, subgroup_by="disease")
    rows = F.forest_rows(rates, res)
    pages = F._paginate(rows, 25)
    assert sum(sum(r.kind == "study" for r in p) for p in pages) == 90
    for page in pages:
        assert len(page) <= 27  # at most two continuation titles added
        assert page[0].kind == "section"
        assert page[-1].kind not in ("section", "header", "blank")
        for i, r in enumerate(page):
            if r.kind == "pooled":
                assert i > 0 and page[i - 1].kind in ("study", "blank")  # a diamond never opens a page
            if r.kind in ("pi", "het"):
                assert i > 0
    assert any(p[0].label == "Response (continued)" for p in pages[1:])
    figs = F.forest_pages(rates, res, rows_per_page=25)
    assert len(figs) == len(pages)
    assert f"Response rates (page 1 of {len(pages)})" in _texts(figs[0])
    with pytest.raises(ValueError, match="rows_per_page must be at least 5"):
        F.forest_pages(rates, res, rows_per_page=2)


def test_no_rows_gives_a_message():
    rates = _cohort_rates(1, 2)
    fig = F.forest_plot(rates.iloc[0:0])
    assert any("No rows to show" in t for t in _texts(fig))


def test_response_category_chart():
    rows = [dict(study="A", outcome="complete_response", events=3, total=10),
            dict(study="A", outcome="partial_response", events=4, total=10),
            dict(study="B", outcome="response", proportion=0.75, total=200, total_qualifier="at_least",
                 approximate=True),
            dict(study="C", outcome="complete_response", events=1, total=1, design="case_report")]
    cats = R.response_categories(R.study_rates(outcome_rows(rows), SOURCES))
    fig = F.response_category_chart(cats)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["A (n = 10)", "≈ B (n ≥ 200)", "C (n = 1, case report)"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {
        "Complete response", "Partial response", "Response, category not reported",
        "No response, not assessed or lost (not split by the source)"}
    assert ax.get_xlim() == (0, 1)
    empty = F.response_category_chart(cats.iloc[0:0])
    assert any("No study reports response categories" in t for t in _texts(empty))


def test_saved_as_png_and_svg(tmp_path, shipped_like):
    from analysis.style import save_figure

    paths = save_figure(F.forest_plot(shipped_like), tmp_path, "forest")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size > 1000 for p in paths)


def test_response_categories_are_grouped_by_disease_and_mark_review_figures():
    """Arms of different diseases sit under their own bold heading (never one undivided list),
    and a review's figure is labelled a secondary summary."""
    rows = [dict(study="A", outcome="response", events=6, total=10, disease="lupus"),
            dict(study="B", outcome="response", events=3, total=9, disease="systemic sclerosis"),
            dict(study="Review", outcome="response", proportion=0.7, disease="lupus", source_id="S2"),
            dict(study="C", outcome="complete_response", events=2, total=4, disease="systemic sclerosis")]
    cats = R.response_categories(R.study_rates(outcome_rows(rows), SOURCES))
    assert cats[["label", "disease", "evidence_level"]].values.tolist() == [
        ["A", "lupus", "uncontrolled_study"], ["B", "systemic sclerosis", "uncontrolled_study"],
        ["Review", "lupus", "secondary_summary"], ["C", "systemic sclerosis", "uncontrolled_study"]]
    ax = F.response_category_chart(cats).axes[0]
    ticks = ax.get_yticklabels()
    assert [t.get_text() for t in ticks] == [
        "disease: lupus", "A (n = 10)", "Review (n not given, secondary summary)",
        "disease: systemic sclerosis", "B (n = 9)", "C (n = 4)"]
    assert [t.get_fontweight() for t in ticks] == ["bold", "normal", "normal", "bold", "normal", "normal"]
    bars = [p for p in ax.patches if p.get_width() > 0]
    assert sorted({round(p.get_y() + p.get_height() / 2) for p in bars}) == [1, 2, 4, 5]  # headings have no bar
    assert "nothing is pooled" in ax.get_xlabel()


def test_response_categories_keep_deaths_and_time_points_apart():
    """Deaths are their own category, never 'no response'; each time point is its own bar."""
    rows = [dict(study="A", outcome="response", events=6, total=10, time_value=1, time_unit="years"),
            dict(study="A", outcome="treatment_related_death", events=3, total=10, time_value=1, time_unit="years"),
            dict(study="A", outcome="response", events=5, total=10, time_value=5, time_unit="years"),
            dict(study="B", outcome="response", events=1, total=3, arm_role="control")]
    cats = R.response_categories(R.study_rates(outcome_rows(rows), SOURCES))
    assert cats[["label", "time"]].values.tolist() == [["A", "1 year"], ["A", "5 years"], ["B", ""]]
    a1 = cats.iloc[0]
    assert (a1["response_unspecified"], a1["died"], a1["none"]) == (0.6, 0.3, 0.1)  # no float residue
    assert cats.iloc[1]["died"] == 0.0 and cats.iloc[2]["none"] == pytest.approx(2 / 3, abs=1e-12)
    labels = [t.get_text() for t in F.response_category_chart(cats).axes[0].get_yticklabels()]
    assert labels == ["A (1 year, n = 10)", "A (5 years, n = 10)", "B (n = 3, control arm)"]


def test_a_reported_share_without_n_is_explained_beside_its_tick_not_across_it():
    low = F.Row("nocount", label="x", note="proportion reported without the number of patients", est=0.1)
    high = F.Row("nocount", label="x", note="proportion reported without the number of patients", est=0.79)
    none = F.Row("nocount", label="x", note="no counts or proportion reported (duration or statement only)")
    assert F._note_place(low, 1.0) == (pytest.approx(0.13), "left", "N not reported: no interval")
    assert F._note_place(high, 1.0) == (pytest.approx(0.76), "right", "N not reported: no interval")
    assert F._note_place(high, 0.05)[1] == "right" and F._note_place(low, 0.5)[1] == "left"
    assert F._note_place(none, 0.2) == (pytest.approx(0.004), "left", none.note)
