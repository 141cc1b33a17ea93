"""The summary of ``make bench``: each benchmark prints machine-readable ratio lines (ours
against the peer tool measured in the same run) and ``benchmarks/run_all.py`` gathers them
into one table recorded in ``benchmarks/results.md``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def results_file():
    sys.path.insert(0, str(BENCH))
    try:
        import results_file
        yield results_file
    finally:
        sys.path.remove(str(BENCH))


def test_a_ratio_line_carries_both_times_the_ratio_and_the_verdict(results_file, capsys):
    line = results_file.ratio_line("forest job", 2.0, "R metafor", 4.0, goal=0.8, floor=1.5)
    assert capsys.readouterr().out == line + "\n"
    assert line == "ratio|forest job|2.000|R metafor|4.000|0.50|<= 0.8|met|1.500"
    missed = results_file.ratio_line("render | force", 3.0, "papermill", 2.0, goal=0.35)
    assert missed.split("|")[1:] == ["render / force", "3.000", "papermill", "2.000", "1.50", "<= 0.35", "MISSED", ""]


def test_the_ratio_table_has_one_row_per_line(results_file):
    lines = ["ratio|a|1.000|R|2.000|0.50|<= 0.8|met|", "ratio|b|3.000|papermill|1.000|3.00|||"]
    table = results_file.ratio_table(lines).splitlines()
    assert table[0].startswith("| measured | ours (s) | peer | peer (s) | ours / peer |")
    assert table[2:] == ["| a | 1.000 | R | 2.000 | 0.50 | <= 0.8 | met |  |", "| b | 3.000 | papermill | 1.000 | 3.00 |  |  |  |"]


def test_entries_go_under_their_own_heading(results_file, tmp_path):
    path = tmp_path / "results.md"
    results_file.append_entry("## Summary", "intro", "### run 1", path)
    results_file.append_entry("## Rates", "rates intro", "### r1", path)
    results_file.append_entry("## Summary", "intro", "### run 2", path)
    results_file.append_entry("## Summary of make bench", "all", "### s1", path)
    text = path.read_text()
    assert text.index("### run 1") < text.index("### run 2") < text.index("## Rates") < text.index("### r1")
    assert text.count("## Summary\n") == 1 and text.count("\nintro\n") == 1
    assert text.index("### r1") < text.index("## Summary of make bench\n\nall\n\n### s1")
