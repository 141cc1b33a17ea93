"""Loading and validating large data folders (issue 14): time per event, memory, size limits,
and a million rows of individual patient data validated, fitted and rendered.

Every figure comes from a fresh process on synthetic folders written into a temporary folder
(:mod:`synthetic_folders`; never under data/ or examples/), each beside its peer measured in
the same run:

* ``python -m analysis validate`` on the corpus's valid base (start-up: imports, 3 events),
  on the shipped kind of events (``data/`` copied to 40,000 events, 8.6 MB: long quotes,
  chains of offsets, ages) and on short events (the base copied to 95,000 events, 10 MB);
  per event: CPU seconds above the base's, divided by the events (best of ``--repeats``).
  Peer: plain ``pandas.read_csv`` of the same events file (the floor of reading it at all).
* a 50 MB events file, which the hand-coded tables' limit refuses before reading it.
* ``ipd/`` with 1,000,000 rows: ``validate``; the fit as notebook 02 makes it (survival rows
  from the IPD, Kaplan-Meier, tables), beside R ``survfit`` on the same file (skipped, with a
  note, without Rscript); and ``render --only 02_relapse_free_survival`` (validation -- by
  the kernel factory, whose kernel hands the validated dataset to the notebook -- the
  notebook's fit, its figure and tables, HTML), with the seconds of the notebook's longest
  cells. Peak memory: the largest RSS of the process tree
  summed over its processes, sampled every 0.1 s. Goal: validate + render <= 15 s, <= 2 GB.

CPU seconds are given beside wall seconds: on a shared machine wall time is inflated by other
programs, and no run can take less wall time than its CPU seconds over the cores (the CPU
floor). Goals: <= 20 µs CPU per event above start-up.

    .venv/bin/python benchmarks/bench_load.py [--repeats 3] [--ipd-rows 1000000] [--src DIR] [--no-record] [--note TEXT]

``--src DIR`` measures another checkout (``DIR/src``, ``DIR/notebooks``), e.g. the code before
a change, in the same conditions; such runs are printed, not recorded. ``--note TEXT`` adds a
line to the entry (what was changed or tried, what stands in the way of a goal missed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import append_entry, ratio_line  # noqa: E402
from synthetic_folders import BASE, ipd_folder, shipped_kind, short_events  # noqa: E402

INTRO = ("`benchmarks/bench_load.py`: `python -m analysis validate` in a fresh process on synthetic folders: the "
         "shipped kind of events (data/ copied to 40,000 events) and short events (the corpus's base copied to "
         "95,000), per event above the start-up, beside plain `pandas.read_csv` of the same file; a 50 MB events "
         "file, refused before reading; 1,000,000 rows of `ipd/` validated, fitted (beside R `survfit`) and "
         "rendered (notebook 02). Entries before 2026-11-24 measured 1, 5 and 10 MB of short events only. "
         "A shared machine inflates wall time; CPU seconds are steadier.")
HEADING = "## Loading and validation"
GOAL_US = 20.0
GOAL_IPD_S, GOAL_IPD_GB = 15.0, 2.0


def _tree_rss(root_pid: int) -> int:
    """Bytes resident in ``root_pid`` and all its descendants (Linux /proc)."""
    parent, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            parent[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    members, grew = {root_pid}, True
    while grew:
        new = {p for p, pp in parent.items() if pp in members} - members
        grew = bool(new)
        members |= new
    return sum(rss.get(p, 0) for p in members)


def run(cmd: list[str], env: dict | None = None, sample: bool = False) -> dict:
    """Run ``cmd``: wall s, CPU s of it and its descendants, the largest RSS of one of its
    processes (GB, from ``wait4``), and with ``sample`` the peak RSS of the whole process tree
    (GB); exit code and output."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
        peak = [0]
        stop = threading.Event()

        def sampler():
            while not stop.wait(0.1):
                peak[0] = max(peak[0], _tree_rss(proc.pid))

        thread = threading.Thread(target=sampler, daemon=True) if sample and Path("/proc").is_dir() else None
        if thread:
            thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        if thread:
            thread.join()
        out.seek(0)
        err.seek(0)
        return {"rc": proc.returncode, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                "maxrss": usage.ru_maxrss / 1024**2, "tree": peak[0] / 1024**3, "out": out.read(), "err": err.read()}


