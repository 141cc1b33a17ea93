"""Reading the files of a data folder: which files there are, and their cells as text.

:func:`list_folder` names every entry of a data folder as a data file, an ignored file
(README.md, .txt notes, hidden and lock files, ``templates/``) or an unknown one, which is a
problem. :func:`read_table` reads one CSV or .xlsx file into text cells indexed by the
spreadsheet's row number, after :func:`check_path` has made sure the path is a regular file
inside the data folder (a named pipe would block forever; a link out of the folder would
print another file's contents). Every cell is normalised to Unicode NFC, so an id typed in
composed form in one file and decomposed in another is the same id.

Problems are :class:`Problem` records (``file:row:column: message``); nothing here raises
for bad data.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import schemas, timing
import analysis.load.csvfast as csvfast

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Largest hand-coded table read (bytes); hand-coded tables are far smaller, so a larger one
is most likely the wrong file (benchmarks/bench_load.py measures the time per event)."""
MAX_IPD_FILE_BYTES = 100 * 1024 * 1024
"""Largest file of individual patient data (``ipd/``) read: ~3 million rows of the usual
columns, which validate, fit and render within 2 GB of memory (benchmarks/bench_load.py
measures a million rows)."""


def size_limit(data_file: schemas.DataFile) -> int:
    """The largest file of ``data_file`` that is read (bytes)."""
    return MAX_IPD_FILE_BYTES if data_file.name == "ipd" else MAX_FILE_BYTES


@dataclass(frozen=True, order=True)
class Problem:
    """One validation problem, located in the user's file."""

    file: str
    row: int | str
    column: str
    message: str

    def __str__(self) -> str:
        line = f"{self.file}:{self.row}:{self.column or '-'}: {self.message}"
        # one line per problem, whatever the cells hold (line breaks, control characters)
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)


