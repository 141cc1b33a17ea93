"""The bad-data corpus through ``python -m analysis render`` (issue 7).

``render`` validates the data folder in its own process before any notebook starts, so
every folder of ``tests/bad_data/`` goes through it in a fraction of a second: the exact
``file:row:column: message`` lines of ``expected.txt`` are printed (indented by two
spaces, as for a notebook's data failure), exit code 1, no notebook runs, the previous
reports stay as they were and the index shows the problems. The ``OK`` folders pass
validation and their notebooks are started (here a stand-in records them; two of them
and two bad folders also go through a real ``python -m analysis render`` process).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import render
from analysis.render import command, folders
from analysis.cli import main

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "bad_data"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


def expected(case: str) -> list[str]:
    return (CORPUS / case / "expected.txt").read_text(encoding="utf-8").splitlines()


BAD = [c for c in CASES if expected(c) != ["OK"]]
GOOD = [c for c in CASES if expected(c) == ["OK"]]


def tree(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` (hidden files included)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def previous_reports(out: Path) -> dict[str, str]:
    """A previous render's report folders (stand-ins: a stamp, the notebook, HTML, a table)."""
    for name in NOTEBOOKS:
        report = out / name
        (report / "tables").mkdir(parents=True)
        (report / f"{name}.ipynb").write_text('{"cells": [], "metadata": {}}', encoding="utf-8")
        (report / f"{name}.html").write_text(f"<h1>{name} from an earlier run</h1>", encoding="utf-8")
        (report / "tables" / "t.csv").write_text("a\n1\n", encoding="utf-8")
        (report / render.STAMP_FILE).write_text(json.dumps({"key": "earlier", "seconds": 1.0}))
    return tree(out)


