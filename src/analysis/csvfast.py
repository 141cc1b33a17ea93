"""Reading a well-formed CSV file with pandas' C parser, cell for cell as Python's ``csv``.

:mod:`analysis.readers` reads every CSV file as ``csv.reader(..., strict=True)`` does, which
words each quoting mistake with its row. That reader builds a list per row; pandas' C parser
(``pandas.read_csv``) is faster and builds the columns at once, but accepts what ``strict``
refuses (text after a closing quote, ``"x"y`` read as ``xy``). :func:`parse` therefore hands a
file to pandas only when it is UTF-8, its quotes cannot be read two ways (every quoted cell
starts and ends at a cell's edges) and its line ends are ``\\n`` or ``\\r\\n``; it returns None
for any other file, and for any file pandas refuses (a row longer than the first), and the
caller reads it with ``csv``. On the files it reads, the two agree: the same cells in the same rows, a blank
line a row of empty cells (``csv`` gives an empty row), a short row filled with empty cells
(which the caller does to ``csv``'s rows too).
"""

from __future__ import annotations

import io
import re

import numpy as np

_QUOTED = {d: re.compile(rb'"[^"]*(?:""[^"]*)*"(?=[' + re.escape(d.encode()) + rb'\r\n]|\Z)') for d in (",", ";", "\t")}
"""A quoted cell that ends at a cell's edge (quotes inside doubled)."""
_BOM = b"\xef\xbb\xbf"


def _quotes_read_one_way(raw: bytes, delimiter: str) -> bool:
    """Whether every double quote of the UTF-8 file ``raw`` belongs to a quoted cell that starts
    and ends at a cell's edges: each such cell is replaced by a NUL byte (which no file that
    reaches here holds) and must leave no quote and stand after a separator or line end."""
    body = raw[len(_BOM):] if raw.startswith(_BOM) else raw
    if b'"' not in body:
        return True
    marked = _QUOTED[delimiter].sub(b"\x00", body)
    if b'"' in marked:
        return False
    cells = np.frombuffer(marked, dtype=np.uint8)
    at = np.flatnonzero(cells == 0)
    before = cells[at[at > 0] - 1]
    return bool(np.isin(before, [ord(delimiter), 10, 13]).all())


def parse(raw: bytes, delimiter: str) -> tuple[np.ndarray, int] | None:
    """``(cells, longest)``: the file's rows of cells as a 2-D object array of ``str`` (the
    header first, blank lines as empty rows) and an upper bound of the characters of any one
    row; None when the file must be read with ``csv`` (see the module docstring)."""
    if delimiter not in _QUOTED or raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 (a tab-separated "Unicode text" export): read by csv
    if not _quotes_read_one_way(raw, delimiter):
        return None  # a quote outside a well-formed quoted cell
    if b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n"):
        return None  # a line ending in a lone carriage return
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(raw), sep=delimiter, header=None, dtype=object, na_filter=False,
                            keep_default_na=False, skip_blank_lines=False, quotechar='"', doublequote=True,
                            escapechar=None, engine="c", encoding="utf-8-sig", low_memory=False)
    except Exception:  # noqa: BLE001 -- any file pandas refuses is read by csv, which words the problem
        return None
    cells = frame.to_numpy(dtype=object)
    if not cells.size:
        return None
    return cells, _longest_line(raw, len(cells))


def _longest_line(raw: bytes, rows: int) -> int:
    """The most bytes in one line of ``raw`` (at least the characters of any row) when each row
    is one line; else a bound no row reaches."""
    breaks = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
    lines = len(breaks) + (0 if raw.endswith(b"\n") else 1)
    if lines != rows:  # a quoted cell holds a line break
        return 2**62
    edges = np.concatenate([[-1], breaks, [len(raw)]])
    return int(np.diff(edges).max())
