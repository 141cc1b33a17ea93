"""Loading and validating data folders: every problem as file:row:column: message."""

from __future__ import annotations

import copy
import math

import pathlib

import pytest

from analysis import schemas
from analysis.cli import main
from analysis.load import DataValidationError, Problem, load_dataset
from analysis.timing import DAYS_PER_UNIT

MONTH, YEAR = DAYS_PER_UNIT["month"], DAYS_PER_UNIT["year"]


def problems_of(make_folder, tables) -> list[str]:
    with pytest.raises(DataValidationError) as exc:
        load_dataset(make_folder(tables))
    return [str(p) for p in exc.value.problems]


def test_minimal_folder_loads_with_typed_resolved_tables(make_folder, tables):
    ds = load_dataset(make_folder(tables))
    assert ds.summary() == {"sources": 1, "patients": 1, "events": 3, "treatment lines": 1,
                            "cohort outcomes": 1, "ipd rows": 0, "km curve points": 0}
    ev = ds.events.set_index("event_id")
    assert ev.loc["E2", ["t_lo", "t_best", "t_hi"]].tolist() == [0.0, 0.0, 0.0]
    assert ev.loc["E1", "t_best"] == -14.0
    assert ev.loc["E3", ["t_lo", "t_best", "t_hi"]].tolist() == pytest.approx([1.8 * YEAR, 2 * YEAR, 2.2 * YEAR])
    assert str(ev.loc["E2", "date_best"].date()) == "2010-03-29"
    assert ev.loc["E2", "dose"] == 1e6 and str(ds.events["line"].dtype) == "Int64"
    assert ds.lines.loc[0, ["anchor_event_id", "therapy", "evidence_level"]].tolist() == ["E2", "UC-MSC", "case_report"]
    assert ds.cohort_outcomes.loc[0, "approximate"] is False or ds.cohort_outcomes.loc[0, "approximate"] == False  # noqa: E712
    assert ds.events.loc[0, "row"] == 2  # the spreadsheet row is kept


def _mutate(tables, file, index, **changes):
    t = copy.deepcopy(tables)
    t[file][index].update(changes)
    return t


