"""The fast paths of reading and writing CSV give exactly what the slow, careful paths give.

* :func:`analysis.load.csvfast.parse` (pandas' C parser) must return the cells Python's
  ``csv.reader(strict=True)`` returns, or None (then the loader uses ``csv``);
* :func:`analysis.export.write_csv` must write the bytes ``save_table`` writes with pandas.

Synthetic texts and tables only.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import export
import analysis.load.csvfast as csvfast

CELL = st.text(alphabet='ab é",;\t\r\n=+-@\xa0', max_size=6)


def csv_rows(text: str, delimiter: str):
    """What the loader's slow path reads: rows of cells, or None where ``csv`` refuses."""
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error:
        return None


def agrees(text: str, delimiter: str) -> None:
    fast = csvfast.parse(text.encode("utf-8"), delimiter)
    if fast is None:
        return  # read by csv
    cells = [list(r) for r in zip(*fast.columns)]
    rows = csv_rows(text, delimiter)
    assert rows is not None, f"pandas read what csv refuses: {text!r}"
    width = len(fast.columns)
    assert len(rows) == len(cells)
    for row, got in zip(rows, cells):
        assert len(row) <= width
        assert row + [""] * (width - len(row)) == got, text  # a blank line: an empty row
        assert sum(map(len, row)) <= fast.longest
        if fast.stripped:  # then no cell needs stripping
            assert all(c == c.strip() for c in row), text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELL, min_size=1, max_size=4), min_size=1, max_size=6), st.sampled_from([",", ";"]))
def test_parse_reads_what_csv_reads_or_leaves_the_file_to_it(table, delimiter):
    """Well-formed files, written by csv (quotes where needed, line breaks in cells)."""
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(table)
    agrees(buf.getvalue(), delimiter)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet='ab",;\r\n ', max_size=40), st.sampled_from([",", ";"]))
def test_parse_never_reads_a_file_two_ways(text, delimiter):
    """Any text at all (stray quotes, text after a closing quote, lone carriage returns)."""
    agrees(text, delimiter)


@pytest.mark.parametrize("text", ['a,b\n"x"y,2\n', 'a,b\n""c,2\n', 'a,b\n"a,"""b",2\n', 'a,b\nx"y,2\n',
                                  'a,b\r1,2\r', 'a,b\n"unclosed,2\n', 'a,b\n1,2,3\n'])
def test_the_files_pandas_would_read_otherwise_are_left_to_csv(text):
    assert csvfast.parse(text.encode("utf-8"), ",") is None


def test_well_formed_quotes_crlf_and_blank_lines_are_read_fast():
    text = 'id,quote\r\n1,"He said ""hi"", then left"\r\n\r\n2,"two\r\nlines"\r\n'
    fast = csvfast.parse(text.encode("utf-8"), ",")
    assert [list(r) for r in zip(*fast.columns)] == [["id", "quote"], ["1", 'He said "hi", then left'], ["", ""],
                                                     ["2", "two\r\nlines"]]
    assert not fast.stripped  # a cell holds a line break: stripped, to be sure


@pytest.mark.parametrize(("text", "stripped"), [("a,b\n1,2\n", True), ("a,b\n1 ,2\n", False), ("a,b\n1, 2\n", False),
                                                ('a,b\n"1 ",2\n', False), ("a,b\n1 x,2\n", True),
                                                ("a,b\n1,2\xa0\n", False), ("a,b\n1,2 \n", False)])
def test_only_files_without_spaces_at_cell_edges_skip_stripping(text, stripped):
    assert csvfast.parse(text.encode("utf-8"), ",").stripped is stripped


# ----------------------------------------------------------------------------- writing


TEXT = st.one_of(st.none(), st.text(alphabet='ab é",\n\r\t=+-@\'', max_size=8))
FLOAT = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.1, -0.0, 1e-300, 2.5e16]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(TEXT, FLOAT, st.integers(-10**15, 10**15), st.one_of(st.none(), st.integers(-5, 5))),
                min_size=1, max_size=30))
def test_write_csv_writes_what_pandas_writes(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("w")
    df = pd.DataFrame({"text": pd.Series([r[0] for r in rows], dtype=object),
                       "=x": [r[1] for r in rows],
                       "n": np.array([r[2] for r in rows], dtype=np.int64),
                       "k": pd.array([r[3] for r in rows], dtype="Int64")})
    export.write_csv(df, folder / "fast.csv")
    export.neutralise_formulas(df).to_csv(folder / "pandas.csv", index=False, encoding="utf-8",
                                          quoting=csv.QUOTE_NONNUMERIC)
    assert (folder / "fast.csv").read_bytes() == (folder / "pandas.csv").read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(TEXT, TEXT, FLOAT), min_size=1, max_size=30),
       st.permutations(["id", "id2", "text", "x", "same", "again"]))
