"""Issue 15, loader side: valid data never crashes, bad data never hangs, every file is
accounted for, and what a user meant is read as meant.

The bad-data corpus (tests/bad_data/) has a folder per class; these are the unit tests of
the mechanisms behind them (readers, checks, the offset graph) and the cases a folder in
git cannot hold (a named pipe, a link out of the folder).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from analysis import schemas, timing
import analysis.load.checks as checks
import analysis.load.readers as readers
from analysis.load import DataValidationError, check_quotes, load_dataset

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "tests" / "bad_data" / "_base"
CORPUS = ROOT / "tests" / "bad_data"


def copy_base(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(BASE, folder)
    return folder


def problems(folder: Path) -> list[str]:
    with pytest.raises(DataValidationError) as exc:
        load_dataset(folder)
    return [str(p) for p in exc.value.problems]


def table(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    t = table(path)
    t[row - 1][t[0].index(column)] = value
    write(path, t)


def validate_process(folder: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", "validate", str(folder)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


# ----------------------------------------------------------------------------- 1. valid data never crashes


def _na_frame(data_file: schemas.DataFile, n: int = 3) -> pd.DataFrame:
    """A typed frame of ``data_file`` whose every cell is missing (as the loader types them)."""
    cols = {}
    for c in data_file.columns:
        if c.kind == "int":
            cols[c.name] = pd.array([pd.NA] * n, dtype="Int64")
        elif c.kind == "float":
            cols[c.name] = [math.nan] * n
        else:
            cols[c.name] = pd.Series([pd.NA] * n, dtype=object)
    df = pd.DataFrame(cols, index=range(2, 2 + n))
    df.index.name = "row"
    return df


def test_no_check_compares_a_missing_cell():
    """pandas' NA in any cell (optional ones empty, required ones reported) never reaches a
    comparison: the checks read cells as text ('') or float (nan)."""
    out: list = []
    checks.check_outcomes(_na_frame(schemas.COHORT_OUTCOMES), out)
    checks.check_events(_na_frame(schemas.EVENTS), out)
    ipd = _na_frame(schemas.IPD).assign(file="ipd/a.csv")
    checks.check_ipd(ipd, out)
    checks.check_curves(_na_frame(schemas.KM_POINTS), _na_frame(schemas.KM_AT_RISK), "km_curves/points.csv",
                        "km_curves/at_risk.csv", out)
    checks.check_groups(_na_frame(schemas.GROUPS), [_na_frame(schemas.PATIENTS)], out, "groups.csv")
    ev = _na_frame(schemas.EVENTS)
    checks.check_event_order(ev, timing.OffsetGraph({}), set(), out)
    assert all(isinstance(p, readers.Problem) for p in out)


def test_plain_rows_never_hand_out_na():
    df = _na_frame(schemas.COHORT_OUTCOMES)
    for _, r in checks.plain_rows(df):
        for v in r.values():
            assert v == "" or (isinstance(v, float) and math.isnan(v))


def test_every_empty_optional_cell_loads(tmp_path):
    """The base folder with every optional cell of every file emptied is valid."""
    folder = copy_base(tmp_path)
    for name, data_file in (("sources.csv", schemas.SOURCES), ("patients.csv", schemas.PATIENTS),
                            ("cohort_outcomes.csv", schemas.COHORT_OUTCOMES)):
        t = table(folder / name)
        for c in data_file.columns:
            if not c.required and c.name in t[0] and c.name not in ("proportion", "total", "events"):
                for r in t[1:]:
                    r[t[0].index(c.name)] = ""
        write(folder / name, t)
    t = table(folder / "cohort_outcomes.csv")
    assert load_dataset(folder).summary()["cohort outcomes"] == len(t) - 1


@pytest.mark.parametrize("n", [1200, 10_000])
def test_a_deep_chain_listed_deepest_first_resolves(tmp_path, n):
    """n offsets, each from the next row's event: no RecursionError, each time exact, fast."""
    folder = copy_base(tmp_path)
    t = table(folder / "events.csv")
    header, infusion = t[0], t[1]
    col = {c: i for i, c in enumerate(header)}
    rows = []
    for i in range(n, 0, -1):
        r = [""] * len(header)
        for c, v in (("event_id", f"A{i}"), ("patient_id", "P1"), ("line", "1"), ("event_type", "assessment"),
                     ("offset", "+1 days"), ("offset_from", f"A{i - 1}" if i > 1 else "E1"), ("source_id", "S1"),
                     ("quote", "q")):
            r[col[c]] = v
        rows.append(r)
    write(folder / "events.csv", [header, infusion] + rows)
    start = time.perf_counter()
    ds = load_dataset(folder)
    elapsed = time.perf_counter() - start
    ev = ds.events.set_index("event_id")
    assert ev.loc[f"A{n}", "t_best"] == n and ev.loc["A1", "t_best"] == 1
    assert ev.loc[f"A{n}", "date_best"] == pd.Timestamp("2011-10-05") + pd.Timedelta(days=n)
    assert elapsed < 20  # ~1 s for 1,200 on a laptop; the old code raised RecursionError


