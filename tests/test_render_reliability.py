"""The runner and the command line under faults and in a user's folder (issue 15).

* The output folder never loses a user's file: render touches only what its manifest
  (``OUT/.analysis-render-manifest.json``) lists, makes temporary names no user file can
  have, and refuses to replace a report-named file it did not write.
* Tracebacks become one-line messages with documented exit codes: a full disk while writing
  the index, a closed standard output (``| head -1``), ``new-data`` under a file,
  ``data-dictionary --update`` on a missing or marker-less file, bad ``--timeout``, ``--data``
  naming a file.
* Small leaks: terminal escapes in the failure summary, report folders' permissions, links
  out of the data folder.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import cli, render
from analysis.render import command, folders
from analysis.render import html as render_html

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
DIGITIZED = ROOT / "tests" / "fixtures" / "digitized"


def write_items(data: Path) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    (data / "items.csv").write_text("id,label,count\n1,a,3\n2,b,5\n", encoding="utf-8")
    return data


def namespace(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    render.add_arguments(parser)
    args = parser.parse_args([])
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def user_files(out: Path) -> dict[str, tuple]:
    """A user's files and folders in ``out``: relative path -> (kind, mode, mtime, sha256)."""
    found = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if rel.split("/")[0] not in USER_NAMES:
            continue
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        found[rel] = ("dir" if p.is_dir() else "file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, digest)
    return found


USER_NAMES = (".tmp-notes.txt", ".tmp-cache", ".index.html.bak", ".old-thesis-draft", ".tmp-params-x1y2z3",
              ".old-params-4242", ".index.html.4242.tmp", ".write-test-abc", "notes")


def make_user_folder(out: Path) -> None:
    """A folder a user already keeps things in, with names like an older render's temporaries."""
    out.mkdir(parents=True)
    (out / ".tmp-notes.txt").write_text("my notes")
    (out / ".tmp-cache").mkdir()
    (out / ".tmp-cache" / "blob.bin").write_bytes(b"\0cache")
    (out / ".index.html.bak").write_text("<html>my old index</html>")
    (out / ".old-thesis-draft").mkdir()
    (out / ".old-thesis-draft" / "chapter1.md").write_text("# Chapter 1")
    (out / ".tmp-params-x1y2z3").mkdir()  # what render <= issue 15 named its temporaries
    (out / ".old-params-4242").mkdir()
    (out / ".index.html.4242.tmp").write_text("mine")
    (out / ".write-test-abc").write_text("mine")
    (out / "notes").mkdir()
    (out / "notes" / "todo.txt").write_text("todo")


# --------------------------------------------------------------------------- the user's folder


@pytest.mark.slow
@pytest.mark.parametrize("exchange", [True, False])
def test_render_into_a_users_folder_leaves_every_file_of_theirs_as_it_was(tmp_path, monkeypatch, capsys, exchange):
    if not exchange:  # the two-rename swap through an .analysis-render-old-* folder
        monkeypatch.setattr(folders, "_renameat2_exchange", lambda a, b: False)
    data = write_items(tmp_path / "data")
    out = tmp_path / "out"
    make_user_folder(out)
    before = user_files(out)
    args = ["--notebooks", str(FIXTURES), "--data", str(data), "--out", str(out), "--only", "params", "--jobs", "1"]
    old_umask = os.umask(0o027)
    try:
        assert render.main(args) == 0, capsys.readouterr().err
        assert render.main(args + ["--force", "-p", "text=again"]) == 0, capsys.readouterr().err  # replaces it
        assert render.main(args) == 0, capsys.readouterr().err  # parameters changed back: replaces it again
    finally:
        os.umask(old_umask)
    assert user_files(out) == before  # same names, kinds, modes, times and bytes
    mine = sorted(p.name for p in out.iterdir() if p.name not in USER_NAMES)
    assert mine == sorted([render.LOCK_FILE, render.MANIFEST_FILE, "index.html", "params"])
    manifest = json.loads((out / render.MANIFEST_FILE).read_text())
    assert manifest["owned"] == ["index.html", "params"] and manifest["temporary"] == {}
    # folders render makes follow the umask (0750 under umask 027), not mkdtemp's 0700
    assert stat.S_IMODE((out / "params").stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "params" / "tables").stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "index.html").stat().st_mode) == 0o640


