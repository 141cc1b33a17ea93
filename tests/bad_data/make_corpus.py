"""Build the bad-data corpus: one folder per mistake, each a copy of ``_base/`` with one change.

Usage (from the project root)::

    .venv/bin/python tests/bad_data/make_corpus.py          # rewrite every case's data files
    .venv/bin/python tests/bad_data/make_corpus.py NAME ... # only these cases

Each case is a function below, named as its folder, whose docstring says what the user did.
The script rewrites the data files of a case folder (CSV, .xlsx) but never its
``expected.txt``: the expected ``file:row:column: message`` lines are written and reviewed by
hand, and ``tests/test_bad_data.py`` checks them. Synthetic data only; nothing here is
evidence.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE = HERE / "_base"
CASES: dict = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


# --------------------------------------------------------------------------- helpers


def rows(folder: Path, name: str) -> list[list[str]]:
    """Rows of ``folder/name`` (CSV, UTF-8), header first."""
    with open(folder / name, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def write(folder: Path, name: str, table: list[list[str]], *, encoding: str = "utf-8",
          delimiter: str = ",", quoting=csv.QUOTE_MINIMAL, lineterminator: str = "\n") -> None:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator=lineterminator).writerows(table)
    (folder / name).write_bytes(buf.getvalue().encode(encoding))


def set_cell(folder: Path, name: str, row: int, column: str, value: str) -> None:
    """Set the cell at spreadsheet ``row`` (header = 1) and ``column`` of a CSV file."""
    table = rows(folder, name)
    table[row - 1][table[0].index(column)] = value
    write(folder, name, table)


def drop_column(folder: Path, name: str, column: str) -> None:
    table = rows(folder, name)
    i = table[0].index(column)
    write(folder, name, [r[:i] + r[i + 1:] for r in table])


def rename_column(folder: Path, name: str, old: str, new: str) -> None:
    table = rows(folder, name)
    table[0][table[0].index(old)] = new
    write(folder, name, table)


def add_row(folder: Path, name: str, values: dict) -> None:
    """Append a row: a copy of the last row with ``values`` changed."""
    table = rows(folder, name)
    new = list(table[-1])
    for k, v in values.items():
        new[table[0].index(k)] = v
    write(folder, name, table + [new])


def to_xlsx(folder: Path, name: str, convert=None, merge_header: list | None = None) -> None:
    """Replace ``name``.csv by ``name``.xlsx with the same cells (numbers as numbers).

    ``convert(column, text)`` may return the value to store instead (e.g. a datetime or an
    Excel serial number); ``merge_header`` adds a group-title row above the header with
    merged cells: a list of ``(title, first_col, last_col)`` (1-based columns).
    """
    from openpyxl import Workbook

    table = rows(folder, f"{name}.csv")
    wb = Workbook()
    ws = wb.active
    ws.title = name
    if merge_header:
        ws.append([None] * len(table[0]))
        for title, c1, c2 in merge_header:
            ws.cell(row=1, column=c1, value=title)
            ws.merge_cells(start_row=1, start_column=c1, end_row=1, end_column=c2)
    ws.append(table[0])
    for r in table[1:]:
        out = []
        for col, text in zip(table[0], r):
            value = convert(col, text) if convert else None
            if value is None:
                value = _number_or_text(text)
            out.append(value)
        ws.append(out)
    wb.properties.created = wb.properties.modified = dt.datetime(2020, 1, 1)
    wb.save(folder / f"{name}.xlsx")
    (folder / f"{name}.csv").unlink()


def _number_or_text(text: str):
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# --------------------------------------------------------------------------- accepted exports


@case
def ok_base(d):
    """The base itself: a valid minimal folder."""


@case
def ok_utf8_bom(d):
    """Saved as 'CSV UTF-8' by Excel, which starts the file with a byte-order mark."""
    for name in ("sources.csv", "patients.csv"):
        (d / name).write_bytes(b"\xef\xbb\xbf" + (d / name).read_bytes())


@case
def ok_crlf_line_ends(d):
    """Saved on Windows: lines end with CR LF."""
    for name in ("events.csv", "patients.csv"):
        write(d, name, rows(d, name), lineterminator="\r\n")


@case
def ok_trailing_empty_rows_and_columns(d):
    """A spreadsheet export with empty columns to the right and empty rows below."""
    table = rows(d, "events.csv")
    write(d, "events.csv", [r + ["", ""] for r in table] + [[""] * (len(table[0]) + 2)] * 3)


@case
def ok_semicolon_delimited(d):
    """Exported by a European spreadsheet: cells separated by ';' (decimal points kept)."""
    for name in ("events.csv", "cohort_outcomes.csv"):
        write(d, name, rows(d, name), delimiter=";")


@case
def ok_utf16_tab_delimited(d):
    """Saved as Excel 'Unicode Text': UTF-16 with byte-order mark, tab-separated."""
    write(d, "patients.csv", rows(d, "patients.csv"), encoding="utf-16", delimiter="\t")


@case
def ok_xlsx_real_dates(d):
    """events as an .xlsx workbook whose date cells are real (date-formatted) Excel dates."""
    def convert(col, text):
        if col == "date" and len(text) == 10:
            return dt.datetime.fromisoformat(text)
        return None
    to_xlsx(d, "events", convert)


@case
def ok_cohort_only(d):
    """A folder with only cohort outcomes: patients and events have their header only."""
    for name in ("patients.csv", "events.csv"):
        write(d, name, rows(d, name)[:1])


# --------------------------------------------------------------------------- encodings and exports


@case
def latin1_encoding(d):
    """patients.csv saved as 'CSV (Windows)' / Latin-1 with an accented disease name."""
    set_cell(d, "patients.csv", 2, "diseases", "Sjögren syndrome")
    (d / "patients.csv").write_bytes((d / "patients.csv").read_text(encoding="utf-8").encode("latin-1"))


@case
def utf16_without_bom(d):
    """A UTF-16 export without byte-order mark (every other byte is zero)."""
    write(d, "sources.csv", rows(d, "sources.csv"), encoding="utf-16-le")


@case
def xlsx_saved_as_csv(d):
    """A workbook renamed from .xlsx to .csv instead of exported."""
    to_xlsx(d, "sources")
    (d / "sources.xlsx").rename(d / "sources.csv")


@case
def csv_saved_as_xlsx(d):
    """A CSV file renamed to .xlsx."""
    (d / "sources.csv").rename(d / "sources.xlsx")


@case
def thousands_separator(d):
    """A count typed with a thousands separator: "1,200" (quoted, so one cell)."""
    set_cell(d, "cohort_outcomes.csv", 3, "total", "1,200")


@case
def decimal_comma(d):
    """A European export: ';'-separated and a proportion with a decimal comma, 0,05."""
    set_cell(d, "cohort_outcomes.csv", 3, "proportion", "0,05")
    write(d, "cohort_outcomes.csv", rows(d, "cohort_outcomes.csv"), delimiter=";")


@case
def percent_sign(d):
    """A proportion typed as a percentage with its sign: 5%."""
    set_cell(d, "cohort_outcomes.csv", 3, "proportion", "5%")


@case
def xlsx_serial_date(d):
    """events as .xlsx where a date cell holds Excel's serial number (40821 = 2011-10-05),
    as happens when a date column is formatted as a number."""
    def convert(col, text):
        if col == "date" and text == "2011-10-05":
            return 40821
        return None
    to_xlsx(d, "events", convert)


@case
def csv_serial_date(d):
    """A CSV exported from a sheet whose date column was formatted as a number."""
    set_cell(d, "events.csv", 2, "date", "40821")


@case
def xlsx_datetime_with_time(d):
    """events as .xlsx with a date-and-time cell (2011-10-05 14:30)."""
    def convert(col, text):
        if col == "date" and text == "2011-10-05":
            return dt.datetime(2011, 10, 5, 14, 30)
        return None
    to_xlsx(d, "events", convert)


@case
def xlsx_merged_group_header(d):
    """patients as .xlsx with a row of merged group titles above the column names."""
    to_xlsx(d, "patients", merge_header=[("Patient", 1, 4), ("Clinical", 5, 8), ("Evidence", 9, 10)])


@case
def xlsx_damaged_sheet(d):
    """A workbook whose sheet was damaged (a copy cut short, a sync conflict): the sheet's XML
    is broken from its third row on."""
    import re
    import zipfile

    to_xlsx(d, "events")
    path = d / "events.xlsx"
    with zipfile.ZipFile(path) as z:
        parts = {i: z.read(i.filename) for i in z.infolist()}
    for info in parts:
        if info.filename == "xl/worksheets/sheet1.xml":
            parts[info] = re.sub(rb'<row r="3"', b'<row r="3"<', parts[info])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts.items():
            z.writestr(info, data)


@case
def title_row_above_header(d):
    """A title typed in the first row, the column names in the second."""
    table = rows(d, "sources.csv")
    write(d, "sources.csv", [["Sources of the review"] + [""] * (len(table[0]) - 1)] + table)


@case
def repeated_header_row(d):
    """Two exports pasted one below the other: the header appears again inside the data."""
    table = rows(d, "events.csv")
    write(d, "events.csv", table[:2] + [table[0]] + table[2:])


@case
def index_column_from_pandas(d):
    """Written with pandas' to_csv without index=False: an unnamed first column of 0, 1, ..."""
    table = rows(d, "sources.csv")
    write(d, "sources.csv", [[""] + table[0]] + [[str(i)] + r for i, r in enumerate(table[1:])])


