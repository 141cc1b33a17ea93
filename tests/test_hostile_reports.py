"""Hostile data strings through the REAL notebooks (issue 7).

``tests/fixtures/hostile_data/`` is a small valid data folder (synthetic) whose text cells
and ids carry HTML, script, a ``javascript:`` Markdown link, Markdown emphasis, mathtext, a
spreadsheet formula and path-like ids. It is copied into a folder whose own name is hostile
and rendered once through all notebooks of ``notebooks/`` (a real ``python -m analysis
render`` process, with parameters that carry the same strings into the index). Then:

(a) every string shows as text, escaped, in each report's HTML and in ``index.html``;
(b) headless Chromium opening the index and every report finds ``window.__pwned``
    undefined and no script, handler or ``javascript:`` link in the DOM;
(c) every exported CSV has the formula neutralised (``'=...``) and its numbers untouched;
(d) nothing is written outside the output folder (ids ``../../evil``, ``/tmp/evil-abs``).
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from chromium import check_page, chromium  # noqa: F401  (chromium: the fixture)

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "hostile_data"

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
LINK = "[click](javascript:window.__pwned=3)"
BOLD = "**bold**"
MATH = "$x$"
FORMULA = '=HYPERLINK("http://evil.example")'
HOSTILE = [SCRIPT, IMG, LINK, BOLD, MATH, FORMULA]
#: the data folder's own name (shown in the index); a folder name cannot hold "/"
DATA_NAME = f"data {IMG} {LINK} {BOLD} {MATH}"
#: parameters carrying every string into the index; they keep every patient
PARAMETERS = {
    "patient_ids": ["../../evil", SCRIPT, "/tmp/evil-abs"],
    "diseases": [IMG, LINK, FORMULA, BOLD, MATH],
}



def yaml_list(values: list[str]) -> str:
    """A ``-p`` value: a YAML flow list of single-quoted strings."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def evil_names(folders: list[Path]) -> set[str]:
    return {str(p) for f in folders if f.is_dir() for p in f.iterdir() if "evil" in p.name}


# ----------------------------------------------------------------------------- Markdown (no kernel)


def test_escape_markdown_shows_data_as_written():
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    from analysis.export import escape_markdown
    from analysis.render import markdown_output_to_html

    cell_renderer = MarkdownWithMath(renderer=IPythonRenderer(escape=False))  # as for Markdown cells
    for text in HOSTILE + ["a_b_c", "1. not a list", "# not a heading", "back\\slash", "`code`", "~~x~~"]:
        md = f"- {escape_markdown(text)}"
        for to_html in (cell_renderer.render, markdown_output_to_html):
            out = to_html(md)
            assert out.replace("\n", "") in (f"<ul><li>{html.escape(text)}</li></ul>",
                                             f"<ul><li>{html.escape(text, quote=False)}</li></ul>"), (text, out)
    assert escape_markdown(None) is None and escape_markdown(3) == 3
    nan = float("nan")
    assert escape_markdown(nan) is nan


def test_raw_html_in_markdown_outputs_is_shown_as_text():
    """A notebook that puts a data string into display(Markdown(...)) unescaped: its HTML
    shows the string as text (no broken image, no script), while Markdown cells keep the
    author's formatting."""
    import nbformat

    from analysis.render import notebook_to_html

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nSome **strong** prose."),
        nbformat.v4.new_code_cell("display(Markdown(line))", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/markdown": f"- **Study** {SCRIPT} {IMG}", "text/plain": "<Markdown>"})]),
    ]
    page = notebook_to_html(nb)
    assert html.escape(SCRIPT, quote=False) in page
    assert html.escape(IMG) in page or html.escape(IMG, quote=False) in page
    assert "<script>window" not in page and "<img src" not in page and 'src="x"' not in page
    assert "<strong>Study</strong>" in page and "<strong>strong</strong>" in page


