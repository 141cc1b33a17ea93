"""Hostile strings in data: spreadsheet formulas, file names, and data that must never run.

(Script and HTML in reports are tested with the renderer, in test_render*.py / test_browser.py.)
"""

from __future__ import annotations

import ast
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.export import neutralise_formulas, safe_stem, save_table
from analysis.load import DataValidationError, load_dataset

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "analysis"
BASE = Path(__file__).resolve().parent / "bad_data" / "_base"

FORMULAS = ["=1+1", "=HYPERLINK(\"http://evil.example\",\"click\")", "+1+1", "-1+1", "@SUM(A1:A9)",
            "=cmd|' /C calc'!A0", "\t=1+1"]


def read_csv_cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


# ----------------------------------------------------------------------------- formula injection


def test_text_cells_that_start_a_formula_are_prefixed_with_a_quote(tmp_path):
    df = pd.DataFrame({"study": FORMULAS + ["plain", "a=b", "e-mail@x", ""]})
    path = save_table(df, tmp_path, "rates")
    cells = [r[0] for r in read_csv_cells(path)[1:]]
    assert cells == ["'" + f for f in FORMULAS] + ["plain", "a=b", "e-mail@x", ""]
    assert path == tmp_path / "tables" / "rates.csv"


def test_a_cell_starting_with_a_carriage_return_is_neutralised():
    assert neutralise_formulas(pd.DataFrame({"t": ["\r=1+1"]}))["t"].tolist() == ["'\r=1+1"]


def test_a_cell_with_a_bare_carriage_return_stays_one_cell(tmp_path):
    df = pd.DataFrame({"note": ["before\rafter", "=x\ry"], "n": [1, 2]})
    back = pd.read_csv(save_table(df, tmp_path, "notes"), keep_default_na=False)
    assert back["note"].tolist() == ["before\rafter", "'=x\ry"] and back["n"].tolist() == [1, 2]


def test_numbers_are_written_unaltered_negative_ones_included(tmp_path):
    df = pd.DataFrame({
        "study": ["=evil", "S1", "S2"],
        "estimate": [-0.25, 1e-9, -1234.5],
        "events": pd.array([-1, None, 3], dtype="Int64"),
        "log_or": [float("-inf"), -0.0, float("nan")],
        "ok": [True, False, True],
        "date": pd.to_datetime(["2011-10-05", "2012-01-01", None]),
    })
    rows = read_csv_cells(save_table(df, tmp_path, "numbers"))
    assert rows[0] == ["study", "estimate", "events", "log_or", "ok", "date"]
    assert [r[1:] for r in rows[1:]] == [
        ["-0.25", "-1", "-inf", "True", "2011-10-05"],
        ["1e-09", "", "-0.0", "False", "2012-01-01"],
        ["-1234.5", "3", "", "True", ""],
    ]
    back = pd.read_csv(tmp_path / "tables" / "numbers.csv")
    assert back["estimate"].tolist() == [-0.25, 1e-9, -1234.5]  # numbers read back as numbers


def test_mixed_and_categorical_columns_neutralise_only_text():
    df = pd.DataFrame({
        "mixed": [-5, "=x", 3.5, None, "-2"],
        "group": pd.Categorical(["=a", "b", "=a", "b", "@c"]),
    })
    out = neutralise_formulas(df)
    assert out["mixed"].tolist() == [-5, "'=x", 3.5, None, "'-2"]  # a number stays a number
    assert [str(v) for v in out["group"]] == ["'=a", "b", "'=a", "b", "'@c"]
    assert df["mixed"].tolist()[1] == "=x"  # the caller's frame is not changed


def test_column_names_from_data_are_neutralised_too(tmp_path):
    df = pd.DataFrame({"=HYPERLINK(\"http://evil.example\")": [1.0]})
    header = read_csv_cells(save_table(df, tmp_path, "wide"))[0]
    assert not header[0].startswith(("=", "+", "-", "@"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=5), st.lists(st.floats(allow_nan=False), min_size=1, max_size=5))
def test_no_written_text_cell_starts_a_formula_and_numbers_round_trip(texts, numbers):
    n = min(len(texts), len(numbers))
    df = pd.DataFrame({"text": texts[:n], "number": numbers[:n]})
    out = neutralise_formulas(df)
    for before, after in zip(df["text"], out["text"]):
        assert not after.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert after in (before, "'" + before)
    assert out["number"].tolist() == df["number"].tolist()


