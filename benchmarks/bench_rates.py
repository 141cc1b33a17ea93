"""Benchmark: per-study intervals, pooled table and forest plot for 1,000 studies in 10 subgroups,
side by side with R metafor doing the same job on the same studies.

Synthetic data generated here (never written to data/). The job, both sides:

* **project**: exact intervals (``study_rates``), REML pooling per subgroup and overall
  (``pool_rates(..., overall=True)``), every forest page (60 rows each) built and saved as PNG
  (150 dpi) + SVG by ``analysis.style.save_figures`` as notebook 03 does (worker processes,
  one per core), and the same saved one page after another;
* **R metafor** (``benchmarks/bench_rates_metafor.R``, when ``Rscript`` with metafor is
  installed; skipped with a note otherwise): ``escalc`` + ``rma`` REML per subgroup and
  overall + one ``forest()`` of all studies to PNG at 150 dpi and to SVG, from a CSV of the
  same studies. Loading libraries is not counted on either side (``library(metafor)``;
  Python's imports), reading the CSV is.

The two are interleaved (``--rounds``, default 3) and the medians compared, since the shared
machines this runs on drift by 20 %. Goals (issue 14): project <= 0.8 x R; a 30-study forest
(the usual size: intervals, pooling, build, PNG + SVG) <= 0.5 s. CPU seconds are reported
beside wall times: on N cores nothing finishes faster than CPU / N (the CPU floor).

Prints the figures and records them in benchmarks/results.md under "## Rates".

    .venv/bin/python benchmarks/bench_rates.py [--studies 1000] [--subgroups 10] [--rounds 3] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from results_file import append_entry, ratio_line  # noqa: E402

HERE = Path(__file__).resolve().parent
R_SCRIPT = HERE / "bench_rates_metafor.R"
RATIO_GOAL = 0.8
SMALL_STUDIES, SMALL_GOAL = 30, 0.5


def _mpl_version() -> str:
    import matplotlib

    return matplotlib.__version__


def synthetic_outcomes(n_studies: int, n_groups: int, seed: int = 2024) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, n_groups, n_studies)
    logit_mu = rng.normal(0.5, 0.6, n_groups)[group] + rng.normal(0, 0.5, n_studies)
    total = rng.integers(5, 400, n_studies)
    events = rng.binomial(total, 1 / (1 + np.exp(-logit_mu)))
    approx = rng.random(n_studies) < 0.1
    outcomes = pd.DataFrame({
        "outcome_id": [f"B{i:05d}" for i in range(n_studies)],
        "source_id": [f"SRC{i % 50:03d}" for i in range(n_studies)],
        "study": [f"Synthetic study {i:04d}" for i in range(n_studies)],
        "arm": "MSC", "disease": [f"disease {g:02d}" for g in group], "therapy": "MSC",
        "cell_source": "", "design": "uncontrolled_cohort", "controlled": False,
        "outcome": "response", "definition": "responded",
        "events": pd.array(events, dtype="Int64"), "total": pd.array(total, dtype="Int64"),
        "total_qualifier": np.where(approx, "about", "exact"), "proportion": np.nan,
        "proportion_qualifier": "", "approximate": approx,
    })
    levels = ["rct", "controlled_study", "uncontrolled_study", "case_series"]
    sources = pd.DataFrame({"source_id": [f"SRC{i:03d}" for i in range(50)],
                            "evidence_level": [levels[i % 4] for i in range(50)]})
    return outcomes, sources


class _Clock:
    """Wall-clock and CPU time of a block (CPU time is what this process itself used, so it is
    less affected by other programs sharing the machine; worker processes are not in it)."""

    def __init__(self, timings: dict, name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.timings[self.name] = (time.perf_counter() - self.wall, time.process_time() - self.cpu)


def project_job(outcomes, sources, out: Path, jobs: int | None, rows_per_page: int = 60) -> dict:
    """The whole job once (``jobs``: as ``save_figures`` takes it; None is its default, what
    notebook 03 uses); returns {step: (wall s, CPU s)} and the counts."""
    import matplotlib.pyplot as plt

    from analysis import rates
    from analysis.forest import rates as forest
    from analysis.style import save_figures

    t: dict[str, tuple[float, float]] = {}
    with _Clock(t, "whole job"):
        with _Clock(t, "per-study exact intervals"):
            rt = rates.study_rates(outcomes, sources)
        with _Clock(t, "pooled table (REML, subgroups + overall)"):
            res = rates.pool_rates(rt, subgroup_by="disease", method="REML", transform="logit", overall=True)
        with _Clock(t, "forest pages built"):
            figs = forest.forest_pages(rt, res, title="Benchmark", rows_per_page=rows_per_page)
        with _Clock(t, "pages saved as PNG + SVG"):
            save_figures(figs, out, [f"p{i}" for i in range(len(figs))], jobs=jobs)
        plt.close("all")
    return {"timings": t, "pages": len(figs), "pooled_rows": len(res.pooled)}


def r_available() -> str | None:
    """None if Rscript with metafor can run the R side, else why not."""
    if shutil.which("Rscript") is None:
        return "Rscript is not installed"
    proc = subprocess.run(["Rscript", "-e", "cat(as.character(packageVersion('metafor')))"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return "R package metafor is not installed"
    return None


def r_version() -> str:
    proc = subprocess.run(["Rscript", "-e", "cat(R.version$major, R.version$minor, "
                           "as.character(packageVersion('metafor')))"], capture_output=True, text=True)
    major, minor, metafor = proc.stdout.split()
    return f"R {major}.{minor}, metafor {metafor}"


def r_job(csv: Path, out: Path) -> dict:
    """The R side once: {step: seconds} as the script prints them, plus the process' wall."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run(["Rscript", str(R_SCRIPT), str(csv), str(out)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"R failed:\n{proc.stderr}")
    steps = {}
    for line in proc.stdout.splitlines():
        name, _, secs = line.rpartition("\t")
        steps[name] = float(secs)
    steps["job (without library(metafor))"] = sum(v for k, v in steps.items() if k != "library(metafor)")
    steps["Rscript process"] = wall
    return steps


