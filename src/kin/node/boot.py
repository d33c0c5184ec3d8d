"""Turn a pinned network namespace into a running node, then become its PID 1.

Run as ``python -m kin.node.boot --node NAME --spec STATE_DIR/node.json``. The
process enters the node's network namespace, unshares mount, UTS, IPC and PID
namespaces and forks: the child is PID 1 of the new PID namespace. It builds
the node's file-system view (private propagation, no copies of other
namespaces' pins, per-node directories bound over the standard paths, its own
/proc and /sys), sets the hostname and sysctls, binds the control socket and
only then tells the parent it is ready. The parent records the child's PID and
start time and exits 0, or prints the child's error and exits 1.

The child records itself (host PID and start time) before anything else, under
the owner's lock and only while the owner exists. So a delete that runs while
this node is still booting (say after ``kill -9`` of ``kin create``) either sees
the record and kills the node, or finishes first and this node exits on its own:
a node never outlives its cluster unrecorded.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from kin.linux import mounts, syscalls
from kin.linux.files import locked
from kin.linux.proc import ProcessRecord
from kin.node.spec import PROPAGATIONS, NodeSpec
from kin.node.supervisor import Supervisor

__all__ = ["main", "prepare_node", "register"]

# Unshared by the child after the fork, so the parent keeps the host's /proc to record it.
NODE_NAMESPACES = syscalls.CLONE_NEWNS | syscalls.CLONE_NEWUTS | syscalls.CLONE_NEWIPC


def prepare_node(spec: NodeSpec) -> None:
    """File system, hostname and sysctls of the node; runs as the node's PID 1."""
    mounts.make_rprivate("/")
    mounts.detach_mounts_of_type("nsfs")
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


HOST_NAME_MAX = 64


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


def _enter(spec: NodeSpec) -> None:
    fd = os.open(spec.netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, syscalls.CLONE_NEWNET)
    finally:
        os.close(fd)
    syscalls.unshare(syscalls.CLONE_NEWPID)


def register(spec: NodeSpec) -> None:
    """Record this process (by host PID) while the owner exists, or refuse to run."""
    host_pid = int(os.readlink("/proc/self"))  # still the host's /proc: the host's PID
    lock = locked(spec.lock_file) if spec.lock_file else contextlib.nullcontext()
    with lock:
        if spec.owner_file and not os.path.exists(spec.owner_file):
            raise OSError(f"its owner {spec.owner_file} is gone (deleted while booting)")
        ProcessRecord.of(host_pid).save(spec.pid_file)


def _become_pid1(spec: NodeSpec, ready_fd: int) -> None:
    """Runs in the forked child; never returns."""
    code = 0
    try:
        os.setsid()
        register(spec)
        syscalls.unshare(NODE_NAMESPACES)
        prepare_node(spec)
        supervisor = Supervisor(spec)
        supervisor.listen()
        _redirect_output(os.path.join("/var/log/kin", "supervisor.log"))
        os.write(ready_fd, b"ok")
        os.close(ready_fd)
        supervisor.run()
    except BaseException as exc:
        try:
            os.write(ready_fd, _describe(exc).encode())
        except OSError:
            logging.getLogger("kin.node").exception("node %s failed", spec.name)
        code = 1
    finally:
        os._exit(code)


def _describe(exc: BaseException) -> str:
    """``OSError``s from kin's syscalls already say what failed: drop the ``[Errno N]``."""
    if isinstance(exc, OSError) and exc.strerror and not exc.filename:
        return exc.strerror
    return str(exc)


def _redirect_output(path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )


def _wait_ready(spec: NodeSpec, child: int, ready_r: int) -> int:
    message = b""
    while chunk := os.read(ready_r, 4096):
        message += chunk
    if message != b"ok":
        os.waitpid(child, 0)
        sys.stderr.write((message or b"node process died before it was ready").decode() + "\n")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kin.node.boot")
    parser.add_argument("--node", required=True, help="node name (shown by ps)")
    parser.add_argument("--spec", required=True, help="path of the node's node.json")
    args = parser.parse_args(argv)
    spec = NodeSpec.load(args.spec)
    try:
        _enter(spec)
    except OSError as exc:
        sys.stderr.write(f"node {spec.name!r}: failed to enter its namespaces: {exc}\n")
        return 1
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        _become_pid1(spec, ready_w)
    os.close(ready_w)
    return _wait_ready(spec, child, ready_r)


if __name__ == "__main__":
    sys.exit(main())