# ----------------------------------------------------------------------------- 2. nothing hangs


def test_the_offset_graph_cannot_loop():
    """An event named like a pseudo-root makes a self-loop; cycles and chains into them are
    set aside, every walk ends."""
    iv = timing.Interval(1.0, 1.0, 1.0)
    g = timing.OffsetGraph({timing.CALENDAR: (timing.CALENDAR, iv), "A": (timing.CALENDAR, iv),
                            "B": ("C", iv), "C": ("B", iv), "D": ("B", iv), "E": ("F", iv)})
    assert g.cyclic == {timing.CALENDAR, "A", "B", "C", "D"}
    assert g.chain("A") == [("A", timing.ZERO)] and g.relative("A", "E") is None
    assert g.relative("E", "F") == iv and g.root("E") == "F"


def test_reserved_ids_are_refused_in_every_id_column(tmp_path):
    folder = copy_base(tmp_path)
    set_cell(folder / "sources.csv", 3, "source_id", "@birth")
    set_cell(folder / "cohort_outcomes.csv", 2, "source_id", "S1")
    set_cell(folder / "cohort_outcomes.csv", 3, "source_id", "S1")
    assert problems(folder) == [
        "sources.csv:3:source_id: expected an id that does not start with '@' (reserved for the time roots "
        "@calendar and @birth), found '@birth'"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("name", ["events.csv", "ipd/trial.csv", "km_curves/points.xlsx"])
def test_a_named_pipe_is_refused_unopened(tmp_path, name):
    folder = copy_base(tmp_path)
    if name == "events.csv":
        (folder / name).unlink()
    (folder / name).parent.mkdir(exist_ok=True)
    os.mkfifo(folder / name)
    proc = validate_process(folder, timeout=60)  # the old code blocked here forever
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert (f"{name}:-:-: expected a regular file, found a named pipe (FIFO); save the data as a plain .csv or "
            ".xlsx file (it is not read)") in proc.stdout.splitlines()


def test_a_device_is_refused_unopened(tmp_path):
    folder = copy_base(tmp_path)
    (folder / "events.csv").unlink()
    try:
        os.mknod(folder / "events.csv", 0o600 | __import__("stat").S_IFCHR, os.makedev(1, 5))  # /dev/zero
    except (PermissionError, AttributeError, OSError):
        pytest.skip("cannot create a device node here")
    assert problems(folder) == ["events.csv:-:-: expected a regular file, found a device; save the data as a "
                                "plain .csv or .xlsx file (it is not read)"]


# ----------------------------------------------------------------------------- 3. files


def test_a_link_out_of_the_folder_is_refused_and_never_read(tmp_path):
    folder = copy_base(tmp_path)
    secret = tmp_path / "secret.csv"
    secret.write_text("source_id,kind\nTOP-SECRET-VALUE,x\n", encoding="utf-8")
    (folder / "sources.csv").unlink()
    (folder / "sources.csv").symlink_to(secret)
    (folder / "ipd").mkdir()
    (folder / "ipd" / "trial.csv").symlink_to(secret)
    proc = validate_process(folder)
    assert proc.returncode == 1 and "TOP-SECRET" not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    refused = ("expected a file inside the data folder, found a link to a file outside it; copy the file itself "
               "into the data folder (the link is not read)")
    assert f"sources.csv:-:-: {refused}" in lines and f"ipd/trial.csv:-:-: {refused}" in lines


def test_a_link_inside_the_folder_is_read(tmp_path):
    folder = copy_base(tmp_path)
    (folder / ".versions").mkdir()
    shutil.move(folder / "events.csv", folder / ".versions" / "events-v2.csv")
    (folder / "events.csv").symlink_to(Path(".versions") / "events-v2.csv")
    assert len(load_dataset(folder).events) == 3


def test_ignored_entries_may_stay(tmp_path):
    folder = copy_base(tmp_path)
    for name in ("README.md", "notes.txt", "README", ".DS_Store", "~$events.xlsx", ".~lock.events.csv#",
                 "Thumbs.db", "desktop.ini"):
        (folder / name).write_bytes(b"x")
    (folder / "templates").mkdir()
    (folder / "templates" / "anything.bin").write_bytes(b"x")
    (folder / ".git").mkdir()
    (folder / "ipd").mkdir()
    (folder / "ipd" / "README.md").write_text("about the trial", encoding="utf-8")
    (folder / "ipd" / "~$trial.xlsx").write_bytes(b"lock")  # Excel's lock file of an open workbook
    assert load_dataset(folder).summary()["ipd rows"] == 0


def test_unknown_entries_in_the_optional_folders(tmp_path):
    folder = copy_base(tmp_path)
    (folder / "ipd" / "old").mkdir(parents=True)
    (folder / "ipd" / "trial.tsv").write_text("x", encoding="utf-8")
    (folder / "km_curves").mkdir()
    (folder / "km_curves" / "point.csv").write_text("study,group,time,time_unit,survival\n", encoding="utf-8")
    assert problems(folder) == [
        "ipd/old/:-:-: expected .csv or .xlsx files of individual patient data in ipd/, found a folder; move its "
        "files into ipd/ or out of the data folder",
        "ipd/trial.tsv:-:-: expected .csv or .xlsx files of individual patient data in ipd/, found an unknown "
        "file; move it out of ipd/",
        "km_curves/point.csv:-:-: expected points.csv and at_risk.csv (or .xlsx) in km_curves/, found an unknown "
        "file; rename it to points.csv",
    ]


def test_a_misnamed_required_file_gets_one_line(tmp_path):
    folder = copy_base(tmp_path)
    (folder / "events.csv").rename(folder / "Events.csv.txt")
    (folder / "patients.csv").rename(folder / "patient.csv")
    assert problems(folder) == [
        "events.csv:-:-: missing required file (csv or xlsx); start from `python -m analysis new-data DIR`",
        "patients.csv:-:-: missing required file (csv or xlsx); found 'patient.csv': rename it to patients.csv",
    ]


def _workbook(folder: Path, name: str):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = name
    for r in table(folder / f"{name}.csv"):
        ws.append([int(c) if c.isdigit() else (c or None) for c in r])
    (folder / f"{name}.csv").unlink()
    return wb


def test_a_hidden_first_sheet_alone_is_read(tmp_path):
    """Hidden with nothing else shown (a file Excel would not save): the sheet is read."""
    folder = copy_base(tmp_path)
    path = folder / "sources.xlsx"
    _workbook(folder, "sources").save(path)
    with zipfile.ZipFile(path) as z:  # openpyxl refuses to save it; other programs do
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b'state="visible" r:id', b'state="hidden" r:id')
    assert b'state="hidden"' in parts["xl/workbook.xml"]
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    assert load_dataset(folder).sources["source_id"].tolist() == ["S1", "S2"]


