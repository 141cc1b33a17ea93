"""The forest plot of controlled comparisons (analysis.forest.compare): log axis with a line of
no effect, 'favours' labels on the right side for the outcome's direction, rows without counts
listed without an interval. Synthetic trials (tests/r/pooling/inputs_2x2.csv)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from analysis import rates as R  # noqa: E402
from analysis.forest.compare import comparison_forest, favours  # noqa: E402
from test_rates_compare import TRIAL, rates_of, trial_rows  # noqa: E402


def test_favours_follows_the_outcomes_direction():
    assert favours("response") == ("favours control", "favours intervention")  # RR > 1: more responders
    assert favours("adverse_event") == ("favours intervention", "favours control")  # RR > 1: more harm
    assert favours("relapse") == ("favours intervention", "favours control")
    assert favours("overall_survival") == ("favours control", "favours intervention")
    assert favours("something_else") == ("fewer events with intervention", "more events with intervention")


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


@pytest.mark.parametrize("measure,scale,null", [("RR", "log", 1.0), ("OR", "log", 1.0), ("RD", "linear", 0.0)])
def test_axis_line_of_no_effect_and_labels(measure, scale, null):
    import matplotlib.pyplot as plt

    rows_ = trial_rows("cmp5") + trial_rows("cmp4", "adverse_event")
    table = R.comparisons(rates_of(rows_), measure)
    pooled = R.pool_comparisons(table)
    fig = comparison_forest(table, pooled, placement=R.comparison_placement(table, pooled))
    try:
        assert len(fig.axes) == 2  # one panel (and axis) per outcome
        for ax, (left, right) in zip(fig.axes, (favours("response"), favours("adverse_event"))):
            assert ax.get_xscale() == scale
            assert any(list(line.get_xdata()) == [null, null] for line in ax.lines)  # line of no effect
            notes = [a.get_text() for a in ax.texts if a.get_text().startswith(("←", "favours"))]
            assert notes == [f"← {left}", f"{right} →"]
            lo, hi = ax.get_xlim()
            assert lo < null < hi
        text = " ".join(_texts(fig))
        assert "Pooled (k = 5)" in text and "Pooled (k = 4)" in text and "Prediction interval" in text
        assert f"{measure} [95% CI]" in text and "Weight" in text
    finally:
        plt.close(fig)


def test_rows_without_counts_and_no_pool():
    import matplotlib.pyplot as plt

    rt = rates_of([dict(study="SCOT", arm="HSCT", arm_role="intervention", outcome="event_free_survival",
                        proportion=p, time_value=t, time_unit="months", **TRIAL) for p, t in ((0.79, 54), (0.74, 72))]
                  + [dict(study="SCOT", arm="CYC", arm_role="control", outcome="event_free_survival", proportion=p,
                          time_value=t, time_unit="months", **TRIAL) for p, t in ((0.5, 54), (0.47, 72))])
    table = R.comparisons(rt)
    fig = comparison_forest(table, R.pool_comparisons(table))
    try:
        text = _texts(fig)
        assert "79% vs 50% reported" in text and "74% vs 47% reported" in text
        assert "HSCT vs CYC, at 54 months · rct" in text and "HSCT vs CYC, at 72 months · rct" in text
        assert not fig.axes[0].xaxis.get_visible()  # no scale where nothing is drawn
        assert any("none is pooled" in t for t in text)
    finally:
        plt.close(fig)


def test_forest_footnotes_state_the_method_and_what_the_squares_mean():
    """forest.py's footnotes say "area ∝ random-effects weight"; a GLMM pool has no weights."""
    import matplotlib.pyplot as plt

    from analysis.forest import rates as forest
    import analysis.forest.notes as forest_notes
    from test_forest import _texts
    from test_rates_methods import rates_of as proportion_sets

    rt = proportion_sets(["k5_full", "k8_het"])
    for kwargs, squares, diamonds in (
            (dict(), "(all the same size: the GLMM gives the studies no weights; colour = evidence level)",
             "Diamonds: pooled proportion (GLMM, random-effects logistic model) with 95% CI (z); red bar: 95% "
             "prediction interval for a new study (t, k − 1 df)."),
            (dict(method="DL", pooled_ci="hartung-knapp", pi_method="z"), forest_notes.SQUARES,
             "Diamonds: pooled proportion (DerSimonian-Laird) with 95% CI (Hartung-Knapp); red bar: 95% prediction "
             "interval for a new study (z).")):
        pooling = R.pool_rates(rt, subgroup_by="disease", **kwargs)
        figs = forest.forest_pages(rt, pooling, subgroup_by="disease")
        texts = [t for fig in figs for t in _texts(fig)]  # footnotes are drawn as one text column
        assert any(t.startswith("Squares:") and squares in t for t in texts), texts
        assert any(t.startswith(diamonds) for t in texts), texts
        for fig in figs:
            plt.close(fig)
    assert "REML, DL or PM pool; all the same size in a GLMM pool" in forest_notes.squares_text({"GLMM", "REML"})


def test_pooled_diamond_found_whatever_the_labels_case():
    """pool_comparisons groups 'Lupus' and 'lupus ' as one subgroup; the figure must too."""
    import matplotlib.pyplot as plt

    rows_ = trial_rows("cmp4")
    for r, disease in zip(rows_, ["Lupus", "Lupus", "lupus ", "lupus ", "LUPUS", "LUPUS", "Lupus", "Lupus"]):
        r["disease"] = disease
    table = R.comparisons(rates_of(rows_))
    pooled = R.pool_comparisons(table, subgroup_by="disease")
    assert pooled["subgroup"].tolist() == ["Lupus"] and pooled.loc[0, "k"] == 4
    fig = comparison_forest(table, pooled, subgroup_by="disease")
    try:
        assert "Pooled: Lupus (k = 4)" in _texts(fig)
    finally:
        plt.close(fig)
