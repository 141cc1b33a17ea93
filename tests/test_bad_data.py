"""The bad-data corpus: every folder under tests/bad_data/ through `python -m analysis validate`.

Each folder is ``_base/`` with one mistake (made by ``tests/bad_data/make_corpus.py``, whose
docstrings say what the user did) and an ``expected.txt``: the exact
``file:row:column: message`` lines, or ``OK`` for exports that must be accepted. The size
cases (a 50 MB file, a 100,000-character cell) are generated here into ``tmp_path``.
The same corpus goes through `python -m analysis render` in tests/test_render_corpus.py.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from analysis import load
from analysis.cli import main
from analysis.load import DataValidationError, load_dataset

CORPUS = Path(__file__).resolve().parent / "bad_data"
BASE = CORPUS / "_base"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
ROOT = CORPUS.parents[1]
TOO_LARGE = "expected a file of at most 10 MB, found 50 MB (split it, or check it is the right file)"
NAMED_PIPE = ("events.csv:-:-: expected a regular file, found a named pipe (FIFO); save the data as a plain .csv or "
              ".xlsx file (it is not read)")
LINK_OUT = ("sources.csv:-:-: expected a file inside the data folder, found a link to a file outside it; copy the "
            "file itself into the data folder (the link is not read)")
"""Lines no corpus folder can hold (git keeps neither a named pipe nor, portably, a link):
made here in ``tmp_path``, and quotable in the README like the corpus lines."""


def expected(case: str) -> list[str]:
    return (CORPUS / case / "expected.txt").read_text(encoding="utf-8").splitlines()


def validate(folder: Path, capsys) -> tuple[int, list[str], str]:
    rc = main(["validate", str(folder)])
    out = capsys.readouterr()
    return rc, out.out.splitlines(), out.err


def test_corpus_is_large_and_every_case_has_expected_lines():
    bad = [c for c in CASES if expected(c) != ["OK"]]
    accepted = [c for c in CASES if expected(c) == ["OK"]]
    assert len(bad) >= 40 and len(accepted) >= 5
    for case in CASES:
        lines = expected(case)
        assert lines and all(line.strip() == line and line for line in lines), case


def test_base_is_valid_and_small(capsys):
    rc, out, _ = validate(BASE, capsys)
    assert rc == 0, out
    assert out == [f"{BASE}: OK (2 sources, 1 patients, 3 events, 1 treatment lines, 2 cohort outcomes, "
                   "0 ipd rows, 0 km curve points)"]


@pytest.mark.parametrize("case", CASES)
def test_validate_prints_exactly_the_expected_lines(case, capsys):
    want = expected(case)
    rc, out, err = validate(CORPUS / case, capsys)
    if want == ["OK"]:
        assert (rc, len(out)) == (0, 1), out
        assert out[0].startswith(f"{CORPUS / case}: OK (")
    else:
        assert rc == 1
        assert out == want
        assert err.strip() == f"{len(want)} problem(s) in {CORPUS / case}"


@pytest.mark.parametrize("case", ["ok_utf16_tab_delimited", "xlsx_serial_date", "offset_absurd"])
def test_validate_as_a_user_runs_it(case):
    """The same through a real ``python -m analysis validate`` process: lines, exit code, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "analysis", "validate", str(CORPUS / case)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "Traceback" not in proc.stderr
    if expected(case) == ["OK"]:
        assert proc.returncode == 0 and ": OK (" in proc.stdout
    else:
        assert proc.returncode == 1
        assert proc.stdout.splitlines() == expected(case)


def test_troubleshooting_quotes_only_real_messages():
    """Every message line in the README's Troubleshooting section is one the corpus tests,
    word for word, so the README cannot drift from what users see."""
    import re

    readme = (CORPUS.parents[1] / "README.md").read_text(encoding="utf-8")
    text = readme[readme.index("## Troubleshooting"):readme.index("## Development")]
    quoted = [line for block in re.findall(r"```\n(.*?)```", text, re.S) for line in block.splitlines()]
    sys.path.insert(0, str(CORPUS.parent))
    try:
        from test_render_reliability import README_MESSAGES  # the runner's lines, checked there word for word
    finally:
        sys.path.remove(str(CORPUS.parent))
    known = ({line for case in CASES for line in expected(case)}
             | {f"events.csv:-:-: {TOO_LARGE}", NAMED_PIPE, LINK_OUT} | set(README_MESSAGES))
    assert len(quoted) >= 30
    assert [line for line in quoted if line not in known] == []


