"""Turn pinned network namespaces into running nodes, each with its own PID 1.

Run as ``python -m kin.node.boot SPEC...`` (each ``STATE_DIR/node.json``). One
process boots every node of a create: it forks once per node, so Python's
start-up is paid once and the nodes' PID 1s share its pages. Per node, the fork
enters the node's network namespace, unshares a PID namespace and forks again:
that child is the node's PID 1. It records itself, unshares mount, UTS and IPC
namespaces, builds the node's file-system view (private propagation, no copies
of other namespaces' pins, per-node directories bound over the standard paths,
its own /proc and /sys), sets hostname and sysctls, binds the control socket
and only then reports ready. The launcher prints one ``NODE<TAB>error`` line per
node that failed and exits 1 if any did.

The PID 1 records itself (host PID and start time) before anything else, under
the owner's lock and only while the owner exists. So a delete that runs while
this node is still booting (say after ``kill -9`` of ``kin create``) either sees
the record and kills the node, or finishes first and this node exits on its own:
a node never outlives its cluster unrecorded.
"""

from __future__ import annotations

import contextlib
import os
import sys

from kin.linux import mounts, syscalls
from kin.linux.proc import ProcessRecord, record_while_owned, set_process_title
from kin.node.spec import PROPAGATIONS, NodeSpec
from kin.node.supervisor import Supervisor

__all__ = ["main", "prepare_node", "register"]

# Unshared by PID 1 itself, so the launcher keeps the host's /proc.
NODE_NAMESPACES = syscalls.CLONE_NEWNS | syscalls.CLONE_NEWUTS | syscalls.CLONE_NEWIPC
HOST_NAME_MAX = 64
SUPERVISOR_LOG = "/var/log/kin/supervisor.log"


def prepare_node(spec: NodeSpec) -> None:
    """File system, hostname and sysctls of the node; runs as the node's PID 1."""
    mounts.make_rprivate("/")
    mounts.detach_mounts_of_type("nsfs")
    if spec.etc_layer:
        _overlay_etc(spec.etc_layer)
    for bind in spec.binds:
        _mount_point_for(bind.source, bind.target)
        mounts.bind(bind.source, bind.target, bind.read_only, PROPAGATIONS[bind.propagation])
    mounts.mount_proc("/proc")
    mounts.mount_sysfs("/sys")
    mounts.make_rshared("/")
    _set_hostname(spec.name)
    for key, value in spec.sysctls.items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)


def _overlay_etc(layer: str) -> None:
    upper, work = os.path.join(layer, "upper"), os.path.join(layer, "work")
    os.makedirs(upper, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    syscalls.mount(
        "overlay", "/etc", "overlay", 0, f"lowerdir=/etc,upperdir={upper},workdir={work}"
    )


def _set_hostname(name: str) -> None:
    if len(name.encode()) > HOST_NAME_MAX:
        raise OSError(
            f"hostname {name!r} is longer than the kernel's {HOST_NAME_MAX} characters "
            "(use a shorter cluster name)"
        )
    syscalls.sethostname(name)


def _mount_point_for(source: str, target: str) -> None:
    """A bind needs its target: make a missing one (a directory, or a file for a file)."""
    if os.path.lexists(target):
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()


def register(spec: NodeSpec) -> None:
    """Record this process (by host PID) while the owner exists, or refuse to run."""
    host_pid = int(os.readlink("/proc/self"))  # still the host's /proc: the host's PID
    record_while_owned(ProcessRecord.of(host_pid), spec.pid_file, spec.owner_file, spec.lock_file)


def _become_pid1(spec: NodeSpec, ready_fd: int) -> None:
    """Runs in the node's PID 1; never returns."""
    code = 0
    try:
        _close_fds_except(ready_fd)
        os.setsid()
        register(spec)
        syscalls.unshare(NODE_NAMESPACES)
        prepare_node(spec)
        set_process_title(f"kin.node --node {spec.name}")
        supervisor = Supervisor(spec)
        supervisor.listen()
        _redirect_output(SUPERVISOR_LOG)
        os.write(ready_fd, b"ok")
        os.close(ready_fd)
        supervisor.run()
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(ready_fd, _describe(exc).encode())
        code = 1
    finally:
        os._exit(code)


def _close_fds_except(keep: int) -> None:
    """Drop every inherited descriptor (the launcher's report pipes among them): a pipe
    end held open by a long-lived node would keep its reader waiting for EOF forever."""
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))


def _describe(exc: BaseException) -> str:
    """``OSError``s from kin's syscalls already say what failed: drop the ``[Errno N]``."""
    if isinstance(exc, OSError) and exc.strerror and not exc.filename:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _redirect_output(path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open("/dev/null", os.O_RDONLY)
    for fd, target in ((null, 0), (out, 1), (out, 2)):
        os.dup2(fd, target)
    os.close(out)
    os.close(null)


def _boot_one(spec: NodeSpec) -> str:
    """In a fork of the launcher: start the node's PID 1; return "ok" or what went wrong."""
    fd = os.open(spec.netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, syscalls.CLONE_NEWNET)
    finally:
        os.close(fd)
    syscalls.unshare(syscalls.CLONE_NEWPID)
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        _become_pid1(spec, ready_w)
    os.close(ready_w)
    message = _read_all(ready_r)
    if message != "ok":
        os.waitpid(child, 0)
    return message or "its PID 1 died before it was ready"


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def _fork_boot(spec: NodeSpec) -> tuple[int, int]:
    """Fork a process that boots ``spec``; return its PID and the fd its report arrives on."""
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(report_r)
        try:
            message = _boot_one(spec)
        except BaseException as exc:
            message = f"failed to enter its namespaces: {_describe(exc)}"
        os.write(report_w, message.encode())
        os._exit(0)
    os.close(report_w)
    return pid, report_r


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths or paths[0].startswith("-"):
        sys.stderr.write("usage: python -m kin.node.boot STATE_DIR/node.json...\n")
        return 2
    specs = [NodeSpec.load(path) for path in paths]
    booting = [(spec, *_fork_boot(spec)) for spec in specs]
    failed = 0
    for spec, pid, report in booting:
        message = _read_all(report)
        os.waitpid(pid, 0)
        if message != "ok":
            failed += 1
            sys.stderr.write(f"{spec.name}\t{message}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
