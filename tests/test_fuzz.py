"""Property-based tests (hypothesis): any input gives valid tables or validation errors.

- the date and offset parsers: any text -> an ``Interval`` (lo <= best <= hi) or ``ValueError``;
- offset chains: any child -> parent graph, cycles removed, resolves to ordered intervals;
- ``load_dataset`` / ``python -m analysis validate`` on the valid base folder with random
  cells or random bytes: a ``Dataset`` or ``DataValidationError``, never another exception;
  every printed line is one ``file:row:column: message`` line;
- round trip: valid data written back as CSV and read again is unchanged.

Bounded (max_examples 30-200, no deadline) so the file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from analysis import schemas, timing
from analysis.cli import main
from analysis.load import load_dataset

BASE = Path(__file__).resolve().parent / "bad_data" / "_base"
FAST = settings(max_examples=200, deadline=None)
N = int(os.environ.get("FUZZ_EXAMPLES", "0"))  # FUZZ_EXAMPLES=1000 for a longer hunt
SLOW = settings(max_examples=N or 30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

QUALIFIER = st.sampled_from(["", "about", "within", "at_least"]) | st.text(max_size=8)
UNITS = ["day", "days", "week", "weeks", "month", "months", "year", "years", "Months", "yrs", "mo", ""]
DATE_LIKE = st.from_regex(r"\A[0-9]{1,5}(-[0-9]{1,3}(-[0-9]{1,3})?)?\Z") | st.builds(
    lambda y, m, d: f"{y}-{m:02d}-{d:02d}", st.integers(1790, 2210), st.integers(0, 13), st.integers(0, 32))
OFFSET_LIKE = st.builds(
    lambda sign, num, space, unit: f"{sign}{num}{space}{unit}",
    st.sampled_from(["+", "-", "", "±", "++"]),
    st.one_of(st.integers(0, 10**6).map(str), st.floats(0, 1e6, allow_nan=False).map(repr),
              st.text("0123456789.,", max_size=8)),
    st.sampled_from(["", " ", "  ", "\t"]),
    st.sampled_from(UNITS),
)


def ordered(iv: timing.Interval) -> bool:
    return not any(math.isnan(v) for v in (iv.lo, iv.best, iv.hi)) and iv.lo <= iv.best <= iv.hi


# ----------------------------------------------------------------------------- parsers


@FAST
@given(text=st.text() | DATE_LIKE, qualifier=QUALIFIER)
def test_parse_date_gives_an_ordered_interval_or_valueerror(text, qualifier):
    try:
        iv = timing.parse_date(text, qualifier)
    except ValueError as exc:
        assert str(exc).startswith("expected ") and "\n" not in str(exc) and len(str(exc)) < 400
        return
    assert ordered(iv)
    lo, hi = timing.parse_date("1800").lo, timing.parse_date("2200").hi
    slack = 366 if qualifier == "about" else 0
    assert lo - slack <= iv.lo and iv.hi <= hi + slack


@FAST
@given(text=st.text() | OFFSET_LIKE, qualifier=QUALIFIER, from_birth=st.booleans())
def test_offsets_give_an_ordered_interval_or_valueerror(text, qualifier, from_birth):
    try:
        days = timing.parse_offset(text)
    except ValueError as exc:
        assert str(exc).startswith("expected ") and "\n" not in str(exc) and len(str(exc)) < 400
        with pytest.raises(ValueError):
            timing.offset_interval(text, "", from_birth)
        return
    assert math.isfinite(days) and abs(days) <= timing.MAX_OFFSET_YEARS * 365.25
    try:
        iv = timing.offset_interval(text, qualifier, from_birth)
    except ValueError as exc:
        assert qualifier not in timing.QUALIFIERS and str(exc).startswith("expected qualifier")
        return
    assert ordered(iv)
    assert iv.lo <= days <= iv.hi
    if qualifier == "at_least":
        assert math.isinf(iv.lo) or math.isinf(iv.hi)
    else:
        assert math.isfinite(iv.lo) and math.isfinite(iv.hi)


@FAST
@given(edges=st.dictionaries(st.integers(0, 12), st.integers(0, 13), max_size=13),
       ivs=st.lists(st.tuples(st.floats(-1e4, 1e4), st.floats(0, 1e3), st.floats(0, 1e3)), min_size=14, max_size=14),
       pair=st.tuples(st.integers(0, 13), st.integers(0, 13)))
def test_offset_chains_without_cycles_resolve_to_ordered_intervals(edges, ivs, pair):
    """Any child -> parent graph: cycles are found, and the rest resolves through chains."""
    edges = {f"e{c}": f"e{p}" for c, p in edges.items()}
    cycles = timing.find_cycles(edges)
    for cycle in cycles:  # each reported cycle is one
        for a, b in zip(cycle, cycle[1:] + cycle[:1]):
            assert edges[a] == b
    in_cycle = {e for c in cycles for e in c}
    parent = {}
    for child, ref in edges.items():
        if child not in in_cycle:
            best, down, up = ivs[int(child[1:])]
            parent[child] = (ref, timing.Interval(best - down, best, best + up))
    graph = timing.OffsetGraph(parent)
    a, b = f"e{pair[0]}", f"e{pair[1]}"
    assert len(graph.chain(a)) <= len(parent) + 1
    rel = graph.relative(a, b)
    if rel is not None:
        assert ordered(rel)
    assert graph.relative(a, a) == timing.ZERO


# ----------------------------------------------------------------------------- loader and validate

LINE = re.compile(r"^(sources|patients|events|cohort_outcomes)\.(csv|xlsx):(\d+|-):[^\n]*: \S")
FILES = ["sources.csv", "patients.csv", "events.csv", "cohort_outcomes.csv"]


def base_table(name: str) -> list[list[str]]:
    with (BASE / name).open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


IDS = ["S1", "S2", "P1", "E1", "E2", "E3", "O1", "birth"]
CELL = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(IDS + ["", " ", "0", "-1", "1e6", "nan", "inf", "1,200", "0,75", "2011-02-30",
                           "2011-13", "+6 months", "-0 days", "+0 days", "40821", '"', "\n", "=1+1",
                           "about", "at_least", "within", "yes", "no", "infusion", "relapse"]),
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    DATE_LIKE,
    OFFSET_LIKE,
)


@st.composite
def cell_edits(draw):
    """1-3 cells of the base set to random values (header included, rows beyond added)."""
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(FILES))
        table = base_table(name)
        row = draw(st.integers(0, len(table)))  # len(table): a new row
        col = draw(st.integers(0, len(table[0]) - 1))
        edits.append((name, row, col, draw(CELL)))
    return edits


def run_validate(folder: Path) -> tuple[int, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["validate", str(folder)])
    return rc, out.getvalue().splitlines()


def check_any_folder(folder: Path) -> None:
    """validate exits 0 with a summary or 1 with problem lines; load_dataset agrees."""
    rc, lines = run_validate(folder)
    assert rc in (0, 1)
    if rc == 0:
        assert len(lines) == 1 and ": OK (" in lines[0]
        ds = load_dataset(folder)
        ev = ds.events
        ok = ev["t_lo"].isna() | ((ev["t_lo"] <= ev["t_best"]) & (ev["t_best"] <= ev["t_hi"]))
        assert ok.all()
        return
    assert lines, "exit 1 without a problem line"
    for line in lines:
        assert LINE.match(line), line
        assert len(line) < 1000, line[:200]


@SLOW
@given(edits=cell_edits())
def test_random_cells_give_tables_or_validation_errors(edits):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        shutil.copytree(BASE, folder)
        tables = {name: base_table(name) for name in FILES}
        for name, row, col, value in edits:
            table = tables[name]
            if row == len(table):
                table.append(list(table[-1]))
            table[row][col] = value
        for name, table in tables.items():
            with (folder / name).open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows(table)
        check_any_folder(folder)


@settings(max_examples=N or 20, deadline=None)
@given(name=st.sampled_from(FILES), at=st.floats(0, 1), junk=st.binary(min_size=1, max_size=40),
       mode=st.sampled_from(["insert", "overwrite", "truncate", "replace"]))
def test_random_bytes_give_tables_or_validation_errors(name, at, junk, mode):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        shutil.copytree(BASE, folder)
        raw = (folder / name).read_bytes()
        i = int(at * len(raw))
        raw = {"insert": raw[:i] + junk + raw[i:], "overwrite": raw[:i] + junk + raw[i + len(junk):],
               "truncate": raw[:i], "replace": junk}[mode]
        (folder / name).write_bytes(raw)
        check_any_folder(folder)


# ----------------------------------------------------------------------------- round trip

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40).map(str.strip)
REQUIRED_TEXT = TEXT.filter(bool)


def write_back(ds, folder: Path) -> None:
    """Write a Dataset's four tables as CSV data files (the schema's columns only)."""
    folder.mkdir()
    for name, df in (("sources", ds.sources), ("patients", ds.patients), ("events", ds.events),
                     ("cohort_outcomes", ds.cohort_outcomes)):
        cols = schemas.FILES[name].column_names
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for rec in df[cols].to_dict("records"):
                if "controlled" in rec and (rec["controlled"] is None or rec["controlled"] is pd.NA):
                    rec["controlled"] = "not_reported"  # the loader reads not_reported as unknown
                w.writerow([_cell(v) for v in rec.values()])


def _cell(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def assert_same(ds1, ds2) -> None:
    for table in ("sources", "patients", "events", "lines", "cohort_outcomes"):
        pd.testing.assert_frame_equal(getattr(ds1, table), getattr(ds2, table), check_dtype=True)


def test_shipped_data_round_trips():
    """The shipped data, written back and read again, gives the same tables (to the bit)."""
    from conftest import DATA

    ds1 = load_dataset(DATA)
    with tempfile.TemporaryDirectory() as tmp:
        write_back(ds1, Path(tmp) / "data")
        assert_same(ds1, load_dataset(Path(tmp) / "data"))


@st.composite
def valid_tables(draw):
    """The base folder with random but valid values in every free cell."""
    t = {name: base_table(name) for name in FILES}

    def put(name, row, col, value):
        t[name][row][t[name][0].index(col)] = value

    for row in (1, 2):
        put("sources.csv", row, "citation", draw(REQUIRED_TEXT))
        put("sources.csv", row, "notes", draw(TEXT))
        put("sources.csv", row, "year", draw(st.sampled_from(["", *map(str, range(1900, 2101, 7))])))
        put("sources.csv", row, "evidence_level", draw(st.sampled_from(schemas.EVIDENCE_LEVELS)))
    put("patients.csv", 1, "age_years", draw(st.one_of(st.just(""), st.floats(0, 120).map(repr))))
    for col in ("diseases", "therapy", "quote"):
        put("patients.csv", 1, col, draw(REQUIRED_TEXT))
    put("patients.csv", 1, "comorbidity", draw(TEXT))
    # two chained offsets of up to 100 years (+10 % "about") must stay before 2200, the calendar's end
    put("events.csv", 1, "date", draw(st.dates(pd.Timestamp("1800-01-01").date(), pd.Timestamp("1975-12-31").date())).isoformat())
    put("events.csv", 1, "dose", draw(st.floats(0, 1e12).map(repr)))
    put("events.csv", 3, "offset_from", "E2")  # the last follow-up after the remission (never before it)
    for row in (2, 3):
        n = draw(st.integers(0, 100))
        unit = draw(st.sampled_from(["days", "weeks", "months", "years"]))
        put("events.csv", row, "offset", f"+{n} {unit}")
        put("events.csv", row, "qualifier", draw(st.sampled_from(["", "about", "within", "at_least"])))
    for row in (1, 2, 3):
        put("events.csv", row, "quote", draw(REQUIRED_TEXT))
        put("events.csv", row, "detail", draw(TEXT))
        put("events.csv", row, "notes", draw(TEXT))
    total = draw(st.integers(1, 10**6))
    put("cohort_outcomes.csv", 1, "total", str(total))
    put("cohort_outcomes.csv", 1, "events", str(draw(st.integers(0, total))))
    put("cohort_outcomes.csv", 1, "time_value", draw(st.floats(0, 100).map(repr)))
    put("cohort_outcomes.csv", 2, "proportion", draw(st.floats(0, 1).map(repr)))
    for row in (1, 2):
        put("cohort_outcomes.csv", row, "definition", draw(REQUIRED_TEXT))
        put("cohort_outcomes.csv", row, "quote", draw(REQUIRED_TEXT))
    return t


@settings(max_examples=N or 15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=valid_tables())
def test_valid_data_written_back_and_read_again_is_unchanged(tables):
    with tempfile.TemporaryDirectory() as tmp:
        first = Path(tmp) / "first"
        first.mkdir()
        for name, table in tables.items():
            with (first / name).open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows(table)
        ds1 = load_dataset(first)
        # the text typed is the text read (cells are stripped, so TEXT is; empty is missing)
        header, *rows = tables["events.csv"]
        for i, col in enumerate(schemas.EVENTS.columns):
            if col.kind not in ("int", "float"):
                got = [None if pd.isna(v) else v for v in ds1.events[col.name]]
                assert got == [r[i] or None for r in rows]
        write_back(ds1, Path(tmp) / "second")
        assert_same(ds1, load_dataset(Path(tmp) / "second"))
