"""The kernel factory process (``python -m analysis.render --kernel-factory``).

What it does and its protocol: :mod:`analysis.render.factory`. This module runs only in
the factory process and its forked children (the kernels).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

from analysis.render.factory import KERNEL_MODULES, SHELL_MODULES, _set_parent_death_signal, data_problems, send_line

_LAUNCHER = "ipykernel_launcher"  # sys.argv[0] of a kernel: the launcher's file, set by factory_main


def _log(text: str) -> None:
    print(f"kernel factory: {text}", file=sys.stderr, flush=True)


class ZMQInteractiveShell:
    """Stands for a Jupyter kernel's shell while the factory imports: ``get_ipython()`` answers
    with it, as in a kernel, where pandas, for one, decides at import that it does not run in a
    terminal (``display.max_columns`` 20, not 0). It has nothing else: a module that uses the
    shell at import fails here and is imported by the kernel itself."""

    kernel = True


def _import_all(names: list[str]) -> None:
    import builtins
    import importlib

    builtins.get_ipython = ZMQInteractiveShell  # removed below; the kernel's shell sets its own
    try:
        _import_each(importlib, names)
    finally:
        del builtins.get_ipython
    for name in [m for m in sys.modules if m.startswith(SHELL_MODULES)]:
        del sys.modules[name]  # imported again by the kernel, with its shell running


def _import_each(importlib, names: list[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if getattr(exc, "name", None) != name:  # ``from X import Y`` where Y is no module is fine
                _log(f"import {name} failed ({type(exc).__name__}: {exc}); the kernel imports it itself")
        except Exception as exc:  # noqa: BLE001 - the notebook meets the same error with its traceback
            _log(f"import {name} failed ({type(exc).__name__}: {exc}); the kernel imports it itself")


class _Factory:
    """The serving loop of the factory process (see the module docstring)."""

    def __init__(self, ctl: socket.socket):
        self.ctl = ctl
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        self.workers: dict[socket.socket, bytes] = {}  # connection -> unread bytes
        self.kernels: dict[int, tuple[socket.socket, object]] = {}  # pid -> (connection, request id)

    def serve(self) -> None:
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        self.sel.register(self.ctl, selectors.EVENT_READ, "ctl")
        self.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        try:
            while True:
                for key, _ in self.sel.select(timeout=1.0):
                    if key.data == "stdin":
                        if not os.read(key.fd, 4096):
                            return  # the main process closed it (or died)
                    elif key.data == "ctl":
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(BlockingIOError):
                            os.read(self.wake_r, 4096)
                    else:
                        self._read(key.fileobj)
                self._reap()
        finally:
            for pid in list(self.kernels):
                _kill_group(pid)
            self._reap()

    def _accept(self) -> None:
        try:
            _, fds, _, _ = socket.recv_fds(self.ctl, 16, 4)
        except OSError:
            fds = []
        if not fds:
            raise SystemExit(0)  # the main process closed the control socket
        for fd in fds:
            conn = socket.socket(fileno=fd)
            self.workers[conn] = b""
            self.sel.register(conn, selectors.EVENT_READ, conn)

    def _read(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:  # the worker exited or died: its kernels go with it
            self.sel.unregister(conn)
            self.workers.pop(conn, None)
            for pid, (owner, _) in list(self.kernels.items()):
                if owner is conn:
                    _kill_group(pid)
            conn.close()
            return
        self.workers[conn] += data
        *lines, self.workers[conn] = self.workers[conn].split(b"\n")
        for line in lines:
            if line.strip():
                self._start_kernel(conn, json.loads(line))

    def _start_kernel(self, conn: socket.socket, request: dict) -> None:
        try:
            pid = os.fork()
        except OSError as exc:
            send_line(conn, {"id": request.get("id"), "error": f"fork failed: {exc}"})
            return
        if pid == 0:
            _become_kernel(request, self._closables(), os.getppid())  # never returns
        self.kernels[pid] = (conn, request.get("id"))
        with contextlib.suppress(OSError):
            send_line(conn, {"id": request.get("id"), "pid": pid})

    def _closables(self) -> list:
        return [self.sel, self.ctl, *self.workers, self.wake_r, self.wake_w]

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn, rid = self.kernels.pop(pid, (None, None))
            if conn is not None and conn in self.workers:
                with contextlib.suppress(OSError):
                    send_line(conn, {"id": rid, "exit": os.waitstatus_to_exitcode(status)})


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _close_all(closables: list) -> None:
    for item in closables:
        with contextlib.suppress(Exception):
            os.close(item) if isinstance(item, int) else item.close()


def _child_setup(closables: list, parent: int) -> None:
    """In a forked child: drop the factory's sockets and signal handling, die with the factory."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _close_all(closables)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    _set_parent_death_signal()
    if os.getppid() != parent:  # the factory died before the signal was set
        os._exit(1)


def _become_kernel(request: dict, closables: list, parent: int) -> None:
    """In a forked child: run an IPython kernel as ``python -m ipykernel_launcher ARGV`` would,
    in the requested folder and environment; never returns."""
    code = 1
    try:
        os.setsid()  # its own process group, as jupyter_client starts kernels
        _child_setup(closables, parent)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if "numpy" in sys.modules:  # a fresh kernel draws fresh random numbers
            sys.modules["numpy"].random.seed()
        from ipykernel import kernelapp

        argv = list(request["argv"]) + [f"--IPKernelApp.parent_handle={parent}"]
        sys.argv = [_LAUNCHER] + list(request["argv"])
        try:
            kernelapp.launch_new_instance(argv=argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        import atexit

        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - a child must never return into the factory's loop
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _validate(data_dir: str, fd: int) -> None:
    """Validate ``data_dir`` in this process and write the result to ``fd`` (then closed). A
    valid dataset stays in this process (:func:`analysis.load.validate_ahead`): the kernels
    forked later find it when their notebook loads the same, unchanged folder."""
    try:
        problems, crash = data_problems(Path(data_dir), keep=True)
        data = json.dumps({"problems": problems, "crash": crash}).encode()
        with contextlib.suppress(OSError):  # the main process is gone: the factory follows
            while data:
                data = data[os.write(fd, data):]
    finally:
        os.close(fd)  # the main process reads until it is closed


def factory_main() -> int:
    """Entry point of ``python -m analysis.render --kernel-factory`` (configuration on stdin)."""
    # as ipykernel_launcher does before it imports anything: the working directory leaves sys.path
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    config = json.loads(sys.stdin.readline() or "{}")
    ctl = socket.socket(fileno=config["ctl"])
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    started = time.monotonic()
    if config.get("validate") is not None:
        _import_all(["analysis.load"])  # pandas and pandera (a failed import: reported as a crash)
        _validate(config["validate"], config["validation_fd"])
    import importlib.util

    import ipykernel.kernelapp  # noqa: F401

    global _LAUNCHER
    _LAUNCHER = getattr(importlib.util.find_spec("ipykernel_launcher"), "origin", None) or "ipykernel_launcher"
    _import_all(list(KERNEL_MODULES) + config.get("preload", []))
    import gc

    gc.collect()
    gc.freeze()  # the kernels share these pages instead of copying them when the collector runs
    _log(f"ready in {time.monotonic() - started:.2f} s ({len(sys.modules)} modules)")
    try:
        _Factory(ctl).serve()
    except SystemExit:
        pass
    return 0