def nfc(text: str) -> str:
    """``text`` in Unicode normal form C ('José' typed as e + combining accent becomes é)."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


# --------------------------------------------------------------------------- the folder


DATA_EXTENSIONS = (".csv", ".xlsx")
TOP_LEVEL_FILES = (*schemas.REQUIRED_FILES, "groups")
"""Stems of the files read from the top of a data folder (as .csv or .xlsx)."""
CURVE_FILES = ("points", "at_risk")
"""Stems of the files read from ``km_curves/``."""
IGNORED_FOLDERS = ("templates",)
"""Folders of a data folder that are never read: ``templates/`` (written by ``new-data``)."""
IGNORED_NAMES = ("Thumbs.db", "desktop.ini")


def ignored(name: str) -> bool:
    """Entries a data folder may hold besides the data: notes (``*.md``, ``*.txt``, README),
    hidden files (``.DS_Store``, ``.~lock.events.csv#``), Excel's lock files (``~$events.xlsx``)
    and Windows' folder files."""
    return (name.startswith((".", "~$")) or name.lower().endswith((".md", ".txt"))
            or name.upper().startswith("README") or name in IGNORED_NAMES)


def _same_entry(folder: Path, name: str, wanted: str) -> bool:
    """Whether ``name`` is ``wanted`` on a case-insensitive file system (macOS, Windows)."""
    if name.lower() != wanted.lower():
        return False
    try:
        return os.path.samefile(folder / name, folder / wanted)
    except OSError:
        return False


def data_files_in(folder: Path) -> list[Path]:
    """The .csv and .xlsx files of an ``ipd/``-like folder that are read (not ignored), sorted."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.suffix.lower() in DATA_EXTENSIONS and not ignored(p.name)
            and not p.is_dir()]


def list_folder(data_dir: Path, problems: list[Problem], explained: set[str]) -> None:
    """A problem for every entry of ``data_dir`` that is neither read nor ignored.

    ``explained``: names already named by another problem (a misnamed required file), which
    get no second line."""
    import difflib

    known_top = [f"{stem}{ext}" for stem in TOP_LEVEL_FILES for ext in DATA_EXTENSIONS]
    what = ("expected a data file (sources, patients, events, cohort_outcomes or groups, as .csv or .xlsx) "
            "or a folder ipd/ or km_curves/")
    for entry in sorted(data_dir.iterdir()):
        name = entry.name
        if ignored(name) or name in explained:
            continue
        is_dir = entry.is_dir()
        if is_dir and name in ("ipd", "km_curves"):
            _list_subfolder(data_dir, name, problems)
            continue
        if is_dir and name in IGNORED_FOLDERS:
            continue
        if name in known_top or any(_same_entry(data_dir, name, k) for k in known_top):
            continue  # a folder named like a data file is reported when it is read
        if is_dir and any(_same_entry(data_dir, name, k) for k in ("ipd", "km_curves", *IGNORED_FOLDERS)):
            continue
        stem = Path(name).stem.lower()
        if is_dir:
            close = difflib.get_close_matches(name.lower(), ["ipd", "km_curves", "km", "curves", "km_curve"], n=1, cutoff=0.6)
            hint = ("name it km_curves (digitized curves: km_curves/points.csv and km_curves/at_risk.csv)"
                    if close and close[0] != "ipd" else
                    "name it ipd (individual patient data: ipd/*.csv)" if close else
                    "move it out of the data folder")
            problems.append(Problem(f"{name}/", "-", "", f"{what}, found an unknown folder; {hint}"))
            continue
        if stem in ("ipd", "individual_patient_data"):
            hint = f"individual patient data go in the folder ipd/ (for example ipd/{name})"
        elif stem in CURVE_FILES or stem in ("km_points", "km_at_risk", "km_curves"):
            target = "at_risk" if "risk" in stem else "points"
            hint = f"digitized curves go in the folder km_curves/ (as km_curves/{target}{Path(name).suffix.lower() or '.csv'})"
        else:
            hint = "move it out of the data folder (README.md, .txt notes and hidden files may stay)"
        problems.append(Problem(name, "-", "", f"{what}, found an unknown file; {hint}"))


def _list_subfolder(data_dir: Path, folder: str, problems: list[Problem]) -> None:
    import difflib

    base = data_dir / folder
    if folder == "ipd":
        what = "expected .csv or .xlsx files of individual patient data in ipd/"
        known: list[str] = []
    else:
        known = [f"{stem}{ext}" for stem in CURVE_FILES for ext in DATA_EXTENSIONS]
        what = "expected points.csv and at_risk.csv (or .xlsx) in km_curves/"
    try:
        entries = sorted(base.iterdir())
    except OSError as exc:
        problems.append(Problem(f"{folder}/", "-", "", f"expected a readable folder, could not list it ({exc.strerror or exc})"))
        return
    for entry in entries:
        name = entry.name
        if ignored(name):
            continue
        if entry.is_dir():
            problems.append(Problem(f"{folder}/{name}/", "-", "", f"{what}, found a folder; move its files into "
                                    f"{folder}/ or out of the data folder"))
            continue
        if folder == "ipd" and entry.suffix.lower() in DATA_EXTENSIONS:
            continue
        if folder != "ipd" and (name in known or any(_same_entry(base, name, k) for k in known)):
            continue
        close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
        hint = f"rename it to {close[0]}" if close else f"move it out of {folder}/"
        problems.append(Problem(f"{folder}/{name}", "-", "", f"{what}, found an unknown file; {hint}"))


def check_path(path: Path, name: str, data_dir: Path, problems: list[Problem]) -> bool:
    """Whether ``path`` may be read: a regular file (or a folder, reported when read) inside
    ``data_dir``. A link out of the folder, a named pipe, a device or a socket is refused
    before it is opened (a pipe would block forever; another file's contents are never read)."""
    try:
        real = path.resolve()
        inside = real.is_relative_to(data_dir.resolve())
    except (OSError, RuntimeError):  # a link loop
        problems.append(Problem(name, "-", "", "expected a file, found a link that cannot be followed (a loop or "
                                "a missing target); copy the file itself into the data folder"))
        return False
    if not inside:
        problems.append(Problem(name, "-", "", "expected a file inside the data folder, found a link to a file "
                                "outside it; copy the file itself into the data folder (the link is not read)"))
        return False
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return True  # a broken link or no permission: reported when the file is read
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return True
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a special file")
    problems.append(Problem(name, "-", "", f"expected a regular file, found {kind}; save the data as a plain "
                            ".csv or .xlsx file (it is not read)"))
    return False


def find_file(data_dir: Path, stem: str, problems: list[Problem], required: bool,
              explained: set[str] | None = None, prefix: str = "") -> Path | None:
    """``data_dir/stem.csv`` or ``.xlsx``; a problem when both exist, or when a required one is
    missing (naming a file that looks like it, whose name then goes into ``explained``)."""
    candidates = [data_dir / f"{stem}.csv", data_dir / f"{stem}.xlsx"]
    found = [p for p in candidates if os.path.lexists(p)]
    if len(found) > 1:
        problems.append(Problem(prefix + found[0].name, "-", "", f"both {stem}.csv and {stem}.xlsx exist; keep one"))
        return None
    if not found:
        if required:
            import difflib

            others = {p.stem.lower(): p for p in sorted(data_dir.iterdir()) if p.is_file()}
            close = difflib.get_close_matches(stem, list(others), n=1, cutoff=0.8)
            if close:  # "Events.CSV", "cohort_outcome.csv", "events.txt"
                p = others[close[0]]
                ext = p.suffix.lower() if p.suffix.lower() in DATA_EXTENSIONS else ".csv"
                hint = f"found {p.name!r}: rename it to {stem}{ext}"
                if explained is not None:
                    explained.add(p.name)
            else:
                hint = "start from `python -m analysis new-data DIR`"
            problems.append(Problem(f"{prefix}{stem}.csv", "-", "", f"missing required file (csv or xlsx); {hint}"))
        return None
    return found[0]


# --------------------------------------------------------------------------- CSV


def _delimiter(first_line: str) -> str:
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    if "\t" in first_line and first_line.count("\t") > max(first_line.count(","), first_line.count(";")):
        delimiter = "\t"
    return delimiter


def _row_at(raw: bytes, offset: int) -> int:
    """The spreadsheet row (CSV record, header = 1) that byte ``offset`` of ``raw`` is in: a
    quoted cell may hold line breaks, so this is not the physical line."""
    prefix = raw[:offset].decode("utf-8-sig", errors="replace")
    delimiter = _delimiter(prefix.split("\n", 1)[0])
    rows = 0
    try:
        for _ in csv.reader(io.StringIO(prefix + "x", newline=""), delimiter=delimiter):
            rows += 1
    except csv.Error:  # the prefix ends inside a quoted cell: that cell's row
        rows += 1
    return max(rows, 1)


def _decode(raw: bytes, name: str, problems: list[Problem]) -> str | None:
    if raw.startswith(b"PK\x03\x04"):
        problems.append(Problem(name, "-", "", f"expected CSV text, found an .xlsx workbook (a zip file); name it "
                                f"{Path(name).stem}.xlsx, or save it as 'CSV UTF-8' from your spreadsheet"))
        return None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            problems.append(Problem(name, "-", "", "expected UTF-16 text after its byte-order mark, found bytes "
                                    "that are not UTF-16 (save the file as 'CSV UTF-8' from your spreadsheet)"))
            return None
    if b"\x00" in raw:
        problems.append(Problem(name, _row_at(raw, raw.index(b"\x00")), "",
                                "expected UTF-8 text, found zero bytes (UTF-16 without a byte-order "
                                "mark, or not a text file); save the file as 'CSV UTF-8' from your spreadsheet"))
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        problems.append(
            Problem(
                name, _row_at(raw, start), "",
                f"expected UTF-8 text, found byte 0x{raw[start]:02x} that is not UTF-8 "
                "(save the file as 'CSV UTF-8' from your spreadsheet)",
            )
        )
        return None


def _too_large(path: Path, name: str, problems: list[Problem], limit: int = MAX_FILE_BYTES) -> bool:
    try:
        size = path.stat().st_size
    except OSError:
        return False  # reported when the file is read
    if size > limit:
        problems.append(
            Problem(name, "-", "", f"expected a file of at most {limit // 2**20} MB, "
                    f"found {size / 2**20:.0f} MB (split it, or check it is the right file)")
        )
        return True
    return False


def _read_csv_rows(path: Path, name: str, problems: list[Problem],
                   limit: int = MAX_FILE_BYTES) -> tuple[list[list[str]] | csvfast.Parsed, bool, float] | None:
    """The file's rows of cells (its columns when :mod:`analysis.load.csvfast` could read it),
    whether its text is in Unicode NFC already (the usual case: then no cell needs
    normalising) and a bound of the characters in one row (inf: not known); None after a
    problem."""
    if _too_large(path, name, problems, limit):
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:  # a folder named like the file, no permission, a broken link
        problems.append(Problem(name, "-", "", f"expected a readable file, could not read it ({exc.strerror or exc})"))
        return None
    text = _decode(raw, name, problems)
    if text is None:
        return None
    delimiter = _delimiter(text[:text.find("\n")] if "\n" in text else text)  # not a copy of the rest
    normalized = unicodedata.is_normalized("NFC", text)
    fast = csvfast.parse(raw, delimiter)
    if fast is not None:
        return fast, normalized, fast.longest
    csv.field_size_limit(max(MAX_FILE_BYTES, MAX_IPD_FILE_BYTES))
    rows: list[list[str]] = []
    try:  # strict: an unbalanced quote would otherwise swallow the rows after it
        rows.extend(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:  # the rows before it are in ``rows``
        found = "the end of the file" if "end of data" in str(exc) else "text right after a closing double quote"
        problems.append(Problem(name, len(rows) + 1, "",
                                f"expected a cell that starts with a double quote to end with one, found {found}; "
                                'put the whole cell in double quotes and double any " inside it'))
        return None
    return rows, normalized, float("inf")


# --------------------------------------------------------------------------- xlsx


_FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def date_precision(number_format: str) -> str:
    """What an Excel date format shows: ``"day"``, ``"month"`` (``yyyy-mm``, ``mmm yyyy``)
    or ``"year"`` (``yyyy``). A month typed as '1999-03' is stored as the date 1999-03-01
    and shown with a format without days: it stands for the whole month."""
    fmt = _FORMAT_LITERALS.sub("", number_format or "").lower()
    fmt = re.sub(r"h+[^a-z]*m+|m+[^a-z]*s+|[hs]+|am/pm|a/p", "", fmt)  # the time part: 'm' there is minutes
    if "d" in fmt or not re.search("[ymde]", fmt) or "general" in fmt:
        return "day"
    if "m" in fmt:
        return "month"
    if "y" in fmt or "e" in fmt:
        return "year"
    return "day"


def _date_text(value, number_format: str) -> str:
    import datetime as dt

    if isinstance(value, dt.datetime) and value.time() != dt.time():
        return value.isoformat()  # reported as a date with a time
    day = value.date() if isinstance(value, dt.datetime) else value
    precision = date_precision(number_format)
    if precision == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if precision == "year":
        return f"{day.year:04d}"
    return day.isoformat()


def _cell_text(value, number_format: str | None) -> str:
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.date)):
        return _date_text(value, number_format or "")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _column_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i)