@pytest.mark.parametrize("name, content", [
    ("index.html", "<html>the user's own index</html>"),
    ("params", None),  # a folder of the user's named like a report
    ("_failed/params.ipynb", '{"cells": []}'),
    ("_failed", "a file where render keeps error notebooks"),
])
def test_a_report_named_file_render_did_not_write_stops_the_run_untouched(tmp_path, capsys, name, content):
    data = write_items(tmp_path / "data")
    out = tmp_path / "out"
    target = out / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if content is None:
        target.mkdir()
        (target / "thesis.tex").write_text("mine")
    else:
        target.write_text(content)
    before = {p.relative_to(out).as_posix(): (p.read_bytes() if p.is_file() else None) for p in out.rglob("*")}
    rc = render.run(namespace(data=str(data), out=str(out), notebooks=str(FIXTURES), only=["params"]))
    err = capsys.readouterr().err
    assert rc == 1
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith(f"error: {out / name} ")
    assert lines[0].endswith("move it away or choose another --out. Nothing was rendered.")
    after = {p.relative_to(out).as_posix(): (p.read_bytes() if p.is_file() else None) for p in out.rglob("*")
             if p.name not in (render.LOCK_FILE, render.MANIFEST_FILE)}
    assert after == before


def test_render_error_line_for_a_users_index(tmp_path, capsys):
    data = write_items(tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("<html>mine</html>")
    assert render.run(namespace(data=str(data), out=str(out), notebooks=str(FIXTURES), only=["params"])) == 1
    assert capsys.readouterr().err == (
        f"error: {out / 'index.html'} was not written by render (it is not in {render.MANIFEST_FILE}); "
        "move it away or choose another --out. Nothing was rendered.\n")


def test_reports_of_a_render_before_manifests_are_taken_over_by_their_signature(tmp_path):
    out = tmp_path / "reports"
    (out / "params").mkdir(parents=True)
    (out / "params" / render.STAMP_FILE).write_text("{}")
    (out / "index.html").write_text("<!DOCTYPE html>\n<html><head><title>Stem-cell remission evidence: reports"
                                    "</title></head></html>")
    (out / "_failed").mkdir()
    (out / "_failed" / "slow.ipynb").write_text(json.dumps({"cells": [], "metadata": {"papermill": {}}}))
    manifest = render.Manifest.load(out)
    manifest.check_targets(["params", "slow", "figures"])  # nothing foreign
    assert manifest.owns("params") and manifest.owns("index.html") and manifest.owns("_failed/slow.ipynb")
    (out / "figures").mkdir()  # no stamp: not a report
    assert not manifest.owns("figures")
    with pytest.raises(render.RenderError) as err:
        manifest.check_targets(["figures"])
    assert err.value.exit_code == 1


def test_temporary_names_never_take_an_existing_name(tmp_path, monkeypatch):
    """Names carry a random token and are made with O_EXCL / mkdir: a taken name is skipped."""
    out = tmp_path / "out"
    out.mkdir()
    # each name drawn is followed by one for the manifest's own temporary copy
    tokens = iter(["taken0", "m00001", "free01", "m00002", "taken1", "m00003", "free02"])
    monkeypatch.setattr(folders, "_token", lambda: next(tokens, None) or secrets.token_hex(6))
    (out / f"{render.TMP_PREFIX}nb-taken0").mkdir()
    (out / f"{render.TMP_PREFIX}nb-taken0" / "user.txt").write_text("mine")
    manifest = render.Manifest.load(out)
    made = manifest.make_report_dir("nb")
    assert made.name == f"{render.TMP_PREFIX}nb-free01"
    assert (out / f"{render.TMP_PREFIX}nb-taken0" / "user.txt").read_text() == "mine"
    assert list(render.Manifest.load(out).temporary) == [made.name]  # the taken name is not recorded
    (out / f"{render.TMP_PREFIX}index.html-taken1").write_text("mine")
    render.write_text_atomic(out / "index.html", "new", manifest)
    assert (out / f"{render.TMP_PREFIX}index.html-taken1").read_text() == "mine"
    assert (out / "index.html").read_text() == "new"
    assert not (out / f"{render.TMP_PREFIX}index.html-free02").exists()
    assert render.Manifest.load(out).owned == {"index.html"}


def test_a_manifest_render_did_not_write_stops_the_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / render.MANIFEST_FILE).write_text("my own notes")
    with pytest.raises(render.RenderError, match="is not a manifest written by render") as err:
        render.Manifest.load(out)
    assert err.value.exit_code == 1


