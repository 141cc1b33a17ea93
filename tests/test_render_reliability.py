"""The runner and the command line under faults and in a user's folder (issue 15).

* The output folder never loses a user's file: render touches only what its manifest
  (``OUT/.analysis-render-manifest.json``) lists, makes temporary names no user file can
  have, and refuses to replace a report-named file it did not write.
* Report folders get the user's umask's permissions.
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
