"""Start a pod's processes in their namespaces: the pause process and the containers.

Runs in the shim, which is single-threaded, so forking is safe. Each start forks
twice: the first child enters or creates the namespaces (``setns``/``unshare`` take
effect for a PID namespace only in the children that follow), the second runs the
program and is re-parented to the shim, its subreaper, when the first exits. A
failure before ``exec`` comes back as text on a close-on-exec pipe, so a command
that does not exist is an error of the start, not a silent exit.

The specs are plain dicts (they travel as JSON from the runtime to the shim):

pause: ``{"binary", "netns", "hostname", "new_pid", "new_ipc", "new_uts", "cgroups"}``
container: ``{"id", "argv", "env", "cwd", "pid_mode", "mounts", "exit_file", "log_path",
"layer_dir", "rootfs", "cgroups", "capabilities", "devices", "stdin", "tty"}``, with
``pid_mode`` one of ``pod`` (pause's PID namespace), ``container`` (its own) or ``node``;
``mounts`` a list of ``{"source", "target", "readonly"}``; ``layer_dir`` where the
container's copy-on-write root is made (over ``rootfs``, a loaded image, or else over the
node's own files), so that nothing it writes, and no mount point it needs, touches the
node's files; ``cgroups`` the group directories it joins; ``capabilities`` the numbers it
keeps; ``devices`` the node's devices (``net/tun``) a privileged container gets besides the
usual ones; ``stdin`` whether it reads a pipe the shim holds (else /dev/null); ``tty``
whether its stdio is a terminal from its own devpts, whose master comes back to the shim
over a socket pair (it is made inside the container, after its /dev exists).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket

from kin.linux import mounts, syscalls
from kin.linux.capabilities import limit_bounding_set
from kin.linux.terminal import make_controlling, open_pty
from kin.runtime.warmstart import run_in_place, warm_entry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "LaunchError",
    "Started",
    "become_user",
    "join_cgroups",
    "resolve",
    "start_container",
    "start_pause",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NODE_PRIVATE = (
    "/run", "/etc/kubernetes", "/etc/cni/net.d", "/opt/cni/bin", "/opt/kin/bin", "/var/lib/cni",
    "/var/lib/containerd", "/var/lib/etcd", "/var/lib/kubelet", "/var/log", "/etc/hosts",
    "/etc/hostname",
)  # fmt: skip
"""The node's own state (its sockets, PKI, other pods' volumes): a container on the host
image sees it only through volumes that ask for it."""
SHARED_NAMESPACES = (
    ("ipc", syscalls.CLONE_NEWIPC),
    ("uts", syscalls.CLONE_NEWUTS),
    ("net", syscalls.CLONE_NEWNET),
)


class LaunchError(Exception):
    """The program could not be started; the message says what failed."""


class Started:
    """A running container: its PID (in the shim's namespace) and the shim's ends of its
    stdio: output pipes (or the terminal's master as ``stdout``, ``stderr`` -1) and the
    writing end of its stdin (the master too with a terminal; -1 without stdin)."""

    __slots__ = ("pid", "stderr", "stdin", "stdout")

    def __init__(self, pid: int, stdout: int, stderr: int, stdin: int = -1) -> None:
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin


def start_pause(spec: dict[str, Any]) -> int:
    """The sandbox's pause process: PID 1 of a new PID namespace (unless hostPID)."""

    def enter() -> None:
        if spec["netns"]:
            _setns_path(spec["netns"], syscalls.CLONE_NEWNET)
        flags = syscalls.CLONE_NEWNS
        flags |= syscalls.CLONE_NEWPID if spec["new_pid"] else 0
        flags |= syscalls.CLONE_NEWIPC if spec["new_ipc"] else 0
        flags |= syscalls.CLONE_NEWUTS if spec["new_uts"] else 0
        syscalls.unshare(flags)
        if spec["new_uts"] and spec["hostname"]:
            syscalls.sethostname(spec["hostname"])

    def run() -> None:
        join_cgroups(spec.get("cgroups") or [])
        _stdio(os.open("/dev/null", os.O_RDWR), None, None)
        # Named "pause" (the binary is catatonit): ps shows it as kubelet users expect.
        os.execv(spec["binary"], ["pause", "-P"])

    return _double_fork(enter, run)


def start_container(spec: dict[str, Any], pause_pid: int) -> Started:
    """A container: joins pause's net, ipc and uts namespaces, its own mount namespace."""
    if spec.get("tty"):
        return _start_with_terminal(spec, pause_pid)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe() if spec.get("stdin") else (-1, -1)
    try:
        pid = _double_fork(
            lambda: _enter_pod(spec, pause_pid),
            lambda: _exec_container(spec, lambda: _stdio(_stdin_or_null(in_r), out_w, err_w)),
        )
    except BaseException:
        for fd in (out_r, err_r, in_w):
            _close_if_open(fd)
        raise
    finally:
        for fd in (out_w, err_w, in_r):
            _close_if_open(fd)
    return Started(pid, out_r, err_r, in_w)


def _start_with_terminal(spec: dict[str, Any], pause_pid: int) -> Started:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def terminal() -> None:
        master, slave = open_pty("/")  # the container's own devpts, now that it is mounted
        make_controlling(slave)
        _stdio(slave, slave, slave)
        os.close(slave)
        socket.send_fds(theirs, [b"t"], [master])
        os.close(master)

    try:
        pid = _double_fork(
            lambda: _enter_pod(spec, pause_pid), lambda: _exec_container(spec, terminal)
        )
        theirs.close()
        ours.settimeout(5.0)
        _, fds, _, _ = socket.recv_fds(ours, 1, 1)
    finally:
        theirs.close()
        ours.close()
    if not fds:
        raise LaunchError("the container's terminal did not reach the shim")
    os.set_inheritable(fds[0], False)  # received fds are not close-on-exec: later containers
    return Started(pid, fds[0], -1, fds[0] if spec.get("stdin") else -1)


def _enter_pod(spec: dict[str, Any], pause_pid: int) -> None:
    for kind, flag in SHARED_NAMESPACES:
        _setns_path(f"/proc/{pause_pid}/ns/{kind}", flag)
    if spec["pid_mode"] == "pod":
        _setns_path(f"/proc/{pause_pid}/ns/pid", syscalls.CLONE_NEWPID)
    flags = syscalls.CLONE_NEWNS
    flags |= syscalls.CLONE_NEWPID if spec["pid_mode"] == "container" else 0
    syscalls.unshare(flags)


def _exec_container(spec: dict[str, Any], stdio: Callable[[], None]) -> None:
    join_cgroups(spec.get("cgroups") or [])
    os.setsid()
    _prepare_filesystem(spec)
    stdio()
    env = dict(spec["env"])
    env.setdefault("PATH", DEFAULT_PATH)
    argv = spec["argv"]
    program = resolve(argv[0], env["PATH"])
    if spec.get("readonly_rootfs"):
        syscalls.mount(None, "/", flags=syscalls.MS_REMOUNT | syscalls.MS_BIND | syscalls.MS_RDONLY)
    if "capabilities" in spec:  # last: setting up the container needed them all
        limit_bounding_set(set(spec["capabilities"]))
    become_user(spec.get("user") or {}, env)
    entry = warm_entry(program, argv, spec)
    if entry is not None:  # one of kin's daemons: no second Python start-up
        run_in_place(entry, argv, env)
    os.execve(program, argv, env)


def _stdin_or_null(fd: int) -> int:
    return fd if fd >= 0 else os.open("/dev/null", os.O_RDONLY)


def _close_if_open(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


def _prepare_filesystem(spec: dict[str, Any]) -> None:
    # Mounts made here must not reach the node's namespace, whose root is shared.
    syscalls.mount(None, "/", flags=syscalls.MS_REC | syscalls.MS_SLAVE)
    binds = [(m["source"], m["target"], bool(m.get("readonly"))) for m in spec["mounts"]]
    devices = tuple(spec.get("devices") or ())
    if spec.get("rootfs"):  # a loaded image: its files, copy-on-write
        mounts.enter_image_root(spec["rootfs"], spec["layer_dir"], binds, devices)
    else:  # the host image: the node's files, copy-on-write
        mounts.enter_copy_on_write_root(spec["layer_dir"], binds, NODE_PRIVATE, devices)
    mounts.mount_proc("/proc")  # for hostPID too: then it shows the node's processes
    os.makedirs(spec["cwd"] or "/", exist_ok=True)
    os.chdir(spec["cwd"] or "/")


def become_user(user: dict[str, Any], env: dict[str, str]) -> None:
    """Switch to the container's user and groups (root keeps root's); HOME follows."""
    uid, gid = user.get("uid"), user.get("gid")
    if "name" in user:
        entry = _passwd_entry(user["name"])
        uid = entry[0]
        gid = entry[1] if gid is None else gid
    if uid is None and gid is None:
        return
    uid = 0 if uid is None else int(uid)
    if gid is None:
        gid = _gid_of(uid)
    os.setgroups([int(g) for g in user.get("groups") or []])
    os.setgid(int(gid))
    os.setuid(uid)
    env.setdefault("HOME", "/" if uid else "/root")


def _passwd_entry(name: str) -> tuple[int, int]:
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.strip().split(":")
                if len(fields) > 3 and fields[0] == name:
                    return int(fields[2]), int(fields[3])
    except OSError:
        pass
    raise LaunchError(f"unable to find user {name}: no matching entries in passwd file")


def _gid_of(uid: int) -> int:
    """The primary group of ``uid`` in the container's /etc/passwd, else the same number."""
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.strip().split(":")
                if len(fields) > 3 and fields[2] == str(uid):
                    return int(fields[3])
    except OSError:
        pass
    return 0  # as containerd: no entry, group 0


def join_cgroups(directories: list[str]) -> None:
    """Move this process into its groups before it execs: its children stay there."""
    for directory in directories:
        with open(os.path.join(directory, "cgroup.procs"), "w") as f:
            f.write("0")


def resolve(command: str, path: str) -> str:
    """``command`` as exec finds it: a path as given, a bare name on ``PATH``."""
    if "/" in command:
        return command
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", command)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise LaunchError(f'exec: "{command}": executable file not found in $PATH')


def _setns_path(path: str, nstype: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, nstype)
    finally:
        os.close(fd)


def _stdio(stdin: int, stdout: int | None, stderr: int | None) -> None:
    os.dup2(stdin, 0)
    os.dup2(stdin if stdout is None else stdout, 1)
    os.dup2(stdin if stderr is None else stderr, 2)


def _double_fork(enter: Callable[[], None], run: Callable[[], None]) -> int:
    """Fork, ``enter`` namespaces, fork again and ``run`` (which execs); return its PID."""
    pid_r, pid_w = os.pipe()
    error_r, error_w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.close(pid_r)
            os.close(error_r)
            enter()
            grandchild = os.fork()
            if grandchild == 0:
                _run_or_report(run, error_w)
            os.write(pid_w, str(grandchild).encode())
            code = 0
        except BaseException as exc:
            _report(error_w, exc)
        finally:
            os._exit(code)
    os.close(pid_w)
    os.close(error_w)
    os.waitpid(child, 0)
    pid_text, error = _read_all(pid_r), _read_all(error_r)
    if error:
        raise LaunchError(error)
    if not pid_text:
        raise LaunchError("the launcher died before it started the process")
    return int(pid_text)


def _run_or_report(run: Callable[[], None], error_w: int) -> None:
    """In the process that execs: never returns into the shim's code."""
    try:
        _default_signals()
        run()
    except BaseException as exc:
        _report(error_w, exc)
    os._exit(127)


def _default_signals() -> None:
    """An ignored signal stays ignored across exec, and a shell may not trap a signal
    ignored on entry: give the program every signal as a fresh process has it (Python
    ignores SIGPIPE, and the shim SIGTERM)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for signum in (signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _report(fd: int, exc: BaseException) -> None:
    message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, OSError) and exc.filename:
        message = f"{message}: {exc.filename}"
    with contextlib.suppress(OSError):
        os.write(fd, (message or type(exc).__name__).encode())


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")