def test_formulas_in_data_stay_text_from_data_file_to_exported_table(tmp_path):
    """A quote cell holding a formula is read as the text it is, never evaluated, and exported
    neutralised; an .xlsx formula cell is read as its stored value (openpyxl data_only), never
    computed by us."""
    folder = tmp_path / "data"
    shutil.copytree(BASE, folder)
    path = folder / "patients.csv"
    rows = read_csv_cells(path)
    rows[1][rows[0].index("quote")] = "=cmd|' /C calc'!A0"
    rows[1][rows[0].index("notes")] = "@SUM(1+1)*cmd|' /C calc'!A0"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    ds = load_dataset(folder)
    assert ds.patients.loc[0, "quote"] == "=cmd|' /C calc'!A0"
    out = read_csv_cells(save_table(ds.patients[["patient_id", "quote", "notes"]], tmp_path / "out", "patients"))
    assert out[1] == ["P1", "'=cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"]


def test_xlsx_formula_cells_are_not_computed(tmp_path):
    from openpyxl import Workbook

    folder = tmp_path / "data"
    shutil.copytree(BASE, folder)
    rows = read_csv_cells(folder / "sources.csv")
    (folder / "sources.csv").unlink()
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append([c or None for c in r])
    ws.cell(row=2, column=rows[0].index("notes") + 1, value="=1+1")  # a formula, no cached value
    wb.save(folder / "sources.xlsx")
    # never evaluated to 2, never kept as code, never silently empty: named, without its text
    with pytest.raises(DataValidationError) as exc:
        load_dataset(folder)
    assert [str(p) for p in exc.value.problems] == [
        "sources.xlsx:2:notes: expected a value, found a formula without a saved value (the workbook was written "
        "by a program that does not calculate); open and save it in a spreadsheet, or paste the values"]


# ----------------------------------------------------------------------------- file names

HOSTILE_NAMES = ["../escape", "../../etc/passwd", "/etc/passwd", "a/../../b", "C:\\Windows\\system32",
                 "..\\..\\x", "~/x", "$HOME", "x\x00y", "new\nline", "tab\tname", "<script>", "a b", "é ü",
                 ".hidden", "-rf", "a" * 300, "km estimates (HSCT)"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_stem_cannot_leave_the_folder(name, tmp_path):
    stem = safe_stem(name)
    assert stem and len(stem) <= 120
    assert set(stem) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
    assert not stem.startswith(".")
    path = save_table(pd.DataFrame({"x": [1]}), tmp_path / "out", name)
    assert path.parent == tmp_path / "out" / "tables"
    assert path.resolve().is_relative_to((tmp_path / "out" / "tables").resolve())
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [path.name]


@pytest.mark.parametrize("name", ["", ".", "..", "...", "...."])
def test_names_that_cannot_make_a_file_are_refused(name, tmp_path):
    with pytest.raises(ValueError, match="cannot make a file name from"):
        save_table(pd.DataFrame({"x": [1]}), tmp_path, name)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_plain_names_are_kept():
    assert [safe_stem(n) for n in ["km_estimates", "rates", "S001-P1", "fig.v2"]] == [
        "km_estimates", "rates", "S001-P1", "fig.v2"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_name_gives_a_safe_stem_or_valueerror(name):
    try:
        stem = safe_stem(name)
    except ValueError:
        return
    assert stem and not stem.startswith(".") and "/" not in stem and "\\" not in stem
    assert stem not in (".", "..") and len(stem) <= 120 and stem.isascii() and stem.isprintable()


def test_a_sources_text_file_cannot_point_outside_the_texts_folder(tmp_path):
    """``validate --sources-text DIR`` opens only plain file names inside DIR."""
    from analysis.load import check_quotes

    secret = tmp_path / "secret.txt"
    secret.write_text("a 30-year-old woman with psoriasis", encoding="utf-8")
    texts = tmp_path / "texts"
    (texts / "sub").mkdir(parents=True)
    folder = tmp_path / "data"
    shutil.copytree(BASE, folder)
    rows = read_csv_cells(folder / "sources.csv")
    col = rows[0].index("text_file")
    rows[1][col], rows[2][col] = "../secret.txt", str(secret)
    with (folder / "sources.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    assert [str(p) for p in check_quotes(load_dataset(folder), texts)] == [
        f"sources.csv:2:text_file: expected a file name in {texts} (no folders), found '../secret.txt'",
        f"sources.csv:3:text_file: expected a file name in {texts} (no folders), found '{secret}'",
    ]
    rows[1][col], rows[2][col] = "sub", ""
    with (folder / "sources.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    assert [str(p) for p in check_quotes(load_dataset(folder), texts)] == [
        f"sources.csv:2:text_file: expected a file in {texts}, found no 'sub'"]


# ----------------------------------------------------------------------------- nothing from data runs

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "execfile", "input"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}
FORBIDDEN_ATTRS = {
    ("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"), ("yaml", "load_all"),
    ("yaml", "Loader"), ("yaml", "UnsafeLoader"), ("yaml", "FullLoader"),
    ("pd", "read_pickle"), ("pandas", "read_pickle"), ("os", "system"), ("os", "popen"),
}


def _sources():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) >= 8
    return [(p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p))) for p in files]