@case
def unquoted_comma_in_text(d):
    """A citation with a comma typed into a text editor without quotes."""
    path = d / "sources.csv"
    text = path.read_text(encoding="utf-8").replace(
        "Test case report (synthetic)", "Smith, Jones: test case report (synthetic)")
    path.write_text(text, encoding="utf-8")


@case
def unbalanced_quote(d):
    """A quote with an opening double quote and no closing one."""
    path = d / "patients.csv"
    text = path.read_text(encoding="utf-8").replace("a 30-year-old woman", '"a 30-year-old woman')
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- structure


@case
def missing_file(d):
    """events.csv was not copied into the folder."""
    (d / "events.csv").unlink()


@case
def misnamed_file(d):
    """cohort_outcomes.csv saved under another name (Cohort_Outcome.csv)."""
    (d / "cohort_outcomes.csv").rename(d / "Cohort_Outcome.csv")


@case
def both_csv_and_xlsx(d):
    """patients exists both as .csv and as .xlsx: which one is meant?"""
    shutil.copy(d / "patients.csv", d / "patients.bak")
    to_xlsx(d, "patients")
    shutil.move(d / "patients.bak", d / "patients.csv")


@case
def empty_file(d):
    """patients.csv is empty (0 bytes)."""
    (d / "patients.csv").write_bytes(b"")


