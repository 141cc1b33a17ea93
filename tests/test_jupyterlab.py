"""JupyterLab smoke test: it starts headless on loopback, lists the notebooks through its
REST API and offers the project's kernel (``stemcell-analysis``); then it is stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from analysis import render

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "smoke-test-token"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture
def lab(tmp_path):
    """A running ``jupyter lab`` serving notebooks/ (stopped afterwards, even on failure)."""
    spec = render.install_kernelspec()
    if spec is None:
        pytest.skip(f"cannot install the kernelspec into {sys.prefix}")
    port = free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.token={TOKEN}", f"--notebook-dir={ROOT / 'notebooks'}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--ServerApp.allow_root=True"]
    log = open(tmp_path / "lab.log", "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                get(port, "/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"jupyter lab did not answer within 90 s:\n{log.read()[-3000:]}")
                time.sleep(0.3)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)  # jupyter asks for confirmation on SIGINT, not on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_jupyterlab_lists_notebooks_and_the_project_kernel(lab):
    contents = get(lab, "/api/contents")
    listed = sorted(item["name"] for item in contents["content"] if item["type"] == "notebook")
    assert listed == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    specs = get(lab, "/api/kernelspecs")
    assert render.KERNEL_NAME in specs["kernelspecs"]
    spec = specs["kernelspecs"][render.KERNEL_NAME]["spec"]
    assert spec["argv"] == [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert spec["display_name"] == render.KERNEL_DISPLAY_NAME
    if listed:
        notebook = get(lab, f"/api/contents/{listed[0]}")
        assert notebook["type"] == "notebook" and notebook["content"]["cells"]
