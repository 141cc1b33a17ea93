"""Reading a data folder: files (CSV or .xlsx), validation, typed and resolved tables.

``load_dataset(data_dir)`` is the one call the notebooks make. It reads every file,
validates it with the pandera schemas of :mod:`analysis.schemas` (lazily, so every problem
is collected), checks what crosses files (references, offset chains, dates against the
therapy they follow), and either returns a :class:`Dataset` or raises
:class:`DataValidationError` listing every problem as ``file:row:column: message``.

Row numbers are the spreadsheet's: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandera.errors
import pandera.pandas  # noqa: F401

from analysis import schemas, timing

# pandera (~0.3 s) is imported with this module rather than in the first load_dataset, and so
# are the backends it imports and registers on its first validate (~0.15 s more, hypothesis'
# strategies among them): a notebook pays for them in its import cell. ``import analysis``
# and the command line import this module only when they read data.
pandera.pandas.DataFrameSchema({"x": pandera.pandas.Column(str)}).validate(pd.DataFrame({"x": ["x"]}))

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Largest data file read (bytes); hand-coded tables are far smaller. Validation takes about
0.2 ms CPU and 4 KB of memory per event: 10 MB (~95,000 events) is ~16 s and 0.5 GB
(benchmarks/bench_load.py)."""


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


