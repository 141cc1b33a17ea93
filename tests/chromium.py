"""Headless Chromium driven through the DevTools protocol, for the browser tests.

Shared by tests/test_browser.py and tests/test_hostile_reports.py: ``find_chromium``, the
module-scoped ``chromium`` fixture (import it into a test module to use it), the
``Browser`` that opens a page and reports what it holds and every error it raised, and
``check_page``, the checks every rendered page must pass.

Chromium is driven over a websocket (``websocket-client``, installed with jupyter_server).
Where Chromium is absent the fixture skips, except under CI (env ``CI`` set), where it
fails.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest


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
  const handlers = Array.from(document.querySelectorAll('*'))
    .filter(e => Array.from(e.attributes).some(a => a.name.toLowerCase().startsWith('on')))
    .map(e => e.outerHTML.slice(0, 120));
  return {title: document.title, x: typeof window.__x, pwned: typeof window.__pwned, handlers: handlers,
          script_elements: Array.from(document.querySelectorAll('script, iframe, object, embed'))
            .map(e => e.outerHTML.slice(0, 120)),
          errors: window.__errors, images: imgs, links: links,
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
