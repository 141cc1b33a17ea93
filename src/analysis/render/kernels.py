"""A worker's kernels: forked by the kernel factory, started before their notebook arrives.

Imported by worker processes only (it imports jupyter_client). A worker asks the factory
(:mod:`analysis.render.factory`) for a kernel through its socket; :class:`ForkProvisioner`
is the jupyter_client provisioner of such a kernel: it sends the launch command, folder and
environment jupyter_client would have used for ``Popen`` and gets the pid of a forked
kernel, which it then signals, polls and kills like a child (the factory reports its exit).
When the factory cannot serve (not started, died, unsupported platform) it launches
``python -m ipykernel_launcher`` itself, as jupyter_client does.

:class:`WarmKernels` keeps one kernel started ahead: the worker starts one as soon as it
runs (while the data folder is validated), and the next one before a notebook when more
notebooks are queued, so a notebook never waits for a kernel to start. Each kernel serves
one notebook and is shut down after it (:func:`shutdown`); a kernel started ahead that is
not needed is shut down when the worker exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import uuid

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.utils import run_sync

from analysis.render.factory import (
    FACTORY_FD_ENV,
    KERNEL_DISPLAY_NAME,
    KERNEL_NAME,
    FactoryUnavailable,
    kernel_argv,
    send_line,
)

_REQUEST_TIMEOUT = 120.0  # the factory imports for a few seconds before it serves
_EXIT_WAIT = 5.0  # seconds a kernel asked to shut down has to exit before it is killed (jupyter_client's default)


class FactoryClient:
    """A worker's socket to the factory: kernel requests and the kernels' exit codes."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.replies: dict[int, dict] = {}
        self.exits: dict[int, int] = {}
        self.closed = False
        self.next_id = 0

    @classmethod
    def from_environment(cls) -> FactoryClient | None:
        """The client of the socket named by :data:`FACTORY_FD_ENV` (taken out of the
        environment, so kernels do not inherit it), or None."""
        fd = os.environ.pop(FACTORY_FD_ENV, None)
        if not fd:
            return None
        try:
            return cls(socket.socket(fileno=int(fd)))
        except (OSError, ValueError):
            return None

    def _pump(self, timeout: float | None) -> bool:
        """Read what the factory sent (wait up to ``timeout`` s); False when nothing came."""
        if self.closed:
            return False
        try:
            if not select.select([self.sock], [], [], timeout)[0]:
                return False
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.close()
            return False
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                message = json.loads(line)
                if "exit" in message:
                    self.exits[message["id"]] = int(message["exit"])
                else:
                    self.replies[message["id"]] = message
        return True

    def request(self, argv: list[str], cwd: str, env: dict, timeout: float = _REQUEST_TIMEOUT) -> tuple[int, int]:
        """Ask for a kernel started as ``python -m ipykernel_launcher ARGV`` in ``cwd`` with
        ``env``: (request id, pid). Raises :class:`FactoryUnavailable` if the factory does not
        answer in ``timeout`` s (the socket is then closed, so it kills what it starts late)."""
        rid, self.next_id = self.next_id, self.next_id + 1
        try:
            send_line(self.sock, {"id": rid, "argv": argv, "cwd": cwd, "env": env})
        except OSError:
            self.close()
        deadline = time.monotonic() + timeout
        while rid not in self.replies:
            left = deadline - time.monotonic()
            if self.closed or left <= 0:
                self.close()
                raise FactoryUnavailable("the kernel factory did not answer")
            self._pump(left)
        reply = self.replies.pop(rid)
        if "pid" not in reply:
            raise FactoryUnavailable(str(reply.get("error")))
        return rid, int(reply["pid"])

    def exit_code(self, rid: int) -> int | None:
        """The exit code of kernel ``rid``, None while it runs."""
        while self._pump(0):
            pass
        if rid in self.exits:
            return self.exits[rid]
        return -signal.SIGKILL if self.closed else None  # the factory is gone, its kernels with it

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()