# ----------------------------------------------------------------------------- the real notebooks


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """All notebooks rendered once on the hostile data (shared by every test here)."""
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    base = tmp_path_factory.mktemp("hostile")
    data = base / DATA_NAME
    shutil.copytree(FIXTURE, data)
    cwd = base / "cwd" / "deep"  # "../../evil" from here is still inside base
    cwd.mkdir(parents=True)
    out = base / "out"
    watched = [cwd, cwd.parent, base, base.parent, ROOT, ROOT.parent, ROOT / "notebooks", Path("/tmp")]
    before = {"fixture": tree(FIXTURE), "evil": evil_names(watched)}
    cmd = [sys.executable, "-m", "analysis", "render", "--notebooks", str(ROOT / "notebooks"), "--data", str(data),
           "--out", str(out), "--jobs", "2", "--timeout", "300"]
    for key, values in PARAMETERS.items():
        cmd += ["-p", f"{key}={yaml_list(values)}"]
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    return SimpleNamespace(base=base, data=data, cwd=cwd, out=out, res=res, before=before, watched=watched,
                           names=[nb.stem for nb in notebooks])


def reports(r) -> list[Path]:
    return [r.out / name / f"{name}.html" for name in r.names]


@pytest.mark.slow
def test_every_notebook_renders(rendered):
    r = rendered
    assert r.names, "no notebooks"
    assert r.res.returncode == 0, r.res.stdout + r.res.stderr
    assert r.res.stdout.splitlines()[-1].startswith(f"{len(r.names)} done; index: ")
    assert "Traceback" not in r.res.stderr
    for page in reports(r):
        assert page.is_file()


# ----------------------------------------------------------------------------- (a) text, escaped


def shown_escaped(text: str, page: str) -> bool:
    """``text`` is in ``page`` as escaped text (quotes escaped or not, as text nodes allow)."""
    return html.escape(text, quote=False) in page or html.escape(text) in page


def without_images(text: str) -> str:
    return re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", text)


@pytest.mark.slow
def test_each_report_shows_every_string_as_text(rendered):
    for page in reports(rendered):
        text = without_images(page.read_text(encoding="utf-8"))
        missing = [h for h in HOSTILE if not shown_escaped(h, text)]
        assert missing == [], f"{page.name}: not shown as text: {missing}"
        # ... and never as markup
        for raw in ("<script>window.__pwned", "<img src=x onerror", 'href="javascript:', "<strong>bold</strong>",
                    "<a>click</a>", 'href="http://evil.example'):
            assert raw not in text, f"{page.name}: {raw!r} became markup"


@pytest.mark.slow
def test_index_shows_every_string_as_text(rendered):
    index = (rendered.out / "index.html").read_text(encoding="utf-8")
    for key, values in PARAMETERS.items():  # parameters are shown as JSON
        assert html.escape(json.dumps(values)) in index, key
    assert html.escape(DATA_NAME) in index  # the data folder's name
    assert "<script" not in index and "<img src=x" not in index and 'href="javascript:' not in index


@pytest.mark.slow
def test_figures_draw_data_text_literally(rendered):
    """SVGs keep text as text (svg.fonttype none): data labels are drawn as written, not as
    mathtext, and no element or attribute of an SVG comes from data."""
    import xml.etree.ElementTree as ET

    svgs = sorted(rendered.out.glob("*/figures/*.svg"))
    assert svgs
    labelled = []
    for svg in svgs:
        root = ET.parse(svg).getroot()
        tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
        assert not tags & {"script", "img", "foreignObject", "iframe"}, svg.name
        for el in root.iter():
            assert not [a for a in el.attrib if a.rsplit("}", 1)[-1].lower().startswith("on")], svg.name
            assert not any("javascript:" in v for k, v in el.attrib.items() if k.endswith("href")), svg.name
        texts = " ".join(t for el in root.iter() for t in (el.text,) if t)
        if SCRIPT in texts:
            labelled.append((svg, texts))
    assert labelled, "no figure shows the data labels"
    assert any(MATH in texts for _, texts in labelled)  # "$x$" drawn as written, not as math


