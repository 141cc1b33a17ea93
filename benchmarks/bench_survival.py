"""Benchmark: Kaplan-Meier fit and tables for 1,000,000 rows in two groups, the figure, peak
memory, R survfit on the same file, and a Guyot reconstruction of a 300-point curve.

Synthetic data generated here (never written to data/): exponential relapse times and uniform
censoring, in whole days (the resolution of registry data), two groups of about 500,000 rows.
Targets: fit + tables <= 0.5 s, figure <= 5 s, peak memory <= 2 GB, Guyot reconstruction of a
300-point curve with 10 at-risk intervals <= 0.5 s. Prints the figures and appends them to
benchmarks/results.md under "## Survival".

"Fit + tables" is ``km_fit`` (both groups, log-log CI) + ``km_estimates`` + ``km_summary`` +
``km_landmarks`` + ``at_risk_table`` + ``logrank``; the Kaplan-Meier tables are computed with
numpy (``survival.km_table``), which the tests check equal to lifelines' KaplanMeierFitter and
to R. Times are the best of --repeats runs after a warm-up run (imports are reported apart).

    .venv/bin/python benchmarks/bench_survival.py [--rows 1000000] [--repeats 3] [--no-r] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from results_file import append_entry, ratio_line  # noqa: E402
HEADING = "## Survival"


def synthetic_ipd(n: int, seed: int = 2024) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.5, "MSC", "HSCT")
    relapse = rng.exponential(np.where(group == "MSC", 700.0, 900.0))
    censor = rng.uniform(0, 3650, n)
    time = np.floor(np.minimum(relapse, censor))
    return pd.DataFrame({"group": group, "time": time, "event": (relapse <= censor).astype(int),
                         "time_unit": "days"})


def fit_and_tables(df: pd.DataFrame):
    from analysis import survival as sv

    fit = sv.km_fit(df, "group", time_unit="days", ci_method="log-log")
    tables = {
        "km_estimates": sv.km_estimates(fit),
        "km_summary": sv.km_summary(fit),
        "km_landmarks": sv.km_landmarks(fit, [365, 730, 1826]),
        "km_at_risk": sv.at_risk_table(fit, np.arange(0, 3651, 365.0)),
        "logrank": sv.logrank(fit),
    }
    return fit, tables


def best_of(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times)), result


R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
reps <- as.integer(args[2])
fit_t <- sapply(seq_len(reps), function(i) system.time(
  fit <- survfit(Surv(time, event) ~ group, data = d))[["elapsed"]])
all_t <- sapply(seq_len(reps), function(i) system.time({
  fit <- survfit(Surv(time, event) ~ group, data = d)
  s <- summary(fit, times = seq(0, 3650, 365), extend = TRUE)
  tab <- summary(fit)$table
  sd <- survdiff(Surv(time, event) ~ group, data = d)
})[["elapsed"]])
sd <- survdiff(Surv(time, event) ~ group, data = d)
cat(sprintf("%.17g", c(min(fit_t), median(fit_t), min(all_t), median(all_t), sd$chisq)), "\n")
"""


def run_r(csv: Path, repeats: int):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as f:
        f.write(R_SCRIPT)
    proc = subprocess.run(["Rscript", f.name, str(csv), str(repeats)], capture_output=True, text=True)
    Path(f.name).unlink()
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return None
    vals = [float(x) for x in proc.stdout.split()]
    return {"survfit_min": vals[0], "survfit_median": vals[1], "all_min": vals[2],
            "all_median": vals[3], "chisq": vals[4]}