class ForkedKernel:
    """The part of ``subprocess.Popen`` jupyter_client uses, for a kernel forked by the factory."""

    stdin = stdout = stderr = None

    def __init__(self, client: FactoryClient, rid: int, pid: int):
        self.client, self.rid, self.pid = client, rid, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.client.exit_code(self.rid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # never signal a pid that may have been given to another process
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):
    """Launch through the factory when it serves, else as :class:`LocalProvisioner` does."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        client = getattr(self.parent, "factory", None)
        if client is not None and not client.closed and cmd[:3] == kernel_argv()[:3]:
            env = dict(kwargs.get("env") or os.environ)
            env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher sets it
            cwd = str(kwargs.get("cwd") or os.getcwd())
            try:
                rid, pid = client.request(list(cmd[3:]), cwd, env)
            except FactoryUnavailable:
                pass
            else:
                self.process = ForkedKernel(client, rid, pid)
                self.pid = self.pgid = pid  # the kernel leads its own process group
                self.cwd = cwd
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)

    async def send_signal(self, signum: int) -> None:
        if isinstance(self.process, ForkedKernel):
            self.process.send_signal(signum)
            return
        await super().send_signal(signum)


class ProjectKernelManager(AsyncKernelManager):
    """Always this Python (:func:`kernel_argv`), whatever kernelspecs are installed; forked
    by the factory when :attr:`factory` is set."""

    factory: FactoryClient | None = None

    @property
    def kernel_spec(self):
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(argv=kernel_argv(), display_name=KERNEL_DISPLAY_NAME,
                                           language="python", metadata={}, resource_dir=os.getcwd())
        return self._kernel_spec

    async def _async_pre_start_kernel(self, **kw):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


def start_kernel(client: FactoryClient | None, cwd: str) -> ProjectKernelManager:
    """A started kernel (not yet known to be ready) in ``cwd``."""
    km = ProjectKernelManager(kernel_name=KERNEL_NAME)
    km.factory = client
    run_sync(km.start_kernel)(cwd=cwd)
    return km


def ready_client(km: ProjectKernelManager, timeout: float):
    """A started client of ``km``'s kernel once the kernel answers ``kernel_info`` and its
    output channel is connected, as ``KernelClient.wait_for_ready`` checks, without that
    method's last step, a wait for 0.2 s of silence on the output channel (nbclient reads
    only the outputs of the cell it runs, so messages left from the start are harmless)."""
    kc = km.client()
    kc.start_channels()
    try:
        run_sync(_wait_ready)(kc, km, timeout)
    except BaseException:
        kc.stop_channels()
        raise
    kc.allow_stdin = False
    return kc


async def _wait_ready(kc, km, timeout: float) -> None:
    from queue import Empty

    deadline = time.monotonic() + timeout
    while True:
        kc.kernel_info()
        try:
            msg = await kc.shell_channel.get_msg(timeout=1)
        except Empty:
            pass
        else:
            if msg["msg_type"] == "kernel_info_reply":
                try:  # the output channel is connected once the kernel's status reaches it
                    await kc.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    with contextlib.suppress(Exception):
                        kc._handle_kernel_info_reply(msg)
                    break
        if not await km.is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
    while True:  # what is there already, without waiting for more
        try:
            await kc.iopub_channel.get_msg(timeout=0)
        except Empty:
            break


def shutdown(km: ProjectKernelManager | None, now: bool = True) -> None:
    """Shut ``km``'s kernel down if it still runs (killed when ``now``), and free its resources."""
    if km is None:
        return
    with contextlib.suppress(Exception):
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=now)
    with contextlib.suppress(Exception):
        run_sync(km.cleanup_resources)()


def _alive(km: ProjectKernelManager) -> bool:
    try:
        return bool(run_sync(km.is_alive)())
    except Exception:  # noqa: BLE001 - a manager in a broken state: treat its kernel as gone
        return False


class WarmKernels:
    """The kernels of a worker: the one started ahead (see the module docstring) and those
    asked to shut down, which exit while the worker writes the HTML and runs the next
    notebook (an ipykernel takes about a second to exit); one that has not exited after
    five seconds is killed, and :meth:`close` waits for all of them."""

    def __init__(self, client: FactoryClient | None):
        self.client = client
        self.spare: tuple[ProjectKernelManager, str] | None = None
        self.retired: list[tuple[ProjectKernelManager, float]] = []

    def prestart(self, cwd: str) -> None:
        """Start a kernel in ``cwd`` for the next notebook, unless one is waiting already."""
        if self.spare is None:
            try:
                self.spare = (start_kernel(self.client, cwd), cwd)
            except Exception as exc:  # noqa: BLE001 - the notebook then starts its own kernel
                print(f"could not start a kernel ahead: {type(exc).__name__}: {exc}", file=sys.stderr)

    def take(self, cwd: str) -> ProjectKernelManager:
        """The kernel started ahead when it runs in ``cwd`` and is alive, else a new one."""
        spare, self.spare = self.spare, None
        if spare is not None:
            km, where = spare
            if where == cwd and _alive(km):
                return km
            shutdown(km)
        return start_kernel(self.client, cwd)

    def retire(self, km: ProjectKernelManager | None, kc=None) -> None:
        """Close ``kc`` (the notebook's client) and ask ``km``'s kernel to shut down, without
        waiting for it to exit (:meth:`reap` makes sure it does)."""
        if km is None or any(k is km for k, _ in self.retired):
            return
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        try:
            if _alive(km):
                run_sync(km.request_shutdown)()
        except Exception:  # noqa: BLE001 - it is killed below instead
            shutdown(km)
            return
        self.retired.append((km, time.monotonic() + _EXIT_WAIT))

    def reap(self, wait: bool = False) -> None:
        """Free the kernels that have exited; kill those past their time (all, when ``wait``,
        after waiting for them to exit)."""
        left = []
        for km, deadline in self.retired:
            while wait and _alive(km) and time.monotonic() < deadline:
                time.sleep(0.02)
            if not _alive(km):
                with contextlib.suppress(Exception):
                    run_sync(km.cleanup_resources)()
            elif wait or time.monotonic() >= deadline:
                shutdown(km)
            else:
                left.append((km, deadline))
        self.retired = left

    def close(self) -> None:
        """Shut down the kernel started ahead and wait for (or kill) the retired ones."""
        spare, self.spare = self.spare, None
        if spare is not None:
            shutdown(spare[0])
        self.reap(wait=True)