# ----------------------------------------------------------------------------- (b) the browser


@pytest.mark.slow
@pytest.mark.browser
def test_browser_runs_no_injected_script(rendered, chromium):  # noqa: F811
    shots = rendered.base / "screenshots"
    index_page = rendered.out / "index.html"
    info = chromium.open(index_page, shots / "index.png")
    check_page(info, index_page)
    assert info["pwned"] == "undefined" and info["handlers"] == [] and info["script_elements"] == []
    for values in PARAMETERS.values():
        assert json.dumps(values) in info["text"]
    assert DATA_NAME in info["text"]
    for page in reports(rendered):
        info = chromium.open(page, shots / f"{page.stem}.png")
        check_page(info, page)
        assert info["pwned"] == "undefined", f"{page.name}: an injected script ran"
        assert info["handlers"] == [], f"{page.name}: event handlers in the DOM: {info['handlers']}"
        assert info["script_elements"] == [], f"{page.name}: {info['script_elements']}"
        missing = [h for h in HOSTILE if h not in info["text"]]
        assert missing == [], f"{page.name}: not shown as text: {missing}"


# ----------------------------------------------------------------------------- (c) CSV


FORMULA_START = ("=", "+", "@", "\t", "\r")


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_csv_formulas_neutralised_numbers_untouched(rendered):
    tables = sorted(rendered.out.glob("*/tables/*.csv"))
    assert tables
    neutralised = set()
    for path in tables:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                for cell in row:
                    assert not cell.startswith(FORMULA_START), f"{path.name}: formula cell {cell!r}"
                    assert not (cell.startswith("-") and not is_number(cell)), f"{path.name}: {cell!r}"
                    assert not (cell.startswith("'") and is_number(cell[1:])), f"{path.name}: quoted number {cell!r}"
                    if cell == "'" + FORMULA:
                        neutralised.add(path.parent.parent.name)
    assert neutralised == set(rendered.names)  # every notebook exported the formula, neutralised

    rates = [r for r in read_rows(rendered.out / "03_response_rates" / "tables" / "rates.csv")
             if r["outcome"] == "response"]
    assert sorted((float(r["events"]), float(r["total"])) for r in rates) == [(11, 40), (12, 40), (13, 40)]
    assert "'" + FORMULA in {r["study"] for r in rates}
    events = read_rows(rendered.out / "01_case_timelines" / "tables" / "timeline_events.csv")
    assert {float(r["dose"]) for r in events if r["dose"]} == {1e6}
    survival = read_rows(rendered.out / "02_relapse_free_survival" / "tables" / "survival_data.csv")
    assert {float(r["time"]) for r in survival if r["survival_source"] == "ipd"} == {14.5, 6, 9, 20}


# ----------------------------------------------------------------------------- (d) paths

LAYOUT = re.compile(
    r"index\.html|\.render\.lock|\.analysis-render-manifest\.json"
    r"|(?P<n>[0-9A-Za-z_]+)/((?P=n)\.(ipynb|html)|\.render-stamp\.json"
    r"|figures/[A-Za-z0-9._-]+\.(png|svg)|tables/[A-Za-z0-9._-]+\.csv)"
)


@pytest.mark.slow
def test_nothing_is_written_outside_the_output_folder(rendered):
    r = rendered
    written = sorted(p.relative_to(r.base).as_posix() for p in r.base.rglob("*") if p.is_file())
    outside = [w for w in written if not w.startswith(("out/", f"{DATA_NAME}/", "screenshots/"))]
    assert outside == []
    assert tree(r.data) == r.before["fixture"] == tree(FIXTURE)  # the data folder is only read
    odd = [p for p in tree(r.out) if not LAYOUT.fullmatch(p)]
    assert odd == [], f"files outside the report layout: {odd}"
    assert not any("evil" in p for p in tree(r.out))
    assert evil_names(r.watched) == r.before["evil"]
    assert not list(Path("/tmp").glob("evil-abs*"))
