"""Small file primitives shared by every layer: an exclusive lock file and atomic writes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["listen_unix", "locked", "socket_path", "write_atomic"]

UNIX_PATH_MAX = 107  # sun_path is 108 bytes with its terminating NUL


@contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_atomic(path: str, text: str, mode: int | None = None) -> None:
    """Readers see the old content or the new, never a half-written file. ``mode`` is set
    whatever the umask; a failed write leaves the old file and no temporary behind."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def listen_unix(path: str, backlog: int = 128, dir_mode: int = 0o700) -> socket.socket:
    """A unix stream socket listening at ``path`` (replacing a stale one), for root only."""
    os.makedirs(os.path.dirname(path) or ".", mode=dir_mode, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with socket_path(path) as short:
            listener.bind(short)
        os.chmod(path, 0o600)
        listener.listen(backlog)
    except OSError:
        listener.close()
        raise
    return listener


@contextmanager
def socket_path(path: str) -> Iterator[str]:
    """A name for ``path`` that fits in a unix socket address, valid for the block.

    A path longer than ``sun_path`` is reached through ``/proc/self/fd/<dir fd>/<name>``,
    which binds and connects the same socket file.
    """
    if len(path.encode()) <= UNIX_PATH_MAX:
        yield path
        return
    fd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{os.path.basename(path)}"
    finally:
        os.close(fd)
