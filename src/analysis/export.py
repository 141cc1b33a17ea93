"""Writing tables for the output contract (``output_dir/tables/NAME.csv``).

Text cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with a single quote, as OWASP recommends
against CSV injection. Numeric columns are written unchanged.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

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
    # QUOTE_NONNUMERIC quotes every text cell, so a cell holding a line break or a bare
    # carriage return stays one cell; numbers are written as numbers.
    neutralise_formulas(df).to_csv(path, index=False, encoding="utf-8", quoting=csv.QUOTE_NONNUMERIC)
    return path


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
