"""Kernels from the kernel factory (issue 14): imports paid once, one fresh kernel per
notebook, started before its notebook, and never outliving the run.

The notebooks here record facts about their own kernel (its parent process, whether
pandas was imported before the notebook imported it, when the kernel process started) in
files of their report folder; the tests read them back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from analysis import render
from analysis.render import factory
from small_notebooks import write_notebook as _notebook

pytestmark = pytest.mark.skipif(not factory.available(), reason="the kernel factory needs Linux")

ROOT = Path(__file__).resolve().parents[1]

RECORD = """\
import json, os, sys, time
from pathlib import Path
stat = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
uptime = float(Path("/proc/uptime").read_text().split()[0])  # seconds since boot, as the start time below
facts = {
    "pid": os.getpid(),
    "parent": Path(f"/proc/{os.getppid()}/cmdline").read_text().replace("\\0", " "),
    "worker": int(os.environ["JPY_PARENT_PID"]),
    "pandas_preloaded": "pandas" in sys.modules,
    "kernel_started": time.time() - (uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK")),
    "assigned": Path(output_dir, ".render-spec.json").stat().st_mtime,
}
Path(output_dir, "kernel.json").write_text(json.dumps(facts))
with open(Path(data_dir).parent / "kernels.txt", "a") as fh:
    fh.write(f"{os.getpid()}\\n")
"""


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _processes_for(out: Path) -> list[int]:
    """Workers, factory and kernels of a render into ``out`` (their environment names a folder in it)."""
    marker = f"{render.RENDER_ENV}={out}{os.sep}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if any(var.startswith(marker) for var in environ.split(b"\0")) and _alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def _render(tmp_path: Path, notebooks: Path, *extra: str) -> tuple[int, str]:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "items.csv").write_text("id\n1\n")
    rc = render.main(["--notebooks", str(notebooks), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
                      *extra])
    return rc, str(tmp_path / "out")


def test_preload_modules_are_the_notebooks_library_imports(tmp_path):
    _notebook(tmp_path / "a.ipynb",
              "%matplotlib inline\nimport matplotlib.pyplot as plt\nimport pandas as pd, json\n"
              "from analysis import timelines as tl\nfrom analysis.export import save_table",
              "import mymodule\nfrom matplotlib_inline import backend_inline\nfrom . import x\n"
              "def f():\n    import scipy.stats\n")
    _notebook(tmp_path / "b.ipynb", "import pandas\nimport statsmodels.api as sm", "this is not python (")
    assert factory.preload_modules([tmp_path / "a.ipynb", tmp_path / "b.ipynb"]) == [
        "matplotlib.pyplot", "pandas", "analysis", "analysis.timelines", "analysis.export",
        "analysis.export.save_table", "statsmodels.api"]


@pytest.mark.slow
def test_kernels_come_warm_from_the_factory_and_start_before_their_notebook(tmp_path, monkeypatch, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("a", "b", "c"):
        _notebook(notebooks / f"{name}.ipynb", RECORD, "import pandas as pd")
    monkeypatch.chdir(tmp_path)
    rc, out = _render(tmp_path, notebooks, "--jobs", "1")
    assert rc == 0, capsys.readouterr().err
    facts = [json.loads((Path(out) / n / "kernel.json").read_text()) for n in ("a", "b", "c")]
    assert len({f["pid"] for f in facts}) == 3  # a fresh kernel per notebook
    assert len({f["worker"] for f in facts}) == 1  # all from the one worker of --jobs 1
    for f in facts:
        assert "analysis.render --kernel-factory" in f["parent"]  # forked by the factory
        assert f["pandas_preloaded"]  # imported by the factory before the notebook imported it
    # the kernels of the second and third notebooks were running before those were assigned
    # (started when the notebook before them was; /proc counts in 10 ms ticks)
    for f in facts[1:]:
        assert f["assigned"] - f["kernel_started"] > 0.05
    assert [p for p in _processes_for(Path(out))] == []
    assert not any(_alive(f["pid"]) for f in facts)


@pytest.mark.slow
def test_no_kernel_outlives_failing_timed_out_or_dying_notebooks(tmp_path, monkeypatch, capsys):
    """A notebook that raises, one that runs past --timeout, one whose kernel dies and one
    that kills its worker: each fails with its usual message, and no kernel, worker or
    factory is left running (nor a kernel started ahead for a notebook that never came)."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _notebook(notebooks / "a_raises.ipynb", RECORD, "raise ValueError('bad row')")
    _notebook(notebooks / "b_sleeps.ipynb", RECORD, "import time\ntime.sleep(60)")
    _notebook(notebooks / "c_kernel_dies.ipynb", RECORD, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    _notebook(notebooks / "d_worker_dies.ipynb", RECORD,
              "import os, signal\nos.kill(int(os.environ['JPY_PARENT_PID']), signal.SIGKILL)")
    _notebook(notebooks / "e_fine.ipynb", RECORD)
    monkeypatch.chdir(tmp_path)
    rc, out = _render(tmp_path, notebooks, "--jobs", "2", "--timeout", "3")
    err = capsys.readouterr().err
    assert rc == 1
    assert "FAILED a_raises.ipynb, cell 3 of 3: ValueError" in err and "bad row" in err
    assert "FAILED b_sleeps.ipynb, cell 3 of 3: CellTimeoutError" in err
    assert "FAILED c_kernel_dies.ipynb, cell 3 of 3: DeadKernelError" in err
    assert "FAILED d_worker_dies.ipynb" in err and "WorkerError" in err
    assert (Path(out) / "e_fine" / "kernel.json").is_file()
    kernels = [int(pid) for pid in (tmp_path / "kernels.txt").read_text().split()]
    assert len(kernels) == 5
    assert [pid for pid in kernels if _alive(pid)] == []
    assert _processes_for(Path(out)) == []


@pytest.mark.slow
def test_without_a_factory_the_worker_starts_its_kernels_itself(tmp_path, monkeypatch, capsys):
    """``ANALYSIS_RENDER_FORK=0`` (and any platform without fork): every kernel is a new
    ipykernel process, a child of its worker, still started before its notebook."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("a", "b"):
        _notebook(notebooks / f"{name}.ipynb", RECORD)
    monkeypatch.setenv("ANALYSIS_RENDER_FORK", "0")
    monkeypatch.chdir(tmp_path)
    rc, out = _render(tmp_path, notebooks, "--jobs", "1")
    assert rc == 0, capsys.readouterr().err
    for name in ("a", "b"):
        facts = json.loads((Path(out) / name / "kernel.json").read_text())
        assert "analysis.render --worker" in facts["parent"]  # a child of the worker, as before
        assert not facts["pandas_preloaded"]
        if name == "b":
            assert facts["assigned"] - facts["kernel_started"] > 0.05
    assert _processes_for(Path(out)) == []


@pytest.mark.slow
def test_the_factory_validates_as_this_process_does(tmp_path):
    corpus = ROOT / "tests" / "bad_data"
    for case, expect_problems in (("date_month_13", True), ("ok_base", False)):
        handle = factory.KernelFactory.start(dict(os.environ), [], corpus / case)
        try:
            problems, crash = handle.validation()
        finally:
            handle.stop()
        assert (problems, crash) == factory.data_problems(corpus / case)
        assert bool(problems) == expect_problems and crash is None
        assert handle.proc.returncode == 0


@pytest.mark.slow
def test_a_killed_factory_takes_its_kernels_along(tmp_path):
    """SIGKILL of the factory: the kernels it forked die too (parent-death signal)."""
    from analysis.render.kernels import FactoryClient, shutdown, start_kernel

    handle = factory.KernelFactory.start(dict(os.environ), ["pandas"])
    try:
        client = FactoryClient(handle.connect_worker())
        km = start_kernel(client, str(tmp_path))
        pid = km.provisioner.pid
        assert _alive(pid)
    finally:
        handle.kill()
    assert _wait_dead(pid)
    assert km.provisioner.process.poll() == -signal.SIGKILL  # the worker sees it gone
    assert client.closed
    shutdown(km)  # its zmq sockets
    # the worker's next kernel is then started as a new process, its own child
    plain = start_kernel(client, str(tmp_path))
    proc = plain.provisioner.process
    try:
        assert isinstance(proc, subprocess.Popen) and proc.poll() is None
    finally:
        shutdown(plain)
    assert proc.wait(timeout=10) is not None


def _wait_dead(pid: int, timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


@pytest.mark.slow
def test_a_workers_kernels_die_when_its_socket_closes(tmp_path):
    """A worker that exits or dies closes its socket: the factory, still serving other
    workers, kills the kernels it forked for that worker at once."""
    from analysis.render.kernels import FactoryClient, shutdown, start_kernel

    handle = factory.KernelFactory.start(dict(os.environ), [])
    doomed_km = kept_km = None
    try:
        gone, other = FactoryClient(handle.connect_worker()), FactoryClient(handle.connect_worker())
        doomed_km = start_kernel(gone, str(tmp_path))
        doomed = doomed_km.provisioner.pid
        kept_km = start_kernel(other, str(tmp_path))
        kept = kept_km.provisioner.pid
        assert _alive(doomed) and _alive(kept)
        gone.close()
        assert _wait_dead(doomed)
        assert _alive(kept) and handle.proc.poll() is None
        kept_km.provisioner.process.kill()
        assert kept_km.provisioner.process.wait(timeout=10) == -signal.SIGKILL  # reported by the factory
    finally:
        shutdown(doomed_km)
        shutdown(kept_km)
        handle.stop()
    assert handle.proc.returncode == 0


@pytest.mark.slow
def test_a_forked_kernel_gives_the_outputs_of_a_fresh_one(tmp_path, monkeypatch, capsys):
    """The same notebook through the factory and through fresh kernels: every output equal.
    The notebook shows what a library decides at import from its surroundings: pandas' column
    limit (20 in a kernel, 0 in a terminal), matplotlib's backend and its inline figures."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _notebook(notebooks / "env.ipynb",
              "import matplotlib\nimport matplotlib.pyplot as plt\nimport numpy as np\nimport pandas as pd\n"
              "pd.DataFrame(np.arange(60).reshape(2, 30))",
              "print(pd.get_option('display.max_columns'), pd.get_option('display.width'), matplotlib.get_backend(),\n"
              "      matplotlib.is_interactive(), np.random.random() != 0.5488135039273248)",
              "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([1, 2], [2, 1]);")
    monkeypatch.chdir(tmp_path)
    outputs = {}
    for fork in ("1", "0"):
        monkeypatch.setenv("ANALYSIS_RENDER_FORK", fork)
        (tmp_path / "data").mkdir(exist_ok=True)
        rc = render.main(["--notebooks", str(notebooks), "--data", str(tmp_path / "data"),
                          "--out", str(tmp_path / f"out{fork}")])
        assert rc == 0, capsys.readouterr().err
        nb = json.loads((tmp_path / f"out{fork}" / "env" / "env.ipynb").read_text())
        outputs[fork] = [c.get("outputs") for c in nb["cells"]]
    assert outputs["1"] == outputs["0"]
    shown = "".join(outputs["1"][3][0]["text"])
    assert shown.startswith("20 80 module://matplotlib_inline.backend_inline False True")
    assert "image/png" in outputs["1"][4][0]["data"]  # shown by the inline backend at the end of the cell


AHEAD = """\
import json, shutil
from pathlib import Path
from analysis.load import dataset as load
ahead = [str(p) for p in load._AHEAD]
ds = load.load_dataset(data_dir)
Path(output_dir, "ahead.json").write_text(json.dumps({"ahead": ahead, "taken": not load._AHEAD,
                                                      "ipd": len(ds.ipd), "data_dir": str(ds.data_dir)}))
"""


@pytest.mark.slow
def test_kernels_get_the_dataset_the_factory_validated(tmp_path, monkeypatch, capsys):
    """The factory validates the data folder and keeps it: each notebook's first load_dataset
    of that folder takes it instead of reading it again; a kernel without a factory reads it."""
    import shutil

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("a", "b"):
        _notebook(notebooks / f"{name}.ipynb", AHEAD)
    data = tmp_path / "data"
    shutil.copytree(ROOT / "tests" / "bad_data" / "ok_ipd_and_km_curves", data)
    (data / "expected.txt").unlink()
    monkeypatch.chdir(tmp_path)
    for fork in ("1", "0"):
        monkeypatch.setenv("ANALYSIS_RENDER_FORK", fork)
        rc = render.main(["--notebooks", str(notebooks), "--data", str(data), "--out", str(tmp_path / "out"),
                          "--force", "--jobs", "1"])
        assert rc == 0, capsys.readouterr().err
        for name in ("a", "b"):
            facts = json.loads((tmp_path / "out" / name / "ahead.json").read_text())
            assert facts["ahead"] == ([str(data.resolve())] if fork == "1" else [])
            assert facts["taken"] and facts["ipd"] == 2 and facts["data_dir"] == str(data.resolve())
