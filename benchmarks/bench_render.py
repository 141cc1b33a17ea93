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

Each parallel job is one worker process that runs its notebooks one after another, so
the worker's imports (papermill, nbconvert, ~1 CPU-s with the first HTML conversion) are paid
once per job, not per notebook; the run adds the data validation (~0.9 s, before any kernel
starts) and per notebook the HTML conversion (~0.3 s once warm, half of it bleach). Measured
alternatives (4 interleaved rounds each, same notebooks): one worker per notebook 11.2 s and
18.8 CPU-s; HTML in the command's own process 11.0 s and 18.1 CPU-s; a worker per job
10.2 s and 16.8 CPU-s (kept). CPU seconds of all processes are
reported beside the wall times: on N cores no run can finish faster than CPU / N.

Sequential and parallel runs are interleaved (``--rounds``, default 3) and the medians are
recorded, since the machines this runs on are shared and their speed drifts.

Prints the figures and appends them to benchmarks/results.md under "## Rendering".

    .venv/bin/python benchmarks/bench_render.py [--jobs N] [--rounds 3] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
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
    from analysis.render import html as render_html

    render_html._fast_nbformat_import()  # the same import shortcut the render command uses
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


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its waited-for children (kernels, workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def render_command(data: Path, out: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "analysis", "render", "--notebooks", str(ROOT / "notebooks"), "--data", str(data),
           "--out", str(out), *args]
    env = frozen_env(out.parent)
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, res


def timed(fn, *args) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process and its children, result) of ``fn(*args)``."""
    cpu = cpu_seconds()
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, cpu_seconds() - cpu, result


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
    ap.add_argument("--rounds", type=int, default=3,
                    help="sequential and parallel runs, interleaved; medians are reported (default 3)")
    args = ap.parse_args(argv)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    data = ROOT / "data"
    if not notebooks:
        print("no notebooks to benchmark")
        return 1
    seqs, pars = [], []  # (wall, cpu) per round
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        tmp = Path(tmp)
        # warm-up (not counted): font cache, bytecode, disk cache for both approaches alike, and
        # the previous render times the command uses to start the longest notebooks first
        render_command(data, tmp / "parallel", "--jobs", str(args.jobs))
        cores_before = effective_cores(args.jobs)
        for r in range(max(1, args.rounds)):
            # interleaved, so a slower spell of a shared machine hits both alike
            wall, cpu, _ = timed(sequential_papermill, notebooks, data, tmp / f"sequential{r}")
            seqs.append((wall, cpu))
            wall, cpu, res = timed(render_command, data, tmp / "parallel", "--force", "--jobs", str(args.jobs))
            pars.append((res[0], cpu))
            if res[1].returncode != 0:
                print(res[1].stdout + res[1].stderr, file=sys.stderr)
                return 1
            print(f"round {r + 1}: sequential {seqs[-1][0]:.1f} s, parallel {pars[-1][0]:.1f} s "
                  f"({pars[-1][0] / seqs[-1][0]:.0%})", file=sys.stderr)
        again, res2 = render_command(data, tmp / "parallel", "--jobs", str(args.jobs))
        skipped = res2.stdout.count("skipped (unchanged)")
        cores = (cores_before + effective_cores(args.jobs)) / 2
        # own work from the first sequential run: one kernel at a time, so less contention
        work = {nb.stem: own_work(tmp / "sequential0" / nb.stem / nb.name) for nb in notebooks}
    seq, seq_cpu = (statistics.median(x[i] for x in seqs) for i in (0, 1))
    par, par_cpu = (statistics.median(x[i] for x in pars) for i in (0, 1))
    ratio = par / seq
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    worst = max(work.values())
    lines = [
        f"### {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} (Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.2f} at the end)",
        "",
        f"{len(notebooks)} notebooks on the shipped data, median of {len(seqs)} interleaved rounds. "
        f"parallel <= 60 % of sequential: "
        f"{'met' if ratio <= 0.6 else 'NOT met'}; unchanged re-render <= 2 s: {'met' if again <= 2 else 'NOT met'}; "
        f"own work <= 1 s per notebook: {'met' if worst <= 1 else 'NOT met'}.",
        "",
        f"- effective cores available to this run (CPU-bound loop alone vs {args.jobs} at once, mean of before "
        f"and after): {cores:.2f} of {os.cpu_count()}; the best parallel/sequential ratio possible is then about "
        f"{1 / max(cores, 1):.0%}",
        f"- sequential, plain papermill in one process: {seq:.1f} s ({seq_cpu:.1f} CPU-s in all processes); "
        f"rounds: " + ", ".join(f"{w:.1f}" for w, _ in seqs),
        f"- `python -m analysis render --force --jobs {args.jobs}` (whole command, with HTML and index): "
        f"{par:.1f} s = **{ratio:.0%}** of sequential ({par_cpu:.1f} CPU-s; the lower bound on "
        f"{args.jobs} cores is then {par_cpu / args.jobs:.1f} s = {par_cpu / args.jobs / seq:.0%}); rounds: "
        + ", ".join(f"{w:.1f}" for w, _ in pars),
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