def _read_xlsx_rows(path: Path, name: str, problems: list[Problem],
                    limit: int = MAX_FILE_BYTES) -> list[list[str]] | None:
    from openpyxl import load_workbook

    if _too_large(path, name, problems, limit):
        return None
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        problems.append(Problem(name, "-", "", f"expected an .xlsx workbook, could not open it "
                                f"({timing.shown(str(exc))[1:-1] if str(exc) else type(exc).__name__})"))
        return None
    try:
        if not wb.worksheets:
            problems.append(Problem(name, "-", "", "expected a workbook with a sheet, found none"))
            return None
        ws = wb.worksheets[0]
        shown = [w.title for w in wb.worksheets[1:] if getattr(w, "sheet_state", "visible") == "visible"]
        if getattr(ws, "sheet_state", "visible") != "visible" and shown:
            problems.append(Problem(name, "-", "", f"expected the first sheet (the one read) to be shown, found it "
                                    f"hidden ({timing.shown(ws.title)}) while sheet {timing.shown(shown[0])} is shown; "
                                    "delete the hidden sheet or move the data sheet first"))
            return None
        rows = []
        try:  # read_only reads the sheet lazily: a damaged sheet fails here, not in load_workbook
            for cells in ws.iter_rows():
                rows.append([_cell_text(c.value, getattr(c, "number_format", None)) for c in cells])
        except Exception as exc:  # XML, zip and value errors of a damaged workbook
            problems.append(Problem(name, len(rows) + 1, "", f"expected a readable .xlsx sheet, found it damaged from this "
                                    f"row on ({type(exc).__name__}); open and save it again, or export it as 'CSV UTF-8'"))
            return None
    finally:
        wb.close()
    _formulas_without_values(path, name, rows, problems)
    return rows


