"""Rendering the notebooks into a report folder (``python -m analysis render``).

Every ``notebooks/*.ipynb`` is executed with papermill in its own worker process (up to
``--jobs`` at a time) and written as::

    OUT/NAME/NAME.ipynb       executed notebook (paths in it are relative, see below)
    OUT/NAME/NAME.html        standalone HTML, code hidden unless --show-code, images embedded
    OUT/NAME/figures/*.png|svg   written by the notebook (analysis.style.save_figure)
    OUT/NAME/tables/*.csv        written by the notebook (analysis.export.save_table)
    OUT/NAME/.render-stamp.json  cache key and run details of this report
    OUT/index.html            index of all reports, run parameters and data fingerprint
    OUT/_failed/NAME.ipynb    papermill's error notebook of a notebook that failed

Guarantees:

* **Data validated first.** When a notebook to be run reads the data folder with
  ``analysis.load.load_dataset`` (see :func:`reads_dataset`), the folder is validated
  before any notebook runs (by the kernel factory, before it forks a kernel, else in this
  process). The kernels forked after it find the validated dataset in memory: a notebook's
  ``load_dataset`` of the same, unchanged folder does not read it again
  (:func:`analysis.load.validate_ahead`). If it has problems, no notebook runs: the
  ``file:row:column: message`` lines are printed (as ``python -m analysis validate`` gives
  them), the index shows them, previous reports are kept untouched, nothing is cached,
  and the exit code is 1.
* **Parameters checked first.** Every ``-p`` value is checked against the declaration of
  each notebook that receives it (``metadata.analysis.parameters``, see
  :mod:`analysis.render.params`) before anything is written: a value a notebook does not
  accept is exit code 2, one line per notebook.
* **Nothing half-written.** A notebook renders into ``OUT/.analysis-render-tmp-NAME-<random>``
  and that folder replaces ``OUT/NAME`` (atomic exchange of the two names) only when
  everything succeeded. A failure or an interruption (Ctrl-C, SIGTERM, SIGKILL) leaves the
  previous ``OUT/NAME`` as it was; the next run removes the temporary folders it recorded.
* **Nothing of the user's is touched.** Render replaces or removes only what it wrote, as
  listed in ``OUT/.analysis-render-manifest.json``; any other file or folder in ``OUT`` stays
  as it is, whatever its name. An ``index.html``, ``NAME/`` or ``_failed/NAME.ipynb`` that
  render did not write stops the run before anything is touched (exit code 1, naming it).
  Folders are made with the user's umask.
* **One writer.** A run holds ``flock(OUT/.render.lock)``. A second run into the same
  folder prints "another render is writing to OUT; waiting..." and waits (``--no-wait``
  makes it fail at once with exit code 3), then finds the reports current and skips them.
* **Cached.** A report is re-rendered only when its cache key changes: the notebook file,
  the parameters it receives, the content of the data files it reads (all files of the
  data folder, or the glob patterns listed in the notebook metadata
  ``{"analysis": {"data_files": [...]}}``), the source of the ``analysis`` package and the
  installed versions of the key packages. ``--force`` re-renders anyway.
* **Paths as the user means them.** The kernel runs in the folder the command was started
  from, so a path given with ``-p`` is relative to it, as on any command line.
* **The project's own Python.** The kernel is always ``sys.executable -m ipykernel_launcher``
  whatever kernelspecs the machine has (the spec ``stemcell-analysis`` is also installed into
  ``sys.prefix`` so JupyterLab lists it). Each cell has a time limit (``--timeout``).
* **Imports paid once, a fresh kernel per notebook.** On Linux the kernels are forked by one
  kernel factory that has imported what the notebooks import (:mod:`analysis.render.factory`);
  each notebook still gets a kernel of its own, started before the notebook is assigned
  and shut down after it. No kernel outlives the run: kernels die with the factory, the
  factory and the workers with this process.
* **No machine paths.** Absolute ``data_dir`` and ``output_dir`` are passed to the notebook;
  in the saved notebook and HTML they, and any other path of this machine (the Python
  environment, the ``analysis`` package, the home folder) are replaced by relative paths or
  placeholders such as ``<python>``.

Exit codes: 0 all rendered or unchanged; 1 at least one notebook failed, the data folder
has problems (no notebook was run), ``OUT`` holds a report-named file render did not write
(nothing was run), or a file could not be written (a full disk; reports that finished are in
place); 2 bad command line, folder or parameter (nothing was run); 3 output folder locked
and ``--no-wait``; 130 / 143 interrupted by SIGINT / SIGTERM; 141 standard output closed by
its reader (``| head``), ended quietly like an interruption. Every message is one line (or
one per problem) with terminal control characters escaped; never a traceback.

This module is the command itself: its options (:func:`add_arguments`), the run
(:func:`run`), data validation before any notebook runs (:func:`validate_data`) and the
failure text printed at the end. ``-p`` parameters are in :mod:`analysis.render.params`;
cache, lock, manifest and swap-in in :mod:`analysis.render.folders`, workers and progress in
:mod:`analysis.render.jobs`, path scrubbing and HTML in :mod:`analysis.render.html`, the
index page in :mod:`analysis.render.index`.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import os
import re
import signal
import sys
from pathlib import Path

from analysis.render.folders import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PIPE,
    FAILED_DIR,
    INDEX_FILE,
    Manifest,
    RenderError,
    _check_writable,
    _display_path,
    _is_current,
    _notebook_meta,
    _previous_seconds,
    _term_path,
    cache_key,
    clean_stale,
    count_rows,
    data_fingerprint,
    find_notebooks,
    output_lock,
    package_source_hash,
    package_versions,
    stdout_closed,
)
from analysis.render.factory import FactoryUnavailable, KernelFactory, data_problems, preload_modules
from analysis.render.index import write_index
from analysis.render.jobs import (
    Job,
    Progress,
    Worker,
    _kill_workers,
    _now,
    _run_jobs,
    _start_factory,
    _start_workers,
    _worker_main,
    install_kernelspec,
)
from analysis.render.params import (
    RESERVED_PARAMETERS,
    assign_parameters,
    check_parameters,
    declared_parameters,
    parse_parameters,
)

DEFAULT_TIMEOUT = 600


class _Terminated(BaseException):
    """Raised in the main process when SIGTERM arrives."""


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``render`` options to ``parser`` (a sub-parser of ``python -m analysis``)."""
    parser.add_argument("--data", default="data", metavar="DIR", help="data folder (default: data)")
    parser.add_argument("--out", default="reports", metavar="DIR", help="output folder (default: reports)")
    parser.add_argument(
        "--notebooks", default="notebooks", metavar="DIR", help="notebook folder (default: notebooks)"
    )
    parser.add_argument(
        "--only", nargs="+", default=None, metavar="NAME", help="render only these notebooks (file stems)"
    )
    parser.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="notebook parameter; VALUE is read as a YAML scalar or list (repeatable)",
    )
    parser.add_argument(
        "--jobs", "-j", type=int, default=None, metavar="N", help="notebooks rendered at once (default: cores)"
    )
    parser.add_argument("--force", action="store_true", help="re-render even if nothing changed")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit per notebook cell (default: {DEFAULT_TIMEOUT})",
    )
    parser.add_argument("--show-code", action="store_true", help="include the code in the HTML reports")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="fail (exit 3) instead of waiting when another render writes to the same folder",
    )


