"""Benchmark: per-study intervals, pooled table and forest plot for 1,000 studies in 10 subgroups.

Synthetic data generated here (never written to data/). Prints the timings and records them
in benchmarks/results.md as its "## Rates" section. Target: forest plot + pooled table <= 5 s.

    .venv/bin/python benchmarks/bench_rates.py [--studies 1000] [--subgroups 10] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from results_file import append_entry  # noqa: E402


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
    less affected by other programs sharing the machine)."""

    def __init__(self, timings: dict, name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.timings[self.name] = (time.perf_counter() - self.wall, time.process_time() - self.cpu)


def run(n_studies: int, n_groups: int, rows_per_page: int, jobs: int) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis import forest, rates
    from analysis.style import apply_style, save_figures

    apply_style()
    t: dict[str, tuple[float, float]] = {}
    with _Clock(t, "import statsmodels (once per process)"):
        import statsmodels.stats.meta_analysis  # noqa: F401
        import statsmodels.stats.proportion  # noqa: F401
    outcomes, sources = synthetic_outcomes(n_studies, n_groups)
    with _Clock(t, "per-study exact intervals"):
        rt = rates.study_rates(outcomes, sources)
    with _Clock(t, "pooled table (REML, 10 subgroups + overall)"):
        res = rates.pool_rates(rt, subgroup_by="disease", method="REML", transform="logit")

    def pages():
        return forest.forest_pages(rt, res, title="Benchmark", rows_per_page=rows_per_page)

    with _Clock(t, "forest pages built"):
        figs = pages()
    names = [f"p{i}" for i in range(len(figs))]
    with tempfile.TemporaryDirectory() as tmp:
        with _Clock(t, "all pages written as SVG only (text as text)"):
            for i, fig in enumerate(figs):
                fig.savefig(Path(tmp) / f"p{i}.svg", metadata={"Date": None})
        with _Clock(t, "all pages rasterized to PNG only (150 dpi)"):
            for i, fig in enumerate(figs):
                fig.savefig(Path(tmp) / f"p{i}.png", dpi=150)
        plt.close("all")
        # what notebook 03 does: build the pages, save each as PNG + SVG (analysis.style.save_figures)
        with _Clock(t, "pages built and saved as PNG + SVG, one by one"):
            figs = pages()
            save_figures(figs, Path(tmp) / "serial", names, jobs=1)
        plt.close("all")
        with _Clock(t, f"pages built and saved as PNG + SVG, {jobs} worker processes (the notebook's way)"):
            figs = pages()
            save_figures(figs, Path(tmp) / "parallel", names, jobs=jobs)
        plt.close("all")
    core = ["per-study exact intervals", "pooled table (REML, 10 subgroups + overall)"]
    build = core + ["forest pages built"]

    def total(keys):
        return tuple(sum(t[k][j] for k in keys) for j in (0, 1))

    return {"timings": t, "pages": len(figs), "pooled_rows": len(res.pooled),
            "vector": total(build + ["all pages written as SVG only (text as text)"]),
            "raster": total(build + ["all pages rasterized to PNG only (150 dpi)"]),
            "serial": total(core + ["pages built and saved as PNG + SVG, one by one"]),
            "parallel": total(core + [f"pages built and saved as PNG + SVG, {jobs} worker processes "
                                      "(the notebook's way)"])}


def record(summary: str, lines: list[str]) -> None:
    """Append the run to benchmarks/results.md under "## Rates"."""
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    intro = ("`benchmarks/bench_rates.py`: per-study intervals, pooled table and paginated forest "
             "plot for 1,000 synthetic studies in 10 subgroups; target <= 5 s. Wall time is inflated when other "
             "programs share the machine; CPU time is this process alone. matplotlib draws text glyph by glyph, "
             "so rasterizing thousands of text cells to PNG dominates; SVG keeps text as text.")
    entry = (f"### {stamp} (Python {platform.python_version()}, matplotlib {_mpl_version()}, {platform.machine()})\n\n"
             + summary.replace("\n", "  \n") + ".\n\n" + "\n".join(lines) + "\n")
    append_entry("## Rates", intro, entry)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=1000)
    ap.add_argument("--subgroups", type=int, default=10)
    ap.add_argument("--rows-per-page", type=int, default=60)
    ap.add_argument("--no-record", action="store_true", help="do not append to results.md")
    args = ap.parse_args(argv)
    load = os.getloadavg()[0]
    jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    out = run(args.studies, args.subgroups, args.rows_per_page, jobs)
    lines = [f"- {k}: {w:.2f} s wall, {c:.2f} s CPU" for k, (w, c) in out["timings"].items()]
    lines.append(f"- CPU time of the workers is not in this process's figure; the one-by-one run needs "
                 f"{out['serial'][1]:.1f} CPU-s, so on {jobs} core(s) no way of writing both files can take "
                 f"less than {out['serial'][1] / jobs:.1f} s")

    def verdict(pair, cpu=True):
        cpu_text = f" / {pair[1]:.2f} s CPU" if cpu else ""
        return f"{pair[0]:.2f} s wall{cpu_text} ({'meets' if pair[0] <= 5 else 'misses'} the 5 s target)"

    summary = (f"{args.studies} studies in {args.subgroups} subgroups, {out['pooled_rows']} pooled rows, "
               f"{out['pages']} forest pages of {args.rows_per_page} rows.\n"
               f"As notebook 03 writes it (PNG + SVG per page, {jobs} worker processes): "
               f"{verdict(out['parallel'], cpu=False)}.\n"
               f"The same one page after another: {verdict(out['serial'])}.\n"
               f"One format only: SVG {verdict(out['vector'])}; PNG {verdict(out['raster'])}.\n"
               f"Machine: {os.cpu_count()} CPU(s), load average {load:.1f} at the start")
    print(summary)
    print("\n".join(lines))
    if not args.no_record:
        record(summary, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