def env_for(src: Path | None) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src / "src")
    return env


def validate(folder: Path, env: dict, repeats: int = 1) -> dict:
    """Best (least CPU) of ``repeats`` ``python -m analysis validate`` runs."""
    runs = [run([sys.executable, "-m", "analysis", "validate", str(folder)], env) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["cpu"])
    best["first"] = (best["out"].splitlines() or [""])[0][:200]
    return best


READ_CSV = ("import sys, time, pandas as pd\n"
            "best = None\n"
            "for _ in range(int(sys.argv[2])):\n"
            "    t = time.process_time(); df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)\n"
            "    c = time.process_time() - t; best = c if best is None else min(best, c)\n"
            "print(best, len(df))\n")


def read_csv_floor(path: Path, repeats: int) -> float:
    """CPU seconds of plain ``pandas.read_csv`` (every cell as text) of ``path``, best of ``repeats``."""
    r = run([sys.executable, "-c", READ_CSV, str(path), str(repeats)])
    assert r["rc"] == 0, r["err"]
    return float(r["out"].split()[0])


FIT = """
import json, sys, time
import numpy as np
from analysis import survival as sv
from analysis.load import load_dataset
ds = load_dataset(sys.argv[1])
best = None
for _ in range(int(sys.argv[2])):
    t = time.process_time()
    data, excluded, checks = sv.survival_data(ds, ["ipd"], "days")
    fit = sv.km_fit(data, "curve", time_unit="days", ci_method="log-log")
    tables = [sv.km_estimates(fit), sv.km_summary(fit), sv.km_landmarks(fit, [365, 730, 1826]),
              sv.at_risk_table(fit, np.arange(0, 3651, 365.0)), sv.logrank(fit)]
    c = time.process_time() - t
    best = c if best is None else min(best, c)
print(json.dumps({"cpu": best, "rows": len(data), "curves": len(fit.groups),
                  "chisq": float(tables[-1]["statistic"].iloc[0])}))
"""


def fit_ipd(folder: Path, env: dict, repeats: int) -> dict:
    r = run([sys.executable, "-c", FIT, str(folder), str(repeats)], env)
    if r["rc"] != 0:
        return {"error": (r["err"].strip().splitlines() or ["?"])[-1]}
    return json.loads(r["out"].strip().splitlines()[-1])


def r_survfit(csv: Path, repeats: int) -> dict | None:
    """R survfit (and survdiff) on the same file, from bench_survival (None without Rscript)."""
    from bench_survival import run_r

    return run_r(csv, repeats)


def render(folder: Path, out: Path, env: dict, src: Path | None) -> dict:
    cmd = [sys.executable, "-m", "analysis", "render", "--data", str(folder), "--out", str(out), "--force",
           "--only", "02_relapse_free_survival"]
    if src is not None:
        cmd += ["--notebooks", str(src / "notebooks")]
    return run(cmd, env, sample=True)


