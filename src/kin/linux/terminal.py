"""Pseudo-terminals for containers: from the container's own devpts, sized by the client.

A container's terminal must come from the devpts instance mounted in the container, so
that its slave is a ``/dev/pts/N`` in there (``tty`` names it, programs reopen it); both
exec sessions and containers started with ``tty: true`` take theirs from here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import struct
import termios

__all__ = ["make_controlling", "open_pty", "resize"]

TIOCSPTLCK = 0x40045431
TIOCGPTN = 0x80045430


def open_pty(root: str) -> tuple[int, int]:
    """A (master, slave) pair from the devpts instance under ``root`` (the current process's
    own ``/dev/pts`` when ``root`` is ``/``, the default one when it is empty)."""
    if not root:
        return pty.openpty()
    base = root.rstrip("/")
    master = os.open(f"{base}/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        (number,) = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))
        slave = os.open(f"{base}/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        os.close(master)
        raise
    return master, slave


def make_controlling(slave: int) -> None:
    """Make ``slave`` the controlling terminal of this process (a session leader)."""
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)


def resize(master: int, payload: bytes) -> None:
    """Apply a ``{"Width": W, "Height": H}`` resize message; a malformed one is ignored."""
    with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
        size = json.loads(payload)
        packed = struct.pack("HHHH", int(size["Height"]), int(size["Width"]), 0, 0)
        fcntl.ioctl(master, termios.TIOCSWINSZ, packed)