class DataValidationError(ValueError):
    """Raised by :func:`load_dataset`; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the data:\n" + "\n".join(map(str, self.problems))
        )


@dataclass
class Dataset:
    """Validated, typed tables of one data folder (see ``data/README.md``)."""

    data_dir: Path
    sources: pd.DataFrame
    patients: pd.DataFrame
    events: pd.DataFrame
    lines: pd.DataFrame
    cohort_outcomes: pd.DataFrame
    ipd: pd.DataFrame
    km_curves_points: pd.DataFrame
    km_curves_at_risk: pd.DataFrame
    files: dict = field(default_factory=dict)
    graph: timing.OffsetGraph | None = None
    """The resolved offset chains: ``ds.graph.relative(event_id, other_event_id)`` is the
    interval (days) between any two related events (see :mod:`analysis.timing`)."""

    def summary(self) -> dict:
        """Row counts per table."""
        return {
            "sources": len(self.sources),
            "patients": len(self.patients),
            "events": len(self.events),
            "treatment lines": len(self.lines),
            "cohort outcomes": len(self.cohort_outcomes),
            "ipd rows": len(self.ipd),
            "km curve points": len(self.km_curves_points),
        }


# --------------------------------------------------------------------------- reading


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
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        problems.append(Problem(name, line, "", "expected UTF-8 text, found zero bytes (UTF-16 without a byte-order "
                                "mark, or not a text file); save the file as 'CSV UTF-8' from your spreadsheet"))
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(
            Problem(
                name, line, "",
                f"expected UTF-8 text, found byte 0x{raw[exc.start]:02x} that is not UTF-8 "
                "(save the file as 'CSV UTF-8' from your spreadsheet)",
            )
        )
        return None


def _too_large(path: Path, name: str, problems: list[Problem]) -> bool:
    try:
        size = path.stat().st_size
    except OSError:
        return False  # reported when the file is read
    if size > MAX_FILE_BYTES:
        problems.append(
            Problem(name, "-", "", f"expected a file of at most {MAX_FILE_BYTES // 2**20} MB, "
                    f"found {size / 2**20:.0f} MB (split it, or check it is the right file)")
        )
        return True
    return False


def _read_csv_rows(path: Path, name: str, problems: list[Problem]) -> list[list[str]] | None:
    if _too_large(path, name, problems):
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:  # a folder named like the file, no permission, a broken link
        problems.append(Problem(name, "-", "", f"expected a readable file, could not read it ({exc.strerror or exc})"))
        return None
    text = _decode(raw, name, problems)
    if text is None:
        return None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    if "\t" in first and first.count("\t") > max(first.count(","), first.count(";")):
        delimiter = "\t"
    csv.field_size_limit(MAX_FILE_BYTES)
    rows = []
    try:  # strict: an unbalanced quote would otherwise swallow the rows after it
        for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            rows.append(r)
    except csv.Error as exc:
        found = "the end of the file" if "end of data" in str(exc) else "text right after a closing double quote"
        problems.append(Problem(name, len(rows) + 1, "",
                                f"expected a cell that starts with a double quote to end with one, found {found}; "
                                'put the whole cell in double quotes and double any " inside it'))
        return None
    return rows


def _read_xlsx_rows(path: Path, name: str, problems: list[Problem]) -> list[list[str]] | None:
    import datetime as dt

    from openpyxl import load_workbook

    if _too_large(path, name, problems):
        return None
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        problems.append(Problem(name, "-", "", f"expected an .xlsx workbook, could not open it ({exc})"))
        return None
    ws = wb.worksheets[0]
    rows = []
    try:  # read_only reads the sheet lazily: a damaged sheet fails here, not in load_workbook
        for values in ws.iter_rows(values_only=True):
            row = []
            for v in values:
                if v is None:
                    row.append("")
                elif isinstance(v, dt.datetime):
                    row.append(v.date().isoformat() if v.time() == dt.time() else v.isoformat())
                elif isinstance(v, dt.date):
                    row.append(v.isoformat())
                elif isinstance(v, float) and v.is_integer():
                    row.append(str(int(v)))
                else:
                    row.append(str(v))
            rows.append(row)
    except Exception as exc:  # XML, zip and value errors of a damaged workbook
        problems.append(Problem(name, len(rows) + 1, "", f"expected a readable .xlsx sheet, found it damaged from this "
                                f"row on ({type(exc).__name__}); open and save it again, or export it as 'CSV UTF-8'"))
        return None
    finally:
        wb.close()
    return rows


def read_table(path: Path, data_file: schemas.DataFile, problems: list[Problem]) -> pd.DataFrame | None:
    """Read one file into a text DataFrame indexed by spreadsheet row number.

    Cells are stripped; empty cells become missing; empty rows and unnamed empty columns
    (spreadsheet leftovers) are dropped. Missing or unknown columns are reported.
    """
    name = path.name if path.parent.name not in ("ipd", "km_curves") else f"{path.parent.name}/{path.name}"
    if path.suffix.lower() == ".xlsx":
        rows = _read_xlsx_rows(path, name, problems)
    else:
        rows = _read_csv_rows(path, name, problems)
    if rows is None:
        return None
    numbered = [(i + 1, [c.strip() for c in r]) for i, r in enumerate(rows)]
    numbered = [(n, r) for n, r in numbered if any(r)]
    if not numbered:
        problems.append(Problem(name, 1, "", "expected a header row with column names, found an empty file"))
        return None
    header_row, header = numbered[0]
    raw_width = len(header)
    while header and header[-1] == "":
        header.pop()
    known = data_file.column_names

    def n_known(cells):
        return len(set(cells) & set(known))

    below = [n for n, r in numbered[1:6] if n_known(r) > n_known(header) and n_known(r) >= len(known) / 2]
    if below:  # a title or a row of merged group headings above the column names
        title = ", ".join(c for c in header if c)
        problems.append(Problem(name, header_row, "", f"expected the column names in the first row, found "
                                f"{timing.shown(title)}; the column names are in row {below[0]}: delete the "
                                "row(s) above them (titles, merged group headings)"))
        return None
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
    if not ok:
        return None
    records = {}
    width = len(header)
    is_csv = path.suffix.lower() != ".xlsx"
    hint = "; a cell containing the separator (, or ;) needs double quotes around it" if is_csv else ""
    for n, r in numbered[1:]:
        extra = [c for c in r[width:] if c]
        # a CSV row longer than its header: a separator inside an unquoted cell shifted the cells
        # (in a workbook, empty cells beyond the header are only formatting)
        if extra or (is_csv and len(r) > raw_width):
            found = f"a value beyond them: {timing.shown(extra[0])}" if extra else f"{len(r)}"
            problems.append(Problem(name, n, f"column {width + 1}",
                                    f"expected {width} cells as in the header, found {found}{hint}"))
            continue
        if r[:width] == header:
            problems.append(Problem(name, n, "", "header row repeated inside the data; remove it"))
            continue
        records[n] = (r + [""] * width)[:width]
    df = pd.DataFrame.from_dict(records, orient="index", columns=header, dtype=object)
    if df.empty:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in header})
    for col in known:
        if col not in df.columns:  # an optional later column left out of an older file
            df[col] = pd.Series(pd.NA, index=df.index, dtype=object)
    df = df[known].replace("", pd.NA)
    df.index.name = "row"
    return df


def _find_file(data_dir: Path, stem: str, problems: list[Problem], required: bool) -> Path | None:
    candidates = [data_dir / f"{stem}.csv", data_dir / f"{stem}.xlsx"]
    found = [p for p in candidates if p.exists()]
    if len(found) > 1:
        problems.append(Problem(found[0].name, "-", "", f"both {stem}.csv and {stem}.xlsx exist; keep one"))
        return None
    if not found:
        if required:
            import difflib

            others = {p.stem.lower(): p for p in sorted(data_dir.iterdir()) if p.is_file()}
            close = difflib.get_close_matches(stem, list(others), n=1, cutoff=0.8)
            if close:  # "Events.CSV", "cohort_outcome.csv", "events.txt"
                p = others[close[0]]
                ext = p.suffix.lower() if p.suffix.lower() in (".csv", ".xlsx") else ".csv"
                hint = f"found {p.name!r}: rename it to {stem}{ext}"
            else:
                hint = "start from `python -m analysis new-data DIR`"
            problems.append(Problem(f"{stem}.csv", "-", "", f"missing required file (csv or xlsx); {hint}"))
        return None
    return found[0]


# --------------------------------------------------------------------------- validation


def validate_table(df: pd.DataFrame, data_file: schemas.DataFile, name: str,
                   problems: list[Problem], refs: dict[str, set] | None = None) -> pd.DataFrame:
    """Validate ``df`` (text cells) with the pandera schemas; append problems; return the
    typed frame.

    Two pandera passes: the first only reads numbers (cells that are not numbers are
    reported and blanked), the second checks everything else on the typed values.
    """
    df = df.copy()
    numeric = [c.name for c in data_file.columns if c.kind in ("int", "float")]
    try:
        # the number columns only (the others cannot fail this pass); empty cells as float
        # NaN, so only cells with text in them can fail to read as numbers
        if numeric:
            probe = pd.DataFrame({c: df[c].astype(object).where(df[c].notna(), float("nan")) for c in numeric},
                                 index=df.index)
            schemas.pandera_schema(data_file, types_only=True).validate(probe, lazy=True)
    except pandera.errors.SchemaErrors as err:
        seen = set()
        for rec in err.failure_cases.itertuples(index=False):
            if rec.index is None or pd.isna(rec.index) or (rec.index, rec.column) in seen:
                continue
            if pd.isna(df.loc[rec.index, rec.column]):
                continue  # an empty cell is not a wrong number; nullability is checked next
            seen.add((rec.index, rec.column))
            problems.append(Problem(name, int(rec.index), rec.column,
                                    f"expected {schemas.expected_text(data_file, rec.column)}, "
                                    f"found {timing.shown(rec.failure_case)}{_number_hint(str(rec.failure_case))}"))
            df.loc[rec.index, rec.column] = pd.NA
    typed = _coerce_quietly(df, data_file)
    for col in data_file.columns:
        if col.kind not in ("int", "float"):
            continue
        # text that pandera reads as a number but pandas does not ('1_000', '1e400', 400 digits)
        # would silently become empty; 'nan' and 'inf' are not numbers a coder means either
        finite = typed[col.name].astype(float).map(math.isfinite)
        for row in df.index[df[col.name].notna() & ~finite]:
            text = str(df.loc[row, col.name])
            problems.append(Problem(name, int(row), col.name, f"expected {schemas.expected_text(data_file, col.name)}, "
                                    f"found {timing.shown(text)}{_number_hint(text)}"))
            typed.loc[row, col.name] = pd.NA
    df = typed
    try:
        return schemas.pandera_schema(data_file, refs).validate(df, lazy=True)
    except pandera.errors.SchemaErrors as err:
        bad_numbers = {(p.row, p.column) for p in problems if p.file == name}
        for rec in err.failure_cases.itertuples(index=False):
            column = rec.column if isinstance(rec.column, str) else ""
            row = int(rec.index) if rec.index is not None and not pd.isna(rec.index) else "-"
            check = str(rec.check)
            value = rec.failure_case
            if check == "not_nullable":
                if (row, column) in bad_numbers:
                    continue
                msg = "expected a value, found an empty cell"
            elif check == "field_uniqueness":
                msg = f"expected a unique id, found {value!r} more than once"
            elif check.startswith("expected at most"):
                msg = f"{check}, found {len(str(value)):,}"
            else:
                msg = f"{check}, found {_shown(value)}"
            problems.append(Problem(name, row, column, msg))
    return df


def _number_hint(text: str) -> str:
    """How a cell that is not a number was probably meant, for the message."""
    import re

    t = text.strip()
    if t.lower() in ("nan", "na", "n/a", "nr", "null", "none", "-", "?", "unknown", "not reported"):
        return "; leave the cell empty when the source gives no value"
    if re.fullmatch(r"[-+]?[\d.,' ]*\d", t) and ("," in t or "'" in t):
        return "; write numbers without thousands separators and with a decimal point (1200, 0.75)"
    m = re.fullmatch(r"([-+]?\d+(?:\.\d+)?)\s*%", t)
    if m:
        return f"; write a percentage as a proportion ({t} is {float(m.group(1)) / 100:g})"
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*[x×*]\s*10\s*\^?\s*([-+]?\d+)", t)
    if m:
        return f"; write {t} as {m.group(1)}e{m.group(2)}"
    return ""


_shown = timing.shown_value


def _coerce_quietly(df: pd.DataFrame, data_file: schemas.DataFile) -> pd.DataFrame:
    out = df.copy()
    for col in data_file.columns:
        if col.kind == "int":
            out[col.name] = pd.to_numeric(out[col.name], errors="coerce").round().astype("Int64")
        elif col.kind == "float":
            out[col.name] = pd.to_numeric(out[col.name], errors="coerce").astype(float)
    return out


def _load_file(data_dir: Path, data_file: schemas.DataFile, problems, refs=None, files=None):
    path = _find_file(data_dir, data_file.name, problems, required=True)
    if path is None:
        return None
    if files is not None:
        files[data_file.name] = path
    df = read_table(path, data_file, problems)
    if df is None:
        return None
    return validate_table(df, data_file, path.name, problems, refs)


def _load_optional_folder(data_dir: Path, data_file: schemas.DataFile, problems, refs, files):
    folder, pattern = data_file.path.split("/")
    base = data_dir / folder
    if not base.is_dir():
        return _empty(data_file)
    if "*" in pattern:
        paths = sorted([*base.glob("*.csv"), *base.glob("*.xlsx")])
    else:
        stem = pattern.rsplit(".", 1)[0]
        p = _find_file(base, stem, problems, required=False)
        paths = [p] if p else []
    frames = []
    for path in paths:
        files[f"{folder}/{path.name}"] = path
        df = read_table(path, data_file, problems)
        if df is None:
            continue
        typed = validate_table(df, data_file, f"{folder}/{path.name}", problems, refs)
        typed = typed.assign(file=f"{folder}/{path.name}")
        frames.append(typed)
    if not frames:
        return _empty(data_file)
    return pd.concat(frames)


def _empty(data_file: schemas.DataFile) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in data_file.column_names})


def _complete(df: pd.DataFrame | None, path: Path | None, problems: list[Problem]) -> bool:
    """Whether ``df`` holds every row of its file: no rows were skipped for having more cells
    than the header (so references to its ids can be checked without cascading errors)."""
    return df is not None and not any(
        p.file == path.name and str(p.column).startswith("column ") for p in problems)


def _ids(df: pd.DataFrame | None, column: str) -> set:
    if df is None:
        return set()
    return set(df[column].dropna().astype(str))


# --------------------------------------------------------------------------- events


_CALENDAR_RANGE = (timing.parse_date("1800").lo, timing.parse_date("2200").hi)


def _resolve_events(events: pd.DataFrame, patients: pd.DataFrame, problems: list[Problem], name: str = "events.csv"):
    """Resolve dates and offsets; return (events with t_*/date_* columns, lines table).

    ``name`` is the file's name in messages (``events.csv`` or ``events.xlsx``)."""
    parent: dict[str, tuple[str, timing.Interval]] = {}
    edges: dict[str, str] = {}
    undated: set[str] = set()
    known_patients = set((patients if patients is not None else events)["patient_id"].dropna())
    patient_of = dict(zip(events["event_id"], events["patient_id"]))
    row_of = {eid: row for row, eid in zip(events.index, events["event_id"])}
    records = list(zip(events.index, events.to_dict("records")))  # dicts: iterrows is slow
    for row, ev in records:
        eid, date, offset, ref, qual = ev["event_id"], ev["date"], ev["offset"], ev["offset_from"], ev["qualifier"]
        qual = "" if pd.isna(qual) else qual
        if pd.isna(eid) or qual not in timing.QUALIFIERS:
            continue  # an unknown qualifier is reported by the schema
        has_date, has_offset = not pd.isna(date), not pd.isna(offset)
        if has_date and has_offset:
            problems.append(Problem(name, row, "offset", "expected either a date or an offset, found both"))
            continue
        if not has_date and not has_offset:
            problems.append(Problem(name, row, "date", "expected a date or an offset (with offset_from), found neither; "
                                    "for an undated event after another, use offset '+0 days' with qualifier at_least"))
            continue
        if has_date and str(date).strip().lower() == "not_reported":
            if not pd.isna(ref) or qual:
                problems.append(Problem(name, row, "date", "expected no offset_from or qualifier with date 'not_reported'"))
            undated.add(eid)  # an undated root: other events may count from it
            continue
        if has_date:
            if not pd.isna(ref):
                problems.append(Problem(name, row, "offset_from", f"expected empty when a date is given, found {ref!r}"))
            try:
                parent[eid] = (timing.CALENDAR, timing.parse_date(str(date), qual))
            except ValueError as exc:
                problems.append(Problem(name, row, "qualifier" if "applies to offsets" in str(exc) else "date", str(exc)))
            continue
        if pd.isna(ref):
            problems.append(Problem(name, row, "offset_from", "expected the event_id the offset counts from (or 'birth'), found an empty cell"))
            continue
        from_birth = str(ref).strip().lower() == "birth"
        try:
            iv = timing.offset_interval(str(offset), qual, from_birth=from_birth)
        except ValueError as exc:
            problems.append(Problem(name, row, "offset", str(exc)))
            continue
        if from_birth:
            parent[eid] = (f"{timing.BIRTH}/{ev['patient_id']}", iv)
            continue
        if ref not in patient_of:
            problems.append(Problem(name, row, "offset_from", f"expected an event_id of patient {ev['patient_id']}, found {ref!r}, which is not in events"))
            continue
        if ev["patient_id"] not in known_patients or patient_of[ref] not in known_patients:
            continue  # the unknown patient is reported already
        if patient_of[ref] != ev["patient_id"]:
            problems.append(Problem(name, row, "offset_from", f"expected an event of the same patient {ev['patient_id']}, found {ref!r} of patient {patient_of[ref]}"))
            continue
        parent[eid] = (ref, iv)
        edges[eid] = ref
    for cycle in timing.find_cycles(edges):
        rows = ", ".join(f"row {row_of[e]} ({e})" for e in cycle)
        for e in cycle:
            problems.append(Problem(name, row_of[e], "offset_from", f"offsets form a cycle: {rows}"))
            parent.pop(e, None)
    # events whose chain ends at an event that could not be resolved
    resolvable = {}

    def ok(e, depth=0):
        if e in resolvable:
            return resolvable[e]
        if e.startswith("@") or e in undated:
            return True
        if e not in parent or depth > 10_000:
            resolvable[e] = False
            return False
        resolvable[e] = ok(parent[e][0], depth + 1)
        return resolvable[e]

    good = {e: p for e, p in parent.items() if ok(e)}
    graph = timing.OffsetGraph(good)
    usable = set(good) | undated

    # treatment lines and their anchors
    rows_with_problems = {p.row for p in problems if p.file == name}
    line_rows = []
    anchors: dict[tuple, str] = {}
    # plain dicts grouped once: pandas operations per line made large files slow
    groups: dict[tuple, list[tuple[int, dict]]] = {}
    for row, r in records:
        if not pd.isna(r["event_id"]) and not pd.isna(r["patient_id"]) and not pd.isna(r["line"]) and r["line"] > 0:
            groups.setdefault((r["patient_id"], int(r["line"])), []).append((row, r))
    for (pid, line), grp in sorted(groups.items(), key=lambda kv: kv[0]):
        cands = [r for _, r in grp if r["event_type"] in schemas.STEM_CELL_EVENTS and r["event_id"] in usable]
        if not cands:
            if rows_with_problems:
                continue  # a problem reported in events already may explain it; do not cascade
            first_row = grp[0][0]
            problems.append(Problem(name, first_row, "line", f"line {line} of patient {pid} has no transplant or infusion event "
                                    "with a usable time to anchor it (day 0 of a line is its first stem-cell therapy)"))
            continue
        first = cands[0]["event_id"]
        best = {r["event_id"]: graph.relative(r["event_id"], first) for r in cands}
        a = min(cands, key=lambda r: (best[r["event_id"]].best if best[r["event_id"]] else math.inf))
        anchor = a["event_id"]
        anchors[(pid, int(line))] = anchor
        line_rows.append({
            "patient_id": pid, "line": int(line), "anchor_event_id": anchor,
            "anchor_type": a["event_type"], "therapy": a["product"] if not pd.isna(a["product"]) else a["event_type"],
            "source_id": a["source_id"],
        })
    lines = pd.DataFrame(line_rows, columns=["patient_id", "line", "anchor_event_id", "anchor_type", "therapy", "source_id"])
    first_line = {}
    for (pid, line), anchor in sorted(anchors.items()):
        first_line.setdefault(pid, anchor)

    t_lo, t_best, t_hi, d_lo, d_best, d_hi = ([] for _ in range(6))
    for row, e in records:
        eid = e["event_id"]
        line = 0 if pd.isna(e["line"]) else int(e["line"])
        anchor = anchors.get((e["patient_id"], line)) if line > 0 else first_line.get(e["patient_id"])
        rel = graph.relative(eid, anchor) if (anchor and eid in usable) else None
        cal = graph.relative(eid, timing.CALENDAR) if eid in usable else None
        if cal and not all(_CALENDAR_RANGE[0] <= v <= _CALENDAR_RANGE[1] for v in (cal.lo, cal.best, cal.hi) if math.isfinite(v)):
            # a chain of long offsets can leave the calendar (and pandas' Timestamp range)
            out = [v for v in (cal.lo, cal.best, cal.hi) if math.isfinite(v)
                   and not _CALENDAR_RANGE[0] <= v <= _CALENDAR_RANGE[1]]
            years = " to ".join(dict.fromkeys(f"{1970 + v / timing.YEAR:.0f}" for v in (cal.lo, cal.hi) if math.isfinite(v)))
            problems.append(Problem(name, row, "offset", "expected a time between the years 1800 and 2200, found that "
                                    f"the offsets put it in {years or f'{1970 + out[0] / timing.YEAR:.0f}'}"))
            cal = None
        t_lo.append(rel.lo if rel else math.nan)
        t_best.append(rel.best if rel else math.nan)
        t_hi.append(rel.hi if rel else math.nan)
        d_lo.append(cal.lo if cal else math.nan)
        d_best.append(cal.best if cal else math.nan)
        d_hi.append(cal.hi if cal else math.nan)
        if rel and line > 0 and e["event_type"] in ("relapse", "last_followup", "death", "remission") and rel.hi < 0:
            what = {"relapse": "a relapse", "last_followup": "the last follow-up", "death": "a death",
                    "remission": "a remission"}[e["event_type"]]
            problems.append(Problem(name, row, "date" if not pd.isna(e["date"]) else "offset",
                                    f"{what} of line {line} cannot be before the line's first stem-cell therapy "
                                    f"({anchor}); found it {-rel.hi:.0f} days or more before"))
    out = events.copy()
    out["t_lo"], out["t_best"], out["t_hi"] = t_lo, t_best, t_hi
    for col, values in (("date_lo", d_lo), ("date_best", d_best), ("date_hi", d_hi)):
        out[col] = _days_to_timestamps(values, out.index)
    out["imprecise"] = out["t_lo"] != out["t_hi"]
    return out, lines, graph


