"""What each notebook declares in its metadata, and that it is true.

* ``metadata.analysis.parameters``: one declaration per notebook of every parameter's type and
  allowed values (issue 15). It names exactly the parameters of the notebook's parameters
  cell, its defaults pass it, its vocabularies are the package's, and a value that does not
  pass stops ``render`` before any kernel starts (exit 2, one line per notebook).
* ``metadata.analysis.data_files``: the data files a notebook reads, part of its cache key
  (issue 11). Every notebook declares it, and it is what the notebook reads: each notebook is
  run with a dataset that records which of its tables the code touches.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
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
    from analysis.rates.vocab import EFFECT_MEASURES, PI_METHODS, POOL_METHODS, POOLED_CI, TRANSFORMS
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
        ("03_response_rates", "pooled_ci"): list(POOLED_CI),
        ("03_response_rates", "pi_method"): list(PI_METHODS),
        ("03_response_rates", "effect_measure"): list(EFFECT_MEASURES),
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
        "error: 03_response_rates.ipynb: parameter pool_method: expected one of REML, DL, PM, GLMM, found 'REM' "
        "(default: 'GLMM', a str)"]),
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


# --------------------------------------------------------------------------- data files

_DATASET_FILES = {  # Dataset attribute -> the data files it comes from (schemas.FILES names)
    "sources": ["sources"], "patients": ["patients"], "events": ["events"],
    "lines": ["events", "patients", "sources"], "graph": ["events"], "cohort_outcomes": ["cohort_outcomes"],
    "ipd": ["ipd"], "km_curves_points": ["km_points"], "km_curves_at_risk": ["km_at_risk"],
    "groups": ["groups"],
    "summary": [], "data_dir": [], "files": [],  # summary() reads the tables through the attributes above
}


def _pattern(name: str) -> str:
    """``sources.*`` (csv or xlsx) or ``km_curves/*`` (a folder of files)."""
    path = schemas.FILES[name].path
    return path.split("/")[0] + "/*" if "/" in path else path.split(".")[0] + ".*"


_RECORD = r'''
import functools, json, sys, tempfile
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import analysis.load as load
import analysis.style as style

def close(figs, *args, **kwargs):  # what is drawn does not matter here, only what is read
    for fig in figs if isinstance(figs, list) else [figs]:
        plt.close(fig)

style.show_figure = style.show_figures = close
real = load.load_dataset
result = {}
for path in map(Path, sys.argv[2:]):
    used = set()

    class Recording:
        """The dataset, noting every attribute the notebook's code reads (methods see it too)."""
        def __init__(self, ds):
            object.__setattr__(self, "_ds", ds)
        def __getattr__(self, name):
            used.add(name)
            attr = getattr(type(self._ds), name, None)
            return functools.partial(attr, self) if callable(attr) else getattr(self._ds, name)

    load.load_dataset = lambda folder: Recording(real(folder))
    ns = {}
    with tempfile.TemporaryDirectory() as out:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), path.name, "exec"), ns)
                if "parameters" in cell["metadata"].get("tags", []):
                    ns["data_dir"], ns["output_dir"] = sys.argv[1], out
    result[path.stem] = sorted(used)
print("@@" + json.dumps(result))
'''


@pytest.mark.slow
def test_every_notebook_declares_the_data_files_it_reads():
    res = subprocess.run([sys.executable, "-c", _RECORD, str(ROOT / "data"), *map(str, NOTEBOOKS)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    used = json.loads(res.stdout.rsplit("@@", 1)[1])
    for nb in NOTEBOOKS:
        declared = _meta(nb).get("data_files")
        assert isinstance(declared, list), f"{nb.name}: no metadata.analysis.data_files"
        unknown = [a for a in used[nb.stem] if a not in _DATASET_FILES]
        assert not unknown, f"{nb.name} reads Dataset.{unknown}: add them to _DATASET_FILES"
        # groups.csv is validated (and can fail) every load, so every notebook depends on it
        reads = {_pattern(f) for a in used[nb.stem] for f in _DATASET_FILES[a]} | {_pattern("groups")}
        assert sorted(declared) == sorted(reads), f"{nb.name}: declares {declared}, reads {sorted(reads)}"
