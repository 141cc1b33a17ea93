"""notebooks/03_response_rates.ipynb rendered with papermill on the shipped and the reference data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import rates as R

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parent / "notebooks" / "03_response_rates.ipynb"
EXPECTED = HERE / "r" / "expected_metafor_pooled.csv"


def _run(tmp_path, **params):
    import papermill

    out = tmp_path / "out"
    papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "executed.ipynb"), cwd=str(NOTEBOOK.parent),
        parameters={"output_dir": str(out), **params}, progress_bar=False, kernel_name="python3")
    return out, (tmp_path / "executed.ipynb").read_text(encoding="utf-8")


def test_parameters_cell_declares_the_issue_names():
    import papermill

    declared = papermill.inspect_notebook(str(NOTEBOOK))
    for name in ("data_dir", "output_dir", "outcomes", "filters", "subgroup_by", "ci_method", "pool_method",
                 "transform", "min_studies", "include_approximate", "min_evidence_level"):
        assert name in declared, name
    assert declared["data_dir"]["default"] == '"../data"'
    assert declared["output_dir"]["default"] == '"../reports/03_response_rates"'


def test_notebook_is_stored_without_outputs():
    import nbformat

    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert code[0].metadata.get("tags") == ["parameters"]


@pytest.mark.slow
def test_notebook_on_shipped_data(tmp_path):
    out, text = _run(tmp_path, data_dir=str(HERE.parent / "data"))
    rates = pd.read_csv(out / "tables" / "rates.csv")
    assert list(rates.columns[:9]) == R.RATES_COLUMNS
    lupus = rates[(rates["outcome"] == "response") & rates["study"].str.contains("lupus")].iloc[0]
    assert lupus["approximate"] and lupus["derived"] and pd.isna(lupus["events"])
    assert (lupus["ci_lower"], lupus["ci_upper"]) == pytest.approx((0.684037, 0.808393), abs=1e-6)
    sae = rates[rates["outcome"] == "severe_adverse_event"].iloc[0]
    assert sae["events"] == 0 and sae["ci_upper"] == pytest.approx(1 - 0.025 ** (1 / 200), abs=1e-9)
    assert rates.loc[rates["is_case_report"], "outcome"].tolist() == ["relapse_free", "complete_response"]
    pooled = pd.read_csv(out / "tables" / "pooled_rates.csv")
    assert pooled.empty and list(pooled.columns) == R.POOLED_COLUMNS
    assert "Nothing is pooled" in text and "fewer than the minimum of 3" in text
    assert "0 of at least 200 patients" in text  # the safety statement
    assert "UC-MSC psoriasis letter" in text
    for name in ("forest_efficacy", "forest_safety", "response_categories"):
        assert (out / "figures" / f"{name}.png").exists(), name
    for name in ("pooling_status", "rates_sensitivity", "response_categories"):
        assert (out / "tables" / f"{name}.csv").exists(), name
    # nothing pooled and no controlled study: the new tables are written with their headers only
    for name, columns in (("subgroup_tests", R.SUBGROUP_TEST_COLUMNS), ("leave_one_out", R.LEAVE_ONE_OUT_COLUMNS),
                          ("comparisons", R.COMPARISON_COLUMNS), ("pooled_comparisons", R.POOLED_COMPARISON_COLUMNS)):
        table = pd.read_csv(out / "tables" / f"{name}.csv")
        assert table.empty and list(table.columns[:len(columns)]) == columns, name
    assert "nothing to compare" in text and not (out / "figures" / "forest_comparisons.png").exists()


@pytest.mark.slow
def test_notebook_on_reference_data_matches_metafor(tmp_path):
    out, _ = _run(tmp_path, data_dir=str(HERE / "reference_data" / "rates_metadat"), show_definitions=False,
                  pool_overall=True, pool_method="REML", pi_method="z")
    pooled = pd.read_csv(out / "tables" / "pooled_rates.csv")
    assert list(pooled.columns) == R.POOLED_COLUMNS and len(pooled) == 3
    exp = pd.read_csv(EXPECTED)
    exp = exp[(exp["control"] == "default") & (exp["subgroup"] == "All studies") & (exp["method"] == "REML")
              & (exp["transform"] == "logit")].set_index("dataset")
    names = {"cerebral vasospasm (pritz1997)": "pritz1997", "HIV (debruin2009)": "debruin2009",
             R.overall_label("disease"): "combined"}
    for row in pooled.itertuples():
        e = exp.loc[names[row.subgroup]]
        assert (row.k, row.total, row.method, row.transform) == (e["k"], e["total"], "REML", "logit")
        for col in ("pooled", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q", "q_p_value"):
            assert getattr(row, col) == pytest.approx(e[col], abs=1e-6), (row.subgroup, col)
    assert (out / "figures" / "forest_efficacy.png").exists() or (out / "figures" / "forest_efficacy_p1.png").exists()