def _days_to_timestamps(days: list[float], index) -> pd.Series:
    """Days since 1970-01-01 -> Timestamps, in one vectorised step (NaT where not finite).

    Only the finite values are handed to pandas: ``pd.to_datetime(..., unit="s")`` on an array holding
    NaN rounds an uninitialised scratch buffer under ``np.errstate(over="raise")`` (pandas 2.3), which
    raised FloatingPointError at random when that memory happened to hold a huge number.
    """
    import numpy as np

    arr = np.asarray(days, dtype=float)
    finite = np.isfinite(arr)
    out = np.full(arr.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    out[finite] = pd.to_datetime(arr[finite] * 86400.0, unit="s", origin="unix").to_numpy(dtype="datetime64[ns]")
    return pd.Series(out, index=index)


# --------------------------------------------------------------------------- cross checks


MAX_DURATION_YEARS = 120
"""Longest duration accepted in cohort outcomes (a human life)."""


def _check_outcomes(df: pd.DataFrame, problems: list[Problem], name: str = "cohort_outcomes.csv") -> None:
    for row, r in df.iterrows():
        ev, tot, prop = r["events"], r["total"], r["proportion"]
        if not pd.isna(ev) and not pd.isna(tot) and ev > tot:
            problems.append(Problem(name, row, "events", f"expected events <= total ({tot}), found {ev}"))
        if not pd.isna(ev) and pd.isna(tot):
            problems.append(Problem(name, row, "total", f"expected the total that the {ev} events are out of, found an empty cell"))
        if not pd.isna(ev) and not pd.isna(prop):
            problems.append(Problem(name, row, "proportion", "expected either events/total or a proportion, found both"))
        if not pd.isna(r["time_value"]) and pd.isna(r["time_unit"]):
            problems.append(Problem(name, row, "time_unit", "expected a unit for time_value, found an empty cell"))
        elif not pd.isna(r["time_value"]) and r["time_unit"] in schemas.TIME_UNITS:
            years = r["time_value"] * timing.TIME_UNITS[r["time_unit"]] / timing.YEAR
            if years > MAX_DURATION_YEARS:
                problems.append(Problem(name, row, "time_value", f"expected a duration of at most {MAX_DURATION_YEARS} "
                                        f"years, found {r['time_value']:g} {r['time_unit']}"))
        qualifier = _text_or_empty(r["total_qualifier"])
        if not pd.isna(tot) and qualifier in ("about", "at_least") and _text_or_empty(r["approximate"]) != "yes":
            problems.append(Problem(name, row, "approximate", f"expected 'yes' since total is '{qualifier}', "
                                    f"found {_shown(_text_or_empty(r['approximate']))}"))
    _check_comparisons(df, problems, name)


UNCONTROLLED_DESIGNS = ("case_report", "case_series", "uncontrolled_cohort", "review_summary")


def _text_or_empty(value) -> str:
    """A category cell as text, ``""`` when empty (pandas' NA cannot be compared)."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _check_comparisons(df: pd.DataFrame, problems: list[Problem], name: str) -> None:
    """Arms of one comparison: rows with the same source, study, outcome and time point, one
    ``control`` and one or more ``intervention`` arms. Names what a reader could not pair."""
    if "arm_role" not in df.columns or df.empty:
        return
    role = df["arm_role"].map(_text_or_empty)
    key = [df[c].map(_text_or_empty) for c in ("source_id", "study", "outcome", "time_value", "time_unit")]
    keys = list(zip(*[k.tolist() for k in key]))
    by_key: dict = {}
    for row, k, rl in zip(df.index, keys, role):
        by_key.setdefault(k, []).append((row, rl))
    for (_src, study, outcome, t, unit), rows in by_key.items():
        controls = [row for row, rl in rows if rl == "control"]
        treated = [row for row, rl in rows if rl == "intervention"]
        when = f" at {float(t):g} {unit}" if t else ""
        if len(controls) > 1:
            for row in controls[1:]:
                problems.append(Problem(name, row, "arm_role", f"expected one control arm for {study!r} {outcome}{when}, "
                                        f"found {len(controls)} (rows {', '.join(map(str, controls))}); give each "
                                        "comparison its own study label or time point"))
        if controls and not treated:
            problems.append(Problem(name, controls[0], "arm_role", f"expected an intervention arm beside this control arm "
                                    f"({study!r} {outcome}{when}, same source, study, outcome and time point), found none"))
    for row, rl in zip(df.index, role):
        design = _text_or_empty(df.at[row, "design"])
        if rl == "control" and (design in UNCONTROLLED_DESIGNS or _text_or_empty(df.at[row, "controlled"]) == "no"):
            problems.append(Problem(name, row, "arm_role", f"expected no control arm in an uncontrolled study "
                                    f"(design {design!r}, controlled {_text_or_empty(df.at[row, 'controlled'])!r}), found 'control'"))


def _check_events(df: pd.DataFrame, problems: list[Problem], name: str = "events.csv") -> None:
    for row, r in zip(df.index, df.to_dict("records")):
        if not pd.isna(r["dose"]) and pd.isna(r["dose_unit"]):
            problems.append(Problem(name, row, "dose_unit", f"expected the unit of dose {r['dose']:g}, found an empty cell"))
        if r["event_type"] in schemas.STEM_CELL_EVENTS and not pd.isna(r["line"]) and r["line"] == 0:  # empty: reported
            problems.append(Problem(name, row, "line", f"expected a treatment line >= 1 for {'an' if r['event_type'] == 'infusion' else 'a'} {r['event_type']}, found {r['line']}"))


# --------------------------------------------------------------------------- entry point


def load_dataset(data_dir: str | Path) -> Dataset:
    """Read, validate and resolve a data folder.

    Returns a :class:`Dataset`; raises :class:`DataValidationError` listing every problem
    (``file:row:column: message``), or ``FileNotFoundError`` if the folder does not exist.
    Times of events are resolved to ``t_lo``, ``t_best``, ``t_hi``: days relative to day 0
    of the event's treatment line (events of line 0 relative to the patient's first line),
    and to calendar dates ``date_lo``/``date_best``/``date_hi`` where the chain reaches a date.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data folder {data_dir} does not exist")
    problems: list[Problem] = []
    files: dict[str, Path] = {}
    F = schemas.FILES
    sources = _load_file(data_dir, F["sources"], problems, files=files)
    source_ids = _ids(sources, "source_id")
    # no reference checks against a sources file that is incomplete or empty (reported once)
    refs = ({"source_id": source_ids, "study": source_ids}
            if _complete(sources, files.get("sources"), problems) and len(sources) else {})
    patients = _load_file(data_dir, F["patients"], problems, refs, files)
    patient_refs = {"patient_id": _ids(patients, "patient_id")} if _complete(patients, files.get("patients"), problems) else {}
    events = _load_file(data_dir, F["events"], problems, {**refs, **patient_refs}, files)
    outcomes = _load_file(data_dir, F["cohort_outcomes"], problems, refs, files)
    ipd = _load_optional_folder(data_dir, F["ipd"], problems, refs, files)
    km_points = _load_optional_folder(data_dir, F["km_points"], problems, refs, files)
    km_at_risk = _load_optional_folder(data_dir, F["km_at_risk"], problems, refs, files)
    if sources is not None and sources.empty:
        problems.append(Problem(files["sources"].name, 2, "", "expected at least one source, found a header only"))
    if outcomes is not None:
        _check_outcomes(outcomes, problems, files["cohort_outcomes"].name)
    lines = pd.DataFrame(columns=["patient_id", "line", "anchor_event_id", "anchor_type", "therapy", "source_id"])
    graph = None
    if events is not None:
        _check_events(events, problems, files["events"].name)
        events, lines, graph = _resolve_events(events, patients, problems, files["events"].name)
    if problems:
        raise DataValidationError(sorted(set(problems), key=_problem_order))
    for df in (sources, patients, events, outcomes):
        df.reset_index(inplace=True)
    for df in (ipd, km_points, km_at_risk):
        df.reset_index(drop=True, inplace=True)
    sources["evidence_level"] = pd.Categorical(sources["evidence_level"], categories=schemas.EVIDENCE_LEVELS, ordered=True)
    # yes / no / not_reported -> True / False / missing (not_reported is not "uncontrolled")
    outcomes["controlled"] = outcomes["controlled"].map({"yes": True, "no": False}).astype("boolean")
    outcomes["approximate"] = outcomes["approximate"] == "yes"
    outcomes["arm_role"] = outcomes["arm_role"].astype(object).where(outcomes["arm_role"].notna(), "single_arm")
    lines = lines.merge(sources[["source_id", "kind", "evidence_level"]], on="source_id", how="left")
    return Dataset(data_dir, sources, patients, events, lines, outcomes, ipd, km_points, km_at_risk, files, graph)