def small_forest(repeats: int) -> tuple[float, float]:
    """A 30-study forest in 3 subgroups: intervals, pooling, build, PNG + SVG (one page, saved in
    this process); median wall and CPU seconds of ``repeats``."""
    outcomes, sources = synthetic_outcomes(SMALL_STUDIES, 3, seed=7)
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            out = project_job(outcomes, sources, Path(tmp) / f"s{i}", jobs=1)
            walls.append(out["timings"]["whole job"][0])
            cpus.append(out["timings"]["whole job"][1])
    return statistics.median(walls), statistics.median(cpus)


def record(summary: str, lines: list[str]) -> None:
    """Append the run to benchmarks/results.md under "## Rates"."""
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    intro = ("`benchmarks/bench_rates.py`: per-study intervals, pooled table (subgroups and overall) and "
             "paginated forest plot (every page as PNG and SVG) for 1,000 synthetic studies in 10 subgroups, "
             "interleaved with R metafor doing the same job on the same studies (escalc + rma REML per subgroup "
             "and overall + one forest() to PNG at 150 dpi and SVG); goals (issue 14): project <= 0.8 x R, "
             "and a 30-study forest <= 0.5 s. Wall time is inflated when other programs share the machine; "
             "CPU time is this process alone.")
    entry = (f"### {stamp} (Python {platform.python_version()}, matplotlib {_mpl_version()}, {platform.machine()})\n\n"
             + summary.replace("\n", "  \n") + ".\n\n" + "\n".join(lines) + "\n")
    append_entry("## Rates", intro, entry)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=1000)
    ap.add_argument("--subgroups", type=int, default=10)
    ap.add_argument("--rows-per-page", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are compared)")
    ap.add_argument("--no-r", action="store_true", help="skip the R metafor side")
    ap.add_argument("--no-record", action="store_true", help="do not append to results.md")
    ap.add_argument("--note", default="", help="a line recorded with the entry (what changed, what was chosen)")
    args = ap.parse_args(argv)
    load = os.getloadavg()[0]
    jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    import matplotlib

    matplotlib.use("Agg")
    from analysis.style import apply_style

    apply_style()  # the notebooks' settings (savefig.dpi 150, SVG text as text)
    t0 = time.perf_counter()
    import statsmodels.stats.meta_analysis  # noqa: F401  (imported on first pooling: not counted)
    import statsmodels.stats.proportion  # noqa: F401

    outcomes, sources = synthetic_outcomes(args.studies, args.subgroups)
    no_r = "skipped (--no-r)" if args.no_r else r_available()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        project_job(*synthetic_outcomes(SMALL_STUDIES, 3, seed=7), tmp / "warm", jobs=1)  # imports, fonts
        warm = time.perf_counter() - t0
        csv = tmp / "studies.csv"
        outcomes.assign(subgroup=outcomes["disease"])[["study", "subgroup", "events", "total"]].to_csv(csv, index=False)
        par, ser, workers, rr = [], [], [], []
        for i in range(args.rounds):
            par.append(project_job(outcomes, sources, tmp / f"par{i}", jobs=None, rows_per_page=args.rows_per_page))
            ser.append(project_job(outcomes, sources, tmp / f"ser{i}", jobs=1, rows_per_page=args.rows_per_page))
            if jobs > 1:
                workers.append(project_job(outcomes, sources, tmp / f"w{i}", jobs=jobs,
                                           rows_per_page=args.rows_per_page))
            if no_r is None:
                rr.append(r_job(csv, tmp / f"r{i}"))
            for sub in ("par", "ser", "w", "r"):
                shutil.rmtree(tmp / f"{sub}{i}", ignore_errors=True)
    small_wall, small_cpu = small_forest(5)

    def med(runs, step, j):
        return statistics.median(run["timings"][step][j] for run in runs)

    p_wall, s_wall, s_cpu = med(par, "whole job", 0), med(ser, "whole job", 0), med(ser, "whole job", 1)
    floor = s_cpu / jobs
    lines = [f"- imports and warm-up (a 30-study job; not counted): {warm:.2f} s"]
    lines += [f"- one by one, {step}: {med(ser, step, 0):.2f} s wall, {med(ser, step, 1):.2f} s CPU"
              for step in ser[0]["timings"] if step != "whole job"]
    pages = ser[0]["pages"]
    lines.append(f"- one by one, per page: built {1000 * med(ser, 'forest pages built', 1) / pages:.0f} ms CPU, "
                 f"saved as PNG + SVG {1000 * med(ser, 'pages saved as PNG + SVG', 1) / pages:.0f} ms CPU")
    from analysis.style import _default_jobs

    way = f"save_figures' default: {_default_jobs()} worker process(es) on {jobs} core(s)"
    way = way if _default_jobs() > 1 else f"save_figures' default on {jobs} core(s): one page after another"
    lines.append(f"- the whole job as notebook 03 does it ({way}): {p_wall:.2f} s wall "
                 f"(of which saving {med(par, 'pages saved as PNG + SVG', 0):.2f} s)")
    if workers:
        lines.append(f"- the same with {jobs} worker processes (jobs={jobs}): {med(workers, 'whole job', 0):.2f} s wall")
    lines.append(f"- the whole job one page after another: {s_wall:.2f} s wall, {s_cpu:.2f} s CPU; "
                 f"CPU floor on {jobs} core(s): {floor:.2f} s")
    ok = {}
    if rr:
        r_steps = {k: statistics.median(r[k] for r in rr) for k in rr[0]}
        r_job_s = r_steps["job (without library(metafor))"]
        lines.append(f"- R metafor ({r_version()}), same studies: "
                     + ", ".join(f"{k} {v:.2f} s" for k, v in r_steps.items()))
        ratio, ratio_serial = p_wall / r_job_s, s_wall / r_job_s
        lines.append(f"- project / R: **{ratio:.2f}** as notebook 03 saves, "
                     f"{ratio_serial:.2f} one page after another (goal <= {RATIO_GOAL})")
        ok[f"project <= {RATIO_GOAL} x R"] = ratio <= RATIO_GOAL
        ratio_line(f"forest job, {args.studies} studies (pool + every page PNG + SVG)", p_wall,
                   "R metafor", r_job_s, RATIO_GOAL, floor)
        r_note = f"R metafor job {r_job_s:.2f} s; project / R = {ratio:.2f} ({ratio_serial:.2f} one by one)"
    else:
        r_note = f"R side skipped: {no_r}"
        lines.append(f"- R metafor: {r_note}")
    lines.append(f"- {SMALL_STUDIES}-study forest (intervals, pooling, build, PNG + SVG), median of 5: "
                 f"{small_wall:.3f} s wall, {small_cpu:.3f} s CPU (goal <= {SMALL_GOAL} s)")
    ok[f"{SMALL_STUDIES}-study forest <= {SMALL_GOAL} s"] = small_wall <= SMALL_GOAL
    verdict = "; ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in ok.items())
    summary = (f"{args.studies} studies in {args.subgroups} subgroups, {par[0]['pooled_rows']} pooled rows, "
               f"{par[0]['pages']} forest pages of {args.rows_per_page} rows; medians of {args.rounds} "
               f"interleaved rounds.\n"
               f"Project, as notebook 03 writes it (PNG + SVG per page, {way}): {p_wall:.2f} s "
               f"wall; one page after another {s_wall:.2f} s wall / {s_cpu:.2f} s CPU. {r_note}.\n"
               f"{verdict}.\n"
               f"Machine: {os.cpu_count()} CPU(s), load average {load:.1f} at the start")
    if args.note:
        lines.append(f"- note: {args.note}")
    print(summary)
    print("\n".join(lines))
    if not args.no_record:
        record(summary, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