BAD_CELLS = [
    # (file, index, changes, expected line)
    ("sources", 0, {"kind": "tweet"}, "sources.csv:2:kind: expected one of trial, cohort, case_series, case_report, registry, review, news, clinic_page, forum, blog, found 'tweet'"),
    ("sources", 0, {"evidence_level": "strong"}, "sources.csv:2:evidence_level: expected one of rct, controlled_study, uncontrolled_study, case_series, case_report, secondary_summary, anecdote, background, found 'strong'"),
    ("sources", 0, {"year": "20l6"}, "sources.csv:2:year: expected a whole number, found '20l6'"),
    ("sources", 0, {"citation": ""}, "sources.csv:2:citation: expected a value, found an empty cell"),
    ("patients", 0, {"age_years": "-4"}, "patients.csv:2:age_years: expected a value >= 0, found -4"),
    ("patients", 0, {"age_years": "240"}, "patients.csv:2:age_years: expected a value <= 120, found 240"),
    ("patients", 0, {"sex": "female"}, "patients.csv:2:sex: expected one of M, F, unknown, found 'female'"),
    ("patients", 0, {"source_id": "T9"}, "patients.csv:2:source_id: expected an id listed in sources, found 'T9'"),
    ("events", 1, {"dose": "-1"}, "events.csv:3:dose: expected a value >= 0, found -1"),
    ("events", 1, {"dose": "1e6 cells"}, "events.csv:3:dose: expected a number, found '1e6 cells'"),
    ("events", 1, {"dose_unit": ""}, "events.csv:3:dose_unit: expected the unit of dose 1e+06, found an empty cell"),
    ("events", 1, {"event_type": "surgery"}, "events.csv:3:event_type: expected one of diagnosis, admission, chemotherapy, conditioning, transplant, infusion, assessment, remission, relapse, adverse_event, death, last_followup, found 'surgery'"),
    ("events", 1, {"patient_id": "P7"}, "events.csv:3:patient_id: expected an id listed in patients, found 'P7'"),
    ("events", 1, {"offset": "+2 fortnights"}, "events.csv:3:offset: expected an offset as a sign, a number and a unit (days, weeks, months, years), for example '+6 months', found '+2 fortnights'"),
    ("events", 1, {"offset_from": "E9"}, "events.csv:3:offset_from: expected an event_id of patient P1, found 'E9', which is not in events"),
    ("events", 0, {"date": "2011-02-30"}, "events.csv:2:date: expected a day 01-28 for 2011-02, found '2011-02-30'"),
    ("events", 0, {"date": "2011-13"}, "events.csv:2:date: expected a month 01-12, found '2011-13'"),
    ("events", 0, {"date": ""}, "events.csv:2:date: expected a date or an offset (with offset_from), found neither; for an undated event after another, use offset '+0 days' with qualifier at_least"),
    ("events", 0, {"offset": "+1 days", "offset_from": "E2"}, "events.csv:2:offset: expected either a date or an offset, found both"),
    ("events", 1, {"offset_from": ""}, "events.csv:3:offset_from: expected the event_id the offset counts from (or 'birth'), found an empty cell"),
    ("events", 1, {"qualifier": "roughly"}, "events.csv:3:qualifier: expected one of about, within, at_least, found 'roughly'"),
    ("events", 1, {"line": "0"}, "events.csv:3:line: expected a treatment line >= 1 for an infusion, found 0"),
    ("events", 2, {"offset": "-3 months", "qualifier": ""}, "events.csv:4:offset: the last follow-up of line 1 cannot be before the line's first stem-cell therapy (E2); found it 91 days or more before"),
    ("cohort_outcomes", 0, {"events": "5"}, "cohort_outcomes.csv:2:events: expected events <= total (4), found 5"),
    ("cohort_outcomes", 0, {"events": "", "proportion": "1.5"}, "cohort_outcomes.csv:2:proportion: expected a value <= 1, found 1.5; write a percentage as a proportion: "
     "divide by 100 (1.5 is 0.015)"),
    ("cohort_outcomes", 0, {"outcome": "cured"}, "cohort_outcomes.csv:2:outcome: expected one of response, complete_response, partial_response, relapse_free, disease_free, disease_activity_reduced, severe_adverse_event, adverse_event, treatment_related_death, relapse, progression, treatment_failure, overall_survival, event_free_survival, found 'cured'"),
    ("cohort_outcomes", 0, {"total": "-2", "events": ""}, "cohort_outcomes.csv:2:total: expected a value >= 1, found -2"),
    ("cohort_outcomes", 0, {"total": ""}, "cohort_outcomes.csv:2:total: expected the total that the 3 events are out of, found an empty cell"),
    ("cohort_outcomes", 0, {"total_qualifier": "at_least"}, "cohort_outcomes.csv:2:approximate: expected 'yes' since total is 'at_least', found 'no'"),
    ("cohort_outcomes", 0, {"time_value": "-3", "time_unit": "months"}, "cohort_outcomes.csv:2:time_value: expected a value >= 0, found -3"),
]


@pytest.mark.parametrize("file, index, changes, expected", BAD_CELLS, ids=[b[3].split(": ")[0] + "-" + "-".join(b[2]) for b in BAD_CELLS])
def test_each_bad_value_is_reported_at_its_cell(make_folder, tables, file, index, changes, expected):
    assert problems_of(make_folder, _mutate(tables, file, index, **changes)) == [expected]


def test_duplicate_ids_name_both_rows(make_folder, tables):
    tables["events"].append(dict(tables["events"][2]))
    assert problems_of(make_folder, tables) == [
        "events.csv:4:event_id: expected a unique id, found 'E3' more than once",
        "events.csv:5:event_id: expected a unique id, found 'E3' more than once",
    ]


def test_offset_cycle_names_every_row_of_the_cycle(make_folder, tables):
    tables["events"][2].update(offset_from="E4")
    tables["events"].append({"event_id": "E4", "patient_id": "P1", "line": "1", "event_type": "assessment",
                             "offset": "+1 days", "offset_from": "E3", "source_id": "T1", "quote": "q"})
    msg = "offsets form a cycle: row 4 (E3), row 5 (E4)"
    assert problems_of(make_folder, tables) == [f"events.csv:4:offset_from: {msg}", f"events.csv:5:offset_from: {msg}"]


