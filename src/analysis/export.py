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
    if len(df) >= FAST_ROWS and all(_plain(df[c]) for c in df.columns):
        write_csv(df, path)
        return path
    # QUOTE_NONNUMERIC quotes every text cell, so a cell holding a line break or a bare
    # carriage return stays one cell; numbers are written as numbers.
    neutralise_formulas(df).to_csv(path, index=False, encoding="utf-8", quoting=csv.QUOTE_NONNUMERIC)
    return path


FAST_ROWS = 50_000
"""From this many rows a table of plain columns is written by :func:`write_csv` (a million
rows: seconds instead of a quarter of a minute with pandas' writer)."""
_CHUNK = 250_000


def _plain(s: pd.Series) -> bool:
    """Whether :func:`write_csv` writes ``s`` as pandas would: float, int, nullable int, or
    text (every value a ``str`` or missing)."""
    if s.dtype in ("float64", "int64", "Int64"):
        return True
    if s.dtype != object:
        return False
    _, uniques = pd.factorize(s)
    return all(isinstance(u, str) for u in uniques)


def _quoted(text: str) -> str:
    return '"' + _neutral(text).replace('"', '""') + '"'


def _fields(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, fields)``: the CSV field of every cell of ``s`` is ``fields[codes]``, as
    pandas' ``to_csv`` writes it with ``QUOTE_NONNUMERIC`` after :func:`neutralise_formulas`:
    text quoted (quotes doubled), a number as ``repr``, a missing cell ``\"\"``; each
    distinct value formatted once."""
    if s.dtype == "float64":  # by bit pattern: -0.0 is written apart from 0.0, a NaN as missing
        codes, bits = pd.factorize(s.to_numpy().view(np.int64))
        floats = np.asarray(bits, dtype=np.int64).view(np.float64)
        return codes, np.array(['""' if np.isnan(f) else repr(float(f)) for f in floats], dtype=object)
    codes, uniques = pd.factorize(s)
    uniques = np.asarray(uniques, dtype=object)
    if s.dtype == object and len(uniques) > 1000 and _plain_texts(uniques):  # ids: one pass of C
        formatted = '"' + uniques + '"'
    else:
        fmt = str if s.dtype in ("int64", "Int64") else _quoted
        formatted = np.array([fmt(u.item() if hasattr(u, "item") else u) for u in uniques], dtype=object)
    return np.where(codes < 0, len(formatted), codes), np.append(formatted, '""')


def _plain_texts(texts: np.ndarray) -> bool:
    """Whether no text holds a double quote or starts like a formula (so quoting it is all)."""
    import operator

    firsts = set(map(operator.itemgetter(0), texts[texts != ""]))
    return not firsts.intersection(_FORMULA_START) and '"' not in "".join(texts)


_FEW = 50_000
"""Adjacent columns are written as one piece while their rows hold at most this many
distinct combinations of fields."""


def _pieces(part: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rows' text in a few pieces, each ``(codes, texts)``: runs of adjacent columns whose
    rows take few distinct combinations are joined once per combination, not once per row."""
    pieces, key, members = [], None, []

    def close():
        if len(members) == 1:  # one column: its fields as they are
            pieces.append(members[0])
        elif members:
            code, _ = pd.factorize(key)
            first = pd.Series(code).drop_duplicates().index.to_numpy()
            pieces.append((code, np.array([",".join(f[c[k]] for c, f in members) for k in first], dtype=object)))

    for column in part.columns:
        codes, fields = _fields(part[column])
        joined = codes if key is None else key * len(fields) + codes
        if key is not None and (len(fields) > _FEW or len(pd.unique(joined)) > _FEW):
            close()
            members, joined = [], codes
        key = joined if len(fields) <= _FEW else np.arange(len(part))
        members.append((codes, fields))
    close()
    return pieces


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """``df`` written exactly as :func:`save_table` writes it with pandas (UTF-8, no index,
    ``QUOTE_NONNUMERIC``, formulas neutralised), for plain columns (:func:`_plain`), a chunk
    of rows at a time."""
    pieces = _pieces(df)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(_quoted(str(c)) for c in df.columns) + "\n")
        for start in range(0, len(df), _CHUNK):
            texts = [text[codes[start:start + _CHUNK]] for codes, text in pieces]
            rows = texts[0] if len(texts) == 1 else map(",".join, zip(*texts))
            f.write("\n".join(rows) + "\n")


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
