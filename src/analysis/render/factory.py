"""The kernel factory: the notebooks' imports paid once per render, one fresh kernel per notebook.

Starting a kernel and importing pandas, matplotlib, scipy, statsmodels, pandera and the
``analysis`` modules costs seconds of CPU, several times what the shipped notebooks do
with them. A render therefore starts one *factory* process
(``python -m analysis.render --kernel-factory``) next to its workers:

1. it imports ``analysis.load`` and, when asked, validates the data folder
   (:func:`data_problems`) and writes the result to a pipe of the main process; a valid
   dataset stays in its memory, so a kernel forked later whose notebook loads the same,
   unchanged folder gets it without reading and validating the folder again
   (:func:`analysis.load.validate_ahead`: a million IPD rows are read and checked once per
   render, not once more per notebook);
2. it imports ipykernel and the modules the notebooks to be run import
   (:func:`preload_modules`), then freezes its heap (``gc.freeze``) so forks share it;
3. it serves kernel requests of the workers: each request forks a child that becomes a
   kernel, exactly as ``python -m ipykernel_launcher -f CONNECTION_FILE`` would start, in
   the requested folder and environment, its own session (process group), with the
   factory as its parent. A kernel is never reused: one fork per notebook.

Only the imports and the validated dataset are shared: every kernel starts from the same
state, the state of a process that has imported these modules and validated the data folder,
and nothing else. Modules whose import
depends on a running IPython shell (matplotlib's inline backend) are never preloaded.

Protocol (JSON lines on a Unix socket pair per worker, see :mod:`analysis.render.kernels`):
the worker sends ``{"id", "argv", "cwd", "env"}``; the factory answers ``{"id", "pid"}``
(or ``{"id", "error"}``) and later ``{"id", "exit"}`` when the kernel has exited. When a
worker's socket closes (the worker exited or died), the factory kills the kernels it
started for that worker. The factory exits when its standard input closes, killing the
kernels left; it dies with the main process (``PR_SET_PDEATHSIG``) and the kernels die with
it (the same signal, and ipykernel's parent poller).

Linux only (parent-death signal, fd passing); elsewhere, and whenever the factory cannot
serve, workers start ``python -m ipykernel_launcher`` as before (:func:`available`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KERNEL_NAME = "stemcell-analysis"
KERNEL_DISPLAY_NAME = "Python (stemcell-analysis)"
#: the worker's end of its socket to the factory, as a file descriptor number
FACTORY_FD_ENV = "ANALYSIS_KERNEL_FACTORY_FD"
#: top-level packages whose modules are imported by the factory when a notebook imports them;
#: other imports (the user's own modules, anything that looks for a running shell) run in the kernel
PRELOAD_ROOTS = ("analysis", "numpy", "pandas", "matplotlib", "scipy", "statsmodels", "pandera", "IPython")
#: modules whose import hooks into the running IPython shell: never imported before the kernel runs
SHELL_MODULES = ("matplotlib_inline",)
#: what an ipykernel imports while it starts (its debugger support: debugpy, ~100 modules;
#: its history: sqlite3; psutil; ...), imported by the factory before any kernel is forked
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "IPython.core.history",
                  "IPython.core.debugger", "IPython.core.completerlib", "IPython.core.oinspect",
                  "IPython.extensions.storemagic", "tornado.platform.asyncio", "sqlite3", "psutil", "faulthandler")
_VALIDATION_TIMEOUT = 120.0


def kernel_argv() -> list[str]:
    """The command that starts the project's kernel: this Python with ipykernel."""
    return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def available() -> bool:
    """Whether kernels can come from a factory here (Linux: fork, fd passing, parent-death signal)."""
    import socket

    return sys.platform.startswith("linux") and hasattr(socket, "send_fds")