# The classes of mistake the README's Troubleshooting must show, by corpus case: the files a
# loader does not know, workbook pitfalls, bounds typed into numbers, impossible event order,
# digitized curves and individual patient data.
QUOTED_CASES = [
    "unknown_files_and_folders", "xlsx_hidden_first_sheet", "xlsx_formula_without_value",
    "latin1_after_quoted_line_break", "total_with_at_least_sign", "total_qualifier_without_total",
    "proportion_about_not_approximate", "remission_after_death", "two_deaths", "followup_before_assessment",
    "line_number_gap", "negative_age_offset", "event_id_reserved", "km_points_without_at_risk",
    "km_at_risk_without_points", "km_at_risk_not_from_zero", "km_at_risk_increasing",
    "km_at_risk_group_without_curve", "km_survival_as_percent", "km_survival_increases", "km_time_goes_back",
    "km_mixed_time_units", "km_total_events_conflict", "km_total_events_impossible", "ipd_patient_twice",
    "ipd_unknown_study", "groups_value_not_in_data",
]


@pytest.mark.parametrize("case", QUOTED_CASES)
def test_troubleshooting_shows_each_class_of_mistake(case):
    """The README quotes every line the corpus case prints, so a user who meets the message
    finds it explained."""
    readme = (CORPUS.parents[1] / "README.md").read_text(encoding="utf-8")
    text = readme[readme.index("## Troubleshooting"):readme.index("## Development")]
    assert [line for line in expected(case) if line not in text] == []


def test_the_corpus_is_what_make_corpus_builds(tmp_path):
    """The committed data files are those the generator writes (so each case stays one
    documented mistake); workbooks are compared part by part (their zip bytes carry times)."""
    sys.path.insert(0, str(CORPUS))
    try:
        import make_corpus
    finally:
        sys.path.remove(str(CORPUS))
    assert sorted(make_corpus.CASES) == CASES
    for fn in make_corpus.CASES.values():
        assert fn.__doc__, f"{fn.__name__} must say what the user did"
    make_corpus.build(root=tmp_path)
    for case in CASES:
        built = sorted(p.relative_to(tmp_path / case) for p in (tmp_path / case).rglob("*") if p.is_file())
        committed = sorted(p.relative_to(CORPUS / case) for p in (CORPUS / case).rglob("*")
                           if p.is_file() and p.name != "expected.txt")
        assert built == committed, case
        for rel in built:
            if (tmp_path / case / rel).read_bytes()[:4] == b"PK\x03\x04":  # a workbook, whatever its name
                assert _cells(tmp_path / case / rel) == _cells(CORPUS / case / rel), f"{case}/{rel}"
            else:
                assert (tmp_path / case / rel).read_bytes() == (CORPUS / case / rel).read_bytes(), f"{case}/{rel}"