def test_a_formula_with_its_saved_value_is_read(tmp_path):
    folder = copy_base(tmp_path)
    wb = _workbook(folder, "cohort_outcomes")
    wb.active["M2"] = "=L2+10"
    wb.save(folder / "cohort_outcomes.xlsx")
    path = folder / "cohort_outcomes.xlsx"
    with zipfile.ZipFile(path) as z:  # what a spreadsheet writes: the formula and its value
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(rb"<f>L2\+10</f><v\s*/>|<f>L2\+10</f><v></v>", b"<f>L2+10</f><v>40</v>", parts[sheet])
    assert b"<v>40</v>" in parts[sheet]
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    assert load_dataset(folder).cohort_outcomes.loc[0, "total"] == 40


def test_groups_map_each_value_once(tmp_path):
    folder = copy_base(tmp_path)
    write(folder / "groups.csv", [["column", "value", "group"], ["therapy", "UC-MSC", "MSC"],
                                  ["therapy", "uc-msc", "cord"], ["diseases", "psoriasis vulgaris", "skin"],
                                  ["age_years", "30", "young"]])
    assert problems(folder) == [
        "groups.csv:3:group: expected one group for therapy 'uc-msc', found 'cord' here and 'MSC' on row 2",
        "groups.csv:5:column: expected one of " + ", ".join(schemas.GROUPABLE_COLUMNS) + ", found 'age_years'",
    ]
    write(folder / "groups.csv", [["column", "value", "group"], ["therapy", "UC-MSC", "MSC"]])
    assert load_dataset(folder).groups[["column", "value", "group"]].values.tolist() == [["therapy", "UC-MSC", "MSC"]]


