"""Reading a data folder: files (CSV or .xlsx), validation, typed and resolved tables.

``load_dataset(data_dir)`` is the one call the notebooks make. It reads every file
(:mod:`analysis.load.readers`), validates it with the pandera schemas of :mod:`analysis.schemas`
(lazily, so every problem is collected), checks what crosses rows and files
(:mod:`analysis.load.checks`: references, offset chains, event order, curves), and either
returns a :class:`Dataset` or raises :class:`DataValidationError` listing every problem as
``file:row:column: message``.

Row numbers are the spreadsheet's: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import schemas, timing
import analysis.load.checks as checks
import analysis.load.readers as readers
from analysis.load.events import resolve_events
from analysis.load.readers import MAX_FILE_BYTES, Problem, data_files_in, find_file, list_folder, read_table  # noqa: F401

# pandera (~0.5 s of imports with the backends it registers on its first validate, hypothesis'
# strategies among them) is imported only when a row may fail a check (:func:`_validate_rows`):
# every check runs on whole columns first (:func:`_suspect_rows`), and a valid folder has no
# such row, so ``validate``, render's kernel factory and a notebook's ``load_dataset`` of it
# never import pandera.


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
    groups: pd.DataFrame = field(default_factory=lambda: _empty(schemas.GROUPS))
    """``groups.csv`` (optional): ``column``, ``value``, ``group`` rows mapping values of the
    data to analysis groups."""

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


# --------------------------------------------------------------------------- validation


def validate_table(df: pd.DataFrame, data_file: schemas.DataFile, name: str,
                   problems: list[Problem], refs: dict[str, set] | None = None,
                   shape: readers.Shape | None = None) -> pd.DataFrame:
    """Validate ``df`` (text cells) with the pandera schemas; append problems; return the
    typed frame (numbers as ``Int64`` or ``float``; a cell that is not a number missing).

    Every check of the schema is first run on whole columns (pandas/numpy, no per-row
    Python): :func:`_suspect_rows` finds every row that may fail one. Only those rows go
    through pandera (:func:`_validate_rows`), which words each problem, so the messages are
    pandera's whether a file has one bad row or many. ``shape``: what
    :func:`~analysis.load.readers.read_table` measured while reading (empty cells, longest row).
    """
    measured = shape is not None and shape.missing is not None
    missing = shape.missing if measured else {c: df[c].isna().to_numpy() for c in df.columns}
    text = shape.text if measured else {c: df[c].to_numpy(dtype=object, na_value="") for c in df.columns}
    numbers = {c.name: _numbers(df[c.name]) for c in data_file.columns if c.kind in ("int", "float")}
    long = shape is None or shape.longest_row > schemas.MAX_TEXT_LENGTH
    suspect = _suspect_rows(df, missing, text, numbers, data_file, refs or {}, long)
    typed = df.copy(deep=False)  # the text cells are shared; each number column is replaced
    for col in data_file.columns:
        if col.name in numbers:
            values = np.where(suspect, np.nan, numbers[col.name])
            if col.kind == "int":  # as Series.round().astype("Int64") makes it (1 under the mask), without
                empty = np.isnan(values)  # its check of every value (a suspect row is NaN: the rest are whole)
                values = pd.arrays.IntegerArray(np.where(empty, 1, np.round(values)).astype(np.int64), empty)
            typed[col.name] = pd.Series(values, index=df.index)
    if suspect.any():
        checked = _validate_rows(df.loc[suspect], data_file, name, problems, refs)
        for c in numbers:
            typed.loc[suspect, c] = checked[c]
    return typed


def _numbers(s: pd.Series) -> np.ndarray:
    """The cells as pandas reads numbers (``pd.to_numeric``; NaN when empty or not a number),
    each distinct text read once."""
    codes, uniques = pd.factorize(s)
    if not len(uniques):
        return np.full(len(s), np.nan)
    read = pd.to_numeric(pd.Series(np.asarray(uniques, dtype=object)), errors="coerce").to_numpy(dtype=float)
    return np.where(codes >= 0, read[codes], np.nan)


_PLAIN_INT = re.compile(r"[+-]?[0-9]+")
"""A whole number as pandera reads one ('1.0' and '1e3' are not)."""
_DIGITS_AND_SIGNS = re.compile(r"[0-9+-]*")


def _suspect_rows(df: pd.DataFrame, missing: dict[str, np.ndarray], text: dict[str, np.ndarray],
                  numbers: dict[str, np.ndarray], data_file: schemas.DataFile, refs: dict[str, set],
                  long: bool = True) -> np.ndarray:
    """Rows that may fail a check of :func:`analysis.schemas.pandera_schema` (never fewer):
    an empty required cell, a cell that is not a number as pandera reads it (or not finite),
    a value out of range or not allowed, an unknown reference, a reserved or repeated id, an
    overlong text (looked for only when ``long``: a row holds more characters than a cell may)."""
    suspect = np.zeros(len(df), dtype=bool)
    for col in data_file.columns:
        s, present = df[col.name], ~missing[col.name]
        if col.required:
            suspect |= ~present
        if col.unique:
            suspect |= s.duplicated(keep=False).to_numpy()
        if not present.any():  # an empty or absent column: nothing more to check
            continue
        if col.name in numbers:
            suspect |= _bad_numbers(text[col.name], present, numbers[col.name], col)
            continue
        given = text[col.name][present] if long or col.kind == "id" else ()  # the cells given, when looked at
        if long and len(given) and max(map(len, given)) > schemas.MAX_TEXT_LENGTH:
            suspect[present] |= np.fromiter(map(len, given), dtype=np.int64, count=len(given)) > schemas.MAX_TEXT_LENGTH
        if col.kind == "id" and ("\n" + "\n".join(given)).find("\n" + schemas.RESERVED_ID_PREFIX) >= 0:
            suspect |= s.str.startswith(schemas.RESERVED_ID_PREFIX).fillna(False).to_numpy(dtype=bool)
        if col.allowed:
            suspect |= present & ~s.isin(list(col.allowed)).to_numpy()
        if col.kind == "ref" and col.name in refs:
            suspect |= present & ~s.isin(refs[col.name]).to_numpy()
    return suspect


def _bad_numbers(values: np.ndarray, present: np.ndarray, num: np.ndarray, col: schemas.Col) -> np.ndarray:
    """Cells of a number column pandera may refuse or report: not a finite number (for an
    ``int`` column, not a plain whole number), or out of the column's range."""
    with np.errstate(invalid="ignore"):
        bad = present & ~np.isfinite(num)
        if col.kind == "int":
            bad |= present & ((np.abs(num) >= 2.0**53) | (num != np.round(num)))
            if _DIGITS_AND_SIGNS.fullmatch("".join(values[present & ~bad])) is None:  # '1.0', '1e3'
                bad |= present & ~np.fromiter((bool(_PLAIN_INT.fullmatch(v)) if isinstance(v, str) else True
                                               for v in values), dtype=bool, count=len(values))
        if col.min_value is not None:
            bad |= num < col.min_value
        if col.max_value is not None:
            bad |= num > col.max_value
    return bad


