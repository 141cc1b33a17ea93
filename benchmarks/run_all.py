"""Run every benchmark script (benchmarks/bench_*.py) in turn; each prints its figures and
records them in benchmarks/results.md. The ratio lines the scripts print (ours against the
peer tool measured in the same run: papermill, R metafor, R survival, pandas) are gathered
into one table, printed at the end and recorded under "## Summary of make bench". Exits
non-zero if any benchmark script fails."""

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

from results_file import RATIO_MARK, append_entry, ratio_table

HERE = Path(__file__).resolve().parent
HEADING = "## Summary of make bench"
INTRO = ("Every ratio of one `make bench` run: ours against the peer a user would pick instead, "
         "both measured in the same run on the same machine (absolute times drift by 20 % on "
         "shared machines, ratios much less). The sections below hold each benchmark's details.")


def run(script: Path) -> tuple[int, list[str]]:
    """Run one benchmark, echoing its output; return its exit code and its ratio lines."""
    proc = subprocess.Popen([sys.executable, str(script)],
                            cwd=HERE.parent, stdout=subprocess.PIPE, text=True, bufsize=1)
    ratios = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        if line.startswith(RATIO_MARK):
            ratios.append(line.rstrip("\n"))
    return proc.wait(), ratios


def main() -> int:
    failed, ratios = [], []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        code, found = run(script)
        ratios += found
        if code != 0:
            failed.append(script.name)
    if ratios:
        table = ratio_table(ratios)
        print("\n" + table)
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        load = os.getloadavg()[0]
        append_entry(HEADING, INTRO, f"### {stamp} (Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
                     f"load average {load:.2f} at the end)\n\n{table}")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