@case
def header_only_sources(d):
    """sources.csv has its header but no rows."""
    write(d, "sources.csv", rows(d, "sources.csv")[:1])


@case
def missing_column(d):
    """patients.csv without the (optional) comorbidity column."""
    drop_column(d, "patients.csv", "comorbidity")


@case
def misspelled_column(d):
    """The age column typed as 'age' instead of 'age_years'."""
    rename_column(d, "patients.csv", "age_years", "age")


@case
def unknown_column(d):
    """An extra column of the coder's own (reviewer) added to events.csv."""
    table = rows(d, "events.csv")
    write(d, "events.csv", [table[0] + ["reviewer"]] + [r + ["AB"] for r in table[1:]])


@case
def duplicate_column(d):
    """The notes column appears twice in sources.csv."""
    table = rows(d, "sources.csv")
    write(d, "sources.csv", [r + [r[-1]] for r in table])


@case
def duplicate_event_id(d):
    """Two events with the same id (a row copied and not renumbered)."""
    set_cell(d, "events.csv", 4, "event_id", "E2")


@case
def duplicate_source_id(d):
    """Two sources with the same id."""
    set_cell(d, "sources.csv", 3, "source_id", "S1")
    for r in (2, 3):
        set_cell(d, "cohort_outcomes.csv", r, "source_id", "S1")


# --------------------------------------------------------------------------- values


@case
def age_as_text(d):
    """An age typed as words."""
    set_cell(d, "patients.csv", 2, "age_years", "thirty")


@case
def age_with_unit(d):
    """An age typed with its unit."""
    set_cell(d, "patients.csv", 2, "age_years", "30 years")


@case
def nan_for_missing(d):
    """A pandas export that wrote 'nan' for a missing age (empty is missing)."""
    set_cell(d, "patients.csv", 2, "age_years", "nan")


@case
def negative_age(d):
    """A negative age (a stray minus sign)."""
    set_cell(d, "patients.csv", 2, "age_years", "-30")


@case
def absurd_age(d):
    """An age of 300 (a typo for 30)."""
    set_cell(d, "patients.csv", 2, "age_years", "300")


@case
def negative_dose(d):
    """A negative dose."""
    set_cell(d, "events.csv", 2, "dose", "-1000000")


@case
def dose_as_power_of_ten(d):
    """A dose copied from a paper as '1 x 10^6'."""
    set_cell(d, "events.csv", 2, "dose", "1 x 10^6")


@case
def dose_without_unit(d):
    """A dose without its unit."""
    set_cell(d, "events.csv", 2, "dose_unit", "")


@case
def negative_count(d):
    """A negative number of events."""
    set_cell(d, "cohort_outcomes.csv", 2, "events", "-3")