def _validate_rows(df: pd.DataFrame, data_file: schemas.DataFile, name: str,
                   problems: list[Problem], refs: dict[str, set] | None = None) -> pd.DataFrame:
    """Validate ``df`` (text cells) with the pandera schemas; append problems; return the
    typed frame.

    Two pandera passes: the first only reads numbers (cells that are not numbers are
    reported and blanked), the second checks everything else on the typed values.
    """
    import pandera.errors

    df = df.copy()
    cols = {c.name: c for c in data_file.columns}
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
                                    f"expected {schemas.expected_text(data_file, rec.column)}, found "
                                    f"{timing.shown(rec.failure_case)}{_number_hint(str(rec.failure_case), cols[rec.column], data_file)}"))
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
                                    f"found {timing.shown(text)}{_number_hint(text, col, data_file)}"))
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
                col = cols.get(column)
                if (col is not None and col.over_max_hint and check.startswith("expected a value <=")
                        and isinstance(value, (int, float)) and 1 < value <= 100):
                    msg += f"; {col.over_max_hint} ({value:g} is {value / 100:g})"
            problems.append(Problem(name, row, column, msg))
    return df


_QUALIFIER_WORDS = [
    (r"≥|>=|=>|>|over|more than|above|at least|min\.?|minimum", "at_least"),
    (r"~|≈|about|approx\.?|approximately|around|circa|ca\.?|c\.|roughly|nearly|almost", "about"),
    (r"≤|<=|=<|<|under|less than|below|up to|within|max\.?|maximum", "up_to"),
]


def _qualifier_hint(t: str, col: schemas.Col | None, data_file: schemas.DataFile | None) -> str:
    """'≥200', '>200', 'over 200', '200+' in a column with a qualifier column: how to code it."""
    if col is None or not col.qualifier or data_file is None:
        return ""
    found = None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*\+", t)
    if m:
        found = (m.group(1), "at_least")
    for words, q in _QUALIFIER_WORDS:
        m = re.fullmatch(rf"(?:{words})\s*(\d+(?:\.\d+)?)", t, re.I)
        if m and found is None:
            found = (m.group(1), q)
    if found is None:
        return ""
    number, qualifier = found
    allowed = next((c.allowed for c in data_file.columns if c.name == col.qualifier), ())
    if qualifier in allowed:
        return f"; use {col.name} {number} with {col.qualifier} {qualifier}"
    return f"; write the number alone ({number}); {col.qualifier} takes {', '.join(allowed)}"