def _folder_lines(tmp: Path, env: dict, repeats: int) -> tuple[list[str], dict, float]:
    base = validate(BASE, env, repeats)
    lines = [f"- start-up (the corpus's 3-event base): {base['wall']:.2f} s wall, {base['cpu']:.2f} s CPU"]
    per_event = {}
    for label, make in (("shipped kind", lambda f: shipped_kind(f, 40_000)),
                        ("short events", lambda f: short_events(f, 9.95))):
        folder = tmp / label.replace(" ", "_")
        n = make(folder)
        events = folder / "events.csv"
        r = validate(folder, env, repeats)
        assert r["rc"] == 0, r["out"][:2000] + r["err"][-2000:]
        us = 1e6 * (r["cpu"] - base["cpu"]) / n
        floor = read_csv_floor(events, repeats)
        per_event[label] = us
        lines.append(f"- {label}: events.csv {events.stat().st_size / 2**20:.1f} MB, {n:,} events: "
                     f"{r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU, {r['maxrss'] * 1024:.0f} MB max RSS; "
                     f"**{us:.1f} µs CPU per event** above start-up (goal <= {GOAL_US:g}: "
                     f"{'met' if us <= GOAL_US else 'MISSED'}); pandas.read_csv of the file {floor:.2f} s CPU "
                     f"= {1e6 * floor / n:.1f} µs per event; validate / read_csv = "
                     f"{(r['cpu'] - base['cpu']) / floor:.1f}")
        print(lines[-1], flush=True)
        ratio_line(f"validate, {n:,} events ({label}), CPU above start-up", r["cpu"] - base["cpu"],
                   "pandas.read_csv", floor)
    return lines, per_event, base["cpu"]


def _refusal_line(tmp: Path, env: dict) -> str:
    folder = tmp / "d50"
    shutil.copytree(BASE, folder)
    chunk = b"".join((BASE / "events.csv").read_bytes().splitlines(keepends=True)[1:]) * 1000
    with (folder / "events.csv").open("ab") as f:
        while f.tell() < 50 * 2**20:
            f.write(chunk)
    r = validate(folder, env)
    assert r["rc"] == 1 and "expected a file of at most" in r["first"], r
    return f"- events.csv 50 MB: refused in {r['wall']:.2f} s wall: `{r['first']}`"