def test_offset_to_another_patients_event(make_folder, tables):
    tables["patients"].append(dict(tables["patients"][0], patient_id="P2"))
    tables["events"].append({"event_id": "E9", "patient_id": "P2", "line": "0", "event_type": "diagnosis",
                             "offset": "+1 days", "offset_from": "E1", "source_id": "T1", "quote": "q"})
    assert problems_of(make_folder, tables) == [
        "events.csv:5:offset_from: expected an event of the same patient P2, found 'E1' of patient P1"]


def test_relapse_before_the_therapy_it_follows(make_folder, tables):
    tables["events"].append({"event_id": "E4", "patient_id": "P1", "line": "1", "event_type": "relapse",
                             "date": "2009-05", "source_id": "T1", "quote": "q"})
    assert problems_of(make_folder, tables) == [
        "events.csv:5:date: a relapse of line 1 cannot be before the line's first stem-cell therapy (E2); found it 302 days or more before"]


def test_line_without_stem_cell_therapy(make_folder, tables):
    tables["events"][2]["line"] = "2"
    assert problems_of(make_folder, tables) == [
        "events.csv:4:line: line 2 of patient P1 has no transplant or infusion event with a usable time to anchor it (day 0 of a line is its first stem-cell therapy)"]


def test_unknown_and_missing_columns_are_reported_on_the_header_row(make_folder, tables):
    folder = make_folder(tables)
    path = folder / "patients.csv"
    text = path.read_text().replace("comorbidity", "comorbidities", 1)
    path.write_text(text)
    with pytest.raises(DataValidationError) as exc:
        load_dataset(folder)
    assert [str(p) for p in exc.value.problems] == [
        "patients.csv:1:comorbidities: unknown column; expected one of: " + ", ".join(schemas.PATIENTS.column_names),
        "patients.csv:1:comorbidity: missing column (add it, even if empty)",
    ]


def test_missing_file_and_all_problems_together(make_folder, tables):
    folder = make_folder(tables)
    (folder / "cohort_outcomes.csv").unlink()
    (folder / "sources.csv").write_text((folder / "sources.csv").read_text().replace("case_report,Test", "tweet,Test"))
    with pytest.raises(DataValidationError) as exc:
        load_dataset(folder)
    lines = [str(p) for p in exc.value.problems]
    assert lines[0] == "cohort_outcomes.csv:-:-: missing required file (csv or xlsx); start from `python -m analysis new-data DIR`"
    assert lines[1].startswith("sources.csv:2:kind: expected one of")
    assert str(exc.value).splitlines()[0] == "2 problem(s) in the data:"


def test_bom_trailing_empty_rows_and_columns_are_accepted(make_folder, tables):
    folder = make_folder(tables)
    path = folder / "sources.csv"
    lines = path.read_text().splitlines()
    path.write_bytes(("\ufeff" + "\n".join(l + ",," for l in lines) + "\n,,,,,,,,,\n\n").encode("utf-8"))
    assert load_dataset(folder).sources["source_id"].tolist() == ["T1"]


def test_not_utf8_names_the_line(make_folder, tables):
    tables["patients"][0]["diseases"] = "psoriasis"
    folder = make_folder(tables)
    path = folder / "patients.csv"
    path.write_bytes(path.read_text().replace("psoriasis", "psoriasis \u00e9").encode("latin-1"))
    with pytest.raises(DataValidationError) as exc:
        load_dataset(folder)
    assert [str(p) for p in exc.value.problems] == [
        "patients.csv:2:-: expected UTF-8 text, found byte 0xe9 that is not UTF-8 (save the file as 'CSV UTF-8' from your spreadsheet)"]