def _number_hint(text: str, col: schemas.Col | None = None, data_file: schemas.DataFile | None = None) -> str:
    """How a cell that is not a number was probably meant, for the message."""
    t = text.strip()
    qualified = _qualifier_hint(t, col, data_file)
    if qualified:
        return qualified
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


def _load_file(data_dir: Path, data_file: schemas.DataFile, problems, refs=None, files=None,
               explained: set | None = None, required: bool = True, shapes: dict | None = None):
    path = find_file(data_dir, data_file.name, problems, required=required, explained=explained)
    if path is None:
        return None
    if files is not None:
        files[data_file.name] = path
    shape = readers.Shape()
    df = read_table(path, data_file, problems, name=path.name, data_dir=data_dir, shape=shape)
    if df is None:
        return None
    if shapes is not None:
        shapes[data_file.name] = shape
    return validate_table(df, data_file, path.name, problems, refs, shape)


def _load_optional_folder(data_dir: Path, data_file: schemas.DataFile, problems, refs, files):
    folder, pattern = data_file.path.split("/")
    base = data_dir / folder
    if not base.is_dir():
        return _empty(data_file)
    if "*" in pattern:
        paths = data_files_in(base)
    else:
        stem = pattern.rsplit(".", 1)[0]
        p = find_file(base, stem, problems, required=False, prefix=f"{folder}/")
        paths = [p] if p else []
    frames = []
    for path in paths:
        name = f"{folder}/{path.name}"
        files[name] = path
        shape = readers.Shape()
        df = read_table(path, data_file, problems, name=name, data_dir=data_dir, shape=shape)
        if df is None:
            continue
        typed = validate_table(df, data_file, name, problems, refs, shape)
        typed["file"] = name
        frames.append(typed)
    if not frames:
        return _empty(data_file)
    return pd.concat(frames) if len(frames) > 1 else frames[0]


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

# --------------------------------------------------------------------------- entry point


def load_dataset(data_dir: str | Path) -> Dataset:
    """Read, validate and resolve a data folder.

    Returns a :class:`Dataset`; raises :class:`DataValidationError` listing every problem
    (``file:row:column: message``), or ``FileNotFoundError`` if the folder does not exist.
    Times of events are resolved to ``t_lo``, ``t_best``, ``t_hi``: days relative to day 0
    of the event's treatment line (events of line 0 relative to the patient's first line),
    and to calendar dates ``date_lo``/``date_best``/``date_hi`` where the chain reaches a date.
    """
    if _AHEAD:
        ahead = _validated_ahead(data_dir)
        if ahead is not None:
            return ahead
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data folder {data_dir} does not exist")
    problems: list[Problem] = []
    files: dict[str, Path] = {}
    F = schemas.FILES
    explained: set[str] = set()  # misnamed files, named by a "missing required file" line
    sources = _load_file(data_dir, F["sources"], problems, files=files, explained=explained)
    source_ids = _ids(sources, "source_id")
    # no reference checks against a sources file that is incomplete or empty (reported once)
    refs = ({"source_id": source_ids, "study": source_ids}
            if _complete(sources, files.get("sources"), problems) and len(sources) else {})
    patients = _load_file(data_dir, F["patients"], problems, refs, files, explained)
    patient_refs = {"patient_id": _ids(patients, "patient_id")} if _complete(patients, files.get("patients"), problems) else {}
    shapes: dict[str, readers.Shape] = {}
    events = _load_file(data_dir, F["events"], problems, {**refs, **patient_refs}, files, explained, shapes=shapes)
    outcomes = _load_file(data_dir, F["cohort_outcomes"], problems, refs, files, explained)
    groups = _load_file(data_dir, F["groups"], problems, None, files, required=False)
    outcome_refs = ({"outcome_id": _ids(outcomes, "outcome_id")}
                    if _complete(outcomes, files.get("cohort_outcomes"), problems) else {})
    ipd = _load_optional_folder(data_dir, F["ipd"], problems, {**refs, **outcome_refs}, files)
    km_points = _load_optional_folder(data_dir, F["km_points"], problems, {**refs, **outcome_refs}, files)
    km_at_risk = _load_optional_folder(data_dir, F["km_at_risk"], problems, refs, files)
    list_folder(data_dir, problems, explained)
    if sources is not None and sources.empty:
        problems.append(Problem(files["sources"].name, 2, "", "expected at least one source, found a header only"))
    if outcomes is not None:
        checks.check_outcomes(outcomes, problems, files["cohort_outcomes"].name)
    checks.check_ipd(ipd, problems)
    curve_files = [next((k for k in files if k.startswith(f"km_curves/{stem}.")), None) for stem in ("points", "at_risk")]
    if not any(p.file in curve_files and p.row in ("-", 1) for p in problems):  # both files read
        checks.check_curves(km_points, km_at_risk, *curve_files, problems)
    if groups is not None:
        checks.check_groups(groups, [sources, patients, events, outcomes, ipd, km_points], problems,
                            files["groups"].name)
    lines = pd.DataFrame(columns=["patient_id", "line", "anchor_event_id", "anchor_type", "therapy", "source_id"])
    graph = None
    if events is not None:
        cells = shapes["events"].text if "events" in shapes else None
        checks.check_events(events, problems, files["events"].name, cells)
        events, lines, graph = resolve_events(events, patients, problems, files["events"].name, cells)
    if problems:
        raise DataValidationError(sorted(set(problems), key=_problem_order))
    groups = groups if groups is not None else _empty(F["groups"])
    for df in (sources, patients, events, outcomes, groups):
        df.reset_index(inplace=True)
    for df in (ipd, km_points, km_at_risk):
        df.reset_index(drop=True, inplace=True)
    sources["evidence_level"] = pd.Categorical(sources["evidence_level"], categories=schemas.EVIDENCE_LEVELS, ordered=True)
    # yes / no / not_reported -> True / False / missing (not_reported is not "uncontrolled")
    outcomes["controlled"] = outcomes["controlled"].map({"yes": True, "no": False}).astype("boolean")
    outcomes["approximate"] = outcomes["approximate"] == "yes"
    outcomes["arm_role"] = outcomes["arm_role"].astype(object).where(outcomes["arm_role"].notna(), "single_arm")
    lines = lines.merge(sources[["source_id", "kind", "evidence_level"]], on="source_id", how="left")
    return Dataset(data_dir, sources, patients, events, lines, outcomes, ipd, km_points, km_at_risk, files, graph,
                   groups)