# ----------------------------------------------------------------------------- 4./5. curves and event order


def test_uncertain_order_is_not_reported(tmp_path):
    """A remission 'within 6 months' and a death at 3 months may be in either order: no line."""
    folder = copy_base(tmp_path)
    set_cell(folder / "events.csv", 3, "qualifier", "within")
    t = table(folder / "events.csv")
    death = list(t[3])
    col = t[0].index
    death[col("event_id")], death[col("event_type")], death[col("offset")] = "E4", "death", "+3 months"
    death[col("status")] = ""
    t[3][col("offset")] = "+3 months"  # the follow-up at the death
    write(folder / "events.csv", t + [death])
    assert len(load_dataset(folder).events) == 4


def test_findings_after_death_are_allowed(tmp_path):
    folder = copy_base(tmp_path)
    t = table(folder / "events.csv")
    col = t[0].index
    extra = []
    for eid, kind, offset in (("E4", "death", "+1 months"), ("E5", "assessment", "+2 months"),
                              ("E6", "adverse_event", "+2 months"), ("E7", "diagnosis", "+2 months")):
        r = list(t[3])
        r[col("event_id")], r[col("event_type")], r[col("offset")], r[col("status")] = eid, kind, offset, ""
        extra.append(r)
    t[2][col("offset_from")], t[2][col("offset")], t[2][col("qualifier")] = "E1", "+2 weeks", ""
    write(folder / "events.csv", t + extra)
    assert len(load_dataset(folder).events) == 7


def test_many_followups_are_checked_in_linear_time(tmp_path):
    """A hostile file (2,000 follow-ups x 2,000 assessments) is checked through the chains'
    root, not pair by pair, and still finds the follow-up before an assessment."""
    folder = copy_base(tmp_path)
    t = table(folder / "events.csv")
    col = t[0].index
    rows = [t[0], t[1]]
    for i in range(2000):
        for eid, kind, offset in ((f"F{i}", "last_followup", "+3 years"), (f"A{i}", "assessment", "+1 years")):
            r = list(t[3])
            r[col("event_id")], r[col("event_type")], r[col("offset")] = eid, kind, offset
            rows.append(r)
    rows[-2][col("offset")] = "+6 months"  # F1999 before the assessments
    write(folder / "events.csv", rows)
    start = time.perf_counter()
    lines = problems(folder)
    assert time.perf_counter() - start < 20
    assert lines == [f"events.csv:{len(rows) - 1}:offset: expected the last follow-up of patient P1 after every "
                     "other event, found the assessment on row 4 (A0) 182 days or more after it"]


