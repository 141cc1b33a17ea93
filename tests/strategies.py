"""Hypothesis strategies for VALID data folders, built from :mod:`analysis.schemas`.

``data_folders()`` draws a :class:`Folder`: every data file of ``schemas.FILES`` (the four
required ones, and sometimes ``groups``, ``ipd/*`` and ``km_curves/``) as rows of text
cells, each file in its own format (CSV as UTF-8, UTF-8 with BOM or UTF-16 with tabs; ``,``
or ``;``; LF or CRLF; or .xlsx with numbers as numbers and dates as real date cells shown
``yyyy-mm-dd``, ``yyyy-mm`` or ``yyyy``), ids in any script, some files written in Unicode
NFD. :func:`write_folder` writes it.

Every value comes from the column's kind, allowed values and range in the schema, and
every optional column is sometimes empty, sometimes filled. What crosses rows is valid by
construction:

- each patient has a true timeline (days); events are coded, in a random order, as dates
  of any precision (with or without ``about``), ages from birth, ``not_reported`` roots or
  offsets from an event coded before (``""``, ``about``, ``within``, ``at_least``, in any
  unit) whose interval contains the true time, so chains have any depth and any file
  order (sometimes deepest first) and the intervals never say an order is wrong when the
  true times are right;
- lines 1..L each start with a transplant or infusion; remissions and relapses follow
  their line's therapy; one death at most; the last follow-up after every other event;
- cohort rows keep events <= total, a qualifier only with its value, ``approximate`` yes
  when a figure is; controls come in pairs with an intervention arm;
- IPD patients are unique per study, each with a time or (an event) only the interval
  ``time_lo``..``time_hi`` it lies in, ``time_lo <= time <= time_hi`` where given, a
  ``cause`` only on an event; IPD and curve rows name a cohort_outcomes row in
  ``outcome_id`` or none; curves run forward in time and never rise, their numbers at
  risk start at 0 and never increase, and their total events are what the fall can take.

Synthetic data for tests only; nothing here is evidence.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from analysis import schemas, timing

EPOCH = dt.date(1970, 1, 1)
YEAR = timing.YEAR
UNITS = list(timing.TIME_UNITS)  # days, weeks, months, years


# --------------------------------------------------------------------------- cells


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


_ID_CHARS = st.characters(categories=("L", "N"), exclude_characters="@")
_ID_EXTRA = st.sampled_from(list("-_./ ()'"))
_TEXT_CHARS = st.characters(exclude_categories=("Cc", "Cs", "Co", "Cn"))


def _clean(text: str) -> str:
    return nfc(text).strip()


@st.composite
def ids(draw, prefix: str = "") -> str:
    """An id in any script (letters and digits of any alphabet, a few separators), NFC,
    not starting with '@', never 'birth'."""
    body = draw(st.text(st.one_of(_ID_CHARS, _ID_CHARS, _ID_CHARS, _ID_EXTRA), min_size=1, max_size=8))
    text = _clean(prefix + body)
    if not text or text.startswith("@") or text.lower() == "birth" or text != text.strip():
        text = prefix + "id"
    return text


def unique_ids(n: int, prefix: str = ""):
    """``n`` distinct ids (distinct after NFC)."""
    return st.lists(ids(prefix), min_size=n, max_size=n, unique_by=lambda s: nfc(s))


TEXT = st.text(_TEXT_CHARS, max_size=24).map(_clean)
REQUIRED_TEXT = st.text(_TEXT_CHARS, min_size=1, max_size=24).map(_clean).filter(bool)


def optional(strategy, p_empty: float = 0.4):
    """A cell that is empty with some probability."""
    return st.one_of(st.just(""), strategy) if p_empty else strategy


def category(col: schemas.Col):
    return st.sampled_from(list(col.allowed))


def number_text(lo: float, hi: float, integer: bool = False):
    if integer:
        return st.integers(int(lo), int(hi)).map(str)
    return st.one_of(st.integers(int(math.ceil(lo)), int(hi)).map(str),
                     st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(repr))


def cell(col: schemas.Col):
    """Any valid value of a column with no cross-row meaning (an optional one sometimes empty)."""
    if col.allowed:
        s = category(col)
    elif col.kind in ("int", "float"):
        lo = col.min_value if col.min_value is not None else 0
        hi = col.max_value if col.max_value is not None else 1e6
        s = number_text(lo, hi, integer=col.kind == "int")
    else:
        s = REQUIRED_TEXT
    return s if col.required else optional(s)


def fill(draw, data_file: schemas.DataFile, given: dict) -> dict:
    """A row: ``given`` cells as they are, every other column drawn with :func:`cell`."""
    return {c.name: given[c.name] if c.name in given else draw(cell(c)) for c in data_file.columns}


# --------------------------------------------------------------------------- the folder


@dataclass
class FileFormat:
    kind: str = "csv"  # csv or xlsx
    encoding: str = "utf-8"  # utf-8, utf-8-sig (BOM), utf-16 (tab-separated, as Excel's Unicode Text)
    delimiter: str = ","
    newline: str = "\n"
    nfd: bool = False  # every cell written decomposed


@dataclass
class DataFileRows:
    """One file: its schema, header (optional later columns may be left out) and rows."""

    stem: str  # path without extension: "events", "ipd/trial", "km_curves/points"
    data_file: schemas.DataFile
    rows: list[dict]
    fmt: FileFormat = field(default_factory=FileFormat)
    header: list[str] | None = None
    date_cells: dict = field(default_factory=dict)  # (row index, column) -> (date, number format), .xlsx only

    @property
    def name(self) -> str:
        """The file's name as validation messages give it (``events.xlsx``, ``ipd/trial.csv``)."""
        return self.stem + (".xlsx" if self.fmt.kind == "xlsx" else ".csv")

    @property
    def columns(self) -> list[str]:
        return self.header if self.header is not None else self.data_file.column_names


