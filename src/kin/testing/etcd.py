"""A throwaway etcd for tests and benchmarks: Debian's ``/usr/bin/etcd`` (3.4) on loopback.

The etcd backend is tested against the real server, not a mock. Each ``EtcdServer``
gets free client and peer ports on 127.0.0.1 and its own temporary directory (data,
log), and is stopped by its exact PID: SIGTERM, then SIGKILL if it lingers, never
a kill by name. The directory is named ``kin.apiserver-etcd-*`` so that the end-of-run
leak check, which looks for ``kin.apiserver`` on command lines, sees a leaked etcd.

``kill()`` and ``start()`` on the same server model a crash and a restart on the same
data directory and ports, for the durability test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from kin.errors import PrerequisiteError

__all__ = ["ETCD", "EtcdServer", "running_etcd"]

ETCD = "/usr/bin/etcd"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EtcdServer:
    """One single-member etcd; use as a context manager (or ``start``/``stop``/``remove``)."""

    def __init__(self, binary: str = ETCD) -> None:
        if not os.access(binary, os.X_OK):
            raise PrerequisiteError(f"etcd is not installed at {binary} (apt install etcd-server)")
        self.binary = binary
        self.workdir = Path(tempfile.mkdtemp(prefix="kin.apiserver-etcd-"))
        self.client_port = free_port()
        self.peer_port = free_port()
        while self.peer_port == self.client_port:
            self.peer_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "etcd.log"

    def argv(self) -> list[str]:
        peer = f"http://127.0.0.1:{self.peer_port}"
        return [
            self.binary,
            "--name=kin-test",
            f"--data-dir={self.workdir / 'data'}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=kin-test={peer}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-level=warn",
        ]

    def start(self) -> EtcdServer:
        """Start (or restart, on the same data and ports) and wait until it is healthy."""
        if self.process is not None and self.process.poll() is None:
            return self
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                raise PrerequisiteError(f"etcd exited with {code}: {self._tail()}")
            if self.healthy():
                return
            time.sleep(0.05)
        self.stop()
        raise PrerequisiteError(f"etcd at {self.url} not healthy after {START_TIMEOUT}s")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return b'"true"' in response.read()
        except (OSError, urllib.error.URLError):
            return False

    def _tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL this etcd (a crash), and reap it."""
        self._signal_and_reap(signal.SIGKILL, STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; reaped either way. Safe to repeat."""
        if not self._signal_and_reap(signal.SIGTERM, STOP_TIMEOUT):
            self.kill()

    def _signal_and_reap(self, signum: int, timeout: float) -> bool:
        process = self.process
        if process is None or process.poll() is not None:
            return True
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)  # exactly this PID; Popen knows it is still ours
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def remove(self) -> None:
        """Stop it and delete its directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EtcdServer:
        try:
            return self.start()
        except BaseException:
            self.remove()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()


@contextlib.contextmanager
def running_etcd(binary: str = ETCD) -> Iterator[EtcdServer]:
    """A started etcd, stopped and removed on exit."""
    with EtcdServer(binary) as server:
        yield server