def guyot_300(repeats: int):
    from analysis import survival
    from analysis.survival import reconstruct

    rng = np.random.default_rng(7)
    n = 1000
    t = np.round(np.minimum(rng.weibull(1.2, n) * 40, rng.uniform(5, 100, n)), 3)
    e = (rng.random(n) < 0.8).astype(int)
    tab = survival.km_table(t, e)
    ev = np.flatnonzero(tab["n_events"] > 0)
    pick = np.unique(np.linspace(0, len(ev) - 1, 300).round().astype(int))
    pts_t, pts_s = tab["time"][ev][pick], tab["survival"][ev][pick]
    risk_t = np.linspace(0, pts_t[-1], 11)[:-1]
    risk_n = [(t >= x).sum() for x in risk_t]
    best, med, rec = best_of(lambda: reconstruct.guyot(pts_t, pts_s, risk_t, risk_n, e.sum()), repeats)
    return best, med, len(pts_t), len(risk_t), rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-r", action="store_true", help="skip the R survfit comparison")
    ap.add_argument("--no-record", action="store_true", help="do not append to results.md")
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = []
    t0 = time.perf_counter()
    from analysis import survival as sv
    from analysis.style import apply_style, save_figure

    apply_style()  # the notebooks' settings (dpi, SVG text); plot_km no longer sets them globally
    fit_and_tables(synthetic_ipd(1000))  # warm-up: imports, first calls
    lines.append(f"- imports and warm-up (once per process): {time.perf_counter() - t0:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "ipd.csv"
        synthetic_ipd(args.rows).to_csv(csv, index=False)
        t0 = time.perf_counter()
        df = pd.read_csv(csv)
        lines.append(f"- read the CSV ({args.rows:,} rows; not counted): {time.perf_counter() - t0:.2f} s")
        best, med, (fit, tables) = best_of(lambda: fit_and_tables(df), args.repeats)
        n_rows = len(tables["km_estimates"])
        lines.append(f"- fit + tables: {best:.3f} s best, {med:.3f} s median of {args.repeats} "
                     f"({n_rows:,} km_estimates rows; log-rank chi-squared "
                     f"{tables['logrank']['statistic'].iloc[0]:.4f})")
        t0 = time.perf_counter()
        fig = sv.plot_km(fit, landmarks=[365, 730, 1826], ticks=np.arange(0, 3651, 365.0),
                         at_risk=tables["km_at_risk"], summary=tables["km_summary"],
                         logrank_table=tables["logrank"])
        save_figure(fig, tmp, "km_bench")
        fig_time = time.perf_counter() - t0
        plt.close(fig)
        lines.append(f"- figure built and saved as PNG + SVG: {fig_time:.2f} s")
        r = None if args.no_r else run_r(csv, args.repeats)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux
    lines.append(f"- peak memory (max RSS of the process, all steps): {peak_gb:.2f} GB")
    if r:
        same = abs(r["chisq"] - tables["logrank"]["statistic"].iloc[0]) < 1e-6
        lines.append(f"- R survfit on the same file: {r['survfit_min']:.3f} s best, "
                     f"{r['survfit_median']:.3f} s median; Python fit + tables / R survfit = "
                     f"{best / r['survfit_min']:.2f}")
        ratio_line(f"Kaplan-Meier fit + tables, {args.rows:,} rows", best, "R survival", r["all_min"])
        lines.append(f"- R survfit + summary(times=) + table + survdiff: {r['all_min']:.3f} s best; "
                     f"Python / R = {best / r['all_min']:.2f}; log-rank statistic "
                     f"{'equal to R within 1e-6' if same else 'DIFFERS from R'}")
    g_best, g_med, n_pts, n_int, rec = guyot_300(max(args.repeats, 3))
    lines.append(f"- Guyot reconstruction, {n_pts} points, {n_int} at-risk intervals, "
                 f"{rec.n} patients: {g_best:.3f} s best, {g_med:.3f} s median (self-check RMSE "
                 f"{rec.rmse:.4f})")

    ok = {"fit + tables <= 0.5 s": best <= 0.5, "figure <= 5 s": fig_time <= 5,
          "peak memory <= 2 GB": peak_gb <= 2, "Guyot <= 0.5 s": g_best <= 0.5}
    verdict = "; ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in ok.items())
    summary = f"{args.rows:,} rows in two groups (whole days). {verdict}"
    print(summary)
    print("\n".join(lines))
    if not args.no_record:
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        intro = ("`benchmarks/bench_survival.py`: Kaplan-Meier "
                 "fit and tables on a million rows, the figure, memory, R survfit on the same "
                 "file, Guyot reconstruction. Machine load from other processes inflates the "
                 "times; best-of-N is the fairer figure.")
        loadavg = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
        entry = (f"### {stamp} (Python {platform.python_version()}, {platform.machine()}, load average {loadavg})\n\n"
                 f"{summary}.\n\n" + "\n".join(lines) + "\n")
        append_entry(HEADING, intro, entry)
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
