"""Process titles: every kin daemon names itself in ``ps`` (``kin.kubelet --node w1``).

A module of its own, below every layer, so that parts that may not touch the kernel
otherwise (the API server) can still say who they are.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["set_process_title"]

PR_SET_NAME = 15
ARG_START, ARG_END = 47, 48  # fields of /proc/<pid>/stat after the command, from 0


def set_process_title(title: str) -> None:
    """Rewrite this process's command line (as ``ps`` shows it) and its name.

    The new title is written over the original argv area, so it is cut to that
    length; the kernel's ``comm`` gets the first word (15 bytes at most).
    """
    try:
        with open(f"/proc/{os.getpid()}/stat", "rb") as f:
            raw_stat = f.read().decode(errors="replace")
    except OSError:
        return
    fields = raw_stat[raw_stat.rindex(")") + 2 :].split()
    start, end = int(fields[ARG_START - 2]), int(fields[ARG_END - 2])
    raw = title.encode()[: end - start - 1]
    ctypes.memmove(start, raw + b"\0" * (end - start - len(raw)), end - start)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(title.split()[0].encode()[:15]), 0, 0, 0)