def _problem_order(p: Problem):
    row = p.row if isinstance(p.row, int) else -1
    return (p.file, row, p.column, p.message)


def check_quotes(ds: Dataset, texts_dir: str | Path) -> list[Problem]:
    """Problems for every quote that does not appear verbatim in its source's text file.

    Case and whitespace are normalised, and a word broken by a hyphen at a line end may be
    quoted joined or hyphenated; a quote may join fragments with `` … ``. The source's
    ``text_file`` names the file inside ``texts_dir``.
    """
    import re

    texts_dir = Path(texts_dir)

    def norm(s: str, hyphen: str = "") -> str:
        s = re.sub(r"-[ \t]*\n\s*", hyphen, s)  # a word broken at a line end
        return re.sub(r"\s+", " ", s).strip().lower()

    def shown_name(key: str) -> str:  # sources.csv or sources.xlsx
        return ds.files[key].name if key in ds.files else f"{key}.csv"

    texts = {}
    problems = []
    for _, s in ds.sources.iterrows():
        tf = s["text_file"]
        if pd.isna(tf):
            continue
        path = texts_dir / str(tf)
        if Path(str(tf)).name != str(tf) or str(tf) in (".", ".."):  # '../x', '/etc/x': stay in texts_dir
            problems.append(Problem(shown_name("sources"), int(s["row"]), "text_file",
                                    f"expected a file name in {texts_dir} (no folders), found {tf!r}"))
            continue
        if not path.is_file():
            problems.append(Problem(shown_name("sources"), int(s["row"]), "text_file", f"expected a file in {texts_dir}, found no {tf!r}"))
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        texts[s["source_id"]] = norm(raw) + "\n" + norm(raw, "-")  # "trans-plant" or "UC-MSC"
    for fname, df in ((shown_name("patients"), ds.patients), (shown_name("events"), ds.events),
                      (shown_name("cohort_outcomes"), ds.cohort_outcomes)):
        for _, r in df.iterrows():
            text = texts.get(r["source_id"])
            if text is None or pd.isna(r["quote"]):
                continue
            for part in str(r["quote"]).split(" … "):
                if norm(part) not in text:
                    problems.append(Problem(fname, int(r["row"]), "quote", f"quote not found verbatim in {r['source_id']}'s text: {part[:60]!r}"))
    return problems