def _set_parent_death_signal() -> None:
    """Die (SIGKILL) when the parent process dies (Linux; a no-op elsewhere). Runs in a child,
    between fork and exec for the workers and the factory, after the fork for the kernels."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# --------------------------------------------------------------------------- what to import


def preload_modules(notebooks: list[Path]) -> list[str]:
    """The modules the factory imports for ``notebooks``: every ``import X`` / ``from X import
    Y`` at the top level of their code cells (``X.Y`` too, in case it is a module) whose top
    package is in :data:`PRELOAD_ROOTS`, in the order they first appear."""
    import ast

    found: dict[str, None] = {}
    for path in notebooks:
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            # IPython syntax (%magic, !shell) is not Python: those lines are left out
            source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
            try:
                body = ast.parse(source).body
            except (SyntaxError, ValueError):
                continue
            for node in body:
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
                for name in names:
                    if name.split(".")[0] in PRELOAD_ROOTS and not name.startswith(SHELL_MODULES):
                        found.setdefault(name)
    return list(found)


def data_problems(data_dir: Path, keep: bool = False) -> tuple[list[str] | None, str | None]:
    """Validate ``data_dir`` as ``python -m analysis validate`` does: (the ``file:row:column:
    message`` lines of every problem or None when valid, the text of a loader crash or None).
    ``keep``: a valid dataset stays in this process for the kernels it forks
    (:func:`analysis.load.validate_ahead`)."""
    from analysis.load import DataValidationError, load_dataset, validate_ahead

    try:
        (validate_ahead if keep else load_dataset)(data_dir)
    except DataValidationError as exc:
        return [str(p) for p in exc.problems] or [str(exc)], None
    except Exception as exc:  # noqa: BLE001 - a loader bug, reported by the caller
        return None, f"{type(exc).__name__}: {exc}"
    return None, None


# --------------------------------------------------------------------------- main process: the handle


class FactoryUnavailable(Exception):
    """The factory did not answer (it failed to start, died, or is not supported here)."""


class KernelFactory:
    """The main process's handle on the factory process (:func:`KernelFactory.start`)."""

    def __init__(self, proc: subprocess.Popen, ctl, log, validation: int | None):
        self.proc = proc
        self.ctl = ctl
        self.log = log
        self._validation = validation  # read end of the validation pipe

    @classmethod
    def start(cls, env: dict, preload: list[str], validate: Path | None = None) -> KernelFactory | None:
        """Start the factory with ``env`` (the workers' environment) in the working directory,
        so that its kernels see the paths a kernel started there sees; None when not
        :func:`available`. ``validate``: a data folder to validate before any kernel is forked."""
        if not available():
            return None
        import socket

        ctl, ctl_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_fd = write_fd = None
        if validate is not None:
            read_fd, write_fd = os.pipe()
        log = tempfile.TemporaryFile()
        config = {"ctl": ctl_child.fileno(), "preload": list(preload),
                  "validate": None if validate is None else str(validate), "validation_fd": write_fd}
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "analysis.render", "--kernel-factory"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
                pass_fds=[fd for fd in (ctl_child.fileno(), write_fd) if fd is not None],
                preexec_fn=_set_parent_death_signal,
            )
            proc.stdin.write((json.dumps(config) + "\n").encode())
            proc.stdin.flush()
        except OSError:
            ctl.close()
            for fd in (read_fd,):
                if fd is not None:
                    os.close(fd)
            log.close()
            return None
        finally:
            ctl_child.close()
            if write_fd is not None:
                os.close(write_fd)
        return cls(proc, ctl, log, read_fd)

    def connect_worker(self):
        """A new socket pair: one end goes to the factory, the other (returned) to a worker,
        which passes it on to its kernel requests. None when the factory is gone."""
        import socket

        if self.proc.poll() is not None:
            return None
        worker, factory = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self.ctl, [b"w"], [factory.fileno()])
        except OSError:
            worker.close()
            return None
        finally:
            factory.close()
        return worker

    def validation(self, timeout: float = _VALIDATION_TIMEOUT) -> tuple[list[str] | None, str | None]:
        """The factory's validation result, as :func:`data_problems`; raises
        :class:`FactoryUnavailable` when no result came (then validate in this process)."""
        if self._validation is None:
            raise FactoryUnavailable("no validation was asked for")
        import select

        fd, self._validation = self._validation, None
        chunks, deadline = [], time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([fd], [], [], left)[0]:
                    break
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        try:
            result = json.loads(b"".join(chunks))
            return result["problems"], result["crash"]
        except (ValueError, KeyError, TypeError):
            raise FactoryUnavailable("the factory gave no validation result") from None

    def stop(self, timeout: float = 10.0) -> None:
        """End the factory (it kills any kernel left) and wait for it."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close()

    def kill(self) -> None:
        """Kill the factory at once; its kernels die with it (parent-death signal)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.ctl.close()
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        if self._validation is not None:
            with contextlib.suppress(OSError):
                os.close(self._validation)
            self._validation = None
        with contextlib.suppress(Exception):
            self.log.close()

    def log_tail(self, lines: int = 15) -> str:
        """The end of the factory's (and its kernels') standard error."""
        with contextlib.suppress(Exception):
            self.log.seek(0)
            return "\n".join(self.log.read().decode("utf-8", "replace").strip().splitlines()[-lines:])
        return ""


def send_line(sock, message: dict) -> None:
    """Send ``message`` as one JSON line (the factory protocol)."""
    sock.sendall((json.dumps(message) + "\n").encode())