def _cells(path: Path) -> dict:
    """A workbook's parts but its document properties (which hold the time it was saved)."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist() if not i.filename.startswith("docProps/")}


# ----------------------------------------------------------------------------- size


def _copy_base(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(BASE, folder)
    return folder


def _set_cell(path: Path, row: int, column: str, value: str) -> None:
    with path.open(newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    table[row - 1][table[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(table)


@pytest.mark.parametrize("name", ["events.csv", "events.xlsx"])
def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path, capsys, name):
    folder = _copy_base(tmp_path)
    (folder / "events.csv").unlink()
    lines = (BASE / "events.csv").read_bytes().splitlines(keepends=True)
    chunk = b"".join(lines[1:]) * 1000
    with (folder / name).open("wb") as f:
        f.write(lines[0])
        while f.tell() < 50 * 2**20:
            f.write(chunk)
    load_dataset(BASE)  # imports (openpyxl) before measuring
    tracemalloc.start()
    try:
        with pytest.raises(DataValidationError) as exc:
            load_dataset(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [str(p) for p in exc.value.problems] == [f"{name}:-:-: {TOO_LARGE}"]
    assert load.MAX_FILE_BYTES == 10 * 2**20
    assert peak < 10 * 2**20  # the 50 MB file was never read into memory
    rc, out, _ = validate(folder, capsys)
    assert rc == 1 and out == [str(exc.value.problems[0])]


def test_a_file_just_under_the_limit_is_read(tmp_path):
    """A file below the limit is read, whatever its size (here ~1 MB of valid events)."""
    folder = _copy_base(tmp_path)
    header, *rows = (BASE / "events.csv").read_text(encoding="utf-8").splitlines()
    patients_header, patient = (BASE / "patients.csv").read_text(encoding="utf-8").splitlines()
    n = 3000
    ev, pa = [header], [patients_header]
    for i in range(n):
        pa.append(patient.replace("P1", f"P{i}", 1))
        for r in rows:
            cells = r.split(",")
            cells[0], cells[1] = f"{cells[0]}-{i}", f"P{i}"
            if cells[12]:
                cells[12] = f"{cells[12]}-{i}"
            ev.append(",".join(cells))
    (folder / "events.csv").write_text("\n".join(ev) + "\n", encoding="utf-8")
    (folder / "patients.csv").write_text("\n".join(pa) + "\n", encoding="utf-8")
    assert (folder / "events.csv").stat().st_size > 2**20 / 2
    ds = load_dataset(folder)
    assert (len(ds.events), len(ds.lines)) == (3 * n, n)
    assert ds.events["t_best"].notna().all()


def test_a_100000_character_cell_gets_a_short_clear_message(tmp_path, capsys):
    folder = _copy_base(tmp_path)
    huge = "x" * 100_000
    _set_cell(folder / "events.csv", 2, "quote", huge)  # text: over the 10,000 limit
    _set_cell(folder / "events.csv", 3, "offset", "+" + "1" * 100_000 + " days")
    _set_cell(folder / "events.csv", 4, "date", "2" * 100_000)
    _set_cell(folder / "events.csv", 4, "offset", "")
    _set_cell(folder / "events.csv", 4, "offset_from", "")
    _set_cell(folder / "patients.csv", 2, "age_years", "1" * 100_000)
    _set_cell(folder / "sources.csv", 2, "kind", huge)
    rc, out, _ = validate(folder, capsys)
    assert rc == 1
    short = "'" + "1" * 57 + "...'"
    assert out == [
        "events.csv:2:quote: expected at most 10,000 characters, found 100,000",
        "events.csv:3:offset: expected an offset of at most 120 years, found '+" + "1" * 56 + "...'",
        "events.csv:3:offset: expected at most 10,000 characters, found 100,006",
        "events.csv:4:date: expected a date as YYYY, YYYY-MM or YYYY-MM-DD, found '" + "2" * 57 + "...'",
        "events.csv:4:date: expected at most 10,000 characters, found 100,000",
        "patients.csv:2:age_years: expected a number, found " + short,
        "sources.csv:2:kind: expected at most 10,000 characters, found 100,000",
        "sources.csv:2:kind: expected one of trial, cohort, case_series, case_report, registry, review, news, "
        "clinic_page, forum, blog, found '" + "x" * 57 + "...'",
    ]


def test_a_100000_character_column_name_is_cut(tmp_path):
    folder = _copy_base(tmp_path)
    path = folder / "sources.csv"
    text = path.read_text(encoding="utf-8").replace("notes", "n" * 100_000, 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataValidationError) as exc:
        load_dataset(folder)
    lines = [str(p) for p in exc.value.problems]
    assert lines[0].startswith("sources.csv:1:" + "n" * 57 + "...: unknown column; expected one of: source_id,")
    assert lines[1] == "sources.csv:1:notes: missing column (add it, even if empty)"
    assert max(map(len, lines)) < 300


def test_a_folder_named_like_a_data_file_is_reported_not_a_crash(tmp_path):
    folder = _copy_base(tmp_path)
    (folder / "events.csv").unlink()
    (folder / "events.csv").mkdir()
    with pytest.raises(DataValidationError) as exc:
        load_dataset(folder)
    assert [str(p) for p in exc.value.problems] == [
        "events.csv:-:-: expected a readable file, could not read it (Is a directory)"]


# ----------------------------------------------------------------------------- special files


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_before_it_is_opened(tmp_path):
    """A data file that is a named pipe would block the reader forever: refused, unopened."""
    import os

    folder = _copy_base(tmp_path)
    (folder / "events.csv").unlink()
    os.mkfifo(folder / "events.csv")
    proc = subprocess.run([sys.executable, "-m", "analysis", "validate", str(folder)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert (proc.returncode, proc.stdout.splitlines()) == (1, [NAMED_PIPE])


def test_a_link_out_of_the_folder_is_refused_unread(tmp_path, capsys):
    """A data file that links outside the folder is never read, so its contents never show."""
    folder = _copy_base(tmp_path)
    outside = tmp_path / "private.csv"
    outside.write_text("source_id\nPRIVATE-TEXT\n", encoding="utf-8")
    (folder / "sources.csv").unlink()
    (folder / "sources.csv").symlink_to(outside)
    rc, out, err = validate(folder, capsys)
    assert (rc, out) == (1, [LINK_OUT]) and "PRIVATE" not in err