def run(args: argparse.Namespace) -> int:
    """Render the notebooks as ``args`` (from :func:`add_arguments`) say; return the exit code.

    Every problem ends in a message, never a traceback: a :class:`RenderError` (its own exit
    code), an ``OSError`` such as a full disk (one line, exit 1). A closed standard output
    (``render ... | head -1``) raises ``BrokenPipeError`` after the workers are stopped;
    :func:`main` and ``python -m analysis`` then end quietly with exit code 141.
    """
    out = sys.stdout
    try:
        return _run(args, out)
    except RenderError as exc:
        print(printable(f"error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        raise
    except OSError as exc:
        print(f"error: {os_error_text(exc)}. Reports that finished are in place; the others keep their "
              "previous version", file=sys.stderr)
        return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m analysis.render [options]``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        _exit_now(_worker_main())
    if argv[:1] == ["--kernel-factory"]:
        from analysis.render.forks import factory_main

        _exit_now(factory_main())
    parser = argparse.ArgumentParser(prog="python -m analysis.render", description=__doc__.split("\n")[0])
    add_arguments(parser)
    try:
        code = run(parser.parse_args(argv))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return stdout_closed()


def _exit_now(code: int) -> None:
    """End a worker or the kernel factory at once, its output flushed: everything it writes
    is written and closed by then, and the main process waits for it, so tearing its
    interpreter down (papermill and nbconvert's modules; in the factory pandas, matplotlib,
    scipy and a validated dataset of perhaps a million rows) would only delay the end of
    the render by tenths of a second."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def printable(text: str) -> str:
    """``text`` with every character a terminal would interpret (escape sequences, carriage
    returns, other control characters) written as its Python escape (``\\x1b``), line by line;
    the same escaping as ``validate``'s ``file:row:column`` lines."""
    return "\n".join("".join(c if c.isprintable() else repr(c)[1:-1] for c in line) for line in text.split("\n"))


def os_error_text(exc: OSError) -> str:
    """``could not write FILE (reason)`` for an operating-system error met while rendering
    (a full disk, a vanished folder), with what to do about a full disk."""
    where = f"could not write {_term_path(Path(exc.filename))}" if exc.filename else "could not write the reports"
    reason = exc.strerror or str(exc)
    hint = "; free some space and run again" if exc.errno == errno.ENOSPC else ""
    return printable(f"{where} ({reason}){hint}")


# --------------------------------------------------------------------------- main process


def _sigterm(signum, frame):
    raise _Terminated()


def _run(args, stream) -> int:
    data_dir = Path(args.data).resolve()
    out = Path(args.out).resolve()
    notebooks_dir = Path(getattr(args, "notebooks", "notebooks")).resolve()
    if not data_dir.exists():
        raise RenderError(f"data folder {args.data} does not exist (use --data DIR)")
    if not data_dir.is_dir():
        raise RenderError(f"data folder {args.data} is a file, not a folder (use --data DIR)")
    if args.jobs is not None and args.jobs < 1:
        raise RenderError("--jobs must be at least 1")
    timeout = args.timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or timeout <= 0:
        raise RenderError(f"--timeout: expected a positive number of seconds (a cell's time limit), found {timeout:g}")
    if out == data_dir or data_dir in out.parents or out in data_dir.parents:
        raise RenderError("the output folder must not be, contain or lie inside the data folder")
    notebooks = find_notebooks(notebooks_dir, args.only)
    params = parse_parameters(args.parameters or [])
    # every value checked against its notebook's declaration before anything is written
    per_notebook = check_parameters(notebooks, assign_parameters(notebooks, params))
    _check_writable(out)

    previous = {}
    if _is_main_thread():
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, _sigterm)
    todo: list[Job] = []
    workers: list[Worker] = []
    factory: KernelFactory | None = None
    manifest = None
    index_error = None
    try:
        with output_lock(out, wait=not getattr(args, "no_wait", False)):
            # only what render wrote may be replaced or removed (OUT/.analysis-render-manifest.json)
            manifest = Manifest.load(out)
            clean_stale(out, manifest)
            manifest.check_targets([nb.stem for nb in notebooks])
            install_kernelspec()
            data_fp = data_fingerprint(data_dir)
            for rel in data_fp.get("outside", []):
                print(printable(f"warning: {_term_path(data_dir)}/{rel} leads outside the data folder "
                                f"{_term_path(data_dir)} (a link); render does not read it"), file=sys.stderr)
            source_hash = package_source_hash()
            versions = package_versions()
            options = {"show_code": bool(getattr(args, "show_code", False)), "data": _display_path(data_dir)}
            jobs, stamps = [], {}
            for nb in notebooks:
                p = per_notebook[nb.stem]
                key = cache_key(nb, p, data_fp, source_hash, versions, options)
                job = Job(nb.stem, nb, p, key)
                if not args.force and _is_current(out / nb.stem, key):
                    job.state = "skipped"
                    manifest.remove_owned_file(f"{FAILED_DIR}/{nb.stem}.ipynb")  # an older attempt
                jobs.append(job)
                stamps[nb.stem] = {
                    "key": key,
                    "notebook": nb.name,
                    "parameters": p,
                    "data": options["data"],
                    "data_sha256": data_fp["sha256"],
                }
            # longest first (by the previous render's time; never rendered counts as longest),
            # so the last notebook to finish does not start late
            todo = sorted((j for j in jobs if j.state == "queued"), key=lambda j: -_previous_seconds(out / j.name))
            # The kernel factory starts first: it validates the data folder (a broken file then
            # costs a second, not one failed notebook per kernel) and keeps the dataset for the
            # kernels it forks, whose notebooks then need not read it again, then imports what
            # the notebooks import (seconds of CPU, once for all kernels). The workers start
            # next and import papermill; each asks the factory for a kernel at once, so kernels
            # are ready before a notebook is assigned. No notebook runs before the data folder
            # is found valid.
            jobs_n = max(1, args.jobs or os.cpu_count() or 1)
            validate = bool(todo) and any(reads_dataset(j.notebook) for j in todo)
            if todo:
                factory = _start_factory(out, preload_modules([j.notebook for j in todo]),
                                         data_dir if validate else None)
            workers = _start_workers(min(jobs_n, len(todo)), out, factory)
            problems = None
            count_rows(data_fp, data_dir)  # for the index, while the factory validates
            if validate:
                problems = validate_data(data_dir, stream=sys.stderr, factory=factory)
            if problems is not None:
                for job in todo:
                    job.state = "not_run"  # no stamp is written: nothing is cached
                todo = []
                _kill_workers([], workers, factory=factory)
                workers, factory = [], None
            elif todo:
                print(
                    f"rendering {len(todo)} of {len(jobs)} notebook(s) into {_term_path(out)} "
                    f"with {min(jobs_n, len(todo))} parallel job(s)",
                    file=stream,
                )
            else:
                print(f"all {len(jobs)} notebook(s) unchanged (use --force to re-render)", file=stream)
            progress = Progress(jobs, stream)
            progress.update()
            _run_jobs(todo, out, data_dir, notebooks_dir, args, stamps, progress, workers=workers,
                      manifest=manifest, factory=factory)
            for worker in workers:  # all done: any still waiting for a notebook exits
                with contextlib.suppress(OSError):
                    worker.proc.stdin.close()
            if factory is not None:  # every worker has exited: no kernel is left to serve
                factory.stop()
                factory = None
            try:
                index = write_index(
                    out,
                    notebooks=[nb.stem for nb in find_notebooks(notebooks_dir)],
                    run={
                        "date": _now(),
                        "parameters": params,
                        "data": _display_path(data_dir),
                        "fingerprint": data_fp,
                        "versions": versions,
                        "show_code": options["show_code"],
                        "validation": None if problems is None else {
                            "count": len(problems), "problems": problems[:MAX_PROBLEM_LINES],
                        },
                    },
                    results={j.name: {"state": j.state, "seconds": j.seconds, **j.failure} for j in jobs},
                    manifest=manifest,
                )
            except OSError as exc:  # a full disk: the reports are in place, the index is the previous one
                index, index_error = None, exc
    except (KeyboardInterrupt, _Terminated) as exc:
        _kill_workers(todo, workers, manifest, factory)
        code = 130 if isinstance(exc, KeyboardInterrupt) else 143
        print("\ninterrupted: previous reports are kept unchanged", file=sys.stderr)
        return code
    except OSError:  # BrokenPipeError (stdout closed) included: no worker outlives the run
        _kill_workers(todo, workers, manifest, factory)
        raise
    finally:
        if factory is not None:  # an error not caught above (a bug): no kernel outlives the run
            factory.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    failed = [j for j in jobs if j.state == "failed"]
    stream.flush()
    if problems is not None:
        print(printable(_validation_text(problems, data_dir, out, [j for j in jobs if j.state == "not_run"])),
              file=sys.stderr)
    groups: dict[tuple, list[Job]] = {}
    for job in failed:
        f = job.failure
        groups.setdefault((f.get("ename"), f.get("evalue"), f.get("detail")), []).append(job)
    for group in groups.values():
        print(printable(_failure_text(group, out)), file=sys.stderr)
    summary = ", ".join(
        f"{n} {s}" for s, n in ((s, sum(j.state == s for j in jobs)) for s in ("done", "skipped", "failed", "not_run")) if n
    ).replace("not_run", "not run")
    if index_error is not None:
        print(f"{summary}; index not written", file=stream)
        print(f"error: {os_error_text(index_error)}. The reports of this run are in place; "
              f"{printable(_term_path(out / INDEX_FILE))} still shows the previous run", file=sys.stderr)
        return EXIT_FAILED
    print(f"{summary}; index: {_term_path(index)}", file=stream)
    return EXIT_FAILED if failed or problems is not None else EXIT_OK


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


MAX_PROBLEM_LINES = 200
"""Problem lines shown on the terminal and in the index; ``validate`` lists them all."""
_LOAD_DATASET = re.compile(r"\bload_dataset\s*\(")


def reads_dataset(notebook: Path) -> bool:
    """Whether ``notebook`` loads the data folder with ``analysis.load.load_dataset``.

    The notebook metadata ``{"analysis": {"validate_data": true|false}}`` decides when
    present; otherwise any code cell calling ``load_dataset(`` counts. Render validates
    the data folder first (:func:`validate_data`) when a notebook to be run reads it.
    """
    meta = _notebook_meta(notebook)
    if isinstance(meta.get("validate_data"), bool):
        return meta["validate_data"]
    nb = json.loads(notebook.read_text(encoding="utf-8"))  # readable: _notebook_meta checked
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            if _LOAD_DATASET.search("".join(source) if isinstance(source, list) else source):
                return True
    return False


def validate_data(data_dir: Path, stream=None, factory: KernelFactory | None = None) -> list[str] | None:
    """Validate ``data_dir`` as ``python -m analysis validate`` does: the result of the kernel
    ``factory``'s validation when it runs, else in this process.

    Returns the ``file:row:column: message`` lines of every problem, or None when the data
    is valid. A loader crash (a bug, not a data problem) is reported on ``stream`` and
    returns None: the notebooks then run and their error notebooks show the traceback.
    """
    try:
        if factory is None:
            raise FactoryUnavailable("no factory")
        problems, crash = factory.validation()
    except FactoryUnavailable:
        problems, crash = data_problems(data_dir)
    if crash is not None:
        print(printable(f"warning: could not validate {_term_path(data_dir)} before rendering "
                        f"({crash}); the notebooks will report it"), file=stream or sys.stderr)
    return problems


def _validation_text(problems: list[str], data_dir: Path, out: Path, jobs: list[Job]) -> str:
    """The terminal summary when validation stopped the run before any notebook started."""
    lines = [
        f"FAILED data folder {_term_path(data_dir)} has {len(problems)} problem(s); "
        "no notebook was run, previous reports are kept:"
    ]
    lines += ["  " + line for line in problems[:MAX_PROBLEM_LINES]]
    if len(problems) > MAX_PROBLEM_LINES:
        lines.append(f"  … {len(problems) - MAX_PROBLEM_LINES} more lines "
                     f"(python -m analysis validate {_term_path(data_dir)} lists them all)")
    names = [j.notebook.name for j in jobs]
    lines.append(f"  not run: {', '.join(names)}")
    kept = [_term_path(out / j.name) for j in jobs if (out / j.name).is_dir()]
    if kept:
        lines.append(f"  previous report(s) kept: {', '.join(kept)}")
    return "\n".join(lines)


def _failure_text(jobs: list[Job], out: Path) -> str:
    """The terminal summary of notebooks that failed with the same error (usually one).

    A broken data file makes every notebook fail with the same ``DataValidationError``;
    its ``file:row:column: message`` lines are then printed once for all of them.
    """
    f = jobs[0].failure

    def where(job: Job) -> str:
        g = job.failure
        if not g.get("cell"):
            return "setup"
        return f"cell {g['cell']}" + (f" of {g['cells']}" if g.get("cells") else "")

    if len(jobs) == 1:
        lines = [f"FAILED {jobs[0].notebook.name}, {where(jobs[0])}: {f.get('ename')}"]
    else:
        names = ", ".join(f"{j.notebook.name} ({where(j)})" for j in jobs)
        lines = [f"FAILED {names}: {f.get('ename')}"]
    evalue = (f.get("evalue") or "").strip()
    if evalue:
        body = evalue.split("\n")  # a carriage return stays inside its line (escaped when printed)
        limit = 200 if "ValidationError" in (f.get("ename") or "") else 20
        lines += ["  " + line for line in body[:limit]]
        if len(body) > limit:
            lines.append(f"  … {len(body) - limit} more lines")
    if f.get("detail"):
        lines += ["  " + line for line in f["detail"].split("\n")]
    for job in jobs:
        prefix = "  " if len(jobs) == 1 else f"  {job.notebook.name}: "
        if job.failure.get("failed_notebook"):
            lines.append(f"{prefix}error notebook: {_term_path(Path(job.failure['failed_notebook']))}")
        if (out / job.name).is_dir():
            lines.append(f"{prefix}previous report kept: {_term_path(out / job.name)}")
    return "\n".join(lines)