def test_xlsx_files_are_read_with_their_row_numbers(make_folder, tables, tmp_path):
    from openpyxl import Workbook
    import datetime as dt

    folder = make_folder(tables)
    csv_path = folder / "events.csv"
    csv_path.unlink()
    wb = Workbook()
    ws = wb.active
    cols = schemas.EVENTS.column_names
    ws.append(cols)
    for r in tables["events"]:
        row = [r.get(c, "") or None for c in cols]
        ws.append(row)
    ws.cell(row=2, column=cols.index("date") + 1, value=dt.datetime(2010, 3, 15))  # a real Excel date
    ws.cell(row=3, column=cols.index("dose") + 1, value=1000000)
    wb.save(folder / "events.xlsx")
    ds = load_dataset(folder)
    assert ds.events.loc[0, "date"] == "2010-03-15" and ds.events.loc[1, "dose"] == 1e6
    ws.cell(row=4, column=cols.index("event_type") + 1, value="follow up")
    wb.save(folder / "events.xlsx")
    with pytest.raises(DataValidationError) as exc:
        load_dataset(folder)
    assert str(exc.value.problems[0]).startswith("events.xlsx:4:event_type: expected one of diagnosis")


def test_both_csv_and_xlsx_is_ambiguous(make_folder, tables):
    folder = make_folder(tables)
    (folder / "sources.xlsx").write_bytes(b"")
    with pytest.raises(DataValidationError) as exc:
        load_dataset(folder)
    assert "sources.csv:-:-: both sources.csv and sources.xlsx exist; keep one" in [str(p) for p in exc.value.problems]


def test_cli_validate_lists_problems_and_exits_1(make_folder, tables, capsys):
    folder = make_folder(_mutate(tables, "patients", 0, sex="x", age_years="-1"))
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        "patients.csv:2:age_years: expected a value >= 0, found -1",
        "patients.csv:2:sex: expected one of M, F, unknown, found 'x'",
    ]
    assert "2 problem(s)" in out.err


def test_cli_validate_ok_summary(make_folder, tables, capsys):
    folder = make_folder(tables)
    assert main(["validate", str(folder)]) == 0
    assert capsys.readouterr().out.strip().endswith(
        "OK (1 sources, 1 patients, 3 events, 1 treatment lines, 1 cohort outcomes, 0 ipd rows, 0 km curve points)")


