"""Processes named by PID *and* start time, so a recycled PID is never signalled.

kin records every daemon it starts as ``ProcessRecord(pid, starttime)``; cleanup
signals a PID only while ``/proc/<pid>/stat`` still shows the recorded start
time. A zombie counts as gone: its resources are already released, and on
machines whose init reaps lazily it may linger for seconds.

Also here: ``set_process_title``, so a daemon's ``ps`` line names it as
``kin.node --node myk8s-worker`` rather than as a Python command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
from collections.abc import Iterator

from kin.linux.files import locked, write_atomic
from kin.proctitle import set_process_title

__all__ = [
    "ProcessRecord",
    "kill_and_wait",
    "process_state",
    "reaped",
    "record_while_owned",
    "set_process_title",
    "spawn_daemon",
    "start_time",
]


class ProcessRecord:
    """A process by PID and start time (clock ticks after boot). A plain class: see spec.py."""

    __slots__ = ("pid", "starttime")

    def __init__(self, pid: int, starttime: int) -> None:
        self.pid = pid
        self.starttime = starttime

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProcessRecord):
            return NotImplemented
        return (self.pid, self.starttime) == (other.pid, other.starttime)

    def __hash__(self) -> int:
        return hash((self.pid, self.starttime))

    def __repr__(self) -> str:
        return f"ProcessRecord(pid={self.pid}, starttime={self.starttime})"

    @classmethod
    def of(cls, pid: int) -> ProcessRecord:
        started = start_time(pid)
        if started is None:
            raise ProcessLookupError(pid, f"process {pid} does not exist")
        return cls(pid, started)

    def save(self, path: str) -> None:
        """Write ``{"pid": ..., "starttime": ...}`` atomically."""
        write_atomic(path, json.dumps({"pid": self.pid, "starttime": self.starttime}))

    @classmethod
    def load(cls, path: str) -> ProcessRecord | None:
        """The record saved at ``path``, or None when there is none (or it is unreadable)."""
        try:
            with open(path) as f:
                raw = json.load(f)
            return cls(int(raw["pid"]), int(raw["starttime"]))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def alive(self) -> bool:
        """True while the PID is still this process and it has not exited."""
        stat = _read_stat(self.pid)
        return stat is not None and int(stat[19]) == self.starttime and stat[0] != "Z"

    def signal(self, signum: int) -> bool:
        """Send ``signum`` if the process is still this one; False when it is gone."""
        if not self.alive():
            return False
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        return True


def _read_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from ``state`` on (index 0 = state, 19 = starttime)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces and parentheses; the last ')' ends it.
    return raw[raw.rindex(")") + 2 :].split()


def reaped() -> Iterator[tuple[int, int]]:
    """``(pid, wait status)`` of every child that has exited, without blocking."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status


def record_while_owned(
    record: ProcessRecord, pid_file: str, owner_file: str, lock_file: str
) -> None:
    """Save ``record`` under ``lock_file`` only while ``owner_file`` exists, else OSError:
    a process started for a cluster that is deleted meanwhile never runs unrecorded."""
    lock = locked(lock_file) if lock_file else contextlib.nullcontext()
    with lock:
        if owner_file and not os.path.exists(owner_file):
            raise OSError(f"its owner {owner_file} is gone (deleted while starting)")
        record.save(pid_file)


def start_time(pid: int) -> int | None:
    stat = _read_stat(pid)
    return None if stat is None else int(stat[19])


def process_state(pid: int) -> str | None:
    """The one-letter state (R, S, Z, ...) or None if there is no such process."""
    stat = _read_stat(pid)
    return None if stat is None else stat[0]


def kill_and_wait(
    records: list[ProcessRecord], signum: int = signal.SIGKILL, timeout: float = 5.0
) -> list[ProcessRecord]:
    """Signal every live record, then wait until all have exited. Returns the survivors."""
    waiting = [r for r in records if r.signal(signum)]
    deadline = time.monotonic() + timeout
    for record in waiting:
        _wait_exit(record, deadline)
    return [r for r in waiting if r.alive()]


def _wait_exit(record: ProcessRecord, deadline: float) -> None:
    try:
        fd = os.pidfd_open(record.pid)
    except ProcessLookupError:
        return
    try:
        if not record.alive():
            return
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.poll(max(0.0, deadline - time.monotonic()) * 1000)
    finally:
        os.close(fd)


def spawn_daemon(
    argv: list[str],
    log_path: str,
    env: dict[str, str],
    inherit: tuple[int, ...] = (),
    fd3: int | None = None,
) -> int:
    """Start ``argv`` (looked up on PATH) in a session of its own, stdin from /dev/null and
    stdout and stderr appended to ``log_path``; the fds in ``inherit`` stay open in it, and
    ``fd3`` becomes its fd 3 (a socket handed over for socket activation)."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    if fd3 is not None and fd3 != 3:
        actions.append((os.POSIX_SPAWN_DUP2, fd3, 3))
    elif fd3 == 3:
        inherit = (*inherit, 3)  # dup2 onto itself would keep close-on-exec
    for fd in inherit:
        os.set_inheritable(fd, True)
    try:
        return os.posix_spawnp(argv[0], argv, env, file_actions=actions, setsid=True)
    finally:
        for fd in inherit:
            os.set_inheritable(fd, False)