# --------------------------------------------------------------------------- validated ahead


_AHEAD: dict[Path, tuple[tuple | None, Dataset]] = {}
"""Datasets that :func:`validate_ahead` loaded in this process (render's kernel factory) before
it forked the process that runs now (a notebook's kernel), by resolved folder, each with the
folder's :func:`_folder_state` from before it was read."""


def validate_ahead(data_dir: str | Path) -> Dataset:
    """:func:`load_dataset` of ``data_dir``, kept for the first ``load_dataset`` of the same
    folder in this process or a process forked from it, which returns it instead of reading
    the folder again -- if no file or folder in it has changed (size, modification time,
    inode) since this call began reading it. Render's kernel factory validates the data folder
    with it before it forks the notebooks' kernels, so a notebook does not read and validate
    a million rows a second time. Raises as ``load_dataset`` does.

    A load that warns or prints (a library's warning about a workbook, say) is not kept:
    the notebook then loads the folder itself and shows what a load of it shows."""
    import contextlib
    import io
    import sys
    import warnings

    folder = Path(data_dir).resolve()
    state = _folder_state(folder)
    said = io.StringIO()
    with warnings.catch_warnings(record=True) as warned, contextlib.redirect_stdout(said), \
            contextlib.redirect_stderr(said):
        ds = load_dataset(folder)
    for w in warned:  # where they would have gone (render's kernel factory: its log)
        said.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
    if said.getvalue():
        sys.stderr.write(said.getvalue())
    elif state is not None:
        _AHEAD[folder] = (state, ds)
    return ds


def _validated_ahead(data_dir: str | Path) -> Dataset | None:
    """The dataset :func:`validate_ahead` kept for ``data_dir`` (taken: a second
    ``load_dataset`` reads the folder), with the paths as ``data_dir`` gives them; None when
    none was kept or the folder changed since."""
    try:
        folder = Path(data_dir).resolve()
    except (OSError, RuntimeError, TypeError):
        return None
    state, ds = _AHEAD.pop(folder, (None, None))
    if ds is None or _folder_state(folder) != state:
        return None
    given = Path(data_dir)
    if given != ds.data_dir:  # the same folder named another way: paths as load_dataset gives them
        ds = dataclasses.replace(ds, data_dir=given,
                                 files={k: given / p.relative_to(ds.data_dir) for k, p in ds.files.items()})
    return ds


def _folder_state(folder: Path) -> tuple | None:
    """(path, size, modification time, inode, device) of every file and folder under
    ``folder``; None when there is a link in it (a linked file may change without its link)
    or it cannot be read."""
    state = []
    try:
        for root, dirs, files in os.walk(folder, onerror=_raise):
            dirs.sort()
            for name in [*dirs, *sorted(files)]:
                path = os.path.join(root, name)
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    return None
                state.append((os.path.relpath(path, folder), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev))
        st = os.stat(folder)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_dev, *state)


def _raise(exc: OSError):
    raise exc


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
        s = unicodedata.normalize("NFC", s)  # the data are read in NFC; a text may be NFD
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

