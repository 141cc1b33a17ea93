"""Recording benchmark figures in benchmarks/results.md: one section per benchmark
(``## Name``, an introduction, then one entry per run, newest last)."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.md"


def append_entry(heading: str, intro: str, entry: str, path: Path = RESULTS) -> None:
    """Append ``entry`` at the end of the ``heading`` section, creating the section (with
    ``intro``) if it is missing; other sections are kept as they are."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    line = f"\n{heading}\n"  # the whole heading line: "## Rates" is not "## Rates by arm"
    if line not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{intro.strip()}\n"
    start = text.index(line) + len(line) - 1
    nxt = text.find("\n## ", start)
    end = len(text) if nxt < 0 else nxt
    text = text[:end].rstrip("\n") + "\n\n" + entry.strip("\n") + "\n" + text[end:]
    path.write_text(text, encoding="utf-8")
    print(f"recorded in {path}")


RATIO_MARK = "ratio|"


def ratio_line(what: str, ours: float, peer: str, theirs: float, goal: float | None = None,
               floor: float | None = None) -> str:
    """Print (and return) one machine-readable ratio line, which ``run_all.py`` gathers into
    the summary of ``make bench``: ``what``, our seconds, the peer tool's name and seconds
    (measured in the same run), ours / peer, the goal (ratio at most) and the CPU floor in
    seconds where one is known."""
    r = ours / theirs if theirs > 0 else float("nan")
    verdict = "" if goal is None else ("met" if r <= goal else "MISSED")
    cells = [what, f"{ours:.3f}", peer, f"{theirs:.3f}", f"{r:.2f}",
             "" if goal is None else f"<= {goal:g}", verdict, "" if floor is None else f"{floor:.3f}"]
    line = RATIO_MARK + "|".join(c.replace("|", "/") for c in cells)
    print(line, flush=True)
    return line


def ratio_table(lines: list[str]) -> str:
    """The gathered ratio lines as a Markdown table."""
    head = ("| measured | ours (s) | peer | peer (s) | ours / peer | goal | verdict | CPU floor (s) |\n"
            "|---|---:|---|---:|---:|---|---|---:|")
    rows = ["| " + " | ".join(line[len(RATIO_MARK):].split("|")) + " |" for line in lines]
    return "\n".join([head, *rows])