def run_render(capsys, data: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    rc = main(["render", "--data", str(data), "--out", str(out), "--jobs", "1", *extra])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.fixture
def no_kernels(monkeypatch):
    """Replace the notebook runner: record which notebooks would start, start none."""
    started: list[str] = []

    def fake_run_jobs(todo, *args, **kwargs):
        started.extend(j.name for j in todo)

    monkeypatch.setattr(command, "_run_jobs", fake_run_jobs)
    monkeypatch.setattr(command, "_start_workers", lambda n, out, factory=None: [])  # no worker processes either
    monkeypatch.setattr(command, "_start_factory", lambda *a, **kw: None)  # nor a kernel factory
    return started


def test_corpus_has_cases_of_both_kinds():
    assert len(BAD) >= 40 and len(GOOD) >= 5
    assert NOTEBOOKS and all(render.reads_dataset(ROOT / "notebooks" / f"{n}.ipynb") for n in NOTEBOOKS)


@pytest.mark.parametrize("case", BAD)
def test_render_prints_the_validation_lines_and_runs_nothing(case, tmp_path, capsys, no_kernels):
    out = tmp_path / "out"
    before = previous_reports(out)
    rc, stdout, stderr = run_render(capsys, CORPUS / case, out, "--force")
    want = expected(case)
    assert rc == 1
    assert no_kernels == []  # no notebook was started
    head = (f"FAILED data folder {folders._term_path(CORPUS / case)} has {len(want)} problem(s); "
            "no notebook was run, previous reports are kept:")
    lines = stderr.splitlines()
    assert lines[0] == head
    for line in want:
        assert "  " + line in lines, line
    assert lines[1:1 + len(want)] == ["  " + line for line in want]  # in validate's order
    assert "Traceback" not in stderr
    # the previous reports are untouched; only the index (the lock file, the manifest) is written
    after = tree(out)
    own = ("index.html", render.LOCK_FILE, render.MANIFEST_FILE)
    assert {k: v for k, v in after.items() if k not in own} == before
    assert sorted(set(after) - set(before)) == sorted(own)
    assert stdout.splitlines()[-1] == f"{len(NOTEBOOKS)} not run; index: {folders._term_path(out / 'index.html')}"


@pytest.mark.parametrize("case", GOOD)
def test_accepted_exports_pass_validation_and_start_the_notebooks(case, tmp_path, capsys, no_kernels):
    rc, stdout, stderr = run_render(capsys, CORPUS / case, tmp_path / "out")
    assert rc == 0, stderr
    assert "problem(s)" not in stderr and "FAILED" not in stderr
    assert sorted(no_kernels) == NOTEBOOKS
    assert stdout.startswith(f"rendering {len(NOTEBOOKS)} of {len(NOTEBOOKS)} notebook(s)")


def test_index_shows_the_problems_escaped_and_the_kept_reports(tmp_path, capsys, no_kernels):
    out = tmp_path / "out"
    previous_reports(out)
    case = "unknown_event_type"
    rc, _, _ = run_render(capsys, CORPUS / case, out)
    assert rc == 1
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="data-problems"' in index and 'href="#data-problems"' in index
    for line in expected(case):
        assert render_escape(line) in index
    assert index.count("not run: the data folder has problems; showing the previous report") == len(NOTEBOOKS)
    for name in NOTEBOOKS:  # the kept reports are still linked
        assert f'href="{name}/{name}.html"' in index


def render_escape(text: str) -> str:
    from analysis.render.index import esc

    return esc(text)


def test_a_failed_validation_is_not_cached(tmp_path, capsys, no_kernels):
    """Broken data stops the run every time; fixed data starts the notebooks again."""
    out = tmp_path / "out"
    for _ in range(2):
        rc, _, stderr = run_render(capsys, CORPUS / "offset_cycle", out)
        assert rc == 1 and "has 2 problem(s)" in stderr
    assert no_kernels == []
    assert not [p for p in out.rglob(render.STAMP_FILE)]
    rc, _, _ = run_render(capsys, CORPUS / "ok_base", out)
    assert rc == 0 and sorted(no_kernels) == NOTEBOOKS


def test_notebooks_that_do_not_read_the_dataset_are_not_held_back(tmp_path, capsys, no_kernels):
    """Validation is for notebooks calling load_dataset (metadata ``validate_data`` decides
    otherwise); a notebook of another kind of data folder is not stopped by it."""
    fixtures = ROOT / "tests" / "fixtures" / "notebooks"
    assert not render.reads_dataset(fixtures / "figures.ipynb")
    rc, _, stderr = run_render(capsys, CORPUS / "offset_cycle", tmp_path / "out",
                               "--notebooks", str(fixtures), "--only", "figures")
    assert rc == 0, stderr
    assert no_kernels == ["figures"]


def test_validation_lines_are_capped_on_the_terminal(tmp_path, capsys, monkeypatch, no_kernels):
    lines = [f"events.csv:{i}:date: bad" for i in range(2, 2 + render.MAX_PROBLEM_LINES + 5)]
    monkeypatch.setattr(command, "validate_data", lambda data_dir, stream=None, factory=None: lines)
    rc, _, stderr = run_render(capsys, CORPUS / "ok_base", tmp_path / "out")
    assert rc == 1
    shown = [line for line in stderr.splitlines() if line.startswith("  events.csv:")]
    assert len(shown) == render.MAX_PROBLEM_LINES
    assert "  … 5 more lines (python -m analysis validate " in stderr


def test_a_loader_crash_is_reported_and_the_notebooks_still_run(tmp_path, capsys, monkeypatch, no_kernels):
    import analysis.load

    def boom(data_dir):
        raise RuntimeError("loader bug")

    monkeypatch.setattr(analysis.load, "load_dataset", boom)
    rc, _, stderr = run_render(capsys, CORPUS / "ok_base", tmp_path / "out")
    assert rc == 0
    assert "warning: could not validate" in stderr and "RuntimeError: loader bug" in stderr
    assert sorted(no_kernels) == NOTEBOOKS


# ----------------------------------------------------------------------------- real processes


def render_process(data: Path, out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", "render", "--data", str(data), "--out", str(out),
                           "--jobs", "1", *extra], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


@pytest.mark.parametrize("case", ["xlsx_serial_date", "offset_absurd"])
def test_render_as_a_user_runs_it(case, tmp_path):
    res = render_process(CORPUS / case, tmp_path / "out")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert [line for line in res.stderr.splitlines() if line.startswith("  ") and ":" in line][:len(expected(case))] \
        == ["  " + line for line in expected(case)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [render.LOCK_FILE, render.MANIFEST_FILE, "index.html"])


@pytest.mark.slow
def test_a_real_render_then_broken_data_keeps_the_report(tmp_path):
    """An accepted export renders 00_evidence_overview through a kernel; then a broken
    folder into the same output runs nothing and leaves that report byte for byte; then
    the good data again finds the report current (the failure cached nothing)."""
    from test_render import frozen_package  # edits to src/analysis meanwhile must not count

    env = frozen_package(tmp_path)
    out = tmp_path / "out"
    only = ("--only", "00_evidence_overview", "--timeout", "120")
    res = render_process(CORPUS / "ok_utf16_tab_delimited", out, *only, env=env)
    assert res.returncode == 0, res.stderr
    assert "00_evidence_overview  done in" in res.stdout
    before = tree(out / "00_evidence_overview")
    assert "00_evidence_overview.html" in before

    res = render_process(CORPUS / "duplicate_event_id", out, *only, env=env)
    assert res.returncode == 1
    assert "  events.csv:3:event_id: expected a unique id, found 'E2' more than once" in res.stderr
    assert "previous report(s) kept: " in res.stderr
    assert tree(out / "00_evidence_overview") == before
    assert not (out / "_failed").exists()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="data-problems"' in index and "showing the previous report" in index

    res = render_process(CORPUS / "ok_utf16_tab_delimited", out, *only, env=env)
    assert res.returncode == 0, res.stderr
    assert "skipped (unchanged)" in res.stdout
    assert tree(out / "00_evidence_overview") == before