@dataclass
class Folder:
    files: dict[str, DataFileRows]  # key: stem

    def summary(self) -> dict:
        rows = {k: len(f.rows) for k, f in self.files.items()}
        return {
            "sources": rows["sources"], "patients": rows["patients"], "events": rows["events"],
            "cohort outcomes": rows["cohort_outcomes"],
            "ipd rows": sum(n for k, n in rows.items() if k.startswith("ipd/")),
            "km curve points": rows.get("km_curves/points", 0),
        }


def write_folder(folder: Folder, path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for f in folder.files.values():
        target = path / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        cells = [[(unicodedata.normalize("NFD", v) if f.fmt.nfd else v) for v in (r[c] for c in f.columns)]
                 for r in f.rows]
        if f.fmt.kind == "xlsx":
            _write_xlsx(target, f, cells)
        else:
            buf = io.StringIO(newline="")
            delimiter = "\t" if f.fmt.encoding == "utf-16" else f.fmt.delimiter
            w = csv.writer(buf, delimiter=delimiter, lineterminator=f.fmt.newline)
            w.writerow(f.columns)
            w.writerows(cells)
            target.write_bytes(buf.getvalue().encode(f.fmt.encoding))
    return path


def _write_xlsx(target: Path, f: DataFileRows, cells: list[list[str]]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(f.columns)
    kinds = {c.name: c.kind for c in f.data_file.columns}
    for i, row in enumerate(cells):
        for j, (col, text) in enumerate(zip(f.columns, row)):
            if text == "":
                continue
            c = ws.cell(row=i + 2, column=j + 1)
            if (i, col) in f.date_cells:
                value, number_format = f.date_cells[(i, col)]
                c.value = value
                c.number_format = number_format
            elif kinds[col] in ("int", "float") and _is_number(text):
                c.value = int(text) if text.lstrip("-").isdigit() else float(text)
            else:
                c.value = text
                c.data_type = "s"  # text, even '=1+1' (never a formula)
    wb.save(target)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


XLSX = st.builds(FileFormat, kind=st.just("xlsx"), nfd=st.booleans())
FORMATS = st.one_of(
    st.builds(FileFormat, kind=st.just("csv"), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
              delimiter=st.sampled_from([",", ";"]), newline=st.sampled_from(["\n", "\r\n"]), nfd=st.booleans()),
    XLSX,
)


# --------------------------------------------------------------------------- events: true times, coded


def _date_text(day: int, precision: str) -> str:
    d = EPOCH + dt.timedelta(days=day)
    return {"day": d.isoformat(), "month": f"{d.year:04d}-{d.month:02d}", "year": f"{d.year:04d}"}[precision]


def _offset_candidates(d: float):
    """Codings ``(offset text, qualifier)`` of a true difference ``d`` (days) whose interval
    contains ``d``: exact days or weeks, 'about' in any unit, 'within' and 'at_least'
    bounds in any unit."""
    sign = "-" if d < 0 else "+"
    a = abs(d)
    out = [(f"{sign}{int(a)} days", "")]
    if a % 7 == 0:
        out.append((f"{sign}{int(a // 7)} weeks", ""))
    for unit in UNITS:
        u = timing.TIME_UNITS[unit]
        n = round(a / u, 1)
        if n > 0:
            out.append((f"{sign}{n} {unit}", "about"))
        out.append((f"{sign}{math.ceil(a / u)} {unit}", "within"))
        out.append((f"{sign}{math.floor(a / u)} {unit}", "at_least"))
    if d == 0:
        out += [("-0 days", ""), ("+0 days", "at_least"), ("-0 days", "at_least")]
    return [(t, q) for t, q in out if _contains(t, q, d)]


def _contains(text: str, qualifier: str, d: float, from_birth: bool = False) -> bool:
    try:
        iv = timing.offset_interval(text, qualifier, from_birth=from_birth)
    except ValueError:
        return False
    return iv.lo <= d <= iv.hi


@dataclass
class TrueEvent:
    event_type: str
    line: int
    day: int  # true day since 1970-01-01


@st.composite
def patient_timeline(draw) -> tuple[list[TrueEvent], int]:
    """A patient's events with true days, valid in every order rule; and the birth day."""
    start = draw(st.integers((dt.date(1850, 1, 1) - EPOCH).days, (dt.date(2140, 1, 1) - EPOCH).days))
    events: list[TrueEvent] = []
    t = start
    n_lines = draw(st.integers(0, 3))
    line0 = draw(st.lists(st.sampled_from(["diagnosis", "admission", "assessment", "chemotherapy", "adverse_event"]),
                          max_size=3))
    for kind in line0:
        events.append(TrueEvent(kind, 0, start + draw(st.integers(0, 3000))))
    for line in range(1, n_lines + 1):
        t += draw(st.integers(0, 1500))
        for kind in draw(st.lists(st.sampled_from(["chemotherapy", "conditioning", "admission"]), max_size=2)):
            events.append(TrueEvent(kind, line, t - draw(st.integers(0, 60))))
        stems = draw(st.lists(st.sampled_from(schemas.STEM_CELL_EVENTS), min_size=1, max_size=3))
        days = sorted(t + draw(st.integers(0, 90)) for _ in stems)
        events += [TrueEvent(k, line, d) for k, d in zip(stems, days)]
        after = max(days)
        for kind in draw(st.lists(st.sampled_from(["assessment", "remission", "relapse", "adverse_event"]),
                                  max_size=4)):
            events.append(TrueEvent(kind, line, after + draw(st.integers(0, 2000))))
        t = max(e.day for e in events)
    end = max([e.day for e in events] + [start])
    last_line = n_lines
    if draw(st.booleans()):
        events.append(TrueEvent("death", last_line, end + draw(st.integers(0, 400))))
    if draw(st.booleans()):
        events.append(TrueEvent("last_followup", last_line, end + draw(st.integers(0, 1500))))
    deaths = [e.day for e in events if e.event_type == "death"]
    follow = [e.day for e in events if e.event_type == "last_followup"]
    if deaths and (not follow or follow[0] >= deaths[0]) and draw(st.booleans()):
        last = follow[0] if follow else deaths[0]  # after the death, not after the last follow-up
        events.append(TrueEvent(draw(st.sampled_from(["assessment", "diagnosis", "adverse_event"])), 0,
                                deaths[0] + draw(st.integers(0, last - deaths[0]))))  # post-mortem findings
    birth = min([e.day for e in events] + [start]) - draw(st.integers(0, int(70 * YEAR)))
    return events, birth


@st.composite
def coded_events(draw, pid: str, used: set, source_ids: list[str]):
    """The events rows of one patient (coding and file order drawn too); ``used``: event ids
    (NFC) of other patients, extended with this patient's."""
    true, birth = draw(patient_timeline())
    if not true:
        return []
    event_ids = []
    for e in draw(st.lists(ids(), min_size=len(true), max_size=len(true))):
        k = 0
        while nfc(e) in used:
            e, k = f"{pid}-E{k}", k + 1
        used.add(nfc(e))
        event_ids.append(e)
    order = draw(st.permutations(range(len(true))))  # the coding order: refs only to events coded before
    deep = draw(st.booleans())
    coded: list[int] = []
    rows: dict[int, dict] = {}
    for pos, i in enumerate(order):
        e = true[i]
        choices = ["date", "offset", "offset", "birth", "not_reported"] if coded else ["date", "birth", "not_reported"]
        how = "offset" if deep and coded else draw(st.sampled_from(choices))
        row = {"date": "", "offset": "", "offset_from": "", "qualifier": ""}
        if how == "date":
            precision = draw(st.sampled_from(["day", "month", "year"]))
            row["date"] = _date_text(e.day, precision)
            row["qualifier"] = draw(st.sampled_from(["", "about"]))
        elif how == "not_reported":
            row["date"] = "not_reported"
        elif how == "birth":
            age = e.day - birth
            cands = [(f"+{age} days", ""), (f"+{math.floor(age / YEAR)} years", "")]
            cands += [(f"+{round(age / YEAR, 1)} years", "about")] if age else []
            cands = [(t, q) for t, q in cands if _contains(t, q, age, from_birth=True)]
            row["offset"], row["qualifier"] = draw(st.sampled_from(cands))
            row["offset_from"] = "birth"
        else:
            ref = coded[-1] if deep else draw(st.sampled_from(coded))
            if rows[ref]["date"] == "not_reported" and not deep and draw(st.booleans()):
                ref = draw(st.sampled_from(coded))
            cands = _offset_candidates(float(e.day - true[ref].day))
            row["offset"], row["qualifier"] = draw(st.sampled_from(cands))
            row["offset_from"] = event_ids[ref]
        coded.append(i)
        rows[i] = row
    out = []
    for i, e in enumerate(true):
        dose = draw(optional(number_text(0, 1e9)))
        given = {
            "event_id": event_ids[i], "patient_id": pid, "line": str(e.line), "event_type": e.event_type,
            "source_id": draw(st.sampled_from(source_ids)), "dose": dose,
            "dose_unit": draw(REQUIRED_TEXT) if dose else draw(optional(REQUIRED_TEXT)),
            **rows[i],
        }
        out.append((i, given))
    if deep and draw(st.booleans()):
        out = [out[i] for i in reversed(order)]  # deepest first
    else:
        out = [out[i] for i in draw(st.permutations(range(len(out))))]
    return [g for _, g in out]


# --------------------------------------------------------------------------- files


@st.composite
def cohort_rows(draw, source_ids: list[str], outcome_ids: list[str], with_roles: bool) -> list[dict]:
    rows = []
    F = schemas.COHORT_OUTCOMES
    i = 0
    while i < len(outcome_ids):
        pair = with_roles and i + 1 < len(outcome_ids) and draw(st.sampled_from([True, True, False]))
        common = {
            "source_id": draw(st.sampled_from(source_ids)),
            "study": draw(REQUIRED_TEXT),
            "outcome": draw(st.sampled_from(schemas.OUTCOMES)),
            **_time(draw),
        }
        if pair:
            common["study"] = f"{common['study']} #{i}"  # one control per comparison
            design = draw(st.sampled_from([d for d in schemas.DESIGNS if d not in ("case_report", "case_series",
                                                                                      "uncontrolled_cohort",
                                                                                      "review_summary")]))
            for role, oid in (("control", outcome_ids[i]), ("intervention", outcome_ids[i + 1])):
                rows.append(_outcome(draw, F, {**common, "outcome_id": oid, "arm_role": role, "design": design,
                                               "controlled": draw(st.sampled_from(["yes", "not_reported"]))}))
            i += 2
            continue
        role = draw(st.sampled_from(["", "single_arm", "intervention"])) if with_roles else ""
        rows.append(_outcome(draw, F, {**common, "outcome_id": outcome_ids[i], "arm_role": role}))
        i += 1
    return rows


def _time(draw) -> dict:
    if not draw(st.booleans()):
        return {"time_value": "", "time_unit": "", "time_qualifier": ""}
    unit = draw(st.sampled_from(UNITS))
    most = 100 * YEAR / timing.TIME_UNITS[unit]
    return {"time_value": draw(number_text(0, min(most, 1e4))), "time_unit": unit,
            "time_qualifier": draw(optional(st.sampled_from(schemas.TIME_QUALIFIERS)))}


def _outcome(draw, F: schemas.DataFile, given: dict) -> dict:
    mode = draw(st.sampled_from(["counts", "proportion", "none"]))
    total = draw(st.integers(1, 10**6))
    tq = draw(optional(st.sampled_from(schemas.COUNT_QUALIFIERS)))
    if mode == "counts":
        counts = {"events": str(draw(st.integers(0, total))), "total": str(total), "total_qualifier": tq,
                  "proportion": "", "proportion_qualifier": ""}
    elif mode == "proportion":
        with_total = draw(st.booleans())
        counts = {"events": "", "total": str(total) if with_total else "", "total_qualifier": tq if with_total else "",
                  "proportion": draw(number_text(0, 1)),
                  "proportion_qualifier": draw(optional(st.sampled_from(schemas.PROPORTION_QUALIFIERS)))}
    else:
        counts = {"events": "", "total": "", "total_qualifier": "", "proportion": "", "proportion_qualifier": ""}
    rough = (counts["total"] and counts["total_qualifier"] in ("about", "at_least")) or \
        (counts["proportion"] and counts["proportion_qualifier"] == "about")
    approximate = "yes" if rough else draw(st.sampled_from(schemas.YES_NO))
    row = fill(draw, F, {**given, **counts, "approximate": approximate,
                         "cohort_group": given.get("cohort_group", draw(optional(REQUIRED_TEXT)))})
    if row["controlled"] == "no" and row["arm_role"] == "control":
        row["controlled"] = "yes"
    return row


def _curve_context(draw, outcome_ids: list[str]) -> dict:
    """The optional ``disease``, ``therapy`` and ``outcome_id`` of an IPD or curve row: an
    ``outcome_id`` names a cohort_outcomes row or is empty."""
    return {"disease": draw(optional(REQUIRED_TEXT)), "therapy": draw(optional(REQUIRED_TEXT)),
            "outcome_id": draw(optional(st.sampled_from(outcome_ids))) if outcome_ids else ""}


@st.composite
def ipd_row(draw, study: str, pid: str, outcome_ids: list[str]) -> dict:
    """One patient: a time, or for an event only the interval ``time_lo``..``time_hi`` it
    lies in (interval-censored); ``time_lo <= time <= time_hi`` where given; a ``cause`` only
    with ``event`` 1."""
    event = draw(st.sampled_from(["0", "1"]))
    time = draw(number_text(0, 500))
    lo = hi = ""
    how = draw(st.sampled_from(["time", "time", "bounded", "interval"]))
    if how == "bounded":  # a time and an interval around it (either end may be left out)
        t = float(time)
        lo = draw(optional(number_text(0, t).filter(lambda x: float(x) <= t)))
        hi = draw(optional(number_text(t, t + 100).filter(lambda x: float(x) >= t)))
    elif how == "interval" and event == "1":
        a, b = sorted([float(time), float(draw(number_text(0, 500)))])
        lo, hi, time = repr(a), repr(b), ""
    return fill(draw, schemas.IPD, {
        "study": study, "patient_id": pid, "event": event, "time": time, "time_lo": lo, "time_hi": hi,
        "cause": draw(optional(REQUIRED_TEXT)) if event == "1" else "", **_curve_context(draw, outcome_ids)})


@st.composite
def ipd_files(draw, source_ids: list[str], outcome_ids: list[str]) -> list[tuple[str, list[dict]]]:
    seen = set()
    files = []
    for k in range(draw(st.integers(0, 2))):
        rows = []
        for _ in range(draw(st.integers(0, 8))):
            study = draw(st.sampled_from(source_ids))
            pid = draw(ids())
            if (study, pid) in seen:
                continue
            seen.add((study, pid))
            rows.append(draw(ipd_row(study, pid, outcome_ids)))
        files.append((f"ipd/{draw(st.sampled_from(['trial', 'cohort', 'registry']))}{k}", rows))
    return files


@st.composite
def km_curve_files(draw, source_ids: list[str], outcome_ids: list[str]) -> tuple[list[dict], list[dict]]:
    points, at_risk = [], []
    keys = draw(st.lists(st.tuples(st.sampled_from(source_ids), REQUIRED_TEXT), min_size=1, max_size=2,
                         unique_by=lambda k: k))
    for study, group in keys:
        unit = draw(st.sampled_from(UNITS))
        n = draw(st.integers(1, 6))
        times = sorted(draw(st.lists(st.floats(0, 120, allow_nan=False), min_size=n, max_size=n)))
        surv = sorted(draw(st.lists(st.floats(0, 1, allow_nan=False), min_size=n, max_size=n)), reverse=True)
        context = _curve_context(draw, outcome_ids)  # on every point, or on its first only
        points += [{"study": study, "group": group, "time": repr(t), "time_unit": unit, "survival": repr(s),
                    **(context if i == 0 or draw(st.booleans()) else dict.fromkeys(context, ""))}
                   for i, (t, s) in enumerate(zip(times, surv))]
        r_unit = draw(st.sampled_from([unit, *UNITS]))
        r_times = sorted(set([0.0] + draw(st.lists(st.floats(0.5, 150, allow_nan=False), max_size=4))))
        counts = sorted(draw(st.lists(st.integers(0, 500), min_size=len(r_times), max_size=len(r_times))),
                        reverse=True)
        counts[0] = max(counts[0], 1)
        # a total the curve can have: 0 when it never falls, else near what its fall implies (a
        # total far below it is refused by the reconstruction: tests/test_reconstruct.py)
        implied = counts[0] * (1 - surv[-1])
        total = draw(optional(st.just("0") if surv[-1] == 1 else
                              st.integers(max(1, math.ceil(0.8 * implied)), counts[0]).map(str), 0.6))
        on_all = draw(st.booleans())
        risk_rows = [{"study": study, "group": group, "time": repr(t), "time_unit": r_unit, "n_at_risk": str(c),
                      "total_events": total if (on_all or i == 0) else ""} for i, (t, c) in enumerate(zip(r_times, counts))]
        at_risk += draw(st.permutations(risk_rows))  # any row order: checked in time order
    return points, at_risk


@st.composite
def data_folders(draw, max_patients: int = 4) -> Folder:
    """A valid data folder (see the module docstring)."""
    n_sources = draw(st.integers(1, 4))
    source_ids = draw(unique_ids(n_sources))
    sources = [fill(draw, schemas.SOURCES, {"source_id": s, "year": draw(optional(number_text(1900, 2100, True)))})
               for s in source_ids]
    n_patients = draw(st.integers(0, max_patients))
    patient_ids = draw(unique_ids(n_patients))
    patients = [fill(draw, schemas.PATIENTS, {"patient_id": p, "source_id": draw(st.sampled_from(source_ids))})
                for p in patient_ids]
    events = []
    used: set[str] = set()
    for p in patient_ids:
        events += [fill(draw, schemas.EVENTS, r) for r in draw(coded_events(p, used, source_ids))]
    with_roles = draw(st.booleans())
    outcome_ids = draw(unique_ids(draw(st.integers(0, 6))))
    outcomes = draw(cohort_rows(source_ids, outcome_ids, with_roles))
    files = {
        "sources": DataFileRows("sources", schemas.SOURCES, sources),
        "patients": DataFileRows("patients", schemas.PATIENTS, patients),
        "events": DataFileRows("events", schemas.EVENTS, events),
        "cohort_outcomes": DataFileRows(
            "cohort_outcomes", schemas.COHORT_OUTCOMES, outcomes,
            header=None if with_roles else [c.name for c in schemas.COHORT_OUTCOMES.columns if c.in_header]),
    }
    for stem, rows in draw(ipd_files(source_ids, outcome_ids)):
        files[stem] = DataFileRows(stem, schemas.IPD, rows)
    if draw(st.booleans()):
        points, at_risk = draw(km_curve_files(source_ids, outcome_ids))
        files["km_curves/points"] = DataFileRows("km_curves/points", schemas.KM_POINTS, points)
        files["km_curves/at_risk"] = DataFileRows("km_curves/at_risk", schemas.KM_AT_RISK, at_risk)
    groupable = [(c, r[c]) for f in files.values() for r in f.rows for c in schemas.GROUPABLE_COLUMNS
                 if c in r and r[c] and c in f.columns]
    if groupable and draw(st.booleans()):
        picked = draw(st.lists(st.sampled_from(groupable), max_size=4, unique_by=lambda cv: (cv[0], cv[1].lower())))
        files["groups"] = DataFileRows("groups", schemas.GROUPS,
                                       [{"column": c, "value": v, "group": draw(REQUIRED_TEXT)} for c, v in picked])
    for f in files.values():
        # events are .xlsx more often than the others (3 in 4), so that real Excel date cells come up
        f.fmt = draw(st.one_of(XLSX, FORMATS) if f.stem == "events" else FORMATS)
        if f.fmt.kind == "xlsx" and f.stem == "events":
            _date_cells(draw, f)
    return Folder(files)


def _date_cells(draw, f: DataFileRows) -> None:
    """Dates of an .xlsx events file typed as real Excel dates (all of them, or some), shown as
    they were typed."""
    every = draw(st.sampled_from([True, True, False]))
    for i, r in enumerate(f.rows):
        text = r["date"]
        if not text or text == "not_reported" or int(text[:4]) < 1901 or not (every or draw(st.booleans())):
            continue
        parts = [int(x) for x in text.split("-")]
        day = dt.datetime(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
        fmt = {1: draw(st.sampled_from(["yyyy", '"year "yyyy'])),
               2: draw(st.sampled_from(["yyyy-mm", "mmm yyyy", "mm/yyyy"])),
               3: draw(st.sampled_from(["yyyy-mm-dd", "d-mmm-yy", "mm-dd-yy"]))}[len(parts)]
        f.date_cells[(i, "date")] = (day, fmt)
