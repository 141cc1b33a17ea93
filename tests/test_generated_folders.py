"""Generated data folders (tests/strategies.py): valid ones validate and feed every notebook's
analysis; one mutation of a valid one is named by file, row and column, in seconds.

- **valid**: ``python -m analysis validate`` exits 0 with the folder's row counts, and the
  entry points the notebooks call run without an exception: patient selection (01), the
  timeline table (01), survival data, Kaplan-Meier fit and its tables (02), study rates
  and pooling (03). Survival and timelines are reached through ``analysis.survival`` and
  ``analysis.timelines`` public names only (as the notebooks import them).
- **invalid**: one mutation (a bad category, text in a number column, a dangling
  reference, a removed column, a duplicated id, an offset cycle, a bad date, ...) makes
  validate exit 1 without a traceback, every line ``file:row:column: message``, one of
  them naming the mutated file (and its row and column where the mutation has one), all
  within :data:`TIME_LIMIT` seconds.

The budget is small so the file runs in about a minute in ``make test``; ``FUZZ_EXAMPLES=2000``
(``make fuzz``) runs each property that many times.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
from unittest import mock
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from analysis import load, schemas
from analysis.cli import main
from strategies import DataFileRows, Folder, data_folders, write_folder
from time_limit import time_limit

N = int(os.environ.get("FUZZ_EXAMPLES", "0"))
settings.register_profile(
    "generated-folders", max_examples=N or 15, deadline=None, derandomize=not N,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.large_base_example])
GENERATED = settings(settings.get_profile("generated-folders"))
INVALID = settings(GENERATED, max_examples=N or 25)
TIME_LIMIT = 10.0
"""Seconds one validation or one run of the notebooks' analyses of a generated (small)
folder may take: a guard against hangs (a run takes well under a second), not a timing."""


def validate(folder: Path) -> tuple[int, list[str], str, load.Dataset | None]:
    """``python -m analysis validate FOLDER`` in this process (an exception it lets out fails
    the test; one it prints would show as a traceback in ``err``): exit code, standard output
    lines, standard error, and the dataset it loaded (None when there were problems)."""
    out, err, loaded = io.StringIO(), io.StringIO(), []
    real = load.load_dataset

    def recording(*args, **kwargs):
        loaded.append(real(*args, **kwargs))
        return loaded[-1]

    with time_limit(TIME_LIMIT, "validation"), mock.patch.object(load, "load_dataset", recording), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["validate", str(folder)])
    return rc, out.getvalue().splitlines(), err.getvalue(), (loaded[0] if loaded else None)


def run_notebook_entry_points(ds) -> None:
    """What notebooks 01-03 compute from a dataset (figures aside), by their public names."""
    from analysis import rates as rt
    from analysis import survival as sv
    from analysis import timelines as tl
    from analysis.select import select_patients

    select_patients(ds)
    table = tl.timeline_table(ds, anchor="line", time_unit="months")
    if len(table):
        tl.not_placeable(table)
        tl.events_table(table)
    data, excluded, checks = sv.survival_data(ds, ["cases", "ipd", "reconstructed"], "months")
    for group_by in (None, "survival_source"):
        fit = sv.km_fit(data, group_by, time_unit="months")
        sv.km_estimates(fit)
        summary = sv.km_summary(fit)
        sv.km_landmarks(fit, [12, 24, 60])
        sv.logrank(fit)
        statements = sv.cohort_statements(ds.cohort_outcomes, ds.sources, "months")
        ticks = sv.default_ticks(fit, sv.axis_max(fit, statements))
        sv.at_risk_table(fit, ticks)
        sv.median_text(fit, summary)
        sv.evidence_statement(fit, summary)
    rates = rt.study_rates(ds.cohort_outcomes, ds.sources)
    pooling = rt.pool_rates(rates, subgroup_by="disease", min_studies=2)
    rt.statement(pooling.status)
    rt.sensitivity_table(rates, subgroup_by="disease", min_studies=2)
    rt.response_categories(rates)
    rt.evidence_summary(rates)


# ----------------------------------------------------------------------------- valid folders


@GENERATED
@given(folder=data_folders())
def test_a_generated_valid_folder_validates_and_every_notebook_analysis_runs(folder):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_folder(folder, Path(tmp) / "data")
        rc, out, err, ds = validate(path)
        assert rc == 0, "\n".join(out)
        assert out == [f"{path}: OK ({', '.join(f'{v} {k}' for k, v in ds.summary().items())})"]
        got = ds.summary()
        got.pop("treatment lines")
        assert got == folder.summary()
        with time_limit(TIME_LIMIT, "the notebooks' analyses"):
            run_notebook_entry_points(ds)


# ----------------------------------------------------------------------------- one mutation


@dataclass
class Mutation:
    kind: str
    stem: str
    row: int | None  # index into the file's rows (None: the header or the whole file)
    column: str | None
    value: str = ""
    other: int | None = None  # a second row (duplicated id, offset cycle)


def _cols(f: DataFileRows) -> dict[str, schemas.Col]:
    return {c.name: c for c in f.data_file.columns if c.name in f.columns}


def candidate_mutations(folder: Folder) -> list[Mutation]:
    out: list[Mutation] = []
    for stem, f in folder.files.items():
        cols = _cols(f)
        out.append(Mutation("unknown_column", stem, None, "reviewer"))
        out += [Mutation("removed_column", stem, None, c) for c in cols if cols[c].in_header]
        for i, r in enumerate(f.rows):
            for name, c in cols.items():
                if c.allowed:
                    out.append(Mutation("bad_category", stem, i, name, f"{c.allowed[0]}-typo"))
                if c.kind in ("int", "float"):
                    out.append(Mutation("text_in_number", stem, i, name, "about forty"))
                    if c.max_value is not None:
                        out.append(Mutation("out_of_range", stem, i, name, f"{c.max_value + 1000:g}"))
                    elif c.min_value is not None:
                        out.append(Mutation("out_of_range", stem, i, name, f"{c.min_value - 1000:g}"))
                if c.kind == "ref":
                    out.append(Mutation("dangling_reference", stem, i, name, "ZZ-nowhere"))
                if c.kind == "id":
                    out.append(Mutation("reserved_id", stem, i, name, "@calendar"))
                    if len(f.rows) > 1:
                        out.append(Mutation("duplicated_id", stem, i, name, other=(i + 1) % len(f.rows)))
                if c.required:
                    out.append(Mutation("empty_required_cell", stem, i, name))
            if stem == "events":
                out.append(Mutation("bad_date", stem, i, "date", "2011-02-30"))
                ref = r["offset_from"]
                if ref and ref != "birth":
                    j = next(k for k, o in enumerate(f.rows) if o["event_id"] == ref)
                    out.append(Mutation("dangling_reference", stem, i, "offset_from", "ZZ-nowhere"))
                    out.append(Mutation("offset_cycle", stem, i, "offset_from", other=j))
            if stem == "cohort_outcomes" and r["events"] and r["total"]:
                out.append(Mutation("events_over_total", stem, i, "events", str(int(r["total"]) + 1)))
    out.append(Mutation("unknown_file", "ipd", None, None))
    return out


def apply(folder: Folder, m: Mutation) -> tuple[Folder, str, int | None, str | None]:
    """The mutated folder and where a problem must be named: (file, row, column)."""
    folder = copy.deepcopy(folder)
    if m.kind == "unknown_file":
        rows = folder.files.get("ipd/trial0", DataFileRows("ipd", schemas.IPD, [])).rows
        folder.files["stray"] = DataFileRows("ipd", schemas.IPD, rows)  # a top-level ipd.csv
        return folder, folder.files["stray"].name, None, None
    f = folder.files[m.stem]
    if m.kind == "unknown_column":
        f.header = f.columns + [m.column]
        for r in f.rows:
            r[m.column] = "AB"
        f.data_file = schemas.DataFile(f.data_file.name, f.data_file.path, "", f.data_file.columns +
                                       (schemas.Col(m.column, "text", ""),))
        return folder, f.name, 1, m.column
    if m.kind == "removed_column":
        f.header = [c for c in f.columns if c != m.column]
        return folder, f.name, 1, m.column
    r = f.rows[m.row]
    f.date_cells.pop((m.row, m.column), None)
    row = m.row + 2
    if m.kind == "duplicated_id":
        f.rows[m.other][m.column] = r[m.column]
        return folder, f.name, None, m.column  # either row may be named
    if m.kind == "offset_cycle":
        ref = f.rows[m.other]
        ref.update(date="", offset="+1 days", offset_from=r["event_id"], qualifier="")
        f.date_cells.pop((m.other, "date"), None)
        return folder, f.name, None, "offset_from"  # both rows are named
    if m.kind == "bad_date":
        r.update(date=m.value, offset="", offset_from="", qualifier="")
        return folder, f.name, row, "date"
    r[m.column] = m.value
    return folder, f.name, row, m.column


@INVALID
@given(folder=data_folders(max_patients=2), pick=st.data())
def test_one_mutation_is_named_by_file_row_and_column_in_seconds(folder, pick):
    m = pick.draw(st.sampled_from(candidate_mutations(folder)), label="mutation")
    mutated, name, row, column = apply(folder, m)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_folder(mutated, Path(tmp) / "data")
        rc, out, err, _ = validate(path)
    assert rc == 1, (m, out)
    assert "Traceback" not in err and err.strip().endswith(f"{len(out)} problem(s) in {path}")
    located = []
    for line in out:
        file, r, col, message = line.split(":", 3)
        assert (r == "-" or r.isdigit()) and col and message.startswith(" ") and len(message) > 5, line
        located.append((file, r, col))
    if row is None and column is None:
        assert any(file == name for file, _, _ in located), (m, out)
    elif row is None:
        assert any(file == name and col == column for file, _, col in located), (m, out)
    else:
        assert (name, str(row), column) in located, (m, out)


def test_the_budget_can_be_raised_for_make_fuzz():
    """``FUZZ_EXAMPLES`` sets the number of examples of both properties (``make fuzz``)."""
    profile = settings.get_profile("generated-folders")
    assert profile.max_examples == (N or 15) and profile.deadline is None


COVERAGE = {
    "xlsx": lambda f: any(x.fmt.kind == "xlsx" for x in f.files.values()),
    "utf-16": lambda f: any(x.fmt.encoding == "utf-16" for x in f.files.values()),
    "semicolons and CRLF": lambda f: any(x.fmt.kind == "csv" and x.fmt.delimiter == ";" and x.fmt.newline == "\r\n"
                                         for x in f.files.values()),
    "NFD": lambda f: any(x.fmt.nfd for x in f.files.values()),
    "at_least offsets": lambda f: any(r["qualifier"] == "at_least" and r["offset"] for r in f.files["events"].rows),
    "ages": lambda f: any(r["offset_from"] == "birth" for r in f.files["events"].rows),
    "undated roots": lambda f: any(r["date"] == "not_reported" for r in f.files["events"].rows),
    "Excel date cells": lambda f: bool(f.files["events"].date_cells),
    "curves": lambda f: "km_curves/points" in f.files,
    "comparisons": lambda f: any(r.get("arm_role") == "control" for r in f.files["cohort_outcomes"].rows),
}


def test_the_generator_draws_what_the_issue_asks():
    """Over a fixed (derandomized) run of draws, every format and kind of coding the issue
    lists comes up."""
    seen: set[str] = set()

    @settings(max_examples=60, database=None, derandomize=True, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(folder=data_folders())
    def draw(folder):
        seen.update(what for what, has in COVERAGE.items() if has(folder))

    draw()
    assert sorted(set(COVERAGE) - seen) == []