def scan(trees) -> list[str]:
    """Every place in ``trees`` (``(path, ast)`` pairs) that could run or unpickle data."""
    found = []
    for path, tree in trees:
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Name) and f.id in FORBIDDEN_CALLS:
                    found.append(f"{where} {f.id}()")
                if isinstance(f, ast.Attribute) and f.attr in ("eval", "query", "read_pickle", "to_pickle"):
                    found.append(f"{where} .{f.attr}()")
                for kw in node.keywords:
                    if kw.arg in ("shell", "allow_pickle") and isinstance(kw.value, ast.Constant) and kw.value.value:
                        found.append(f"{where} {kw.arg}=True")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) in FORBIDDEN_ATTRS:
                    found.append(f"{where} {node.value.id}.{node.attr}")
            if isinstance(node, ast.Import):
                found += [f"{where} import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{where} from {node.module} import")
    return found


def test_no_code_in_the_package_evaluates_or_unpickles_anything():
    """An AST scan of src/analysis: no eval/exec/compile, no pickle-like modules, no unsafe YAML,
    no DataFrame.eval/query (which evaluate strings), no shell=True."""
    assert scan(_sources()) == []


def test_the_scan_finds_what_it_looks_for():
    """The scan is not blind: planted calls are found."""
    planted = ("import pickle\nimport yaml\nx = eval('1')\ny = yaml.load(s)\nz = df.query(q)\n"
               "subprocess.run(c, shell=True)\nfrom marshal import loads\nw = pd.read_pickle(p)\n")
    found = scan([(Path("planted.py"), ast.parse(planted))])
    assert sorted(found) == ["planted.py:1 import pickle", "planted.py:3 eval()", "planted.py:4 yaml.load",
                     "planted.py:5 .query()", "planted.py:6 shell=True", "planted.py:7 from marshal import",
                     "planted.py:8 .read_pickle()", "planted.py:8 pd.read_pickle"]


def test_yaml_if_used_is_read_with_the_safe_loader():
    uses = [(p.name, n.attr) for p, tree in _sources() for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "yaml"]
    assert {attr for _, attr in uses} <= {"safe_load", "YAMLError", "safe_dump", "SafeLoader"}, uses


# ----------------------------------------------------------------------------- mathtext in figures

MATH_LIKE = r"$\alert{x}$ $$ 5$ a_b^c \frac"


@pytest.mark.slow
def test_latex_like_text_in_any_label_is_drawn_as_typed_in_every_figure(tmp_path):
    """Study, arm, therapy and definition texts that look like TeX math (``$...$``, ``\\x``,
    ``^``, ``_``) are data: every figure of every notebook draws them literally (matplotlib
    would parse ``$...$`` as mathtext and fail on ``\\alert``). The real-evidence example has
    every kind of figure: forests of rates, the comparison forest, survival with cohort
    statements, response categories, timelines and the overview charts."""
    data = tmp_path / "data"
    shutil.copytree(ROOT / "examples" / "primary-studies", data)
    for path in data.glob("*.csv"):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        for col in ("study", "arm", "definition", "therapy", "detail"):
            if col in table:
                table[col] = table[col].where(table[col] == "", table[col] + " " + MATH_LIKE)
        table.to_csv(path, index=False)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "analysis", "render", "--data", str(data), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    svgs = {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8") for p in out.rglob("*.svg")}
    for name in ("03_response_rates/figures/forest_comparisons.svg", "03_response_rates/figures/forest_efficacy_p1.svg",
                 "02_relapse_free_survival/figures/km_relapse_free_survival.svg",
                 "01_case_timelines/figures/case_timelines.svg"):
        assert name in svgs, sorted(svgs)
    drawn = [name for name, text in svgs.items() if r"$\alert{x}$" in text]
    assert "03_response_rates/figures/forest_comparisons.svg" in drawn
    assert "02_relapse_free_survival/figures/km_relapse_free_survival.svg" in drawn
    assert "03_response_rates/figures/forest_efficacy_p1.svg" in drawn