@case
def fractional_count(d):
    """A count that is not a whole number (an average copied by mistake)."""
    set_cell(d, "cohort_outcomes.csv", 2, "events", "30.5")


@case
def zero_total(d):
    """A total of 0 patients."""
    set_cell(d, "cohort_outcomes.csv", 3, "total", "0")


@case
def events_greater_than_total(d):
    """More events than patients (the columns swapped)."""
    set_cell(d, "cohort_outcomes.csv", 2, "events", "40")
    set_cell(d, "cohort_outcomes.csv", 2, "total", "30")


@case
def events_without_total(d):
    """A count of events without the total it is out of."""
    set_cell(d, "cohort_outcomes.csv", 2, "total", "")


@case
def events_and_proportion(d):
    """Both a count and a proportion on one row."""
    set_cell(d, "cohort_outcomes.csv", 2, "proportion", "0.75")


@case
def proportion_as_percentage(d):
    """A proportion typed as a percentage (5 instead of 0.05)."""
    set_cell(d, "cohort_outcomes.csv", 3, "proportion", "5")


@case
def negative_proportion(d):
    """A negative proportion."""
    set_cell(d, "cohort_outcomes.csv", 3, "proportion", "-0.05")


@case
def negative_duration(d):
    """A negative follow-up time."""
    set_cell(d, "cohort_outcomes.csv", 2, "time_value", "-12")


@case
def absurd_duration(d):
    """A follow-up of 1200 years (months typed in a years row)."""
    set_cell(d, "cohort_outcomes.csv", 2, "time_unit", "years")
    set_cell(d, "cohort_outcomes.csv", 2, "time_value", "1200")


@case
def duration_without_unit(d):
    """A time value without its unit."""
    set_cell(d, "cohort_outcomes.csv", 2, "time_unit", "")


@case
def approximate_not_flagged(d):
    """'about 40 patients' coded with total_qualifier about, but approximate left at no."""
    set_cell(d, "cohort_outcomes.csv", 2, "total_qualifier", "about")


@case
def unknown_event_type(d):
    """An event type that is not in the list ('transplantation' for 'transplant')."""
    set_cell(d, "events.csv", 2, "event_type", "transplantation")


@case
def unknown_outcome(d):
    """An outcome that is not in the list."""
    set_cell(d, "cohort_outcomes.csv", 2, "outcome", "remission")


@case
def unknown_sex(d):
    """Sex typed as a word."""
    set_cell(d, "patients.csv", 2, "sex", "female")


@case
def unknown_evidence_level(d):
    """An evidence level that is not in the list."""
    set_cell(d, "sources.csv", 2, "evidence_level", "high")


@case
def year_out_of_range(d):
    """A publication year typed with a digit missing."""
    set_cell(d, "sources.csv", 2, "year", "201")


@case
def empty_required_cell(d):
    """An event without its supporting quote."""
    set_cell(d, "events.csv", 3, "quote", "")


@case
def date_february_30(d):
    """A day that does not exist: 2011-02-30."""
    set_cell(d, "events.csv", 2, "date", "2011-02-30")


@case
def date_month_13(d):
    """A month that does not exist: 2011-13."""
    set_cell(d, "events.csv", 2, "date", "2011-13")


@case
def date_day_first(d):
    """A date typed day first, 05/10/2011."""
    set_cell(d, "events.csv", 2, "date", "05/10/2011")


@case
def date_and_offset(d):
    """An event with both a date and an offset."""
    set_cell(d, "events.csv", 3, "date", "2012-04")


@case
def no_date_no_offset(d):
    """An event with neither a date nor an offset."""
    set_cell(d, "events.csv", 4, "offset", "")
    set_cell(d, "events.csv", 4, "offset_from", "")


@case
def within_on_a_date(d):
    """The qualifier within (an upper bound) used on a calendar date."""
    set_cell(d, "events.csv", 2, "qualifier", "within")


@case
def offset_bad_unit(d):
    """An offset with an abbreviated unit: '+6 mo'."""
    set_cell(d, "events.csv", 3, "offset", "+6 mo")


@case
def offset_without_sign(d):
    """An offset without its sign: '6 months'."""
    set_cell(d, "events.csv", 3, "offset", "6 months")


@case
def offset_absurd(d):
    """An offset of 2000 years (a date typed in the offset column)."""
    set_cell(d, "events.csv", 4, "offset", "+2013 years")


@case
def offset_without_reference(d):
    """An offset without offset_from."""
    set_cell(d, "events.csv", 3, "offset_from", "")


