"""Interrupted and concurrent renders (issue 7): nothing half-written, nothing lost.

A render of the slowed fixture notebook (tests/fixtures/notebooks/slow.ipynb, which writes
its tables in steps with pauses) is killed with SIGTERM or SIGKILL at several moments;
the previous report must stay complete, no process may keep writing, and the next run
must finish normally and clean up. Two renders into one folder must serialise.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock"),
]


def command(base: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "analysis", "render", "--notebooks", str(FIXTURES), "--data", str(base / "data"),
            "--out", str(base / "out"), "--only", "slow", *args]


def frozen_package(base: Path) -> dict:
    """Environment importing a snapshot of ``analysis`` (its source is part of the cache key,
    and the concurrency test expects the second run to find the report unchanged)."""
    import shutil

    import analysis

    target = base / "frozen-src"
    if not target.exists():
        shutil.copytree(Path(analysis.__file__).parent, target / "analysis",
                        ignore=shutil.ignore_patterns("__pycache__"))
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))


def start(base: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(command(base, *args), cwd=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=frozen_package(base))


def snapshot(report: Path) -> dict[str, str]:
    return {
        p.relative_to(report).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(report.rglob("*"))
        if p.is_file()
    }


def marker(report: Path) -> str:
    with open(report / "tables" / "marker.csv", newline="") as fh:
        return next(csv.DictReader(fh))["label"]


def assert_complete(report: Path, label: str) -> None:
    """A whole report of the slow notebook, rendered with ``label``."""
    names = set(snapshot(report))
    assert names == {"slow.ipynb", "slow.html", ".render-stamp.json", "tables/stage1.csv", "tables/stage2.csv",
                     "tables/marker.csv"}
    assert marker(report) == label
    stamp = json.loads((report / ".render-stamp.json").read_text())
    assert stamp["parameters"]["label"] == label
    nb = json.loads((report / "slow.ipynb").read_text())
    assert nb["metadata"]["papermill"]["parameters"]["label"] == label
    assert "</html>" in (report / "slow.html").read_text()


def wait_for(condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def tmp_folders(out: Path) -> list[Path]:
    from analysis.render import TMP_PREFIX

    return [p for p in out.iterdir() if p.name.startswith(f"{TMP_PREFIX}slow-")]


def processes_in(folder: Path) -> list[int]:
    """Render workers and their kernels working for ``folder`` (their environment names a
    temporary folder inside it, see analysis.render.RENDER_ENV)."""
    from analysis.render import RENDER_ENV

    marker = f"{RENDER_ENV}={folder}{os.sep}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(var.startswith(marker) for var in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    base = tmp_path_factory.mktemp("interrupt")
    (base / "data").mkdir()
    (base / "data" / "items.csv").write_text("id,label,count\n1,a,1\n")
    res = subprocess.run(command(base, "-p", "label=v1"), cwd=base, capture_output=True, text=True, timeout=180,
                         env=frozen_package(base))
    assert res.returncode == 0, res.stderr
    assert_complete(base / "out" / "slow", "v1")
    return base


def new_tmp_folders(out: Path, before: set) -> list[Path]:
    """Temporary folders made by the render under test (an earlier SIGKILL may have left others)."""
    return [t for t in tmp_folders(out) if t not in before]


MOMENTS = {
    # the worker process runs, the kernel is starting
    "kernel-start": lambda out, before: bool(new_tmp_folders(out, before)) and bool(processes_in(out)),
    # the notebook is half-way: stage1 written, marker not yet
    "mid-notebook": lambda out, before: any((t / "tables" / "stage1.csv").exists()
                                            for t in new_tmp_folders(out, before)),
}


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
@pytest.mark.parametrize(
    "sig, moment",
    [
        (signal.SIGTERM, "kernel-start"),
        (signal.SIGKILL, "kernel-start"),
        (signal.SIGTERM, "mid-notebook"),
        (signal.SIGKILL, "mid-notebook"),
    ],
)
def test_killed_render_keeps_the_previous_report(base, sig, moment):
    out = base / "out"
    before = snapshot(out / "slow")
    index_before = (out / "index.html").read_bytes()
    stale = set(tmp_folders(out))
    proc = start(base, "-p", "label=v2", "-p", "delay=1.5", "--force")
    try:
        wait_for(lambda: MOMENTS[moment](out, stale), what=moment)
        if moment == "mid-notebook":
            assert len(processes_in(out)) >= 2  # the worker and its kernel are seen
    finally:
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        assert "interrupted: previous reports are kept unchanged" in err
        assert tmp_folders(out) == []  # its own and earlier leftovers are cleaned up
    else:
        assert proc.returncode == -signal.SIGKILL
    # nothing keeps running and writing: workers die with the render, kernels with them
    wait_for(lambda: processes_in(out) == [], timeout=15, what="workers and kernels to exit")
    assert snapshot(out / "slow") == before
    assert (out / "index.html").read_bytes() == index_before
    assert_complete(out / "slow", "v1")


def test_render_killed_around_the_swap_leaves_one_complete_version(base):
    """SIGKILL right when the new report is finished: either version, but a whole one."""
    out = base / "out"
    old = marker(out / "slow")
    stale = set(tmp_folders(out))
    proc = start(base, "-p", "label=v-swap", "--force")
    try:
        wait_for(lambda: any((t / "slow.html").exists() for t in new_tmp_folders(out, stale))
                 or marker(out / "slow") == "v-swap", what="the HTML to be written")
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    label = marker(out / "slow")
    assert label in (old, "v-swap")
    assert_complete(out / "slow", label)


def test_next_run_finishes_and_two_concurrent_runs_serialise(base):
    """After the kills, a normal run completes and cleans up; a second run waits its turn."""
    out = base / "out"
    stale = set(tmp_folders(out))
    first = start(base, "-p", "label=v3", "-p", "delay=0.5")
    wait_for(lambda: bool(new_tmp_folders(out, stale)), what="the first render to start")
    second = start(base, "-p", "label=v3", "-p", "delay=0.5")
    out1, err1 = first.communicate(timeout=180)
    out2, err2 = second.communicate(timeout=180)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert f"another render is writing to {out}; waiting for it to finish" in err2
    assert "slow  done in" in out1
    assert "slow  skipped (unchanged)" in out2  # it waited, then found the report current
    assert_complete(out / "slow", "v3")
    from analysis.render import MANIFEST_FILE, RENDER_PREFIX

    leftovers = [p.name for p in out.iterdir() if p.name.startswith(RENDER_PREFIX)]
    assert leftovers == [MANIFEST_FILE]
    assert processes_in(out) == []
