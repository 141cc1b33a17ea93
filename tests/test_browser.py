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

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
HOSTILE = ["<script>window.__x=1</script>", '<img src=x onerror="window.__x=2">']
INJECTED_PARAMETER = "<script>window.__x=7</script>"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def find_chromium() -> str | None:
    candidates = [os.environ.get("CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")]
    return next((c for c in candidates if c and Path(c).exists()), None)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    path = find_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required under CI (install Debian's chromium or set CHROMIUM)")
        pytest.skip("Chromium not found (install Debian's chromium or set CHROMIUM=/path/to/chrome)")
    websocket = pytest.importorskip("websocket", reason="websocket-client is needed to drive Chromium")
    browser = Browser(path, tmp_path_factory.mktemp("chromium"), websocket)
    yield browser
    browser.close()


class Browser:
    """Just enough of the Chrome DevTools protocol: open a page, evaluate, screenshot."""

    def __init__(self, path: str, folder: Path, websocket):
        profile = folder / "profile"
        args = [path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--mute-audio", "--hide-scrollbars", "--window-size=1280,900",
                f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().split("\n")) >= 2):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port, ws_path = port_file.read_text().split("\n")[:2]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{ws_path}", timeout=60,
                                              suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            try:
                self.send("Browser.close")
            except Exception:
                pass
            self.ws.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def send(self, method: str, session: str | None = None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(i)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))

    def open(self, path: Path, screenshot: Path) -> dict:
        """Load ``path``; return what the page holds and every error it raised."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        try:
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable", session)
            self.send(
                "Page.addScriptToEvaluateOnNewDocument",
                session,
                source="window.__errors = []; addEventListener('error', e => window.__errors.push("
                "String(e.message || (e.target && (e.target.src || e.target.href)) || e.type)), true);",
            )
            self.events.clear()
            self.send("Page.navigate", session, url=path.resolve().as_uri())
            self.wait_event("Page.loadEventFired", session)
            state = self.send("Runtime.evaluate", session, expression=PAGE_STATE, returnByValue=True)
            info = state["result"]["value"]
            shot = self.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            info["exceptions"] = [
                e["params"]["exceptionDetails"].get("text", "") + " " +
                str(e["params"]["exceptionDetails"].get("exception", {}).get("description", ""))
                for e in self.events
                if e.get("method") == "Runtime.exceptionThrown" and e.get("sessionId") == session
            ]
            info["console_errors"] = [
                e["params"]["entry"]["text"]
                for e in self.events
                if e.get("method") == "Log.entryAdded" and e.get("sessionId") == session
                and e["params"]["entry"]["level"] == "error"
            ]
            return info
        finally:
            self.send("Target.closeTarget", targetId=target)


PAGE_STATE = """
(() => {
  const imgs = Array.from(document.images).map(i => ({src: i.getAttribute('src').slice(0, 80),
                                                      complete: i.complete, width: i.naturalWidth}));
  const links = Array.from(document.querySelectorAll('a[href]')).map(a => ({
    raw: a.getAttribute('href'), href: a.href,
    target: a.getAttribute('href').startsWith('#') ?
      !!document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1))) : null}));
  return {title: document.title, x: typeof window.__x, errors: window.__errors, images: imgs, links: links,
          ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
          h1: Array.from(document.querySelectorAll('h1')).map(e => e.textContent),
          scripts: document.scripts.length, text: document.body.innerText};
})()
"""


def check_page(info: dict, page: Path) -> None:
    """The checks every page must pass."""
    assert info["x"] == "undefined", f"{page.name}: an injected script ran"
    assert info["exceptions"] == [], f"{page.name}: script errors {info['exceptions']}"
    assert info["errors"] == [], f"{page.name}: load errors {info['errors']}"
    assert info["console_errors"] == [], f"{page.name}: console errors {info['console_errors']}"
    for img in info["images"]:
        assert img["complete"] and img["width"] > 0, f"{page.name}: image did not load: {img['src']}"
    for link in info["links"]:
        raw, url = link["raw"], urlparse(link["href"])
        assert not raw.strip().lower().startswith(("javascript:", "data:")), f"{page.name}: unsafe link {raw}"
        if raw.startswith("#"):
            assert link["target"], f"{page.name}: anchor {raw} has no target"
        elif url.scheme == "file":
            assert Path(unquote(url.path)).exists(), f"{page.name}: broken link {raw}"
        else:
            assert url.scheme in ("http", "https", "mailto"), f"{page.name}: odd link {raw}"


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
