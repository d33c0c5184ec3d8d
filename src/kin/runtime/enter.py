"""Run a command inside a running container, as the container itself runs: ``exec``.

What ``runc exec`` does for containerd: the new process joins the container's cgroups
and its IPC, UTS, network, PID and mount namespaces, takes its root and working
directory, keeps only the container's capabilities, and becomes the container's user
and groups, with the container's environment. So ``kubectl exec pod -- id`` answers
with the pod's ``runAsUser``, and a process exec'd into a container is limited as the
container is (``nsenter`` would have left it root with every capability of the node).

The runtime runs ``python -I -m kin.runtime.enter -- CMD...`` with the spec in
``KIN_EXEC_SPEC`` (JSON: ``pid``, ``env``, ``cwd``, ``cgroups``, ``capabilities``,
``user``; not on the command line, where ``ps`` would show the container's
environment). This process enters, forks (a PID namespace takes effect in children),
waits, and exits as the command did, so the runtime sees the command's exit code; one
process group, so a time-out kills both. Every import is made before the mount
namespace changes.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys

from kin.linux import syscalls
from kin.linux.capabilities import limit_bounding_set
from kin.runtime.launch import DEFAULT_PATH, LaunchError, become_user, join_cgroups, resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["SPEC_VARIABLE", "main"]

SPEC_VARIABLE = "KIN_EXEC_SPEC"
NAMESPACES = syscalls.JOINABLE_NAMESPACES
CANNOT_RUN = 126
NOT_FOUND = 127
PR_SET_DUMPABLE = 4
_libc = ctypes.CDLL(None, use_errno=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[1:] if args[:1] == ["--"] else args
    spec = json.loads(os.environ.pop(SPEC_VARIABLE, "") or "null")
    if not command or not isinstance(spec, dict):
        sys.stderr.write(f"usage: {SPEC_VARIABLE}=SPEC python -m kin.runtime.enter -- CMD...\n")
        return 2
    try:
        _enter(spec)
    except OSError as exc:
        sys.stderr.write(f"failed to enter container process {spec.get('pid')}: {exc}\n")
        return CANNOT_RUN
    sys.stdout.flush()
    child = os.fork()
    if child == 0:
        _run(spec, command)  # never returns
    return _wait(child)


def _enter(spec: dict[str, Any]) -> None:
    # Not dumpable while it holds the node's capabilities inside the container's PID
    # namespace, so no process in there can ptrace it (runc's CVE-2016-9962); exec resets it.
    if _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")
    join_cgroups(spec.get("cgroups") or [])  # by their node paths: before the mount namespace
    pid = int(spec["pid"])
    root = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fds = [(os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag)
           for name, flag in NAMESPACES]  # fmt: skip
    for fd, flag in fds:
        syscalls.setns(fd, flag)
        os.close(fd)
    os.fchdir(root)
    os.chroot(".")
    os.close(root)


def _run(spec: dict[str, Any], command: list[str]) -> None:
    code = CANNOT_RUN
    try:
        os.chdir(spec.get("cwd") or "/")
        env = dict(spec.get("env") or {})
        env.setdefault("PATH", DEFAULT_PATH)  # some programs rewrite the environment they show
        if "TERM" in os.environ:  # an exec with a terminal
            env.setdefault("TERM", os.environ["TERM"])
        program = resolve(command[0], env["PATH"])
        if "capabilities" in spec:
            limit_bounding_set(set(spec["capabilities"]))
        become_user(spec.get("user") or {}, env)
        os.execve(program, command, env)
    except LaunchError as exc:
        sys.stderr.write(f"{exc}\n")
        code = NOT_FOUND if "not found" in str(exc) else CANNOT_RUN
    except OSError as exc:
        sys.stderr.write(f"exec {command[0]!r}: {exc.strerror or exc}\n")
        code = NOT_FOUND if exc.errno == 2 else CANNOT_RUN
    finally:
        sys.stderr.flush()
        os._exit(code)


def _wait(child: int) -> int:
    """Wait for the command, passing on the signals meant for it; exit as it did."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda received, _: os.kill(child, received))
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
