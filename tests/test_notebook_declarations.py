"""What each notebook declares in its metadata, and that it is true.

* ``metadata.analysis.parameters``: one declaration per notebook of every parameter's type and
  allowed values (issue 15). It names exactly the parameters of the notebook's parameters
  cell, its defaults pass it, its vocabularies are the package's, and a value that does not
  pass stops ``render`` before any kernel starts (exit 2, one line per notebook).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from analysis import render, schemas, timing

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _meta(nb: Path) -> dict:
    return json.loads(nb.read_text(encoding="utf-8"))["metadata"].get("analysis", {})


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_declared_once_and_its_default_passes(nb):
    decl = render.parameter_declaration(nb)
    assert decl is not None, f"{nb.name}: no metadata.analysis.parameters"
    names = [n for n in render.declared_parameters(nb) if n not in render.RESERVED_PARAMETERS]
    assert sorted(decl) == sorted(names), f"{nb.name}: declared {sorted(decl)}, parameters cell {sorted(names)}"
    defaults = render.parameter_defaults(nb)
    for name in names:
        assert name in defaults, f"{nb.name}: the default of {name} is not a literal"
        ok, value = render.check_value(decl[name], defaults[name])
        assert ok and value == defaults[name], f"{nb.name}: default {name} = {defaults[name]!r} fails {decl[name]}"


def test_declared_vocabularies_are_the_packages():
    """The allowed values are the package's own vocabularies, written out (JSON has no imports):
    a change there must reach the declarations."""
    from analysis.rates.vocab import CI_METHODS as RATE_CI
    from analysis.rates.vocab import POOL_METHODS, TRANSFORMS
    from analysis.survival import CI_METHODS as KM_CI
    from analysis.survival import GROUP_COLUMNS, SURVIVAL_SOURCES
    from analysis.timelines.table import TABLE_COLUMNS

    expected = {
        ("01_case_timelines", "time_unit"): list(timing.TIME_UNITS),
        ("01_case_timelines", "anchor"): ["line", "calendar", *schemas.EVENT_TYPES],
        ("01_case_timelines", "min_evidence_level"): list(schemas.EVIDENCE_LEVELS),
        ("01_case_timelines", "source_kinds"): list(schemas.SOURCE_KINDS),
        ("01_case_timelines", "sort_by"): ["follow_up", "data", *TABLE_COLUMNS],
        ("02_relapse_free_survival", "time_unit"): list(timing.TIME_UNITS),
        ("02_relapse_free_survival", "ci_method"): list(KM_CI),
        ("02_relapse_free_survival", "group_by"): list(GROUP_COLUMNS),
        ("02_relapse_free_survival", "survival_sources"): list(SURVIVAL_SOURCES),
        ("03_response_rates", "ci_method"): list(RATE_CI),
        ("03_response_rates", "pool_method"): list(POOL_METHODS),
        ("03_response_rates", "transform"): list(TRANSFORMS),
        ("03_response_rates", "min_evidence_level"): list(schemas.EVIDENCE_LEVELS),
        ("03_response_rates", "sensitivity_min_evidence"): list(schemas.EVIDENCE_LEVELS),
    }
    decls = {nb.stem: render.parameter_declaration(nb) for nb in NOTEBOOKS}
    for (stem, name), allowed in expected.items():
        if name in decls[stem]:
            assert decls[stem][name].get("allowed") == allowed, (stem, name)
    declared_allowed = {(stem, name) for stem, d in decls.items() for name, spec in d.items() if "allowed" in spec}
    assert declared_allowed <= set(expected), declared_allowed - set(expected)


def _args(tmp_path, *params):
    parser = argparse.ArgumentParser()
    render.add_arguments(parser)
    args = parser.parse_args(["--data", str(ROOT / "data"), "--out", str(tmp_path / "out"),
                              "--notebooks", str(ROOT / "notebooks"), *[a for p in params for a in ("-p", p)]])
    return args


@pytest.mark.parametrize("param, lines", [
    ("time_unit=decades", [
        "error: 01_case_timelines.ipynb: parameter time_unit: expected one of days, weeks, months, years, found "
        "'decades' (default: 'months', a str)",
        "error: 02_relapse_free_survival.ipynb: parameter time_unit: expected one of days, weeks, months, years, found "
        "'decades' (default: 'months', a str)"]),
    ("pool_method=REM", [
        "error: 03_response_rates.ipynb: parameter pool_method: expected one of REML, DL, PM, found 'REM' "
        "(default: 'REML', a str)"]),
    ("landmarks=[6, twelve]", [
        "error: 02_relapse_free_survival.ipynb: parameter landmarks: expected a list of numbers >= 0, found "
        "[6, 'twelve'] (default: [12, 24, 60], a list)"]),
    ("alpha=1", [
        "error: 02_relapse_free_survival.ipynb: parameter alpha: expected a number > 0 and < 1, found 1 "
        "(default: 0.05, a float)",
        "error: 03_response_rates.ipynb: parameter alpha: expected a number > 0 and < 1, found 1 "
        "(default: 0.05, a float)"]),
    ("max_lanes=0", [
        "error: 01_case_timelines.ipynb: parameter max_lanes: expected a whole number >= 1, found 0 "
        "(default: 40, an int)"]),
    ("include_anecdotes=maybe", [
        "error: 01_case_timelines.ipynb: parameter include_anecdotes: expected true or false, found 'maybe' "
        "(default: True, a bool)"]),
    ("group_by=[therapy, colour]", [
        "error: 02_relapse_free_survival.ipynb: parameter group_by: expected one of therapy, disease, source_kind, "
        "study, group, evidence_level, survival_source, a list of them, or null, found ['therapy', 'colour'] "
        "(default: None)"]),
    ("filters=therapy", [
        "error: 02_relapse_free_survival.ipynb: parameter filters: expected text written column=value or a list of "
        "texts written column=value, found 'therapy' (default: [], a list)",
        "error: 03_response_rates.ipynb: parameter filters: expected text written column=value or a list of "
        "texts written column=value, found 'therapy' (default: [], a list)"]),
    ("patient_ids=[1, 2]", [
        "error: 01_case_timelines.ipynb: parameter patient_ids: expected text, a list of texts, or null, found "
        "[1, 2] (default: None); put text that reads as a number or true/false in quotes, e.g. -p \"key='007'\""]),
])
def test_a_value_the_notebook_does_not_accept_stops_the_run_before_any_kernel(tmp_path, capsys, param, lines):
    assert render.run(_args(tmp_path, param)) == 2
    assert capsys.readouterr().err.splitlines() == lines
    assert not (tmp_path / "out").exists()  # nothing written, no kernel started


@pytest.mark.parametrize("param, notebook, value", [
    ("min_studies=2.0", "03_response_rates", 2),  # a whole number written with a point
    ("alpha=0.1", "02_relapse_free_survival", 0.1),
    ("survival_sources=cases", "02_relapse_free_survival", "cases"),
    ("group_by=[therapy, disease]", "02_relapse_free_survival", ["therapy", "disease"]),
    ("min_evidence_level=null", "03_response_rates", None),
    ("landmarks=[6, 12.5]", "02_relapse_free_survival", [6, 12.5]),
    ("filters=[therapy=UC-MSC, disease=lupus]", "03_response_rates", ["therapy=UC-MSC", "disease=lupus"]),
])
def test_values_the_notebooks_accept_pass_as_the_notebook_receives_them(param, notebook, value):
    nbs = render.find_notebooks(ROOT / "notebooks")
    params = render.parse_parameters([param])
    checked = render.check_parameters(nbs, render.assign_parameters(nbs, params))
    name = param.split("=")[0]
    assert checked[notebook][name] == value and type(checked[notebook][name]) is type(value)


def test_a_declaration_in_error_is_named(tmp_path):
    nb = tmp_path / "x.ipynb"

    def write(decl):
        nb.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]},
                                             "source": "data_dir = 'd'\noutput_dir = 'o'\nk = 1\n", "outputs": []}],
                                  "metadata": {"analysis": {"parameters": decl}}}))

    write({"k": {"type": "integer"}})
    with pytest.raises(render.RenderError, match=r"x.ipynb: metadata.analysis.parameters.k: type integer is not one of"):
        render.parameter_declaration(nb)
    write({"k": {"type": "int", "maximum": 3}})
    with pytest.raises(render.RenderError, match=r"unknown key\(s\) 'maximum'"):
        render.parameter_declaration(nb)
    write({})
    with pytest.raises(render.RenderError, match="x.ipynb: parameter k is in the parameters cell but not declared"):
        render.check_parameters([nb], {"x": {"k": 2}})


def test_expectations_in_words():
    assert render.expectation({"type": "str", "allowed": ["a", "b"]}) == "one of a, b"
    assert render.expectation({"type": "str", "allowed": ["a"], "nullable": True}) == "one of a or null"
    assert render.expectation({"type": "int", "min": 2}) == "a whole number >= 2"
    assert render.expectation({"type": "float", "exclusive_min": 0, "max": 1}) == "a number > 0 and <= 1"
    assert render.expectation({"type": ["str", "list[str]"], "nullable": True}) == "text, a list of texts, or null"
    assert render.expectation({"type": "list[float]"}) == "a list of numbers"
    assert render.expectation({"type": "bool"}) == "true or false"