# --------------------------------------------------------------------------- disk full, closed pipes


def _no_kernels(monkeypatch, problems=None):
    """Render without kernels: validation says ``problems`` (None: valid) for every notebook."""
    monkeypatch.setattr(command, "reads_dataset", lambda nb: True)
    monkeypatch.setattr(command, "validate_data", lambda data_dir, stream=None, factory=None: problems)


def test_disk_full_while_writing_the_index_is_one_line_and_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    data = write_items(tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    _no_kernels(monkeypatch, problems=["items.csv:2:count: expected a number, found 'x'"])
    args = namespace(data=str(data), out=str(out), notebooks=str(FIXTURES), only=["params"])
    assert render.run(args) == 1
    previous = (out / "index.html").read_text()
    capsys.readouterr()
    real = folders._write_fd

    def full_disk(fd, data, path):
        if "index.html" in path.name:
            os.close(fd)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data, path)

    monkeypatch.setattr(folders, "_write_fd", full_disk)
    monkeypatch.chdir(tmp_path)
    assert render.run(args) == 1
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    assert cap.err.splitlines()[-1] == (
        "error: could not write out/index.html (No space left on device); free some space and run again. "
        "The reports of this run are in place; out/index.html still shows the previous run")
    assert cap.out.splitlines()[-1] == "1 not run; index not written"
    assert (out / "index.html").read_text() == previous
    assert sorted(p.name for p in out.iterdir()) == sorted([render.LOCK_FILE, render.MANIFEST_FILE, "index.html"])
    assert render.Manifest.load(out).temporary == {}


def test_disk_full_while_starting_a_report_is_one_line_and_stops_every_worker(tmp_path, monkeypatch, capsys):
    data = write_items(tmp_path / "data")
    out = tmp_path / "out"
    _no_kernels(monkeypatch)
    started = []
    real_start = render.jobs._start_worker_process

    def start(*a, **kw):
        worker = real_start(*a, **kw)
        started.append(worker.proc)
        return worker

    def full(self, report, kind="tmp"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / f"{render.TMP_PREFIX}{report}-x"))

    monkeypatch.setattr(render.jobs, "_start_worker_process", start)
    monkeypatch.setattr(folders.Manifest, "make_report_dir", full)
    monkeypatch.chdir(tmp_path)
    assert render.run(namespace(data=str(data), out=str(out), notebooks=str(FIXTURES), only=["params"])) == 1
    err = capsys.readouterr().err
    assert err == (f"error: could not write out/{render.TMP_PREFIX}params-x (No space left on device); free some "
                   "space and run again. Reports that finished are in place; the others keep their previous version\n")
    assert started and all(p.poll() is not None for p in started)