# ----------------------------------------------------------------------------- 6. positions and look-alikes


def test_encoding_problems_are_at_the_spreadsheet_row():
    raw = 'a,b\n1,"two\nlines"\n3,\xe9\n'.encode("latin-1")
    found: list = []
    assert readers._decode(raw, "x.csv", found) is None
    assert [p.row for p in found] == [3]  # physical line 4
    found.clear()
    readers._decode('a,b\n1,"x\ny\xe9"\n'.encode("latin-1"), "x.csv", found)  # inside the quoted cell
    assert [p.row for p in found] == [2]
    found.clear()
    readers._decode(b"\xef\xbb\xbfa;b\n1;\xe9\n", "x.csv", found)  # after a BOM, ';'-separated
    assert [str(p) for p in found] == ["x.csv:2:-: expected UTF-8 text, found byte 0xe9 that is not UTF-8 "
                                       "(save the file as 'CSV UTF-8' from your spreadsheet)"]


def test_ids_and_texts_are_read_in_nfc(tmp_path):
    folder = CORPUS / "ok_nfd_ids"
    raw = (folder / "events.csv").read_text(encoding="utf-8")
    assert unicodedata.normalize("NFD", "José") in raw  # the file holds the decomposed form
    ds = load_dataset(folder)
    assert set(ds.events["patient_id"]) == {unicodedata.normalize("NFC", "José-P1")}
    assert ds.lines["patient_id"].tolist() == [unicodedata.normalize("NFC", "José-P1")]


def test_quotes_match_a_decomposed_source_text(tmp_path):
    folder = copy_base(tmp_path)
    set_cell(folder / "sources.csv", 2, "text_file", "s1.txt")
    set_cell(folder / "patients.csv", 2, "quote", "a 30-year-old woman from Malmö")
    texts = tmp_path / "texts"
    texts.mkdir()
    body = "one infusion of UC-MSC; six months later the skin was clear; relapse free for 2 years; " \
           "a 30-year-old woman from Malmö"
    (texts / "s1.txt").write_text(unicodedata.normalize("NFD", body), encoding="utf-8")
    assert check_quotes(load_dataset(folder), texts) == []


# ----------------------------------------------------------------------------- 7. precision and hints


@pytest.mark.parametrize("fmt, precision", [
    ("yyyy-mm", "month"), ("mmm yyyy", "month"), ("mm/yyyy", "month"), ("mmm-yy", "month"),
    ('[$-409]mmmm\\ yyyy;@', "month"), ('"Month "mm yyyy', "month"), ("yyyy", "year"),
    ("yyyy-mm-dd", "day"), ("mm-dd-yy", "day"), ("d-mmm-yy", "day"), ("yyyy-mm-dd h:mm:ss", "day"),
    ("h:mm", "day"), ("General", "day"), ("", "day"),
])
def test_an_excel_date_stands_for_what_its_format_shows(fmt, precision):
    assert readers.date_precision(fmt) == precision


def test_a_month_typed_into_excel_keeps_its_uncertainty():
    ds = load_dataset(CORPUS / "ok_xlsx_month_dates")
    infusion = ds.events.set_index("event_id").loc["E1"]
    assert infusion["date"] == "2011-10"
    assert (infusion["date_lo"], infusion["date_hi"]) == (pd.Timestamp("2011-10-01"), pd.Timestamp("2011-10-31"))


