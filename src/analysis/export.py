"""Writing tables for the output contract (``output_dir/tables/NAME.csv``).

Text cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with a single quote, as OWASP recommends
against CSV injection. Numeric columns are written unchanged.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_stem(name: str) -> str:
    """A file stem made from ``name`` that cannot leave its folder.

    Keeps letters, digits, ``-``, ``_`` and ``.``; everything else (``/``, ``\\``, spaces,
    control characters) becomes ``_``; leading dots are removed so ``..`` cannot survive.
    """
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).lstrip(".")
    stem = stem[:120]
    if not stem:
        raise ValueError(f"cannot make a file name from {name!r}")
    return stem


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``df`` whose text cells cannot be read as spreadsheet formulas."""
    out = df.copy()
    out.columns = [_neutral(c) for c in out.columns]
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            continue
        out[col] = series.map(_neutral)
    return out


def _neutral(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def save_table(df: pd.DataFrame, output_dir: str | Path, name: str) -> Path:
    """Write ``df`` to ``output_dir/tables/NAME.csv`` (UTF-8, no index) and return the path."""
    folder = Path(output_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe_stem(name)}.csv"
    columns = _columns(df) if len(df) >= FAST_ROWS else None
    if columns is not None:
        _write(df, columns, path)
        return path
    # QUOTE_NONNUMERIC quotes every text cell, so a cell holding a line break or a bare
    # carriage return stays one cell; numbers are written as numbers.
    neutralise_formulas(df).to_csv(path, index=False, encoding="utf-8", quoting=csv.QUOTE_NONNUMERIC)
    return path


FAST_ROWS = 50_000
"""From this many rows a table of plain columns is written by :func:`write_csv` (a million
rows: under a second instead of a quarter of a minute with pandas' writer)."""
_CHUNK = 100_000
"""Rows formatted and written at a time: about 17 MB of text for survival data, under the
32 MB above which glibc maps each block anew (and the kernel clears its pages) instead of
reusing the last one."""


class _Coded:
    """A column (or a run of adjacent columns) as ``fields[codes]``: the CSV text of row ``i``
    is ``fields[codes[i]]``, each distinct value formatted once."""

    def __init__(self, codes: np.ndarray, fields: np.ndarray):
        self.codes, self.fields = codes, fields


class _Raw:
    """A text column written as its cells between double quotes, with no formatting per cell:
    every cell a ``str`` that needs neither doubled quotes nor a formula guard (ids)."""

    def __init__(self, cells: np.ndarray):
        self.cells = cells


_ID_SAMPLE = 1000
"""A text column whose first this many cells are more than half distinct (ids) is written
:class:`_Raw` when it can be: hashing a million distinct texts costs more than writing them."""


def _columns(df: pd.DataFrame) -> list | None:
    """Every column of ``df`` as :class:`_Coded` or :class:`_Raw`, or None when one is not
    plain: :func:`write_csv` writes float, int, nullable int and text columns (every value a
    ``str`` or missing) as pandas would; anything else is left to pandas."""
    out, floats = [], []
    for name in df.columns:
        column = _column(df[name], floats)
        if column is None:
            return None
        out.append(column)
    return out


def _column(s: pd.Series, floats: list) -> _Coded | _Raw | None:
    """``s`` as pandas' ``to_csv`` writes it with ``QUOTE_NONNUMERIC`` after
    :func:`neutralise_formulas`: text quoted (quotes doubled), a number as ``repr``, a missing
    cell ``\"\"``. None when ``s`` is not plain (see :func:`_columns`). ``floats``: the
    float columns seen so far, as ``(bits, column)``, so an equal column is coded once."""
    if s.dtype == "float64":  # by bit pattern: -0.0 is written apart from 0.0, a NaN as missing
        bits = s.to_numpy().view(np.int64)
        for seen, coded in floats:
            if np.array_equal(seen, bits):
                return coded
        codes, uniques = pd.factorize(bits)
        values = np.asarray(uniques, dtype=np.int64).view(np.float64)
        coded = _Coded(codes, np.array(['""' if np.isnan(f) else repr(float(f)) for f in values], dtype=object))
        floats.append((bits, coded))
        return coded
    if s.dtype in ("int64", "Int64"):
        codes, uniques = pd.factorize(s)
        fields = np.array([str(u.item() if hasattr(u, "item") else u) for u in np.asarray(uniques, dtype=object)],
                          dtype=object)
        return _Coded(np.where(codes < 0, len(fields), codes), np.append(fields, '""'))
    if s.dtype != object:
        return None
    cells = s.to_numpy()
    sample = cells[:_ID_SAMPLE]
    if (2 * len(pd.unique(sample)) > len(sample) and pd.api.types.infer_dtype(cells, skipna=False) == "string"
            and _plain_texts(cells)):  # ids, every one a str
        return _Raw(cells)
    codes, uniques = _mostly_one(cells) or pd.factorize(cells)
    uniques = np.asarray(uniques, dtype=object)
    if not all(isinstance(u, str) for u in uniques):
        return None
    if len(uniques) > 1000 and _plain_texts(uniques):  # ids: one pass of C
        formatted = '"' + uniques + '"'
    else:
        formatted = np.array([_quoted(u) for u in uniques], dtype=object)
    return _Coded(np.where(codes < 0, len(formatted), codes), np.append(formatted, '""'))


def _mostly_one(cells: np.ndarray) -> tuple[np.ndarray, list] | None:
    """``pd.factorize(cells)`` (in another order) for a column that holds one text in most
    rows (a source, a unit, an evidence level): the rows holding it are found by comparison
    (C, and at once for the very same object), only the others are hashed. None for any
    other column."""
    sample = cells[:_ID_SAMPLE]
    codes, values = pd.factorize(sample)
    counts = np.bincount(codes[codes >= 0])
    if not len(counts) or 10 * counts.max() < 9 * len(sample) or not isinstance(values[counts.argmax()], str):
        return None
    top = values[counts.argmax()]
    try:
        same = cells == top
    except TypeError:  # a cell that cannot say whether it equals a text (pandas' NA)
        return None
    if not isinstance(same, np.ndarray) or same.shape != cells.shape:
        return None
    others = np.flatnonzero(~same)
    rest, more = pd.factorize(cells[others])
    codes = np.zeros(len(cells), dtype=np.intp)
    codes[others] = np.where(rest < 0, -1, rest + 1)
    return codes, [top, *more]


def _quoted(text: str) -> str:
    return '"' + _neutral(text).replace('"', '""') + '"'


def _plain_texts(texts: np.ndarray) -> bool:
    """Whether no text holds a double quote or starts like a formula (so quoting it is all).
    A text holding a line break followed by a formula character counts as not plain (the
    slower, exact path then writes it)."""
    joined = "\n" + "\n".join(texts)
    return '"' not in joined and not any("\n" + c in joined for c in _FORMULA_START)


_FEW = 50_000
"""Adjacent columns are written as one piece while their rows hold at most this many
distinct combinations of fields."""


def _pieces(columns: list) -> list:
    """The columns with runs of adjacent :class:`_Coded` columns whose rows take few distinct
    combinations joined (with the commas between them) into one :class:`_Coded` piece, its
    text made once per combination, not once per row. A column whose codes equal those of
    a column already in the run adds no combination."""
    pieces, run, key, count = [], [], None, 0

    def close():
        if len(run) == 1:
            pieces.append(run[0])
        elif run:
            code, _ = pd.factorize(key)
            first = pd.Series(code).drop_duplicates().index.to_numpy()
            fields = np.empty((len(first), len(run)), dtype=object)
            for j, c in enumerate(run):
                fields[:, j] = c.fields[c.codes[first]]
            pieces.append(_Coded(code, _objects(list(map(",".join, fields.tolist())))))

    for column in columns:
        if not isinstance(column, _Coded):
            close()
            pieces.append(column)
            run, key = [], None
            continue
        n = len(column.fields)
        if key is not None and any(c.codes is column.codes or (len(c.fields) == n and np.array_equal(c.codes, column.codes))
                                   for c in run):
            run.append(column)  # a function of the run's combinations: none is added
            continue
        if key is not None and count <= _FEW and n <= _FEW and count * n > _FEW:  # perhaps too many: count them
            joined, _ = pd.factorize(key * n + column.codes)
            combos = int(joined.max()) + 1 if len(joined) else 0
            if combos <= _FEW:
                run.append(column)
                key, count = joined.astype(np.int64), combos
                continue
        elif key is not None and count * n <= _FEW:
            run.append(column)
            key, count = key * n + column.codes, count * n
            continue
        close()
        run, key, count = [column], column.codes.astype(np.int64), n
    close()
    return pieces


def _objects(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _layout(pieces: list) -> list:
    """The row as a list of items written one after another: a :class:`_Coded` piece (its
    fields with the punctuation around them), a :class:`_Raw` column or a literal text."""
    items = []
    for i, piece in enumerate(pieces):
        items += ([","] if i else []) + (['"', piece, '"'] if isinstance(piece, _Raw) else [piece])
    items.append("\n")
    merged = []
    for item in items:  # adjacent literals as one
        if isinstance(item, str) and merged and isinstance(merged[-1], str):
            merged[-1] += item
        else:
            merged.append(item)
    out = []
    for i, item in enumerate(merged):  # a literal goes into the fields of the coded piece beside it
        if isinstance(item, str):
            if out and isinstance(out[-1], _Coded):
                out[-1] = _Coded(out[-1].codes, out[-1].fields + item)
                continue
            if i + 1 < len(merged) and isinstance(merged[i + 1], _Coded):
                merged[i + 1] = _Coded(merged[i + 1].codes, item + merged[i + 1].fields)
                continue
        out.append(item)
    return out


def _write(df: pd.DataFrame, columns: list, path: str | Path) -> None:
    items = _layout(_pieces(columns))
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(_quoted(str(c)) for c in df.columns) + "\n")
        for start in range(0, len(df), _CHUNK):
            rows = min(_CHUNK, len(df) - start)
            cells = np.empty((rows, len(items)), dtype=object)
            for j, item in enumerate(items):
                if isinstance(item, _Coded):
                    cells[:, j] = item.fields[item.codes[start:start + rows]]
                elif isinstance(item, _Raw):
                    cells[:, j] = item.cells[start:start + rows]
                else:
                    cells[:, j] = item
            f.write("".join(cells.ravel().tolist()))


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """``df`` written exactly as :func:`save_table` writes it with pandas (UTF-8, no index,
    ``QUOTE_NONNUMERIC``, formulas neutralised), a chunk of rows at a time, each row the
    join of a few pieces: runs of columns whose rows take few distinct values are formatted
    once per combination, id columns are quoted as they are. Raises ``ValueError`` for a
    frame with a column that is not plain (see :func:`_columns`)."""
    columns = _columns(df)
    if columns is None:
        raise ValueError("write_csv writes float, int, nullable int and text columns only")
    _write(df, columns, path)


_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def escape_markdown(text):
    """``text`` with every ASCII punctuation character backslash-escaped (CommonMark).

    For data strings put into Markdown by notebook code: ``**bold**``, ``[x](javascript:..)``,
    ``<script>``, ``$x$`` and bare URLs then show literally, in JupyterLab and in the HTML
    report alike. Values that are not text (None, NaN, numbers) are returned unchanged.
    """
    if not isinstance(text, str):
        return text
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
