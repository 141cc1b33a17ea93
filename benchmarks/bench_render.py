"""Benchmark: rendering all notebooks against plain papermill running them one after another.

Measured in the same run, on the shipped notebooks and data, into temporary folders:

* **sequential**: every ``notebooks/*.ipynb`` executed one after another with
  ``papermill.execute_notebook`` in this process (no HTML, no caching: plain papermill);
  the peer of every ratio below;
* **render**: ``python -m analysis render --force --jobs N`` (N = cores), the whole command
  including its start-up, data validation, HTML conversion and index, into a folder rendered
  once before (as ``reports/`` is; the previous times let it start the longest notebooks
  first); target (issue 14) <= 35 % of sequential;
* **render, fresh kernels**: the same with ``ANALYSIS_RENDER_FORK=0``: no kernel factory,
  every kernel a new ipykernel process (still started before its notebook), so each
  kernel imports what its notebook imports; the alternative the factory replaced;
* **unchanged**: the command again without ``--force``: everything skipped; median of
  five runs; target <= 0.2 s;
* **own work** per notebook: the executed notebook's cell durations (papermill metadata) in
  the sequential run, without the parameters cells and the cells that import libraries
  (imports done inside functions on first use still count);
* **CPU floor**: the notebooks' own work divided among the cores, the least any render can
  take; and that plus importing the notebooks' modules once (ipykernel, pandas, matplotlib,
  scipy, statsmodels, pandera, analysis: a fresh process importing them, timed here), the
  least a render that imports them even once can take.

Sequential and render runs are interleaved (``--rounds``, default 3) and the medians are
recorded, with the per-round ratios, since the machines this runs on are shared and their
speed drifts. CPU seconds of all processes are reported beside the wall times: on N cores
no run can finish faster than CPU / N. Bytecode is cached as Python does by default (an
environment with ``PYTHONDONTWRITEBYTECODE`` set would make every kernel of the peer and
every render compile the ``analysis`` package again). ``--note TEXT`` adds a line to the
recorded entry.

Prints the figures and appends them to benchmarks/results.md under "## Rendering".

    .venv/bin/python benchmarks/bench_render.py [--jobs N] [--rounds 3] [--no-record] [--note TEXT]
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
from results_file import append_entry, ratio_line  # noqa: E402
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


def render_command(data: Path, out: Path, *args: str, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "analysis", "render", "--notebooks", str(ROOT / "notebooks"), "--data", str(data),
           "--out", str(out), *args]
    env = frozen_env(out.parent) | (env or {})
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


IMPORT_ONCE = """
import importlib, sys, time
start = time.perf_counter()
import ipykernel.kernelapp
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
print(time.perf_counter() - start)
"""


def import_once(notebooks: list[Path], tmp: Path) -> float:
    """Seconds a fresh process takes to import ipykernel and what the notebooks import, as the
    kernel factory does (the floor of any render that imports them at least once)."""
    from analysis.render.factory import preload_modules

    env = frozen_env(tmp) | {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    res = subprocess.run([sys.executable, "-c", IMPORT_ONCE, *preload_modules(notebooks)], capture_output=True,
                         text=True, env=env, cwd=tmp)
    return float(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to results.md")
    ap.add_argument("--rounds", type=int, default=3,
                    help="sequential and render runs, interleaved; medians are reported (default 3)")
    ap.add_argument("--note", default="", help="a line added to the recorded entry (what was tried, why)")
    args = ap.parse_args(argv)
    # Python caches bytecode by default; an environment that turns it off (PYTHONDONTWRITEBYTECODE)
    # makes every kernel of the peer, and every render, compile the analysis package again
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    FROZEN.pop("PYTHONDONTWRITEBYTECODE", None)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    data = ROOT / "data"
    if not notebooks:
        print("no notebooks to benchmark")
        return 1
    fresh = {"ANALYSIS_RENDER_FORK": "0"}
    runs: dict[str, list[tuple[float, float]]] = {"sequential": [], "render": [], "fresh": []}  # (wall, cpu)
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        tmp = Path(tmp)
        # warm-up (not counted): font cache, bytecode, disk cache for all approaches alike, and
        # the previous render times the command uses to start the longest notebooks first
        render_command(data, tmp / "render", "--jobs", str(args.jobs))
        render_command(data, tmp / "fresh", "--jobs", str(args.jobs), env=fresh)
        cores_before = effective_cores(args.jobs)
        imports = [import_once(notebooks, tmp)]
        for r in range(max(1, args.rounds)):
            # interleaved, so a slower spell of a shared machine hits every approach alike
            wall, cpu, _ = timed(sequential_papermill, notebooks, data, tmp / f"sequential{r}")
            runs["sequential"].append((wall, cpu))
            for name, extra in (("render", {}), ("fresh", fresh)):
                _, cpu, res = timed(lambda out, env: render_command(data, out, "--force", "--jobs", str(args.jobs),
                                                                    env=env), tmp / name, extra)
                runs[name].append((res[0], cpu))
                if res[1].returncode != 0:
                    print(res[1].stdout + res[1].stderr, file=sys.stderr)
                    return 1
            print(f"round {r + 1}: sequential {runs['sequential'][-1][0]:.1f} s, render {runs['render'][-1][0]:.1f} s "
                  f"({runs['render'][-1][0] / runs['sequential'][-1][0]:.0%}), fresh kernels "
                  f"{runs['fresh'][-1][0]:.1f} s ({runs['fresh'][-1][0] / runs['sequential'][-1][0]:.0%})",
                  file=sys.stderr)
        imports.append(import_once(notebooks, tmp))
        agains = []
        for _ in range(5):
            again, res2 = render_command(data, tmp / "render", "--jobs", str(args.jobs))
            agains.append(again)
        skipped = res2.stdout.count("skipped (unchanged)")
        cores = (cores_before + effective_cores(args.jobs)) / 2
        # own work from the first sequential run: one kernel at a time, so less contention
        work = {nb.stem: own_work(tmp / "sequential0" / nb.stem / nb.name) for nb in notebooks}
    med = {k: tuple(statistics.median(x[i] for x in v) for i in (0, 1)) for k, v in runs.items()}
    seq, seq_cpu = med["sequential"]
    ratios = {k: [w / s for (w, _), (s, _) in zip(runs[k], runs["sequential"])] for k in ("render", "fresh")}
    ratio = med["render"][0] / seq
    again = statistics.median(agains)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    worst = max(work.values())
    total_work = sum(work.values())
    imported = statistics.median(imports)
    floor = total_work / args.jobs
    floor_imports = imported + floor

    ratio_line(f"render --force --jobs {args.jobs}, {len(notebooks)} notebooks", med["render"][0],
               "papermill one by one", seq, 0.35, floor_imports)

    def run_line(key: str, label: str) -> str:
        wall, cpu = med[key]
        return (f"- {label}: {wall:.1f} s = **{wall / seq:.0%}** of sequential ({cpu:.1f} CPU-s; on {args.jobs} cores "
                f"at least {cpu / args.jobs:.1f} s = {cpu / args.jobs / seq:.0%}); rounds: "
                + ", ".join(f"{w:.1f} ({q:.0%})" for (w, _), q in zip(runs[key], ratios[key])))

    lines = [
        f"### {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} (Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.2f} at the end)",
        "",
        f"{len(notebooks)} notebooks on the shipped data, median of {len(runs['sequential'])} interleaved rounds. "
        f"render <= 35 % of sequential papermill: {'met' if ratio <= 0.35 else 'NOT met'} ({ratio:.0%}); "
        f"unchanged re-render <= 0.2 s: {'met' if again <= 0.2 else 'NOT met'} ({again:.2f} s); "
        f"own work <= 1 s per notebook: {'met' if worst <= 1 else 'NOT met'}.",
        "",
        f"- effective cores available to this run (CPU-bound loop alone vs {args.jobs} at once, mean of before "
        f"and after): {cores:.2f} of {os.cpu_count()}; the best ratio to sequential possible is then about "
        f"{1 / max(cores, 1):.0%}",
        f"- sequential, plain papermill in one process (the peer): {seq:.1f} s ({seq_cpu:.1f} CPU-s in all "
        f"processes); rounds: " + ", ".join(f"{w:.1f}" for w, _ in runs["sequential"]),
        run_line("render", f"`python -m analysis render --force --jobs {args.jobs}` (whole command: validation, "
                           "kernel factory, HTML, index)"),
        run_line("fresh", "the same with `ANALYSIS_RENDER_FORK=0` (no factory: every kernel a new process that "
                          "imports what its notebook imports)"),
        f"- CPU floor: the notebooks' own work, {total_work:.2f} s in all, on {args.jobs} cores: {floor:.2f} s = "
        f"{floor / seq:.0%} of sequential; with the imports paid once ({imported:.2f} s in a fresh process, "
        f"median of {len(imports)}): {floor_imports:.2f} s = {floor_imports / seq:.0%}",
        f"- re-render with unchanged inputs: **{again:.2f} s** median of {len(agains)} "
        f"({', '.join(f'{a:.2f}' for a in agains)}; {skipped} of {len(notebooks)} skipped)",
        "- own work per notebook (cells without parameters and imports): "
        + ", ".join(f"{name} {secs:.2f} s" for name, secs in work.items()),
    ]
    if args.note:
        lines.append(f"- note: {args.note}")
    print("\n".join(lines))
    if not args.no_record:
        record(lines)
    return 0


def record(lines: list[str]) -> None:
    """Append ``lines`` to the Rendering section of results.md (created if missing)."""
    intro = ("`benchmarks/bench_render.py`: all notebooks rendered with "
             "`--jobs` = cores against the same notebooks executed one after another with plain papermill, "
             "in the same run; then a re-render with unchanged inputs. Two cores shared with other "
             "processes make the ratio noisy.")
    append_entry(HEAD, intro, "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
