"""Headless Chromium opens the rendered index and every report (issues 6 and 7).

Asserted on each page: every image loads (naturalWidth > 0), no script error or console
error occurs, every link resolves (local files exist, ``#anchors`` exist, no
``javascript:``), the expected sections and figures are present, and the hostile data
strings (``<script>window.__x=1</script>``, ``<img src=x onerror=...>``) run nothing:
``window.__x`` stays undefined. Screenshots are saved under the test's temporary folder.

Chromium is driven through the DevTools protocol over a websocket (``websocket-client``,
installed with jupyter_server). Where Chromium is absent the tests are skipped, except
under CI (env ``CI`` set), where they fail.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from chromium import check_page, chromium  # noqa: F401  (chromium: the fixture)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
HOSTILE = ["<script>window.__x=1</script>", '<img src=x onerror="window.__x=2">']
INJECTED_PARAMETER = "<script>window.__x=7</script>"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def render(cwd: Path, notebooks: Path, data: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "analysis", "render", "--notebooks", str(notebooks), "--data", str(data),
           "--out", str(out), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_fixture_reports_display_safely(chromium, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = [("1", HOSTILE[0], "3"), ("2", HOSTILE[1], "5"), ("3", "plain", "2")]
    (data / "items.csv").write_text("id,label,count\n" + "".join(
        f'{i},"{label.replace(chr(34), chr(34) * 2)}",{n}\n' for i, label, n in rows))
    (data / f"{HOSTILE[1]}.txt").write_text("a data file with a hostile name\n")
    out = tmp_path / "out"
    res = render(tmp_path, FIXTURES, data, out, "--only", "figures", "params", "fails",
                 "-p", f"text={INJECTED_PARAMETER}")
    assert res.returncode == 1, res.stderr  # fails.ipynb fails on purpose
    shots = tmp_path / "screenshots"

    index = chromium.open(out / "index.html", shots / "index.png")
    check_page(index, out / "index.html")
    for section in ("failures", "reports", "run", "data", "versions", "report-figures", "report-params",
                    "report-fails", "failed-fails"):
        assert section in index["ids"]
    assert any(img["src"] == "figures/figures/counts.png" for img in index["images"])
    assert index["scripts"] == 0
    for text in (HOSTILE[1] + ".txt", INJECTED_PARAMETER, "items.csv:3:count: must be a number"):
        assert text in index["text"]  # shown as text, not markup

    page = out / "figures" / "figures.html"
    info = chromium.open(page, shots / "figures.png")
    check_page(info, page)
    assert info["h1"] == ["Figures fixture¶"] or info["h1"] == ["Figures fixture"]
    assert len(info["images"]) == 1 and info["images"][0]["src"].startswith("data:image/png;base64,")
    assert HOSTILE[0] in info["text"] and HOSTILE[1] in info["text"]

    page = out / "params" / "params.html"
    info = chromium.open(page, shots / "params.png")
    check_page(info, page)
    assert repr(INJECTED_PARAMETER) in info["text"]
    assert (shots / "index.png").stat().st_size > 1000


def test_real_reports_render_and_display(chromium, tmp_path):
    """The shipped notebooks on the shipped data: all render, and every page is sound."""
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        pytest.skip("no notebooks in notebooks/ yet")
    out = tmp_path / "reports"
    res = render(ROOT, ROOT / "notebooks", ROOT / "data", out)
    assert res.returncode == 0, res.stdout + res.stderr
    shots = tmp_path / "screenshots"
    index = chromium.open(out / "index.html", shots / "index.png")
    check_page(index, out / "index.html")
    assert "failures" not in index["ids"]
    for nb in notebooks:
        name = nb.stem
        assert f"report-{name}" in index["ids"]
        page = out / name / f"{name}.html"
        info = chromium.open(page, shots / f"{name}.png")
        check_page(info, page)
        assert info["h1"], f"{name}: the report has no title"
        assert "Traceback" not in info["text"] and "Error" not in "".join(info["h1"])
        pngs = sorted((out / name / "figures").glob("*.png"))
        assert len(pngs) == len(list((out / name / "figures").glob("*.svg")))
        if pngs:
            assert info["images"], f"{name}: figures saved but none shown"
            shown = {img["src"] for img in index["images"]}
            assert all(f"{name}/figures/{p.name}" in shown for p in pngs)