@case
def offset_to_missing_event(d):
    """An offset from an event id that does not exist (a typo)."""
    set_cell(d, "events.csv", 3, "offset_from", "E7")


@case
def offset_cycle(d):
    """Two events that count from each other."""
    set_cell(d, "events.csv", 3, "offset_from", "E3")
    set_cell(d, "events.csv", 4, "offset", "-18 months")
    set_cell(d, "events.csv", 4, "offset_from", "E2")


@case
def offset_from_other_patient(d):
    """A second patient's event counting from the first patient's infusion."""
    add_row(d, "patients.csv", {"patient_id": "P2", "age_years": "41"})
    add_row(d, "events.csv", {"event_id": "E4", "patient_id": "P2", "event_type": "infusion",
                              "status": "", "detail": "", "product": "UC-MSC", "dose": "",
                              "dose_unit": "", "offset": "+1 weeks", "offset_from": "E1"})


@case
def event_of_missing_patient(d):
    """An event whose patient_id has a typo."""
    set_cell(d, "events.csv", 4, "patient_id", "P01")


@case
def missing_source(d):
    """A patient whose source_id is not in sources.csv."""
    set_cell(d, "patients.csv", 2, "source_id", "S3")


@case
def relapse_before_therapy(d):
    """A relapse dated before the infusion of the line it belongs to."""
    set_cell(d, "events.csv", 3, "event_type", "relapse")
    set_cell(d, "events.csv", 3, "status", "")
    set_cell(d, "events.csv", 3, "offset", "-6 months")


@case
def followup_before_treatment(d):
    """A last follow-up dated before the treatment (the year typed wrong)."""
    set_cell(d, "events.csv", 4, "offset", "")
    set_cell(d, "events.csv", 4, "offset_from", "")
    set_cell(d, "events.csv", 4, "date", "2001-10")


@case
def infusion_outside_a_line(d):
    """An infusion coded with line 0."""
    set_cell(d, "events.csv", 2, "line", "0")


@case
def line_without_therapy(d):
    """Follow-up coded as line 2, which has no transplant or infusion."""
    set_cell(d, "events.csv", 4, "line", "2")


# --------------------------------------------------------------------------- optional files


IPD = [["study", "patient_id", "group", "time", "time_unit", "event"],
       ["S2", "1", "MSC", "14.5", "months", "0"],
       ["S2", "2", "MSC", "6", "months", "1"]]
KM = [["study", "group", "time", "time_unit", "survival"],
      ["S2", "MSC", "0", "months", "1"],
      ["S2", "MSC", "12", "months", "0.82"]]
AT_RISK = [["study", "group", "time", "time_unit", "n_at_risk", "total_events"],
           ["S2", "MSC", "0", "months", "40", ""],
           ["S2", "MSC", "12", "months", "30", ""]]


def km_curves(d: Path, points=KM, at_risk=AT_RISK) -> None:
    """A km_curves/ folder with these points and numbers at risk (None: no such file)."""
    (d / "km_curves").mkdir()
    if points is not None:
        write(d / "km_curves", "points.csv", points)
    if at_risk is not None:
        write(d / "km_curves", "at_risk.csv", at_risk)


@case
def ok_ipd_and_km_curves(d):
    """The optional folders: individual patient data and a digitized Kaplan-Meier curve with
    its numbers at risk."""
    (d / "ipd").mkdir()
    write(d / "ipd", "trial.csv", IPD)
    km_curves(d)


@case
def ipd_event_not_0_or_1(d):
    """An individual patient's event coded 2 (a category number) instead of 1."""
    (d / "ipd").mkdir()
    write(d / "ipd", "trial.csv", IPD[:2] + [IPD[2][:5] + ["2"]])


@case
def ipd_unknown_study(d):
    """Individual patient data whose study is not a source id."""
    (d / "ipd").mkdir()
    write(d / "ipd", "trial.csv", IPD[:2] + [["S9"] + IPD[2][1:]])


@case
def km_survival_as_percent(d):
    """Survival read off a curve in percent (82) instead of 0.82."""
    km_curves(d, points=KM[:2] + [KM[2][:4] + ["82"]])


# --------------------------------------------------------------------------- issue 15: valid data that crashed


