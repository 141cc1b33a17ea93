"""Loading and validating large data folders: time and memory, and the size limit.

Writes synthetic folders (the bad-data corpus's valid base repeated: one patient, three
events per copy) with an events file of about 1, 5 and 10 MB, runs
``python -m analysis validate`` on each in a fresh process, and records wall time, CPU
time and peak memory (max RSS); then a 50 MB events file, which must be refused at once
(``load.MAX_FILE_BYTES``). Appends the figures to benchmarks/results.md.

    .venv/bin/python benchmarks/bench_load.py [--sizes 1 5 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "tests" / "bad_data" / "_base"
from results_file import append_entry  # noqa: E402

INTRO = ("`benchmarks/bench_load.py`: `python -m analysis validate` in a fresh process on "
            "the corpus's valid base repeated to an events file of 1, 5 and 10 MB (three events per patient, "
            "dates and offsets), then a 50 MB file, which the size limit refuses before reading. Times grow "
            "linearly with the number of events; a shared machine inflates wall time.")
HEADING = "## Loading and validation"


def write_folder(folder: Path, mbytes: float) -> int:
    """The base folder with copies of its patient and events until events.csv is ~mbytes."""
    shutil.copytree(BASE, folder)
    ev_header, *ev_rows = (BASE / "events.csv").read_text(encoding="utf-8").splitlines()
    pa_header, pa_row = (BASE / "patients.csv").read_text(encoding="utf-8").splitlines()
    events, patients, n = [ev_header], [pa_header], 0
    size = len(ev_header)
    while size < mbytes * 2**20:
        for r in ev_rows:
            cells = r.split(",")
            cells[0], cells[1] = f"{cells[0]}-{n}", f"P{n}"
            if cells[12]:
                cells[12] = f"{cells[12]}-{n}"
            line = ",".join(cells)
            events.append(line)
            size += len(line) + 1
        patients.append(pa_row.replace("P1", f"P{n}", 1))
        n += 1
    (folder / "events.csv").write_text("\n".join(events) + "\n", encoding="utf-8")
    (folder / "patients.csv").write_text("\n".join(patients) + "\n", encoding="utf-8")
    return len(events) - 1


def measure(folder: Path) -> dict:
    """validate in a child process: wall s, CPU s, max RSS MB, exit code, first line."""
    code = (
        "import resource, sys, time\n"
        "from analysis.cli import main\n"
        "t = time.perf_counter(); c = time.process_time()\n"
        "import io, contextlib\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    rc = main(['validate', {str(folder)!r}])\n"
        "w = time.perf_counter() - t; c = time.process_time() - c\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(rc, round(w, 2), round(c, 2), round(rss), out.getvalue().splitlines()[0][:160], sep='\\t')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    rc, wall, cpu, rss, first = proc.stdout.strip().split("\t", 4)
    return {"rc": int(rc), "wall": float(wall), "cpu": float(cpu), "rss": float(rss), "first": first}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="*", default=[1, 5, 10])
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from analysis.load import MAX_FILE_BYTES

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        baseline = measure(BASE)
        lines.append(f"- the 3-event base folder (imports and start-up): {baseline['wall']:.2f} s wall, "
                     f"{baseline['cpu']:.2f} s CPU, {baseline['rss']:.0f} MB max RSS")
        for mb in args.sizes:
            folder = Path(tmp) / f"d{mb:g}"
            n = write_folder(folder, min(mb, MAX_FILE_BYTES / 2**20 - 0.05))
            size = (folder / "events.csv").stat().st_size / 2**20
            r = measure(folder)
            assert r["rc"] == 0, r
            lines.append(f"- events.csv {size:.1f} MB ({n:,} events, {n // 3:,} patients): {r['wall']:.1f} s wall, "
                         f"{r['cpu']:.1f} s CPU, {r['rss']:.0f} MB max RSS; "
                         f"{1000 * r['cpu'] / n:.2f} ms CPU per event")
            print(lines[-1], flush=True)
        folder = Path(tmp) / "d50"
        shutil.copytree(BASE, folder)
        chunk = b"".join((BASE / "events.csv").read_bytes().splitlines(keepends=True)[1:]) * 1000
        with (folder / "events.csv").open("ab") as f:
            while f.tell() < 50 * 2**20:
                f.write(chunk)
        r = measure(folder)
        assert r["rc"] == 1 and "expected a file of at most" in r["first"], r
        lines.append(f"- events.csv 50 MB: refused in {r['wall']:.2f} s wall, {r['rss']:.0f} MB max RSS: `{r['first']}`")
        print(lines[-1], flush=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    block = (f"\n### {stamp} (Python {platform.python_version()}, {platform.machine()}, "
             f"{os.cpu_count()} CPU(s), load average {load:.2f} at the end)\n\n"
             f"Limit: {MAX_FILE_BYTES // 2**20} MB per file (`analysis.load.MAX_FILE_BYTES`).\n\n"
             + "\n".join(lines) + "\n")
    append_entry(HEADING, INTRO, block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