def _cell_seconds(notebook: Path) -> list[tuple[float, str]]:
    """(seconds, first line) of each code cell of an executed notebook (papermill's record)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return []
    return [(float(c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0),
             "".join(c["source"]).strip().splitlines()[0][:60]) for c in cells if c["cell_type"] == "code" and c["source"]]


def _ipd_lines(tmp: Path, env: dict, src: Path | None, rows: int, repeats: int,
               start_cpu: float) -> tuple[list[str], dict]:
    folder = tmp / "ipd"
    csv = ipd_folder(folder, rows)
    lines = [f"- ipd/trial.csv: {rows:,} rows, {csv.stat().st_size / 2**20:.0f} MB"]
    floor = read_csv_floor(csv, 1)
    v = validate(folder, env)
    ok_v = v["rc"] == 0
    lines.append(f"  - validate: {v['wall']:.2f} s wall, {v['cpu']:.2f} s CPU, {v['maxrss']:.2f} GB max RSS"
                 + ("" if ok_v else f" -- exit {v['rc']}: `{v['first']}`")
                 + f"; pandas.read_csv of the file {floor:.2f} s CPU; validate above start-up / read_csv = "
                   f"{(v['cpu'] - start_cpu) / floor:.1f}")
    print(lines[-1], flush=True)
    shown = len(lines)
    fit = fit_ipd(folder, env, repeats) if ok_v else {"error": "not validated"}
    r = None if "error" in fit else r_survfit(csv, repeats)
    if "error" in fit:
        lines.append(f"  - fit: not run ({fit['error']})")
    else:
        lines.append(f"  - fit as notebook 02 (survival rows from the IPD, Kaplan-Meier of {fit['curves']} curves, "
                     f"estimates, summary, landmarks, at-risk table, log-rank): {fit['cpu']:.2f} s CPU, best of "
                     f"{repeats}")
        if r is None:
            lines.append("  - R survfit: not run (no Rscript on this machine)")
        else:
            same = abs(r["chisq"] - fit["chisq"]) < 1e-6
            ratio_line(f"IPD fit as notebook 02, {rows:,} rows", fit["cpu"], "R survival (survfit+summary+survdiff)",
                       r["all_min"])
            lines.append(f"  - R survfit on the same file: {r['survfit_min']:.2f} s; fit / R survfit = "
                         f"{fit['cpu'] / r['survfit_min']:.2f}; R survfit + summary + survdiff {r['all_min']:.2f} s, "
                         f"fit / that = {fit['cpu'] / r['all_min']:.2f}; log-rank "
                         f"{'equal to R within 1e-6' if same else 'DIFFERS from R'}")
    print("\n".join(lines[shown:]), flush=True)
    ratio_line(f"validate, {rows:,} IPD rows, CPU above start-up", v["cpu"] - start_cpu, "pandas.read_csv", floor)
    g = render(folder, tmp / "reports", env, src) if ok_v else None
    if g is not None:
        lines.append(f"  - render --only 02_relapse_free_survival: {g['wall']:.2f} s wall, {g['cpu']:.2f} s CPU of "
                     f"all its processes (CPU floor on {os.cpu_count()} cores: {g['cpu'] / (os.cpu_count() or 1):.2f} s)"
                     f", peak {g['tree']:.2f} GB RSS of the process tree (largest process {g['maxrss']:.2f} GB)"
                     + ("" if g["rc"] == 0 else f" -- exit {g['rc']}: {g['err'].strip()[-600:]}"))
        cells = _cell_seconds(tmp / "reports" / "02_relapse_free_survival" / "02_relapse_free_survival.ipynb")
        if cells:
            top = sorted(cells, reverse=True)[:5]
            lines.append(f"  - in the notebook: {sum(c for c, _ in cells):.1f} s in its cells, of which "
                         + "; ".join(f"{sec:.1f} s `{first}`" for sec, first in top)
                         + f"; outside its cells (render's start-up, fingerprint and validation, kernel, HTML): "
                           f"{g['wall'] - sum(c for c, _ in cells):.1f} s")
        print("\n".join(lines[-2:]), flush=True)
    total = v["wall"] + (g["wall"] if g else 0)
    peak = max(v["maxrss"], g["tree"] if g else 0)
    met = ok_v and g is not None and g["rc"] == 0 and total <= GOAL_IPD_S and peak <= GOAL_IPD_GB
    lines.append(f"  - validate + render (which validates again, once, and fits): {total:.1f} s wall, peak {peak:.2f} GB "
                 f"(goal <= {GOAL_IPD_S:g} s and <= {GOAL_IPD_GB:g} GB: {'met' if met else 'MISSED'})")
    return lines, {"met": met}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ipd-rows", type=int, default=1_000_000)
    ap.add_argument("--src", type=Path, help="measure this checkout instead (printed, not recorded)")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--note", help="a line added to the entry")
    args = ap.parse_args(argv)
    env = env_for(args.src)
    probe = run([sys.executable, "-c", "import analysis.load.readers as r; print(r.MAX_FILE_BYTES, "
                 "getattr(r, 'MAX_IPD_FILE_BYTES', r.MAX_FILE_BYTES))"], env)
    limit, ipd_limit = (int(x) // 2**20 for x in probe["out"].split())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lines, per_event, start_cpu = _folder_lines(tmp, env, args.repeats)
        lines.append(_refusal_line(tmp, env))
        print(lines[-1], flush=True)
        ipd, ipd_result = _ipd_lines(tmp, env, args.src, args.ipd_rows, args.repeats, start_cpu)
        lines += ipd
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    goals = ([f"{k} <= {GOAL_US:g} µs per event: {'met' if v <= GOAL_US else 'MISSED'}" for k, v in per_event.items()]
             + [f"{args.ipd_rows:,} IPD rows validated and rendered in <= {GOAL_IPD_S:g} s and {GOAL_IPD_GB:g} GB: "
                f"{'met' if ipd_result['met'] else 'MISSED'}"])
    block = (f"\n### {stamp} (Python {platform.python_version()}, {platform.machine()}, "
             f"{os.cpu_count()} CPU(s), load average {load:.2f} at the end)\n\n"
             f"Limits: {limit} MB per hand-coded table, {ipd_limit} MB per `ipd/` file. " + "; ".join(goals) + ".\n\n"
             + "\n".join(lines + ([f"- note: {args.note}"] if args.note else [])) + "\n")
    print(block)
    if not args.no_record and args.src is None:
        append_entry(HEADING, INTRO, block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