def test_cli_validate_missing_folder(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_quotes_are_checked_against_source_texts(make_folder, tables, tmp_path, capsys):
    tables["sources"][0]["text_file"] = "t1.txt"
    tables["patients"][0]["quote"] = "a 40-year-old woman with psoriasis"
    tables["events"][0]["quote"] = "admitted in March"
    folder = make_folder(tables)
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "t1.txt").write_text("We saw a 40-year-\nold woman with\npsoriasis. q and more q.")
    assert main(["validate", str(folder), "--sources-text", str(texts)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "events.csv:2:quote: quote not found verbatim in T1's text: 'admitted in March'"]


def test_new_data_creates_templates_that_match_the_schemas(tmp_path, capsys):
    assert main(["new-data", str(tmp_path / "mine")]) == 0
    for name in schemas.REQUIRED_FILES:
        header = (tmp_path / "mine" / f"{name}.csv").read_text().strip().split(",")
        assert header == schemas.FILES[name].column_names
    assert main(["new-data", str(tmp_path / "mine")]) == 2  # refuses to overwrite


def test_new_data_says_where_each_optional_template_goes(tmp_path, capsys):
    """``__`` in a template's name stands for a sub-folder; the printed target is where the
    loader looks (a file saved there is not reported as unknown)."""
    mine = tmp_path / "mine"
    assert main(["new-data", str(mine)]) == 0
    out = capsys.readouterr().out
    assert f"templates/ipd__example.csv  (optional: fill in and save as {mine / 'ipd' / 'example.csv'})" in out
    assert "`__` stands for a sub-folder" in out
    targets = [line.rsplit("save as ", 1)[1].rstrip(")") for line in out.splitlines() if "save as " in line]
    assert len(targets) == sum(1 for f in schemas.FILES.values() if f.optional)
    for t in targets:
        assert pathlib.Path(t).is_relative_to(mine) and not pathlib.Path(t).exists()


# ----------------------------------------------------------------- the shipped data


@pytest.fixture(scope="module")
def shipped():
    from conftest import DATA

    return load_dataset(DATA)


def test_shipped_counts(shipped):
    assert shipped.summary() == {"sources": 5, "patients": 5, "events": 36, "treatment lines": 6,
                                 "cohort outcomes": 8, "ipd rows": 0, "km curve points": 0}
    assert shipped.sources["source_id"].tolist() == ["S000", "S001", "S002", "S003", "S004"]
    assert sorted(shipped.patients.query("case_role == 'adverse_event_anecdote'")["patient_id"]) == ["S000-P2", "S000-P3"]


def _t(ds, event_id):
    row = ds.events.set_index("event_id").loc[event_id]
    return row["t_lo"], row["t_best"], row["t_hi"]


def test_shipped_patient_2_is_relapse_free_about_4_years(shipped):
    lo, best, hi = _t(shipped, "S001-P2-E10")
    assert (lo / YEAR, best / YEAR, hi / YEAR) == pytest.approx((3.6, 4.0, 4.4))
    infusions = shipped.events.query("patient_id == 'S001-P2' and event_type == 'infusion'")
    assert len(infusions) == 5
    assert infusions["t_best"].round(1).tolist() == [0.0, 7.0, 14.0, pytest.approx(14 + 3 * MONTH, abs=0.1), pytest.approx(14 + 3 * MONTH, abs=0.1)]
    admission = shipped.events.set_index("event_id").loc["S001-P2-E02"]
    assert (str(admission["date_lo"].date()), str(admission["date_hi"].date())) == ("2011-10-01", "2011-10-31")


def test_shipped_patient_1_has_two_lines(shipped):
    lines = shipped.lines.query("patient_id == 'S001-P1'")
    assert lines[["line", "anchor_event_id", "therapy"]].values.tolist() == [
        [1, "S001-P1-E05", "autologous HSCT"], [2, "S001-P1-E11", "UC-MSC"]]
    lo, best, hi = _t(shipped, "S001-P1-E08")  # lesions back within 6 weeks of conditioning
    assert lo == 0 and best == 21 and math.isinf(hi)
    assert _t(shipped, "S001-P1-E13") == (6 * MONTH, 9 * MONTH, 12 * MONTH)  # relieved at 6, normal within 12 months
    assert _t(shipped, "S001-P1-E14") == pytest.approx((4.5 * YEAR, 5 * YEAR, 5.5 * YEAR))  # nearly 5 years
    admission = shipped.events.set_index("event_id").loc["S001-P1-E01"]
    assert str(admission["date_best"].date()) == "2009-07-07"


def test_shipped_journal_case_has_no_follow_up(shipped):
    ev = shipped.events.query("patient_id == 'S000-P1'")
    assert "last_followup" not in set(ev["event_type"])
    myeloma = ev[ev["event_type"] == "relapse"]
    assert myeloma["disease"].tolist() == ["multiple myeloma"]


def test_shipped_lupus_cohort_is_approximate_and_unmade(shipped):
    co = shipped.cohort_outcomes.set_index("outcome_id")
    lupus = co.loc["S003-O1"]
    assert (lupus["total"], lupus["total_qualifier"], lupus["proportion"], lupus["approximate"]) == (200, "at_least", 0.75, True)
    assert lupus["events"] is None or str(lupus["events"]) == "<NA>"  # no count is invented
    assert co.loc["S003-O3", ["events", "outcome"]].tolist() == [0, "severe_adverse_event"]
    assert co.loc["S004-O1", ["time_value", "time_unit", "time_qualifier"]].tolist() == [15.0, "years", "up_to"]


def test_every_shipped_quote_is_in_its_source(shipped):
    from conftest import SEEDS
    from analysis.load import check_quotes

    if not SEEDS.is_dir():
        pytest.skip(f"source texts not present at {SEEDS}")
    assert check_quotes(shipped, SEEDS) == []


def test_problem_format():
    assert str(Problem("events.csv", 4, "date", "expected x, found y")) == "events.csv:4:date: expected x, found y"
    assert str(Problem("sources.csv", "-", "", "missing")) == "sources.csv:-:-: missing"


def _empty_full_of_garbage(monkeypatch):
    """np.empty promises nothing about its contents; make float buffers hold a huge number."""
    import numpy as np

    real = np.empty

    def garbage(shape, dtype=float, *args, **kwargs):
        out = real(shape, dtype, *args, **kwargs)
        if np.dtype(dtype).kind == "f":
            out[...] = -5.48612153e303  # the value CI's run found in pandas' scratch buffer
        return out

    monkeypatch.setattr(np, "empty", garbage)


def test_undated_events_do_not_depend_on_uninitialised_memory(monkeypatch):
    # pandas' to_datetime(unit="s") on an array holding NaN rounds an np.empty buffer under
    # errstate(over="raise"); CI once failed loading the shipped data that way.
    import numpy as np
    import pandas as pd

    from analysis.load.events import days_to_timestamps as _days_to_timestamps

    _empty_full_of_garbage(monkeypatch)
    out = _days_to_timestamps([0.0, math.nan, 1.5, math.inf, -math.inf], pd.RangeIndex(5))
    assert out.dtype == "datetime64[ns]"
    assert out.tolist()[0] == pd.Timestamp("1970-01-01")
    assert out.tolist()[2] == pd.Timestamp("1970-01-02 12:00")
    assert out.isna().tolist() == [False, True, False, True, True]
    assert _days_to_timestamps([math.nan], pd.RangeIndex(1)).isna().all()
    assert len(_days_to_timestamps([], pd.RangeIndex(0))) == 0
    assert np.empty(2).tolist() == [-5.48612153e303] * 2  # the patch is in force


def test_shipped_data_loads_whatever_scratch_memory_holds(monkeypatch):
    from conftest import DATA

    _empty_full_of_garbage(monkeypatch)
    ds = load_dataset(DATA)
    assert len(ds.events) == 36
    dated = ds.events["date_best"].notna()
    assert 0 < dated.sum() < 36
    assert ds.events.loc[dated, "date_best"].dt.year.between(1990, 2030).all()


def _arm(oid, role, study="Trial", outcome="response", design="rct", controlled="yes", **kw):
    row = {"outcome_id": oid, "source_id": "T1", "study": study, "arm": role or "arm", "arm_role": role,
           "disease": "lupus", "therapy": "MSC", "design": design, "controlled": controlled,
           "outcome": outcome, "definition": "responded", "events": "2", "total": "6",
           "approximate": "no", "time_value": "12", "time_unit": "months", "quote": "q"}
    row.update(kw)
    return row


def test_ordinary_rows_with_empty_optional_qualifiers_load(make_folder, tables):
    """An exact count with total_qualifier (and other optional categories) left empty is the most
    ordinary row there is; so is an at_least total whose row says approximate."""
    tables["cohort_outcomes"] = [_arm("O1", "", design="uncontrolled_cohort", controlled="no"),
                                 _arm("O2", "", design="uncontrolled_cohort", controlled="no",
                                      total_qualifier="at_least", approximate="yes")]
    ds = load_dataset(make_folder(tables))
    assert ds.cohort_outcomes["arm_role"].tolist() == ["single_arm", "single_arm"]


def test_arm_roles_pair_into_comparisons_or_are_named(make_folder, tables):
    tables["cohort_outcomes"] = [
        _arm("O1", "intervention"), _arm("O2", "control"),                       # a comparison
        _arm("O3", "control", study="Lone"),                                      # no treated arm
        _arm("O4", "intervention", study="Two"), _arm("O5", "control", study="Two"),
        _arm("O6", "control", study="Two"),                                       # two controls
        _arm("O7", "intervention", study="Cohort", design="uncontrolled_cohort", controlled="no"),
        _arm("O8", "control", study="Cohort", design="uncontrolled_cohort", controlled="no"),
    ]
    assert problems_of(make_folder, tables) == [
        "cohort_outcomes.csv:4:arm_role: expected an intervention arm beside this control arm ('Lone' response at "
        "12 months, same source, study, outcome and time point), found none",
        "cohort_outcomes.csv:7:arm_role: expected one control arm for 'Two' response at 12 months, found 2 "
        "(rows 6, 7); give each comparison its own study label or time point",
        "cohort_outcomes.csv:9:arm_role: expected no control arm in an uncontrolled study (design "
        "'uncontrolled_cohort', controlled 'no'), found 'control'",
    ]


def test_arm_role_and_cohort_group_may_be_left_out_of_older_files(make_folder, tables):
    ds = load_dataset(make_folder(tables))  # the conftest writer writes every column; drop two
    folder = make_folder(tables)
    path = folder / "cohort_outcomes.csv"
    lines = path.read_text().splitlines()
    cols = lines[0].split(",")
    keep = [i for i, c in enumerate(cols) if c not in ("arm_role", "cohort_group")]
    path.write_text("\n".join(",".join(line.split(",")[i] for i in keep) for line in lines) + "\n")
    ds = load_dataset(folder)
    assert ds.cohort_outcomes.loc[0, "arm_role"] == "single_arm"
    assert ds.cohort_outcomes["cohort_group"].isna().all()


# ----------------------------------------------------------------------------- validated ahead (render's kernel factory)


def _same_dataset(a, b) -> None:
    assert a.data_dir == b.data_dir and a.files == b.files
    for name in ("sources", "patients", "events", "lines", "cohort_outcomes", "ipd", "km_curves_points",
                 "km_curves_at_risk", "groups"):
        assert getattr(a, name).equals(getattr(b, name)), name


@pytest.fixture
def ahead_folder(tmp_path, monkeypatch):
    import shutil

    from analysis.load import dataset as load

    monkeypatch.setattr(load, "_AHEAD", {})
    folder = tmp_path / "data"
    shutil.copytree(pathlib.Path(__file__).parent / "bad_data" / "ok_ipd_and_km_curves", folder)
    (folder / "expected.txt").unlink()
    return folder


def test_a_folder_validated_ahead_is_loaded_once_as_load_dataset_loads_it(ahead_folder, monkeypatch):
    from analysis.load import dataset as load

    kept = load.validate_ahead(ahead_folder)
    monkeypatch.chdir(ahead_folder.parent)
    first = load_dataset("data")  # the same folder named another way: paths as given
    assert first.ipd is kept.ipd  # not read again
    _same_dataset(first, load_dataset("data"))
    assert load_dataset("data").ipd is not kept.ipd  # taken once: the next load reads the folder


@pytest.mark.parametrize("say", ["warn", "print"])
def test_a_load_that_warns_or_prints_is_not_kept(ahead_folder, monkeypatch, capsys, say):
    """The notebook then loads the folder itself and shows the warning as a load shows it."""
    import warnings

    from analysis.load import dataset as load

    real = load.load_dataset

    def loud(folder):
        warnings.warn("a workbook style") if say == "warn" else print("a workbook style")
        return real(folder)

    monkeypatch.setattr(load, "load_dataset", loud)
    load.validate_ahead(ahead_folder)
    assert not load._AHEAD and "a workbook style" in capsys.readouterr().err


@pytest.mark.parametrize("change", ["edit", "add", "remove", "link"])
def test_a_folder_changed_after_validation_is_read_again(ahead_folder, change):
    import os
    import time

    from analysis.load import dataset as load

    kept = load.validate_ahead(ahead_folder)
    ipd = ahead_folder / "ipd" / "trial.csv"
    if change == "edit":  # the same size, a later modification time
        text = ipd.read_bytes()
        ipd.write_bytes(text)
        os.utime(ipd, ns=(time.time_ns(), ipd.stat().st_mtime_ns + 1_000_000))
    elif change == "add":
        (ahead_folder / "notes.txt").write_text("x")
    elif change == "remove":
        (ahead_folder / "km_curves" / "at_risk.csv").unlink()
        (ahead_folder / "km_curves" / "points.csv").unlink()
    else:
        (ahead_folder / "ipd" / "other.csv").symlink_to(ipd)
    try:
        ds = load_dataset(ahead_folder)
    except DataValidationError:
        return  # read again, and found wanting
    assert ds.ipd is not kept.ipd