def test_ids_texts_and_repeated_columns_in_any_order_are_written_as_pandas_writes_them(tmp_path_factory, rows, order):
    """Id-like columns (mostly distinct texts: written as they are between quotes when they can
    be), columns equal to another (coded once) and texts, side by side in any order."""
    folder = tmp_path_factory.mktemp("w")
    ids = [("" if r[0] is None else r[0]) + str(i) for i, r in enumerate(rows)]
    df = pd.DataFrame({"id": pd.Series(ids, dtype=object),
                       "id2": pd.Series([f"P{i}" if r[1] is None else r[1] + "x" * i for i, r in enumerate(rows)],
                                        dtype=object),
                       "text": pd.Series([r[1] for r in rows], dtype=object),
                       "x": [r[2] for r in rows], "same": [r[2] for r in rows],
                       "again": pd.Series([r[1] for r in rows], dtype=object)})[list(order)]
    export.write_csv(df, folder / "fast.csv")
    export.neutralise_formulas(df).to_csv(folder / "pandas.csv", index=False, encoding="utf-8",
                                          quoting=csv.QUOTE_NONNUMERIC)
    assert (folder / "fast.csv").read_bytes() == (folder / "pandas.csv").read_bytes()


@pytest.mark.parametrize("few", [1, 4, 50_000])
def test_runs_of_columns_are_joined_as_far_as_their_combinations_allow(tmp_path, monkeypatch, few):
    """However many distinct combinations a piece may hold, the bytes are pandas'."""
    monkeypatch.setattr(export, "_FEW", few)
    n = 40
    df = pd.DataFrame({"a": np.arange(n) % 3, "b": (np.arange(n) % 5).astype(float),
                       "c": pd.Series(np.where(np.arange(n) % 2, "=x", 'y"z'), dtype=object),
                       "id": pd.Series([f"id{i}" for i in range(n)], dtype=object), "d": np.arange(n) % 3,
                       "e": pd.array([None if i % 4 else i for i in range(n)], dtype="Int64")})
    export.write_csv(df, tmp_path / "fast.csv")
    assert (tmp_path / "fast.csv").read_bytes() == \
        export.neutralise_formulas(df).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")


@pytest.mark.parametrize("other", [None, float("nan"), pd.NA, "=x", 'a"b', "", "ipd ", "'", 7, 1.5])
def test_a_column_of_mostly_one_text_is_written_as_pandas_writes_it(tmp_path, other):
    """One text in most rows (found by comparison, not hashing) and anything else in a few."""
    n = 50
    cells = np.array(["ipd"] * n, dtype=object)
    cells[[0, 17, 49]] = other
    cells[5] = "".join(["i", "pd"])  # equal, another object
    df = pd.DataFrame({"source": pd.Series(cells, dtype=object), "n": np.arange(n)})
    if export._columns(df) is None:  # not plain (a number among the texts): pandas writes it
        assert isinstance(other, (int, float)) and not pd.isna(other)
        return
    export.write_csv(df, tmp_path / "fast.csv")
    assert (tmp_path / "fast.csv").read_bytes() == \
        export.neutralise_formulas(df).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")


def test_a_large_table_of_ids_is_written_as_pandas_writes_it(tmp_path):
    n = export.FAST_ROWS + 7
    df = pd.DataFrame({"patient_id": np.arange(n).astype(str).astype(object), "time": np.arange(n) / 7.0,
                       "cause": np.where(np.arange(n) % 3, "relapse", "").astype(object)})
    assert export.save_table(df, tmp_path, "big").read_bytes() == \
        export.neutralise_formulas(df).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")


# ----------------------------------------------------------------------------- counting rows for the index


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="ab,; \t\r\n\x0b", max_size=60))
def test_rows_of_a_plain_file_are_counted_as_csv_counts_them(tmp_path_factory, text):
    """render's index counts data rows; a quote-free ASCII file is counted on its lines."""
    from analysis.render import folders

    path = tmp_path_factory.mktemp("rows") / "a.csv"
    path.write_bytes(text.encode("ascii"))
    with open(path, newline="", encoding="utf-8") as fh:
        want = max(sum(1 for row in csv.reader(fh) if any(c.strip() for c in row)) - 1, 0)
    assert folders._count_rows(path) == want


def test_every_white_space_beyond_ascii_is_seen_and_nothing_else():
    """A cell ending in NBSP must be stripped as csv's path strips it: every character
    ``str.isspace`` calls white space (and no other) is found in the UTF-8 bytes."""
    import sys

    for code in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= code < 0xE000:
            continue
        c = chr(code)
        raw = np.frombuffer(f"a{c}b".encode("utf-8"), dtype=np.uint8)
        assert csvfast._wide_spaces(raw) is c.isspace(), hex(code)