@pytest.mark.parametrize("typed, hint", [
    ("≥200", "; use total 200 with total_qualifier at_least"),
    (">200", "; use total 200 with total_qualifier at_least"),
    ("over 200", "; use total 200 with total_qualifier at_least"),
    ("more than 200", "; use total 200 with total_qualifier at_least"),
    ("200+", "; use total 200 with total_qualifier at_least"),
    ("about 200", "; use total 200 with total_qualifier about"),
    ("~200", "; use total 200 with total_qualifier about"),
    ("up to 200", "; write the number alone (200); total_qualifier takes exact, about, at_least"),
])
def test_a_qualified_total_gets_one_line_with_the_coding(tmp_path, typed, hint):
    folder = copy_base(tmp_path)
    set_cell(folder / "cohort_outcomes.csv", 2, "total", typed)
    assert problems(folder) == [f"cohort_outcomes.csv:2:total: expected a whole number, found {typed!r}{hint}"]


def test_qualifier_hints_follow_each_columns_qualifier(tmp_path):
    folder = copy_base(tmp_path)
    set_cell(folder / "cohort_outcomes.csv", 2, "time_value", "up to 15")
    set_cell(folder / "cohort_outcomes.csv", 3, "proportion", "about 0.05")
    assert problems(folder) == [
        "cohort_outcomes.csv:2:time_value: expected a number, found 'up to 15'; use time_value 15 with "
        "time_qualifier up_to",
        "cohort_outcomes.csv:3:proportion: expected a number, found 'about 0.05'; use proportion 0.05 with "
        "proportion_qualifier about",
    ]


def test_amounts_are_singular_for_one():
    assert timing.amount(1, "years") == "1 year"
    assert timing.amount(1.0, "months") == "1 month"
    assert timing.amount(2, "years") == "2 years" and timing.amount(0.5, "years") == "0.5 years"


def test_a_comparison_at_one_year_is_worded_singular(tmp_path):
    folder = copy_base(tmp_path)
    path = folder / "cohort_outcomes.csv"
    t = table(path)
    write(path, [t[0] + ["arm_role"]] + [r + [""] for r in t[1:]])
    for col, value in (("arm_role", "control"), ("design", "rct"), ("controlled", "yes"), ("time_value", "1"),
                       ("time_unit", "years")):
        set_cell(path, 2, col, value)
    assert problems(folder) == [
        "cohort_outcomes.csv:2:arm_role: expected an intervention arm beside this control arm ('Test cohort' "
        "response at 1 year, same source, study, outcome and time point), found none"]


def _dictionary_examples() -> dict[str, tuple[str, str]]:
    """``path -> (header, example row)`` of every file in the generated data dictionary."""
    text = schemas.data_dictionary_markdown()
    found = {}
    for path, block in re.findall(r"### `([^`]+)`.*?```csv\n(.*?)```", text, re.S):
        header, example = block.strip("\n").split("\n")
        found[path] = (header, example)
    return found


def test_every_example_row_of_the_data_dictionary_validates(tmp_path):
    """The generated example rows, written as a data folder (with a sources row for each
    study they cite), validate: the README never shows a row that fails."""
    examples = _dictionary_examples()
    assert set(examples) == {f.path for f in schemas.FILES.values()}
    folder = tmp_path / "examples"
    for path, (header, example) in examples.items():
        target = folder / path.replace("*", "example")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(header + "\n" + example + "\n", encoding="utf-8")
    cited = set()
    for path, (header, example) in examples.items():
        row = dict(zip(header.split(","), next(csv.reader(io.StringIO(example)))))
        cited.update(row.get(c) for c in ("source_id", "study") if row.get(c) and path != "cohort_outcomes.csv")
    header, example = examples["sources.csv"]
    own = next(csv.reader(io.StringIO(example)))
    rows = [own] + [[sid] + own[1:] for sid in sorted(cited - {own[0]})]
    write(folder / "sources.csv", [header.split(",")] + rows)
    ds = load_dataset(folder)
    assert ds.summary() == {"sources": len(rows), "patients": 1, "events": 1, "treatment lines": 1,
                            "cohort outcomes": 1, "ipd rows": 1, "km curve points": 1}
    assert len(ds.groups) == 1


def test_the_shipped_readme_holds_the_generated_examples():
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for header, example in _dictionary_examples().values():
        assert f"{header}\n{example}\n" in readme
