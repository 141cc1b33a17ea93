"""Benchmark: rendering all notebooks in parallel vs one after another with plain papermill.

Measured in the same run, on the shipped notebooks and data, into temporary folders:

* **sequential**: every ``notebooks/*.ipynb`` executed one after another with
  ``papermill.execute_notebook`` in this process (no HTML, no caching: plain papermill);
* **parallel**: ``python -m analysis render --force --jobs N`` (N = cores), the whole command
  including its start-up, HTML conversion and index, into a folder rendered once before (as
  ``reports/`` is; the previous times let it start the longest notebooks first); target
  <= 60 % of sequential;
* **unchanged**: the same command again without ``--force``: everything skipped; target <= 2 s;
* **own work** per notebook: the executed notebook's cell durations (papermill metadata) in
  the sequential run, without the parameters cells and the cells that import libraries
  (imports done inside functions on first use still count); target <= 1 s each.

Per notebook the command adds a worker process (~0.5 s of imports) and the HTML conversion
(~0.5-1 s, half of it sanitising HTML outputs with bleach) to what plain papermill does.

Prints the figures and appends them to benchmarks/results.md under "## Rendering".

    .venv/bin/python benchmarks/bench_render.py [--jobs N] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from results_file import append_entry  # noqa: E402
HEAD = "## Rendering"


def sequential_papermill(notebooks: list[Path], data: Path, out: Path) -> float:
    """Seconds to execute every notebook one after another with plain papermill."""
    from analysis import render

    render._fast_nbformat_import()  # the same import shortcut the render command uses
    import papermill

    render.install_kernelspec()
    start = time.perf_counter()
    for nb in notebooks:
        folder = out / nb.stem
        folder.mkdir(parents=True)
        papermill.execute_notebook(
            str(nb), str(folder / nb.name), parameters={"data_dir": str(data), "output_dir": str(folder)},
            kernel_name=render.KERNEL_NAME, progress_bar=False, cwd=str(folder),
        )
    return time.perf_counter() - start


FROZEN: dict = {}


def frozen_env(tmp: Path) -> dict:
    """Environment importing a snapshot of ``analysis``: its source is part of the cache key,
    so an edit saved while the benchmark runs would otherwise spoil the "unchanged" figure."""
    if not FROZEN:
        import shutil

        import analysis

        target = tmp / "frozen-src"
        shutil.copytree(Path(analysis.__file__).parent, target / "analysis",
                        ignore=shutil.ignore_patterns("__pycache__"))
        path = os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH", "")) if p)
        FROZEN.update(os.environ, PYTHONPATH=path)
    return FROZEN


def render_command(data: Path, out: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "analysis", "render", "--notebooks", str(ROOT / "notebooks"), "--data", str(data),
           "--out", str(out), *args]
    env = frozen_env(out.parent)
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, res


BUSY = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(8_000_000):\n    x += i\nprint(time.perf_counter() - t)"


def effective_cores(jobs: int) -> float:
    """How many cores this run really gets: a CPU-bound loop alone vs ``jobs`` copies at once.

    On a machine shared with other work this is below the core count, and no parallel
    render can beat sequential by more than this factor.
    """
    alone = float(subprocess.run([sys.executable, "-c", BUSY], capture_output=True, text=True).stdout)
    procs = [subprocess.Popen([sys.executable, "-c", BUSY], stdout=subprocess.PIPE, text=True) for _ in range(jobs)]
    together = max(float(p.communicate()[0]) for p in procs)
    return jobs * alone / together


IMPORT_LINE = re.compile(r"^\s*(import|from)\s+\S+", re.M)


def own_work(executed: Path) -> float:
    """Seconds of a notebook's cells, without parameters cells and cells that import libraries."""
    nb = json.loads(executed.read_text())
    total = 0.0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & {"parameters", "injected-parameters"} or IMPORT_LINE.search("".join(cell["source"])):
            continue
        total += cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to results.md")
    args = ap.parse_args(argv)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    data = ROOT / "data"
    if not notebooks:
        print("no notebooks to benchmark")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        tmp = Path(tmp)
        # warm-up (not counted): font cache, bytecode, disk cache for both approaches alike, and
        # the previous render times the command uses to start the longest notebooks first
        render_command(data, tmp / "parallel", "--jobs", str(args.jobs))
        cores_before = effective_cores(args.jobs)
        seq = sequential_papermill(notebooks, data, tmp / "sequential")
        par, res = render_command(data, tmp / "parallel", "--force", "--jobs", str(args.jobs))
        if res.returncode != 0:
            print(res.stdout + res.stderr, file=sys.stderr)
            return 1
        again, res2 = render_command(data, tmp / "parallel", "--jobs", str(args.jobs))
        skipped = res2.stdout.count("skipped (unchanged)")
        cores = (cores_before + effective_cores(args.jobs)) / 2
        # own work from the sequential run: one kernel at a time, so less contention
        work = {nb.stem: own_work(tmp / "sequential" / nb.stem / nb.name) for nb in notebooks}
    ratio = par / seq
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    worst = max(work.values())
    lines = [
        f"### {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} (Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.2f} at the end)",
        "",
        f"{len(notebooks)} notebooks on the shipped data. parallel <= 60 % of sequential: "
        f"{'met' if ratio <= 0.6 else 'NOT met'}; unchanged re-render <= 2 s: {'met' if again <= 2 else 'NOT met'}; "
        f"own work <= 1 s per notebook: {'met' if worst <= 1 else 'NOT met'}.",
        "",
        f"- effective cores available to this run (CPU-bound loop alone vs {args.jobs} at once, mean of before "
        f"and after): {cores:.2f} of {os.cpu_count()}; the best parallel/sequential ratio possible is then about "
        f"{1 / max(cores, 1):.0%}",
        f"- sequential, plain papermill in one process: {seq:.1f} s",
        f"- `python -m analysis render --force --jobs {args.jobs}` (whole command, with HTML and index): "
        f"{par:.1f} s = **{ratio:.0%}** of sequential",
        f"- re-render with unchanged inputs: **{again:.2f} s** ({skipped} of {len(notebooks)} skipped)",
        "- own work per notebook (cells without parameters and imports): "
        + ", ".join(f"{name} {secs:.2f} s" for name, secs in work.items()),
    ]
    print("\n".join(lines))
    if not args.no_record:
        record(lines)
    return 0


def record(lines: list[str]) -> None:
    """Append ``lines`` to the Rendering section of results.md (created if missing)."""
    intro = ("`benchmarks/bench_render.py`: all notebooks rendered with "
             "`--jobs` = cores against the same notebooks executed one after another with plain papermill, "
             "in the same run; then a re-render with unchanged inputs. Two cores shared with other "
             "processes make the ratio noisy; kernel start-up and imports dominate each notebook.")
    append_entry(HEAD, intro, "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
