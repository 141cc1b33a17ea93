"""Recording benchmark figures in benchmarks/results.md: one section per benchmark
(``## Name``, an introduction, then one entry per run, newest last)."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.md"


def append_entry(heading: str, intro: str, entry: str, path: Path = RESULTS) -> None:
    """Append ``entry`` at the end of the ``heading`` section, creating the section (with
    ``intro``) if it is missing; other sections are kept as they are."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if heading not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{intro.strip()}\n"
    start = text.index(heading) + len(heading)
    nxt = text.find("\n## ", start)
    end = len(text) if nxt < 0 else nxt
    text = text[:end].rstrip("\n") + "\n\n" + entry.strip("\n") + "\n" + text[end:]
    path.write_text(text, encoding="utf-8")
    print(f"recorded in {path}")