def _closed_stdout(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``cmd`` with its standard output a pipe whose reader has already gone."""
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run(cmd, stdout=w, stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=timeout)
    finally:
        os.close(w)
    return proc


@pytest.mark.parametrize("case", ["valid", "invalid"])
def test_validate_into_a_closed_pipe_ends_quietly(tmp_path, case):
    data = ROOT / "data" if case == "valid" else ROOT / "tests" / "bad_data" / "date_month_13"
    res = _closed_stdout([sys.executable, "-m", "analysis", "validate", str(data)], tmp_path)
    assert res.returncode == 141, res.stderr
    assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr
    assert "BrokenPipe" not in res.stderr


def test_validate_piped_into_head_prints_the_first_line_only(tmp_path):
    """``validate DIR | head -1``: head may leave before or after validate writes; either way
    no traceback."""
    validate = subprocess.Popen([sys.executable, "-m", "analysis", "validate", str(ROOT / "data")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    head = subprocess.run(["head", "-1"], stdin=validate.stdout, capture_output=True, text=True, timeout=60)
    validate.stdout.close()
    err = validate.stderr.read().decode()
    validate.wait(timeout=60)
    assert head.stdout.startswith(f"{ROOT / 'data'}: OK (")
    assert validate.returncode in (0, 141) and "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.slow
def test_render_into_a_closed_pipe_stops_quietly_and_cleans_up(tmp_path):
    data = write_items(tmp_path / "data")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "analysis", "render", "--notebooks", str(FIXTURES), "--data", str(data),
           "--out", str(out), "--only", "slow", "params"]
    res = _closed_stdout(cmd, tmp_path)
    assert res.returncode == 141, res.stderr
    assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(render.TMP_PREFIX)]
    assert leftovers == []
    assert render.Manifest.load(out).temporary == {}
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"{render.RENDER_ENV}" not in ps and str(out) not in ps


# --------------------------------------------------------------------------- command-line messages


@pytest.mark.parametrize("argv, code, message", [
    (["new-data", "{tmp}/afile/sub"], 2, "error: {tmp}/afile is a file, not a folder, so {tmp}/afile/sub cannot be "
                                         "made; choose a new folder"),
    (["new-data", "{tmp}/afile"], 2, "error: {tmp}/afile is a file, not a folder; choose a new folder"),
    (["validate", "{tmp}/afile"], 2, "error: {tmp}/afile is a file, not a folder; give the data folder (sources, "
                                     "patients, events, cohort_outcomes)"),
    (["data-dictionary", "--update", "{tmp}/missing.md"], 2,
     "error: {tmp}/missing.md does not exist; give the README that holds the data dictionary (data/README.md)"),
    (["data-dictionary", "--update", "{tmp}/afile"], 2,
     "error: {tmp}/afile has no generated section to replace; put the line <!-- BEGIN GENERATED DATA DICTIONARY "
     "(python -m analysis data-dictionary --update data/README.md) --> and, below it, the line "
     "<!-- END GENERATED DATA DICTIONARY --> where the data dictionary goes"),
    (["data-dictionary", "--update", "{tmp}"], 2,
     "error: {tmp} is a folder; give the README file that holds the data dictionary (data/README.md)"),
    (["render", "--data", "{tmp}/afile", "--out", "{tmp}/out"], 2,
     "error: data folder {tmp}/afile is a file, not a folder (use --data DIR)"),
    (["render", "--data", "{tmp}/nowhere", "--out", "{tmp}/out"], 2,
     "error: data folder {tmp}/nowhere does not exist (use --data DIR)"),
    (["render", "--data", "{data}", "--out", "{tmp}/out", "--timeout", "nan"], 2,
     "error: --timeout: expected a positive number of seconds (a cell's time limit), found nan"),
    (["render", "--data", "{data}", "--out", "{tmp}/out", "--timeout", "inf"], 2,
     "error: --timeout: expected a positive number of seconds (a cell's time limit), found inf"),
    (["render", "--data", "{data}", "--out", "{tmp}/out", "--timeout", "-5"], 2,
     "error: --timeout: expected a positive number of seconds (a cell's time limit), found -5"),
    (["render", "--data", "{data}", "--out", "{tmp}/out", "--timeout", "0"], 2,
     "error: --timeout: expected a positive number of seconds (a cell's time limit), found 0"),
    (["render", "--data", "{data}", "--out", "{tmp}/afile"], 2,
     "error: the output folder {tmp}/afile is a file, not a folder; choose another folder with --out. "
     "Nothing was rendered."),
    (["render", "--data", "{data}", "--out", "{tmp}/out", "-p", "landmarks=abc"], 2,
     "error: 02_relapse_free_survival.ipynb: parameter landmarks: expected a list of numbers >= 0, found 'abc' "
     "(default: [12, 24, 60], a list)"),
])
def test_mistakes_on_the_command_line_are_one_line_and_an_exit_code(tmp_path, capsys, monkeypatch, argv, code, message):
    (tmp_path / "afile").write_text("not a folder\n")
    data = ROOT / "data"
    monkeypatch.chdir(ROOT)  # the project's notebooks
    fill = {"tmp": str(tmp_path), "data": str(data)}
    rc = cli.main([a.format(**fill) for a in argv])
    cap = capsys.readouterr()
    assert rc == code
    assert cap.err == message.format(**fill) + "\n"
    assert not (tmp_path / "out").exists()
    assert (tmp_path / "afile").read_text() == "not a folder\n"


# --------------------------------------------------------------------------- small leaks


@pytest.mark.slow
def test_terminal_escapes_in_a_failure_are_printed_escaped(tmp_path, capsys):
    render_html._fast_nbformat_import()
    import nbformat

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    cells = [nbformat.v4.new_code_cell('data_dir = "data"\noutput_dir = "out"', metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell('raise ValueError("label \\x1b]0;owned\\x07 and \\x1b[2J\\x1b[31mred\\rover")')]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), notebooks / "esc.ipynb")
    data = write_items(tmp_path / "data")
    rc = render.main(["--notebooks", str(notebooks), "--data", str(data), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "\x1b" not in err and "\x07" not in err and "\r" not in err
    assert "  label \\x1b]0;owned\\x07 and \\x1b[2J\\x1b[31mred\\rover" in err.split("\n")


def test_failure_summary_is_escaped_line_by_line():
    text = "FAILED a.ipynb, cell 2 of 3: ValueError\n  label \x1b[31mred\x1b[0m\n  tab\there"
    assert render.printable(text) == "FAILED a.ipynb, cell 2 of 3: ValueError\n  label \\x1b[31mred\\x1b[0m\n  tab\\there"


def test_a_link_out_of_the_data_folder_is_never_read(tmp_path, capsys, monkeypatch):
    secret = tmp_path / "elsewhere" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("id,label,count\n1,TOPSECRET,1\n")
    data = write_items(tmp_path / "data")
    (data / "sources.csv").symlink_to(secret)
    (data / "inside.csv").symlink_to(data / "items.csv")  # a link inside the folder is fine
    (data / "ipd").symlink_to(secret.parent, target_is_directory=True)
    os.mkfifo(data / "pipe.csv")  # a named pipe would block a read forever
    fp = render.data_fingerprint(data, rows=True)
    assert [f["path"] for f in fp["files"]] == ["inside.csv", "items.csv"]
    assert fp["outside"] == ["ipd", "sources.csv"]
    page = render.index_html(tmp_path / "out", [], {"fingerprint": fp}, {})
    assert "TOPSECRET" not in page and "secret" not in page
    assert hashlib.sha256(secret.read_bytes()).hexdigest()[:16] not in page
    # render says so, once per link, before it validates
    _no_kernels(monkeypatch, problems=["sources.csv:-:-: a link out of the data folder"])
    monkeypatch.chdir(tmp_path)
    render.run(namespace(data=str(data), out=str(tmp_path / "out"), notebooks=str(FIXTURES), only=["params"]))
    err = capsys.readouterr().err.splitlines()
    assert "warning: data/sources.csv leads outside the data folder data (a link); render does not read it" in err
    assert "warning: data/ipd leads outside the data folder data (a link); render does not read it" in err


# --------------------------------------------------------------------------- import-km


def test_import_km_is_a_subcommand_with_its_own_help():
    res = subprocess.run([sys.executable, "-m", "analysis", "import-km", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: python -m analysis import-km ") and "--study" in res.stdout
    listing = subprocess.run([sys.executable, "-m", "analysis", "--help"], capture_output=True, text=True, timeout=60)
    assert "import-km" in listing.stdout


def test_import_km_imports_a_fixture_into_a_data_folder(tmp_path, capsys):
    folder = tmp_path / "data"
    (folder / "km_curves").mkdir(parents=True)
    rc = cli.main(["import-km", str(DIGITIZED / "wpd_all_data.csv"), "--study", "S900", "--data", str(folder)])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert out[0] == "wpd_all_data.csv: read as a WebPlotDigitizer CSV export (all data)."
    assert out[-1] == f"{folder / 'km_curves' / 'points.csv'}: 12 rows written."
    rows = (folder / "km_curves" / "points.csv").read_text().splitlines()
    assert rows[0] == "study,group,time,time_unit,survival" and len(rows) == 13
    assert cli.main(["import-km", str(DIGITIZED / "wpd_v4.json")]) == 2  # its own argument errors
    assert "the following arguments are required: --study" in capsys.readouterr().err


# --------------------------------------------------------------------------- messages for the README

#: The runner's and command line's messages for the README's troubleshooting section, exactly
#: as printed when run from a folder holding ``my-data/`` (a data folder), ``my-data.csv``,
#: ``notes.txt``, ``notes.md`` and ``reports/`` (checked word for word below).
README_MESSAGES = [
    "error: 02_relapse_free_survival.ipynb: parameter time_unit: expected one of days, weeks, months, years, "
    "found 'decades' (default: 'months', a str)",
    "error: 03_response_rates.ipynb: parameter pool_method: expected one of REML, DL, PM, GLMM, found 'REM' "
    "(default: 'GLMM', a str)",
    "error: 02_relapse_free_survival.ipynb: parameter landmarks: expected a list of numbers >= 0, found 'abc' "
    "(default: [12, 24, 60], a list)",
    "error: 01_case_timelines.ipynb: parameter patient_ids: expected text, a list of texts, or null, found [1, 2] "
    "(default: None); put text that reads as a number or true/false in quotes, e.g. -p \"key='007'\"",
    "error: reports/index.html was not written by render (it is not in .analysis-render-manifest.json); "
    "move it away or choose another --out. Nothing was rendered.",
    "error: could not write reports/index.html (No space left on device); free some space and run again. "
    "The reports of this run are in place; reports/index.html still shows the previous run",
    "error: data folder my-data.csv is a file, not a folder (use --data DIR)",
    "error: --timeout: expected a positive number of seconds (a cell's time limit), found nan",
    "error: notes.txt is a file, not a folder, so notes.txt/my-data cannot be made; choose a new folder",
    "error: my-data.csv is a file, not a folder; give the data folder (sources, patients, events, cohort_outcomes)",
    "error: README.md does not exist; give the README that holds the data dictionary (data/README.md)",
    "error: notes.md has no generated section to replace; put the line <!-- BEGIN GENERATED DATA DICTIONARY "
    "(python -m analysis data-dictionary --update data/README.md) --> and, below it, the line "
    "<!-- END GENERATED DATA DICTIONARY --> where the data dictionary goes",
    "warning: my-data/sources.csv leads outside the data folder my-data (a link); render does not read it",
]


def test_the_messages_for_the_readme_are_what_the_commands_print(tmp_path, monkeypatch, capsys):
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "data", "my-data")
    for name in ("my-data.csv", "notes.txt", "notes.md"):
        Path(name).write_text("mine\n")
    nbs = ["--notebooks", str(ROOT / "notebooks")]
    printed: list[str] = []

    def run(*argv, code):
        assert cli.main(list(argv)) == code, argv
        printed.extend(capsys.readouterr().err.splitlines())

    run("render", *nbs, "--data", "my-data", "-p", "time_unit=decades", "-p", "pool_method=REM", code=2)
    run("render", *nbs, "--data", "my-data", "-p", "landmarks=abc", code=2)
    run("render", *nbs, "--data", "my-data", "-p", "patient_ids=[1, 2]", code=2)
    run("render", *nbs, "--data", "my-data.csv", code=2)
    run("render", *nbs, "--data", "my-data", "--timeout", "nan", code=2)
    run("new-data", "notes.txt/my-data", code=2)
    run("validate", "my-data.csv", code=2)
    run("data-dictionary", "--update", "README.md", code=2)
    run("data-dictionary", "--update", "notes.md", code=2)
    Path("reports").mkdir()
    Path("reports/index.html").write_text("<html>mine</html>")
    run("render", *nbs, "--data", "my-data", code=1)
    Path("reports/index.html").unlink()
    # no kernel from here on: validation finds a problem, so the index is all that is written
    _no_kernels(monkeypatch, problems=["sources.csv:-:-: a problem"])
    Path("elsewhere.csv").write_bytes(Path("my-data/sources.csv").read_bytes())
    Path("my-data/sources.csv").unlink()
    Path("my-data/sources.csv").symlink_to(tmp_path / "elsewhere.csv")
    run("render", *nbs, "--data", "my-data", code=1)
    real = folders._write_fd

    def full_disk(fd, data, path):
        if "index.html" in path.name:
            os.close(fd)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data, path)

    monkeypatch.setattr(folders, "_write_fd", full_disk)
    run("render", *nbs, "--data", "my-data", code=1)
    missing = [m for m in README_MESSAGES if m not in printed]
    assert missing == []