@case
def ok_deep_offset_chain(d):
    """1,200 follow-up assessments, each counted from the one after it, listed deepest first
    (a chain of 1,200 offsets; it once raised RecursionError)."""
    table = rows(d, "events.csv")
    header, infusion = table[0], table[1]
    col = {c: i for i, c in enumerate(header)}
    n = 1200
    chain = []
    for i in range(n, 0, -1):  # A1200 counts from A1199, ..., A1 from the infusion E1
        r = [""] * len(header)
        for c, v in (("event_id", f"A{i}"), ("patient_id", "P1"), ("line", "1"), ("event_type", "assessment"),
                     ("status", "complete"), ("offset", "+1 days"), ("offset_from", f"A{i - 1}" if i > 1 else "E1"),
                     ("source_id", "S1"), ("quote", "assessed daily")):
            r[col[c]] = v
        chain.append(r)
    followup = list(table[3])
    followup[col["offset"]], followup[col["offset_from"]] = "+4 years", "E1"
    write(d, "events.csv", [header, infusion, table[2]] + chain + [followup])


@case
def ok_empty_optional_qualifiers(d):
    """The most ordinary cohort row: exact counts with total_qualifier, proportion_qualifier
    and time columns left empty; and a total 'at_least' with approximate 'yes'."""
    set_cell(d, "cohort_outcomes.csv", 2, "total_qualifier", "")
    set_cell(d, "cohort_outcomes.csv", 3, "total_qualifier", "at_least")


# --------------------------------------------------------------------------- issue 15: hangs


@case
def event_id_reserved(d):
    """An event id starting with '@' (the name of the calendar root of offset chains); it
    once sent validation into an endless loop."""
    set_cell(d, "events.csv", 2, "event_id", "@calendar")
    set_cell(d, "events.csv", 3, "offset_from", "@calendar")
    set_cell(d, "events.csv", 4, "offset_from", "@calendar")


# --------------------------------------------------------------------------- issue 15: files


