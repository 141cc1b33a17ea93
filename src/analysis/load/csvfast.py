"""Reading a well-formed CSV file with pandas' C parser, cell for cell as Python's ``csv``.

:mod:`analysis.load.readers` reads every CSV file as ``csv.reader(..., strict=True)`` does, which
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
from typing import NamedTuple

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


class Parsed(NamedTuple):
    columns: list[np.ndarray]
    """The file's columns of cells (object arrays of ``str``; the header row first, a blank
    line a row of empty cells)."""
    longest: float
    """An upper bound of the characters of any one row."""
    stripped: bool
    """Whether no cell starts or ends with white space (so none needs stripping)."""


def parse(raw: bytes, delimiter: str) -> Parsed | None:
    """The file's cells (:class:`Parsed`); None when it must be read with ``csv`` (see the
    module docstring)."""
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
    if not frame.size:
        return None
    columns = [frame.iloc[:, j].to_numpy(dtype=object) for j in range(frame.shape[1])]
    longest = _longest_line(raw, len(frame))
    return Parsed(columns, longest, np.isfinite(longest) and not _spaces_at_edges(raw, delimiter))


def _wide_spaces(b: np.ndarray) -> bool:
    """Whether the UTF-8 bytes ``b`` hold white space beyond ASCII (``str.isspace``): NEL,
    NBSP (C2 85, C2 A0), U+1680 (E1 9A 80), U+2000-U+200A, U+2028, U+2029, U+202F (E2 80 ..),
    U+205F (E2 81 9F), U+3000 (E3 80 80)."""
    lead = np.flatnonzero((b >= 0xC2) & (b <= 0xE3) & ((b == 0xC2) | (b >= 0xE1)))
    if not len(lead):
        return False
    padded = np.concatenate([b, np.zeros(2, dtype=np.uint8)])
    first, second, third = padded[lead], padded[lead + 1], padded[lead + 2]
    wide = (first == 0xC2) & ((second == 0x85) | (second == 0xA0))
    wide |= (first == 0xE1) & (second == 0x9A) & (third == 0x80)
    wide |= (first == 0xE2) & (second == 0x80) & ((third <= 0x8A) | (third == 0xA8) | (third == 0xA9) | (third == 0xAF))
    wide |= (first == 0xE2) & (second == 0x81) & (third == 0x9F)
    wide |= (first == 0xE3) & (second == 0x80) & (third == 0x80)
    return bool(wide.any())


_ASCII_SPACES = b" \t\x0b\x0c\x1c\x1d\x1e\x1f"
"""The ASCII characters ``str.strip`` removes, line ends apart."""


def _spaces_at_edges(raw: bytes, delimiter: str) -> bool:
    """Whether a cell may start or end with white space: an ASCII space character next to a
    separator, a line end, a quote or the file's ends, or any wider space at all. (The
    caller knows no quoted cell holds a line break: :func:`_longest_line`.)"""
    b = np.frombuffer(raw, dtype=np.uint8)
    if not raw.isascii() and _wide_spaces(b):
        return True
    if not any(c in raw for c in _ASCII_SPACES if c != ord(delimiter)):  # none at all (memchr each)
        return False
    space = (b == 32) | (b == 11) | (b == 12) | ((b >= 28) & (b <= 31))
    if delimiter != "\t":
        space |= b == 9
    if not space.any():
        return False
    edge = (b == ord(delimiter)) | (b == 10) | (b == 13) | (b == 34)
    near = np.zeros(len(b), dtype=bool)
    near[1:] |= edge[:-1]
    near[:-1] |= edge[1:]
    near[0] = near[-1] = True
    return bool((space & near).any())


def _longest_line(raw: bytes, rows: int) -> float:
    """The most bytes in one line of ``raw`` (at least the characters of any row) when each row
    is one line; else infinity (a quoted cell holds a line break)."""
    breaks = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
    lines = len(breaks) + (0 if raw.endswith(b"\n") else 1)
    if lines != rows:
        return float("inf")
    edges = np.concatenate([[-1], breaks, [len(raw)]])
    return float(np.diff(edges).max())
