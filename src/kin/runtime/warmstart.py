"""Run kin's own daemons in their pods without starting Python again.

kube-apiserver, kube-controller-manager, kube-scheduler and flanneld are containers whose
command is ``<this interpreter> -m kin.<module> ...``. Exec'd, each would pay Python's
start-up and its imports again (~0.5 s of CPU and ~25 MiB of private heap apiece), while
the shim that starts it is a fork of the cluster's zygote and has most of that imported.
So the container's process, once it stands where exec would leave it (the pod's
namespaces and cgroups, its own file system, stdio, capabilities and user, default signal
dispositions), runs the module's ``main`` in place: what the shim imported stays shared
copy-on-write with every other process of the cluster, and the daemon starts in
milliseconds.

In place only when exec would have run this very interpreter on the node's own files (no
image) with one of kin's modules; anything else, or a module that cannot be imported,
is exec'd as usual. What the shim holds must not leak into the daemon: every descriptor
above stdio is closed, the signal wake-up descriptor is dropped, the shim's objects are
frozen out of the garbage collector (their frames never return, so nothing closes a
descriptor number the daemon reuses) and the process exits without running the shim's
clean-up.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
from typing import Any, NoReturn

from kin.linux.zygote import resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Entry = Callable[[list[str]], int | None]

__all__ = ["run_in_place", "warm_entry"]


def warm_entry(program: str, argv: list[str], spec: dict[str, Any]) -> Entry | None:
    """The ``main`` to run in place of exec'ing ``program`` with ``argv``, or None."""
    if spec.get("rootfs") or spec.get("tty") or len(argv) < 3 or argv[1] != "-m":
        return None
    if os.path.realpath(program) != os.path.realpath(sys.executable):
        return None
    try:
        return resolve(argv)
    except ValueError:  # not kin's, or not importable here: exec says why
        return None


def run_in_place(entry: Entry, argv: list[str], env: dict[str, str]) -> NoReturn:
    """Become the daemon ``argv`` names, as exec would have made it; never returns."""
    signal.set_wakeup_fd(-1)
    gc.collect()  # the shim's garbage closes its own descriptors now, not the daemon's later
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    gc.freeze()
    logging.root.handlers.clear()  # the daemon configures its own, as after exec
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [argv[2], *argv[3:]]  # each main names itself in ps
    try:
        code = entry(argv[3:])
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code
        else:  # sys.exit("message"), as the interpreter reports it
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)