@case
def unknown_files_and_folders(d):
    """Files put where nothing reads them: a top-level ipd.csv, a folder km/ (for
    km_curves/), a spreadsheet of notes; README.md, notes.txt and .DS_Store may stay."""
    write(d, "ipd.csv", IPD)
    (d / "km").mkdir()
    write(d / "km", "points.csv", KM)
    (d / "extraction sheet.docx").write_bytes(b"my extraction notes (never read)")
    (d / "README.md").write_text("my notes\n", encoding="utf-8")
    (d / "notes.txt").write_text("more notes\n", encoding="utf-8")
    (d / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")


@case
def km_at_risk_without_points(d):
    """km_curves/ with the numbers at risk but without the digitized curve."""
    km_curves(d, points=None)


@case
def km_points_without_at_risk(d):
    """A digitized curve without its numbers at risk (the reconstruction needs them)."""
    km_curves(d, at_risk=None)


@case
def xlsx_hidden_first_sheet(d):
    """A workbook whose first sheet (an old copy) was hidden and a new sheet added after it:
    the sheet the coder sees is not the one read."""
    from openpyxl import load_workbook

    to_xlsx(d, "sources")
    wb = load_workbook(d / "sources.xlsx")
    old = wb.worksheets[0]
    old.title = "old copy"
    old.sheet_state = "hidden"
    new = wb.create_sheet("sources")
    for r in rows(BASE, "sources.csv"):
        new.append([_number_or_text(c) for c in r])
    wb.properties.created = wb.properties.modified = dt.datetime(2020, 1, 1)
    wb.save(d / "sources.xlsx")


@case
def xlsx_formula_without_value(d):
    """A workbook written by a script (not a spreadsheet): a formula cell has no saved value."""
    from openpyxl import load_workbook

    to_xlsx(d, "cohort_outcomes")
    wb = load_workbook(d / "cohort_outcomes.xlsx")
    wb.worksheets[0]["M2"] = "=L2+10"  # total = events + 10
    wb.properties.created = wb.properties.modified = dt.datetime(2020, 1, 1)
    wb.save(d / "cohort_outcomes.xlsx")


@case
def ok_groups(d):
    """The optional groups.csv: therapy UC-MSC and MSC in one analysis group."""
    write(d, "groups.csv", [["column", "value", "group"], ["therapy", "UC-MSC", "MSC"], ["therapy", "MSC", "MSC"]])


@case
def groups_value_not_in_data(d):
    """groups.csv maps a therapy with a typo (UC-MCS), which no row has."""
    write(d, "groups.csv", [["column", "value", "group"], ["therapy", "UC-MCS", "MSC"]])


# --------------------------------------------------------------------------- issue 15: curves


@case
def km_at_risk_increasing(d):
    """Numbers at risk that increase over time (two counts swapped)."""
    km_curves(d, at_risk=AT_RISK[:2] + [["S2", "MSC", "12", "months", "45", ""]])


@case
def km_at_risk_group_without_curve(d):
    """Numbers at risk whose group is spelled differently from the curve's (MSc for MSC)."""
    km_curves(d, at_risk=AT_RISK + [["S2", "MSc", "0", "months", "20", ""]])


@case
def km_total_events_conflict(d):
    """total_events given twice for one curve, with different values."""
    km_curves(d, at_risk=[AT_RISK[0], AT_RISK[1][:5] + ["10"], AT_RISK[2][:5] + ["12"]])


@case
def km_total_events_impossible(d):
    """total_events typed as 50 for a curve that starts with 40 patients at risk."""
    km_curves(d, at_risk=[AT_RISK[0], AT_RISK[1][:5] + ["50"], AT_RISK[2]])


@case
def km_at_risk_not_from_zero(d):
    """Numbers at risk starting at 3 months instead of time 0."""
    km_curves(d, at_risk=[AT_RISK[0], ["S2", "MSC", "3", "months", "40", ""], AT_RISK[2]])


@case
def km_mixed_time_units(d):
    """One curve's points in months and one in weeks."""
    km_curves(d, points=KM + [["S2", "MSC", "80", "weeks", "0.8"]])


@case
def km_survival_increases(d):
    """A digitized point read off the wrong curve: survival rises from 0.82 to 0.9."""
    km_curves(d, points=KM + [["S2", "MSC", "18", "months", "0.9"]])


@case
def km_time_goes_back(d):
    """Digitized points out of time order (24 months before 18 months)."""
    km_curves(d, points=KM + [["S2", "MSC", "24", "months", "0.7"], ["S2", "MSC", "18", "months", "0.75"]])


# --------------------------------------------------------------------------- issue 15: event order


def _event(d: Path, values: dict) -> None:
    add_row(d, "events.csv", {"status": "", "detail": "", "product": "", "dose": "", "dose_unit": "", "date": "",
                              "qualifier": "", **values})


@case
def remission_after_death(d):
    """A remission dated after the patient's death (a date typed wrong)."""
    _event(d, {"event_id": "E4", "event_type": "death", "offset": "+3 months", "offset_from": "E1"})


@case
def two_deaths(d):
    """Two deaths for one patient (a row copied)."""
    _event(d, {"event_id": "E4", "event_type": "death", "offset": "+3 years", "offset_from": "E1"})
    _event(d, {"event_id": "E5", "event_type": "death", "offset": "+3 years", "offset_from": "E1"})


@case
def followup_before_assessment(d):
    """The last follow-up coded before a later assessment of the same patient."""
    _event(d, {"event_id": "E4", "event_type": "assessment", "status": "complete", "offset": "+3 years",
               "offset_from": "E1"})


@case
def line_number_gap(d):
    """A second treatment line numbered 3 (lines 1 and 3, no 2)."""
    _event(d, {"event_id": "E4", "line": "3", "event_type": "infusion", "product": "UC-MSC",
               "offset": "+1 years", "offset_from": "E1"})


@case
def negative_age_offset(d):
    """An age typed with a minus sign: diagnosis at '-5 years' from birth."""
    _event(d, {"event_id": "E0", "line": "0", "event_type": "diagnosis", "offset": "-5 years", "offset_from": "birth"})


@case
def total_qualifier_without_total(d):
    """total_qualifier at_least on a row that gives a proportion but no total."""
    set_cell(d, "cohort_outcomes.csv", 3, "total", "")
    set_cell(d, "cohort_outcomes.csv", 3, "total_qualifier", "at_least")


@case
def proportion_about_not_approximate(d):
    """'about 5 %' coded with proportion_qualifier about, but approximate left at no."""
    set_cell(d, "cohort_outcomes.csv", 3, "approximate", "no")


@case
def ipd_patient_twice(d):
    """One patient of a study in two IPD files (a file split, then both kept)."""
    (d / "ipd").mkdir()
    write(d / "ipd", "trial.csv", IPD)
    write(d / "ipd", "trial_part2.csv", [IPD[0], IPD[2]])


# --------------------------------------------------------------------------- issue 15: positions, look-alikes


@case
def latin1_after_quoted_line_break(d):
    """A quote with a line break inside its (quoted) cell, and a Latin-1 letter two rows
    further: the problem is on spreadsheet row 3, though on the file's fourth line."""
    set_cell(d, "events.csv", 2, "quote", "one infusion\nof UC-MSC")
    set_cell(d, "events.csv", 3, "detail", "skin clear (Köbner negative)")
    (d / "events.csv").write_bytes((d / "events.csv").read_text(encoding="utf-8").encode("latin-1"))


@case
def ok_nfd_ids(d):
    """A patient id with an accent typed composed (NFC) in patients.csv and decomposed (NFD:
    e + combining accent, as macOS may save it) in events.csv: the same id."""
    import unicodedata

    set_cell(d, "patients.csv", 2, "patient_id", unicodedata.normalize("NFC", "José-P1"))
    for row in (2, 3, 4):
        set_cell(d, "events.csv", row, "patient_id", unicodedata.normalize("NFD", "José-P1"))


# --------------------------------------------------------------------------- issue 15: precision and hints


@case
def ok_xlsx_month_dates(d):
    """events as .xlsx where a month typed into Excel ('2011-10') became a date cell shown
    as yyyy-mm: it is read as the month 2011-10, not the day 2011-10-01."""
    def convert(col, text):
        if col == "date" and text == "2011-10-05":
            return dt.datetime(2011, 10, 1)
        return None
    to_xlsx(d, "events", convert)
    from openpyxl import load_workbook

    wb = load_workbook(d / "events.xlsx")
    wb.worksheets[0]["K2"].number_format = "yyyy-mm"
    wb.properties.created = wb.properties.modified = dt.datetime(2020, 1, 1)
    wb.save(d / "events.xlsx")


@case
def total_with_at_least_sign(d):
    """A total typed as '≥200' (the source says 'over 200 patients')."""
    set_cell(d, "cohort_outcomes.csv", 2, "total", "≥200")



# --------------------------------------------------------------------------- issue 15: IPD checked at validate time


def ipd_with(d: Path, edits: dict[int, dict[str, str]]) -> None:
    """ipd/trial.csv: ``IPD`` with the interval, cause and outcome columns, and the cells of
    ``edits`` set ({spreadsheet row: {column: value}}; row 2 is the censored patient, row 3
    the one with an event)."""
    header = IPD[0] + ["time_lo", "time_hi", "cause", "outcome_id"]
    table = [header] + [r + ["", "", "relapse" if r[5] == "1" else "", ""] for r in IPD[1:]]
    for row, cells in edits.items():
        for column, value in cells.items():
            table[row - 1][header.index(column)] = value
    (d / "ipd").mkdir()
    write(d / "ipd", "trial.csv", table)


@case
def ipd_time_empty_without_interval(d):
    """An individual patient's time left empty (not known) without the interval it lies in."""
    ipd_with(d, {3: dict(time="")})


@case
def ipd_interval_without_upper_bound(d):
    """An event known only as 'after month 3': time empty and time_lo 3, but no time_hi."""
    ipd_with(d, {3: dict(time="", time_lo="3")})


@case
def ipd_interval_censored(d):
    """A censored patient coded with an interval instead of the censoring time."""
    ipd_with(d, {2: dict(time="", time_lo="12", time_hi="18")})


@case
def ipd_time_before_time_lo(d):
    """time_lo typed after the time it should bound (9 for an event at month 6)."""
    ipd_with(d, {3: dict(time_lo="9")})


@case
def ipd_time_after_time_hi(d):
    """time_hi typed before the time it should bound (5 for an event at month 6)."""
    ipd_with(d, {3: dict(time_lo="3", time_hi="5")})


@case
def ipd_interval_reversed(d):
    """An event's interval typed the wrong way round (time_lo 9, time_hi 3)."""
    ipd_with(d, {3: dict(time="", time_lo="9", time_hi="3")})


@case
def ipd_cause_on_censored_row(d):
    """A cause (relapse) on a patient who is censored (event 0)."""
    ipd_with(d, {2: dict(cause="relapse")})


@case
def ipd_unknown_outcome(d):
    """Individual patient data naming a cohort_outcomes row that does not exist (O9)."""
    ipd_with(d, {3: dict(outcome_id="O9")})


@case
def ok_ipd_intervals(d):
    """Individual patient data as they may be coded: a censoring time with the earliest it
    may be, an event known only within months 3-9 (time empty, event 1, its cause) and a
    row naming the cohort_outcomes row about the same patients."""
    ipd_with(d, {2: dict(time_lo="12", outcome_id="O1"), 3: dict(time="", time_lo="3", time_hi="9")})


def build(names: list[str] | None = None, root: Path = HERE) -> None:
    """Write the data files of the named cases (default: all) into ``root/NAME/``."""
    for name in names or CASES:
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.is_dir():
                shutil.rmtree(old)
            elif old.name != "expected.txt":
                old.unlink()
        for src in BASE.iterdir():
            shutil.copy(src, folder / src.name)
        CASES[name](folder)


if __name__ == "__main__":
    build(sys.argv[1:] or None)