def _formulas_without_values(path: Path, name: str, rows: list[list[str]], problems: list[Problem]) -> None:
    """A problem for every formula cell whose value was never saved (a workbook written by a
    program that does not calculate): read with ``data_only`` it would be silently empty."""
    import zipfile

    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as z:
            if not any(_FORMULA_TAG.search(z.read(i)) for i in z.infolist()
                       if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")):
                return  # no formula at all: the usual case, one cheap scan
        wb = load_workbook(path, read_only=True, data_only=False)
    except Exception:
        return  # read above already
    try:
        header = [c.strip() for c in rows[0]] if rows else []
        for i, cells in enumerate(wb.worksheets[0].iter_rows(), start=1):
            for j, c in enumerate(cells):
                if getattr(c, "data_type", None) != "f" or c.value is None:
                    continue
                if i <= len(rows) and j < len(rows[i - 1]) and rows[i - 1][j] != "":
                    continue  # the saved value is there
                column = header[j] if j < len(header) and header[j] and i > 1 else f"column {_column_letter(j + 1)}"
                problems.append(Problem(name, i, column, "expected a value, found a formula without a saved value "
                                        "(the workbook was written by a program that does not calculate); open and "
                                        "save it in a spreadsheet, or paste the values"))
    except Exception:
        return
    finally:
        wb.close()


# --------------------------------------------------------------------------- one table


@dataclass
class Shape:
    """What :func:`read_table` measured while reading a file, for its validation to reuse:
    which cells are empty (``missing``: per column, None when not measured), the cells as
    text (``text``: per column, ``""`` when empty) and the most characters in one row (an
    upper bound of any cell's length)."""

    missing: dict[str, np.ndarray] | None = None
    text: dict[str, np.ndarray] | None = None
    longest_row: float = float("inf")


def read_table(path: Path, data_file: schemas.DataFile, problems: list[Problem], name: str | None = None,
               data_dir: Path | None = None, shape: Shape | None = None) -> pd.DataFrame | None:
    """Read one file into a text DataFrame indexed by spreadsheet row number.

    ``name`` is the file's name in messages (default: its path in the data folder).
    Cells are stripped and normalised to NFC; empty cells become missing; empty rows and
    unnamed empty columns (spreadsheet leftovers) are dropped. Missing or unknown columns
    are reported. A path that is not a regular file inside ``data_dir`` is refused unread.
    ``shape``, if given, is filled in (see :class:`Shape`).
    """
    if name is None:
        name = path.name if path.parent.name not in ("ipd", "km_curves") else f"{path.parent.name}/{path.name}"
    if not check_path(path, name, data_dir if data_dir is not None else path.parent, problems):
        return None
    limit = size_limit(data_file)
    if path.suffix.lower() == ".xlsx":
        rows, normalized, longest = _read_xlsx_rows(path, name, problems, limit), False, float("inf")
    else:
        rows, normalized, longest = _read_csv_rows(path, name, problems, limit) or (None, False, 0)
    if rows is None:
        return None
    cells = _Cells(rows, normalized, longest)
    del rows
    if not cells.kept:
        problems.append(Problem(name, 1, "", "expected a header row with column names, found an empty file"))
        return None
    header_row, header = cells.kept[0], cells.row(0)
    raw_width = len(header)
    while header and header[-1] == "":
        header.pop()
    if not _header_ok(header, header_row, cells, data_file, name, problems):
        return None
    is_csv = path.suffix.lower() != ".xlsx"
    df = cells.frame(header, raw_width, is_csv, name, problems, data_file.column_names)
    df.index.name = "row"
    if shape is not None and cells.missing is not None:
        shape.missing, shape.text, shape.longest_row = cells.missing, cells.text, cells.longest_row
    return df


def _header_ok(header: list[str], header_row: int, cells: "_Cells", data_file: schemas.DataFile, name: str,
               problems: list[Problem]) -> bool:
    """Whether the header names every column of ``data_file`` once and no other (else the
    problems, on the header row); a title above the header is named as such."""
    known = data_file.column_names

    def n_known(row):
        return len(set(row) & set(known))

    below = [cells.kept[i] for i in range(1, min(6, len(cells.kept)))
             if n_known(r := cells.row(i)) > n_known(header) and n_known(r) >= len(known) / 2]
    if below:  # a title or a row of merged group headings above the column names
        title = ", ".join(c for c in header if c)
        problems.append(Problem(name, header_row, "", f"expected the column names in the first row, found "
                                f"{timing.shown(title)}; the column names are in row {below[0]}: delete the "
                                "row(s) above them (titles, merged group headings)"))
        return False
    ok = True
    for i, col in enumerate(header):
        if col == "":
            problems.append(Problem(name, header_row, f"column {i + 1}", "expected a column name, found an empty header cell"))
            ok = False
        elif col not in known:
            problems.append(
                Problem(name, header_row, col if len(col) <= 60 else col[:57] + "...",
                        f"unknown column; expected one of: {', '.join(known)}")
            )
            ok = False
    seen = set()
    for col in header:
        if col in seen and col:
            problems.append(Problem(name, header_row, col, "column appears twice in the header"))
            ok = False
        seen.add(col)
    optional = {c.name for c in data_file.columns if not c.in_header}
    for col in known:
        if col not in header and col not in optional:
            problems.append(Problem(name, header_row, col, "missing column (add it, even if empty)"))
            ok = False
    return ok


_STRIP = np.frompyfunc(str.strip, 1, 1)
_STRIP_NFC = np.frompyfunc(lambda c: nfc(c.strip()), 1, 1)


class _Cells:
    """A file's cells, stripped and in NFC, without its empty rows; ``kept``: the spreadsheet
    row numbers of the rows kept (the first is the header).

    A rectangular file (every row as wide as the first: any export) is held column by column
    (each step one pass of numpy's C loops, no per-row Python); rows of other widths one by
    one. ``rows`` is a list of rows (``csv``) or :class:`analysis.load.csvfast.Parsed` columns.
    """

    def __init__(self, rows: list[list[str]] | csvfast.Parsed, normalized: bool, longest: float = float("inf")):
        self.columns: list[np.ndarray] | None = None
        self.missing: dict[str, np.ndarray] | None = None  # per column of the frame, once made
        self.text: dict[str, np.ndarray] | None = None
        self.longest_row = longest if normalized else float("inf")  # NFC may lengthen a text
        stripped = False
        if isinstance(rows, csvfast.Parsed):
            columns, number, stripped = rows.columns, np.arange(len(rows.columns[0])), rows.stripped
        else:
            widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
            width = int(widths.max(initial=0))
            if not (width and np.all((widths == width) | (widths == 0))):  # a blank line is an empty row
                clean = (lambda r: [c.strip() for c in r]) if normalized else (lambda r: [nfc(c.strip()) for c in r])
                numbered = [(n, r) for n, r in ((i + 1, clean(r)) for i, r in enumerate(rows)) if any(r)]
                self.kept, self._rows = [n for n, _ in numbered], [r for _, r in numbered]
                return
            number = np.flatnonzero(widths == width)
            rows = rows if len(number) == len(rows) else [rows[i] for i in number]
            if normalized and not np.isfinite(self.longest_row):  # a row's characters bound its cells'
                self.longest_row = max(map(len, map("".join, rows)))
            columns = list(np.array(rows, dtype=object).T)
        if not stripped or not normalized:
            columns = [(_STRIP if normalized else _STRIP_NFC)(c) for c in columns]
        self.columns = columns
        self._empty = [c == "" for c in columns]
        self._index = np.flatnonzero(~np.logical_and.reduce(self._empty))
        self.kept = (number[self._index] + 1).tolist()

    def row(self, i: int) -> list[str]:
        """The cells of the ``i``-th row kept (0: the header)."""
        if self.columns is None:
            return list(self._rows[i])
        return [c[self._index[i]] for c in self.columns]

    def frame(self, header: list[str], raw_width: int, is_csv: bool, name: str, problems: list[Problem],
              known: list[str]) -> pd.DataFrame:
        """The data rows under ``header`` as a text frame of the columns ``known`` indexed by
        row number (empty cells missing, absent columns empty); a row with a value beyond the
        header, or the header again, is a problem. Keeps the cells as text (``text``) and which
        are empty (``missing``)."""
        if self.columns is None:
            df = self._frame_by_rows(header, raw_width, is_csv, name, problems)
            for col in known:
                if col not in df.columns:  # an optional later column left out of an older file
                    df[col] = pd.Series(pd.NA, index=df.index, dtype=object)
            return df[known]
        index = self._index[1:]
        if len(index) and index[-1] - index[0] + 1 == len(index):  # no empty row between: views
            def rows(c): return c[index[0]:index[-1] + 1]
        else:
            def rows(c): return c[index]
        bad = np.zeros(len(index), dtype=bool)
        for empty in self._empty[len(header):]:  # a value beyond the header (not only formatting)
            bad |= ~rows(empty)
        same = np.ones(len(index), dtype=bool)
        for column, h in zip(self.columns, header):  # the header again
            if not same.any():
                break
            same &= rows(column) == h
        for i in np.flatnonzero(bad | same).tolist():
            self._row_problem(self.row(i + 1), self.kept[i + 1], header, raw_width, is_csv, name, problems)
        good = ~(bad | same)
        if not good.any():
            return pd.DataFrame({c: pd.Series(dtype=object) for c in known})
        take = rows if good.all() else (lambda c: rows(c)[good])
        where = {h: j for j, h in enumerate(header)}
        data = np.empty((len(known), int(good.sum())), dtype=object)
        self.text, self.missing = {}, {}
        for k, col in enumerate(known):
            if col not in where:  # an optional later column left out of an older file
                data[k] = pd.NA
                self.missing[col] = np.ones(data.shape[1], dtype=bool)
                continue
            text, empty = take(self.columns[where[col]]), take(self._empty[where[col]])
            self.text[col], self.missing[col] = text, empty
            data[k] = text
            data[k][empty] = pd.NA
        return pd.DataFrame(data.T, index=pd.Index(np.asarray(self.kept[1:])[good]), columns=known, dtype=object)

    @staticmethod
    def _row_problem(r: list[str], n: int, header: list[str], raw_width: int, is_csv: bool, name: str,
                     problems: list[Problem]) -> bool:
        """Append the problem of row ``n`` (cells ``r``), if it has one; whether it had."""
        width = len(header)
        extra = [c for c in r[width:] if c]
        # a CSV row longer than its header: a separator inside an unquoted cell shifted the cells
        # (in a workbook, empty cells beyond the header are only formatting)
        if extra or (is_csv and len(r) > raw_width):
            found = f"a value beyond them: {timing.shown(extra[0])}" if extra else f"{len(r)}"
            hint = "; a cell containing the separator (, or ;) needs double quotes around it" if is_csv else ""
            problems.append(Problem(name, n, f"column {width + 1}",
                                    f"expected {width} cells as in the header, found {found}{hint}"))
            return True
        if r[:width] == header:
            problems.append(Problem(name, n, "", "header row repeated inside the data; remove it"))
            return True
        return False

    def _frame_by_rows(self, header, raw_width, is_csv, name, problems) -> pd.DataFrame:  # noqa: PLR0913
        width = len(header)
        records = {}
        for n, r in zip(self.kept[1:], self._rows[1:]):
            if not self._row_problem(r, n, header, raw_width, is_csv, name, problems):
                records[n] = (r + [""] * width)[:width]
        df = pd.DataFrame.from_dict(records, orient="index", columns=header, dtype=object)
        if df.empty:
            df = pd.DataFrame({c: pd.Series(dtype=object) for c in header})
        return df.replace("", pd.NA)
