"""Running notebooks: the kernel, worker processes, and the progress shown meanwhile.

* **Kernel.** The kernel is always :func:`kernel_argv` (this Python with ipykernel), whatever
  kernelspecs the machine has; :func:`install_kernelspec` also installs the spec
  ``stemcell-analysis`` into ``sys.prefix`` so JupyterLab lists it. Kernels are forked by the
  run's kernel factory (:func:`_start_factory`, :mod:`analysis.render.factory`) where it
  runs, and started ahead of their notebooks (:mod:`analysis.render.kernels`).
* **Workers (child processes).** A worker is ``python -m analysis.render --worker``
  (:func:`_worker_main`): it reads paths of spec files on stdin, one line per notebook, runs
  each with papermill into its temporary folder (:func:`_execute_spec`), scrubs machine
  paths from the result, writes the HTML, and reports on stdout in lines
  ``@@render {json}`` (events ``start``, ``cell`` with ``i`` of ``n``, ``done`` with
  ``seconds``, ``failed`` with ``cell``, ``cells``, ``ename``, ``evalue``). It exits when its
  stdin closes; it dies with the main process (``PR_SET_PDEATHSIG`` on Linux), and the
  factory then kills the kernels it started for it.
* **Pool (main process).** :func:`_run_jobs` keeps up to ``--jobs`` workers busy, the queue
  ordered longest first; :func:`_finish` swaps a finished report in
  (:func:`analysis.render.folders.swap_in`) or files a failure in ``OUT/_failed``.
  :class:`Progress` prints one line per notebook (redrawn in place on a terminal).

Cells are numbered from 1 as the author sees them in JupyterLab (the injected-parameters
cell is not counted); times are seconds (``time.monotonic``); ``--timeout`` is per cell.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from analysis.render.folders import (
    ANALYSIS_DIR,
    FAILED_DIR,
    STAMP_FILE,
    TMP_PREFIX,
    Manifest,
    _remove,
    _term_path,
    swap_in,
    write_text_atomic,
)
from analysis.render.factory import (
    FACTORY_FD_ENV,
    KERNEL_DISPLAY_NAME,
    KERNEL_NAME,
    KernelFactory,
    _set_parent_death_signal,
    kernel_argv,
)
from analysis.render.html import _fast_nbformat_import, notebook_to_html, path_replacements, scrub

_MSG_PREFIX = "@@render "
#: set for a worker: the temporary folder its notebook renders into (a folder of its own in the
#: output folder before its first notebook); the kernel factory's names a folder there too, and
#: a forked kernel's environment (as /proc shows it) is the factory's
RENDER_ENV = "ANALYSIS_RENDER_DIR"
#: ``ANALYSIS_RENDER_FORK=0``: no kernel factory; every kernel is a new ``ipykernel_launcher`` process
FORK_ENV = "ANALYSIS_RENDER_FORK"
_SAVE_EVERY = 1.0  # seconds between two writes of a notebook while it runs
#: set for a worker: the folder its kernels run in (the command's working directory)
CWD_ENV = "ANALYSIS_RENDER_CWD"


# --------------------------------------------------------------------------- kernel


def install_kernelspec() -> Path | None:
    """Install the ``stemcell-analysis`` kernelspec into ``sys.prefix`` (for JupyterLab).

    Rendering does not need it (the worker starts :func:`kernel_argv` directly); returns the
    spec folder, or None when ``sys.prefix`` is not writable. Written only when it differs.
    """
    import importlib.util

    folder = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    spec = {
        "argv": kernel_argv(),
        "display_name": KERNEL_DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
        "env": {"PYDEVD_DISABLE_FILE_VALIDATION": "1"},
    }
    try:
        if json.loads((folder / "kernel.json").read_text()) == spec:
            return folder
    except (OSError, ValueError):
        pass
    try:
        folder.mkdir(parents=True, exist_ok=True)
        found = importlib.util.find_spec("ipykernel")
        if found and found.submodule_search_locations:
            resources = Path(list(found.submodule_search_locations)[0]) / "resources"
            for logo in resources.glob("logo-*"):
                shutil.copy(logo, folder / logo.name)
        write_text_atomic(folder / "kernel.json", json.dumps(spec, indent=1))
    except OSError:
        return None
    return folder


# --------------------------------------------------------------------------- worker (child process)


def _emit(**message) -> None:
    sys.stdout.write(_MSG_PREFIX + json.dumps(message) + "\n")
    sys.stdout.flush()


def _failing_cell(nb) -> tuple[int | None, int]:
    """(1-based number of the failing cell as the author sees it, number of cells) of ``nb``.

    Only call it for a notebook that failed. The injected-parameters and papermill error
    cells are not counted.
    """
    skip = {"injected-parameters", "papermill-error-cell-tag"}
    cells = [c for c in nb.cells if not skip & set(c.get("metadata", {}).get("tags", []))]
    last_started = None
    for i, cell in enumerate(cells, start=1):
        meta = cell.get("metadata", {}).get("papermill", {})
        has_error = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if has_error or meta.get("exception") or meta.get("status") in ("running", "failed"):
            return i, len(cells)
        if meta.get("start_time"):
            last_started = i
    # a dead kernel leaves no error output: the failing cell is the last one that started
    return last_started, len(cells)


def _worker_main() -> int:
    """Entry point of a worker process: execute the notebooks whose spec files arrive on
    stdin (one path per line), one after another, until stdin closes.

    A worker serves several notebooks so that its imports (papermill, nbconvert, ~1 s of
    CPU with the first HTML conversion) are paid once per parallel job, not per notebook.
    It starts its first kernel at once, before a notebook is assigned (the kernel factory
    forks it when it has imported what the notebooks import), and the next one before a
    notebook when the spec says more are queued (:class:`analysis.render.kernels.WarmKernels`).
    """
    _fast_nbformat_import()
    import papermill  # noqa: F401 - imported before the first notebook arrives

    from analysis.render.kernels import FactoryClient, WarmKernels

    warm = WarmKernels(FactoryClient.from_environment())
    cwd = os.environ.pop(CWD_ENV, None)
    # the HTML exporter compiles its templates meanwhile (the main thread waits for the factory)
    _HTML_WARMUP.start()
    try:
        if cwd:
            warm.prestart(cwd)
        while line := sys.stdin.readline():
            if line.strip():
                _execute_spec(line.strip(), warm)
    finally:
        warm.close()
    return 0


def _warm_html() -> None:
    """Build the HTML exporter and convert a small notebook, so that nbconvert's templates and
    regular expressions are compiled before the first report needs them."""
    with contextlib.suppress(Exception):
        import nbformat

        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell("# Title\n\nSome *text*, a [link](https://example.org)."),
            nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
                "display_data", data={"text/html": "<table><tr><td>1</td></tr></table>",
                                      "text/markdown": "**bold**", "text/plain": "x"})]),
        ])
        notebook_to_html(nb, title="warm-up")


_HTML_WARMUP = threading.Thread(target=_warm_html, name="html-warm-up", daemon=True)


def _execute_spec(spec_path: str, warm=None) -> int:
    """Execute one notebook into its temporary folder (in a worker process), in a kernel
    started ahead by ``warm`` (a :class:`analysis.render.kernels.WarmKernels`) or a new one."""
    spec = json.loads(Path(spec_path).read_text())
    tmp = Path(spec["tmp"])
    name = spec["name"]
    out_nb = tmp / f"{name}.ipynb"
    started = time.monotonic()
    os.chdir(tmp)
    os.environ[RENDER_ENV] = str(tmp)  # the worker's environment names its folder

    import nbformat
    import papermill
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.utils import merge_kwargs, remove_args

    from analysis.render.kernels import WarmKernels, ready_client

    own = warm is None
    warm = WarmKernels(None) if own else warm

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            # numbered as the author sees them in JupyterLab (all cells, without the injected one),
            # like the failing cell in error messages
            shown = [
                i for i, c in enumerate(nb_man.nb.cells) if "injected-parameters" not in c.metadata.get("tags", [])
            ]
            original = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index in shown and cell.cell_type == "code":
                    _emit(event="cell", i=shown.index(cell_index) + 1, n=len(shown))
                return original(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            # papermill writes (and validates) the whole notebook before and after every cell,
            # ~30 writes of a notebook with its images: here at most one a second, and always
            # the last one (a worker that dies still leaves the notebook as far as it got)
            save, last = nb_man.save, [time.monotonic()]

            def save_at_most_every_second(**kw):
                if time.monotonic() - last[0] >= _SAVE_EVERY:
                    save(**kw)
                    last[0] = time.monotonic()

            def notebook_complete(_complete=nb_man.notebook_complete, **kw):
                nb_man.save = save
                return _complete(**kw)

            nb_man.save = save_at_most_every_second
            nb_man.notebook_complete = notebook_complete
            # as NBClientEngine, but when the notebook ends, however it ends, its client is
            # closed and the kernel (started ahead, not the client's own) is asked to shut
            # down; it exits while the HTML is written (WarmKernels.retire)
            from papermill.clientwrap import PapermillNotebookClient
            from papermill.engines import logger

            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log=logger, log_output=log_output,
                                 stdout_file=stdout_file, stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, **final)
            try:
                if client.km is not None:
                    client.kc = ready_client(client.km, start_timeout)
                return client.execute()
            finally:
                warm.retire(client.km or kwargs.get("km"), client.kc)

    papermill_engines.register("analysis-progress", ProgressEngine)
    params = dict(spec["parameters"])
    params["data_dir"] = spec["data_dir"]
    params["output_dir"] = str(tmp)
    _emit(event="start")
    error = None
    km = None
    try:
        warm.reap()
        km = warm.take(spec["cwd"])
        started = time.monotonic()  # the notebook's time starts with its kernel, not with waiting for one
        if spec.get("warm_next"):  # more notebooks are queued: the next kernel starts meanwhile
            warm.prestart(spec["cwd"])
        papermill.execute_notebook(
            spec["notebook"],
            str(out_nb),
            parameters=params,
            engine_name="analysis-progress",
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=False,
            log_output=False,
            cwd=spec["cwd"],
            execution_timeout=spec["timeout"],
            start_timeout=120,
            km=km,
        )
    except papermill.PapermillExecutionError as exc:
        error = {"ename": exc.ename, "evalue": exc.evalue}
    except Exception as exc:  # timeout, dead kernel, unreadable notebook ...
        message = str(exc).strip().splitlines()
        error = {"ename": type(exc).__name__, "evalue": message[0] if message else ""}
        if "timed out" in str(exc).lower() or type(exc).__name__ == "CellTimeoutError":
            error["evalue"] = f"a cell ran longer than the time limit of {spec['timeout']:g} s (--timeout)"
    finally:
        warm.retire(km)  # done already, unless papermill stopped before the kernel had its client
        if own:
            warm.close()

    cell = ncells = None
    replacements = [tuple(p) for p in spec["replacements"]]
    if out_nb.exists():
        nb = nbformat.read(out_nb, as_version=4)
        nb = nbformat.from_dict(scrub(nb, replacements))
        nbformat.write(nb, out_nb)
        cell, ncells = _failing_cell(nb) if error else (None, None)
    if error:
        error = scrub(error, replacements)
        _emit(event="failed", cell=cell, cells=ncells, notebook_saved=out_nb.exists(), **error)
        return 1
    try:
        if _HTML_WARMUP.is_alive():
            _HTML_WARMUP.join()
        html = notebook_to_html(nb, show_code=spec["show_code"], title=name)
        (tmp / f"{name}.html").write_text(html, encoding="utf-8")
    except Exception as exc:
        _emit(event="failed", cell=None, cells=None, notebook_saved=False,
              ename=type(exc).__name__, evalue=f"HTML conversion failed: {exc}")
        return 1
    _emit(event="done", seconds=round(time.monotonic() - started, 2))
    return 0


# --------------------------------------------------------------------------- worker pool (main process)


@dataclass
class Job:
    """One notebook of a run and its state."""

    name: str
    notebook: Path
    params: dict
    key: str
    state: str = "queued"  # queued, running, done, failed, skipped
    cell: int = 0
    cells: int = 0
    seconds: float = 0.0
    failure: dict = field(default_factory=dict)
    tmp: Path | None = None
    proc: subprocess.Popen | None = None
    log: object = None
    started: float = 0.0

    def status(self) -> str:
        if self.state == "running":
            if self.cells:
                return f"running cell {self.cell} of {self.cells}"
            return "starting kernel"
        if self.state == "done":
            return f"done in {self.seconds:.1f} s"
        if self.state == "failed":
            where = f" in cell {self.failure['cell']}" if self.failure.get("cell") else ""
            return f"failed{where}"
        if self.state == "skipped":
            return "skipped (unchanged)"
        if self.state == "not_run":
            return "not run (the data folder has problems)"
        return self.state


class Progress:
    """One line per notebook; redrawn in place on a terminal, plain lines otherwise."""

    def __init__(self, jobs: list[Job], stream, live: bool | None = None):
        self.jobs = jobs
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.width = max((len(j.name) for j in jobs), default=0)
        self.drawn = 0
        self.last: list[str] = []
        self.printed: dict[str, str] = {}

    def line(self, job: Job) -> str:
        status = job.status()
        if not self.live and job.state == "running":
            status = "running"
        return f"{job.name.ljust(self.width)}  {status}"

    def update(self) -> None:
        if self.live:
            lines = [self.line(job) for job in self.jobs]
            if lines == self.last:
                return
            if self.drawn:
                self.stream.write(f"\x1b[{self.drawn}F")
            for line in lines:
                self.stream.write("\x1b[2K" + line + "\n")
            self.drawn, self.last = len(lines), lines
        else:
            for job in self.jobs:
                state = job.state
                if state != "queued" and self.printed.get(job.name) != state:
                    self.stream.write(self.line(job) + "\n")
                    self.printed[job.name] = state
        self.stream.flush()


def _worker_env(package_parent: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(package_parent)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    env.pop("JPY_PARENT_PID", None)
    return env


@dataclass
class Worker:
    """A worker process (``python -m analysis.render --worker``): it runs the notebooks sent
    to it, one at a time, and exits when its stdin closes."""

    proc: subprocess.Popen
    log: object  # its stderr, a temporary file
    job: Job | None = None
    buffer: bytes = b""


def _start_worker_process(out: Path, env: dict, index: int, factory: KernelFactory | None = None) -> Worker:
    """A worker process; with ``factory``, it gets a socket to it and asks it for kernels."""
    log = tempfile.TemporaryFile()
    # until its first notebook the worker names a folder of its own in the output folder
    env = env | {RENDER_ENV: str(out / f"{TMP_PREFIX}worker-{index}"), CWD_ENV: str(Path.cwd())}
    sock = factory.connect_worker() if factory is not None else None
    if sock is not None:
        env[FACTORY_FD_ENV] = str(sock.fileno())
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "analysis.render", "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=str(out),
            start_new_session=True,
            pass_fds=[sock.fileno()] if sock is not None else [],
            preexec_fn=_set_parent_death_signal,
        )
    finally:
        if sock is not None:
            sock.close()  # the worker holds it now; when the worker ends, the factory sees it close
    return Worker(proc, log)


def _start_job(worker: Worker, job: Job, out: Path, data_dir: Path, notebooks_dir: Path, args,
               manifest: Manifest, warm_next: bool = False) -> None:
    """Write the job's spec into a new temporary folder (recorded in ``manifest``) and send
    it to ``worker`` (``warm_next``: it starts a kernel for a next notebook meanwhile)."""
    job.tmp = manifest.make_report_dir(job.name)
    spec = {
        "name": job.name,
        "notebook": str(job.notebook),
        "tmp": str(job.tmp),
        "data_dir": str(data_dir),
        "parameters": job.params,
        "timeout": float(args.timeout),
        "show_code": bool(getattr(args, "show_code", False)),
        "cwd": str(Path.cwd()),
        "replacements": path_replacements(out / job.name, data_dir, notebooks_dir, out, job.tmp),
        "warm_next": bool(warm_next),
    }
    spec_path = job.tmp / ".render-spec.json"
    spec_path.write_text(json.dumps(spec))
    job.proc, job.log = worker.proc, worker.log
    job.state = "running"
    job.started = time.monotonic()
    worker.job = job
    worker.proc.stdin.write(f"{spec_path}\n".encode())
    worker.proc.stdin.flush()


def _handle_message(job: Job, message: dict) -> None:
    event = message.get("event")
    if event == "cell":
        job.cell, job.cells = message["i"], message["n"]
    elif event == "done":
        job.state = "done"
        # the worker's count, from the kernel's start: the order of the next run (longest first)
        # is not to depend on which notebooks waited for the kernel factory in this one
        job.seconds = message.get("seconds", time.monotonic() - job.started)
    elif event == "failed":
        job.state = "failed"
        job.seconds = time.monotonic() - job.started
        job.failure = {k: message.get(k) for k in ("cell", "cells", "ename", "evalue", "notebook_saved")}


def _read_worker(worker: Worker, data: bytes) -> None:
    worker.buffer += data
    *lines, worker.buffer = worker.buffer.split(b"\n")
    for raw in lines:
        text = raw.decode("utf-8", "replace")
        if text.startswith(_MSG_PREFIX) and worker.job is not None:
            with contextlib.suppress(ValueError):
                _handle_message(worker.job, json.loads(text[len(_MSG_PREFIX) :]))


def _worker_stderr_tail(job: Job, lines: int = 15) -> str:
    if job.log is None:
        return ""
    job.log.seek(0)
    text = job.log.read().decode("utf-8", "replace").strip().splitlines()
    return "\n".join(text[-lines:])


def _finish(job: Job, out: Path, stamp: dict, manifest: Manifest) -> None:
    """After the worker exited: swap the report in, or file the failure."""
    if job.state == "running":  # worker died without a final message
        job.state = "failed"
        job.seconds = time.monotonic() - job.started
        job.failure = {
            "cell": None,
            "ename": "WorkerError",
            "evalue": f"the render process exited with code {job.proc.returncode}",
            "detail": _worker_stderr_tail(job),
        }
    failed_rel = f"{FAILED_DIR}/{job.name}.ipynb"
    failed_nb = out / failed_rel
    if job.state == "done":
        try:
            (job.tmp / ".render-spec.json").unlink(missing_ok=True)
            write_text_atomic(job.tmp / STAMP_FILE, json.dumps(stamp, indent=1, sort_keys=True))
            swap_in(job.tmp, out / job.name, manifest)
            manifest.remove_owned_file(failed_rel)
        except OSError as exc:
            job.state = "failed"
            job.failure = {"cell": None, "ename": type(exc).__name__,
                           "evalue": f"could not replace {_term_path(out / job.name)}: {exc.strerror or exc}"}
    if job.state != "done":
        saved = job.tmp / f"{job.name}.ipynb"
        if saved.exists():
            failed_nb.parent.mkdir(exist_ok=True)
            manifest.add_owned(failed_rel)
            os.replace(saved, failed_nb)
            job.failure["failed_notebook"] = failed_nb
        manifest.remove_temporary(job.tmp)
    job.tmp = None
    job.log = None  # the worker's, closed with it


def _kill_workers(jobs: list[Job], workers: list[Worker] = (), manifest: Manifest | None = None,
                  factory: KernelFactory | None = None) -> None:
    """Kill the workers and the kernel factory (the kernels die with it) and remove the
    temporary folders of ``jobs``."""
    if factory is not None:
        factory.kill()
    procs = {id(p): p for p in [j.proc for j in jobs if j.proc is not None] + [w.proc for w in workers]}
    for proc in procs.values():
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    for proc in procs.values():
        with contextlib.suppress(Exception):
            proc.wait(timeout=10)
    for job in jobs:
        if job.tmp is not None:
            if manifest is not None:
                with contextlib.suppress(OSError):  # else the next run removes it
                    manifest.remove_temporary(job.tmp)
            else:
                _remove(job.tmp)
    for worker in workers:
        with contextlib.suppress(Exception):
            worker.log.close()


def _start_workers(n: int, out: Path, factory: KernelFactory | None = None) -> list[Worker]:
    """``n`` idle worker processes (see :class:`Worker`), getting their kernels from ``factory``."""
    env = _worker_env(ANALYSIS_DIR.parent)
    return [_start_worker_process(out, env, i, factory) for i in range(n)]


def _start_factory(out: Path, preload: list[str], validate: Path | None = None) -> KernelFactory | None:
    """The kernel factory of a run (:mod:`analysis.render.factory`), in the workers' environment;
    None where kernels cannot be forked, or when ``ANALYSIS_RENDER_FORK=0`` asks for kernels
    started as new processes (each then imports what its notebook imports)."""
    if os.environ.get(FORK_ENV, "1").strip() == "0":
        return None
    env = _worker_env(ANALYSIS_DIR.parent) | {RENDER_ENV: str(out / f"{TMP_PREFIX}kernels")}
    return KernelFactory.start(env, preload, validate)


def _run_jobs(todo: list[Job], out, data_dir, notebooks_dir, args, stamps, progress: Progress,
              workers: list[Worker] | None = None, manifest: Manifest | None = None,
              factory: KernelFactory | None = None) -> None:
    """Run ``todo`` in ``--jobs`` worker processes (``workers``, already started, then new
    ones as needed), each taking the next queued notebook when it has finished one (the
    queue is ordered longest first); a worker that dies fails its notebook and is replaced
    while notebooks are waiting. A worker starts the kernel of its next notebook while it runs
    one when enough notebooks are queued for every worker to take one more."""
    env = _worker_env(ANALYSIS_DIR.parent)
    manifest = manifest if manifest is not None else Manifest.load(out)
    jobs_n = max(1, args.jobs or os.cpu_count() or 1)
    queue = list(todo)
    idle, workers = list(workers or []), []
    sel = selectors.DefaultSelector()
    started = len(idle)

    def next_job(worker: Worker) -> None:
        if queue:
            job = queue.pop(0)
            _start_job(worker, job, out, data_dir, notebooks_dir, args, manifest,
                       warm_next=len(queue) >= max(1, len(workers)))
        else:
            with contextlib.suppress(OSError):
                worker.proc.stdin.close()  # nothing left: the worker exits

    def finish(job: Job) -> None:
        _finish(job, out, stamps[job.name] | {"seconds": round(job.seconds, 2), "rendered_at": _now()}, manifest)

    try:
        while queue or any(w.job for w in workers):
            while queue and len(workers) < jobs_n:
                if idle:
                    worker = idle.pop(0)
                else:
                    worker = _start_worker_process(out, env, started, factory)
                    started += 1
                workers.append(worker)
                sel.register(worker.proc.stdout, selectors.EVENT_READ, worker)
                next_job(worker)
                progress.update()
            for keyobj, _ in sel.select(timeout=0.5):
                worker = keyobj.data
                data = os.read(keyobj.fd, 65536)
                if data:
                    _read_worker(worker, data)
                    job = worker.job
                    if job is not None and job.state in ("done", "failed"):
                        worker.job = None
                        finish(job)
                        next_job(worker)
                    continue
                sel.unregister(keyobj.fileobj)
                keyobj.fileobj.close()
                worker.proc.wait()
                workers.remove(worker)
                with contextlib.suppress(OSError):
                    worker.proc.stdin.close()
                if worker.job is not None:  # died during a notebook: _finish says so
                    job, worker.job = worker.job, None
                    finish(job)
                worker.log.close()
            progress.update()
    except BaseException:
        _kill_workers(list(todo), workers + idle, manifest, factory)
        raise
    finally:
        sel.close()
    for worker in idle:  # started for notebooks that did not need them
        with contextlib.suppress(OSError):
            worker.proc.stdin.close()
    workers += idle
    for worker in workers:  # idle, stdin closed: they are exiting
        with contextlib.suppress(Exception):
            worker.proc.wait(timeout=30)
        with contextlib.suppress(Exception):
            worker.log.close()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
