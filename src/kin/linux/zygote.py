"""The zygote: one pre-imported fork server per cluster, so every node's Python daemons
share their libraries.

A kin daemon pays ~0.6 s of CPU and ~35 MiB of heap importing gRPC, protobuf, aiohttp
and its own modules. The zygote imports them once, freezes that heap out of the garbage
collector's reach (``gc.freeze``), and forks every node's kubelet, runtime and pod shims
from there: they share those pages copy-on-write across all nodes, and start in
milliseconds.

It runs on the host, outside every node, and serves a unix socket inside each node's
``/run`` (``--socket PATH`` or an inherited listening ``--fd N``, repeated). A request
is one JSON line sent with its file descriptors (``SCM_RIGHTS``)::

    -> {"argv": ["python3", "-m", "kin.kubelet", "--node", "w"], "env": {...}} + fds
    <- {"pid": 57}              or   {"error": "cannot import 'kin.kubelte'"}

The new process joins the *caller's* namespaces (PID, UTS, IPC, network, mount: read
from ``/proc/<peer>/ns`` of the connecting process, so a caller reaches nothing it is
not already in), and callers in the zygote's own network namespace are refused: nothing
it forks ever runs on the host. The fds become its 0, 1, 2 (and 3, ...); it runs
``main(argv[3:])`` of the module as ``python -m`` would, in a session of its own, and
the reply names it by its PID in the caller's PID namespace. It is forked three times:
the first fork enters the namespaces, the second is the first process inside the
caller's PID namespace, and once that one exits the third, the daemon, is re-parented
to the node's PID 1 (the node supervisor), which reaps it like any of its units. The
zygote itself stays single-threaded: forking a threaded process would copy held locks.

    python -m kin.linux.zygote (--socket PATH | --fd N)... [--preload MOD,...]
                               [--pid-file F --owner-file F --lock-file F]
                               [--title-room SPACES]

Every process forked from it has its argv area, where ``ps`` reads a title: a daemon
that names itself with its flags (the API server runs in place from its shim, see
``kin.runtime.warmstart``) needs more room than the zygote's own arguments take, so the
caller pads them with ``--title-room``.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import json
import os
import select
import selectors
import socket
import struct
import sys
import time

from kin.errors import ZygoteError
from kin.linux import syscalls
from kin.linux.files import listen_unix
from kin.linux.proc import ProcessRecord, record_while_owned, spawn_daemon
from kin.proctitle import set_process_title

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator, Sequence

    Entry = Callable[[list[str]], int | None]

__all__ = ["Handover", "encode_request", "main", "parse_reply", "spawn", "spawn_early"]

MAX_FDS = 8
HANDOVER_FDS = 250  # SCM_MAX_FD is 253: more listeners (nodes) go in further messages
MAX_MESSAGE = 1 << 20
REQUEST_TIMEOUT = 5.0  # for reading a request; answering one takes milliseconds
SPAWN_TIMEOUT = 30.0  # a client's wait: past it the zygote is broken, not busy
CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")  # where OpenSSL looks for the system's CAs
HIGH_FD = 64  # received fds are moved above the targets before dup2 puts them in place
NAMESPACES = syscalls.JOINABLE_NAMESPACES


def encode_request(argv: Sequence[str], env: dict[str, str]) -> bytes:
    return json.dumps({"argv": list(argv), "env": env}).encode() + b"\n"


def parse_reply(raw: bytes) -> int:
    """The PID in a reply line; ``ZygoteError`` for an error or a garbled reply."""
    try:
        reply = json.loads(raw)
        if isinstance(reply, dict) and isinstance(reply.get("pid"), int):
            return int(reply["pid"])
        detail = reply.get("error") if isinstance(reply, dict) else None
    except ValueError:
        detail = None
    raise ZygoteError(f"the zygote refused: {detail or raw[:200]!r}")


def spawn(path: str, argv: Sequence[str], env: dict[str, str], fds: Sequence[int]) -> int:
    """Have the zygote at ``path`` start ``argv`` with ``fds`` as its 0, 1, 2...; its PID."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(SPAWN_TIMEOUT)
            sock.connect(path)
            socket.send_fds(sock, [encode_request(argv, env)], list(fds))
            return parse_reply(_read_line(sock))
    except OSError as exc:
        what = " ".join(argv[2:3]) or "a command"
        raise ZygoteError(f"failed to start {what} through the zygote at {path}: {exc}") from exc


def _read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while not chunks or not chunks[-1].endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


# -- the server --------------------------------------------------------------------------


class _Become(BaseException):
    """Raised in the forked daemon to leave the server's frames before running it."""

    def __init__(self, entry: Entry, argv: list[str], env: dict[str, str], fds: list[int]) -> None:
        self.entry, self.argv, self.env, self.fds = entry, argv, env, fds


def resolve(argv: Sequence[str]) -> Entry:
    """The ``main`` that ``python -m MODULE`` would run for ``argv``; ValueError if none."""
    if len(argv) < 3 or argv[1] != "-m":
        raise ValueError(f"only 'python -m MODULE ...' commands run in the zygote, not {argv!r}")
    name = argv[2]
    if name.split(".")[0] != "kin":
        raise ValueError(f"only kin's own modules run in the zygote, not {name!r}")
    try:
        module = importlib.import_module(name)
        if hasattr(module, "__path__"):
            module = importlib.import_module(f"{name}.__main__")
    except ImportError as exc:
        raise ValueError(f"cannot import {name!r}: {exc}") from exc
    entry = getattr(module, "main", None)
    if not callable(entry):
        raise ValueError(f"module {module.__name__!r} has no main()")
    return entry  # type: ignore[no-any-return]


def serve(listeners: list[socket.socket]) -> None:
    """Answer requests until killed; in a forked daemon, raise ``_Become``."""
    selector = selectors.DefaultSelector()
    for listener in listeners:
        selector.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            try:
                conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
            except OSError:
                continue
            try:
                _serve_one(conn)
            except _Become:
                selector.close()
                for listener in listeners:
                    listener.close()
                raise
            finally:
                conn.close()


def _serve_one(conn: socket.socket) -> None:
    conn.settimeout(REQUEST_TIMEOUT)
    fds: list[int] = []
    namespaces: list[tuple[int, int]] = []
    try:
        message = _receive(conn, fds)
        argv, env = _parse_request(message)
        entry = resolve(argv)
        namespaces = _peer_namespaces(conn)
        if _client_gone(conn):  # it gave up waiting and started the process itself
            raise ValueError("the client left before its process was started")
        pid = _fork_into(namespaces)
    except Exception as exc:  # a bad request never ends the zygote
        reply: dict[str, object] = {"error": str(exc) or type(exc).__name__}
        _log(f"refused a request: {reply['error']}")
    else:
        if pid is None:
            raise _Become(entry, argv, env, fds)
        reply = {"pid": pid}
        _log(f"started {' '.join(argv[2:])} as pid {pid}")
    finally:
        for fd, _ in namespaces:
            with contextlib.suppress(OSError):
                os.close(fd)
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(reply).encode() + b"\n")


def _receive(conn: socket.socket, fds: list[int]) -> bytes:
    """The request line; the fds that came with it are added to ``fds`` (for closing)."""
    message, received, _, _ = socket.recv_fds(conn, MAX_MESSAGE, MAX_FDS)
    fds.extend(received)
    while message and not message.endswith(b"\n") and len(message) < MAX_MESSAGE:
        more = conn.recv(MAX_MESSAGE)
        if not more:
            break
        message += more
    return message


def _client_gone(conn: socket.socket) -> bool:
    poll = select.poll()
    poll.register(conn, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return bool(poll.poll(0))


def _parse_request(message: bytes) -> tuple[list[str], dict[str, str]]:
    request = json.loads(message)
    if not isinstance(request, dict):
        raise ValueError("a request is a JSON object")
    argv, env = request.get("argv"), request.get("env", {})
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise ValueError("'argv' must be a list of strings")
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ValueError("'env' must map names to strings")
    return argv, env


def _peer_namespaces(conn: socket.socket) -> list[tuple[int, int]]:
    """Open fds of the connecting process's namespaces; refuse one in our own network
    (judged on the opened fd, so a caller that moves meanwhile gains nothing)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid = struct.unpack("3i", creds)[0]
    opened: list[tuple[int, int]] = []
    try:
        for name, nstype in NAMESPACES:
            opened.append((os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), nstype))
        net = next(fd for fd, nstype in opened if nstype == syscalls.CLONE_NEWNET)
        if os.fstat(net).st_ino == os.stat("/proc/self/ns/net").st_ino:
            raise ValueError(f"caller {pid} is in the zygote's own network namespace, not a node's")
    except (OSError, ValueError):
        for fd, _ in opened:
            os.close(fd)
        raise
    return opened


def _fork_into(namespaces: list[tuple[int, int]]) -> int | None:
    """Fork a process into ``namespaces``: its PID there in the zygote, None in it."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid_r, pid_w = os.pipe()
    first = os.fork()
    if first == 0:
        os.close(pid_r)
        _enter_and_fork(namespaces, pid_w)  # returns only in the daemon
        return None
    os.close(pid_w)
    with os.fdopen(pid_r, "rb") as pipe:
        raw = pipe.read()
    os.waitpid(first, 0)
    if not raw.isdigit():
        raise OSError(f"could not start the process: {raw.decode(errors='replace') or 'no pid'}")
    return int(raw)


def _enter_and_fork(namespaces: list[tuple[int, int]], pid_w: int) -> None:
    """In the first fork: enter, then fork the second (inside the PID namespace), which
    forks the daemon, reports its PID and exits so the node's PID 1 adopts it."""
    try:
        for fd, nstype in namespaces:  # closed by the caller, in every process
            syscalls.setns(fd, nstype)
        second = os.fork()
        if second != 0:
            os.waitpid(second, 0)  # reaped here, not left to the host's init
            os._exit(0)
        daemon = os.fork()
        if daemon == 0:
            os.close(pid_w)
            return None
        os.write(pid_w, str(daemon).encode())
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(pid_w, f"failed to enter the caller's namespaces: {exc}".encode())
    os._exit(0)


def become(request: _Become) -> int:
    """In the forked daemon: take the request's fds, environment and argv, run its main."""
    os.setsid()
    while len(request.fds) < 3:  # never the zygote's own stdio
        request.fds.append(os.open("/dev/null", os.O_RDWR))
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD) for fd in request.fds]
    for fd in request.fds:
        os.close(fd)
    for target, fd in enumerate(moved):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir("/")
    os.environ.clear()
    os.environ.update(request.env)
    sys.argv = [request.argv[2], *request.argv[3:]]
    try:
        code = request.entry(request.argv[3:])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) or exc.code is None else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    return code or 0


def _log(message: str) -> None:
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d}"
    sys.stderr.write(f"{stamp} zygote: {message}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    import argparse  # here: the node supervisor imports this module on its boot path

    parser = argparse.ArgumentParser(prog="python -m kin.linux.zygote")
    parser.add_argument("--socket", action="append", default=[], help="listen here")
    parser.add_argument("--fd", action="append", type=int, default=[], help="a listening socket")
    parser.add_argument("--preload", default="", help="modules to import, comma-separated")
    parser.add_argument("--pid-file", default="", help="record this process here...")
    parser.add_argument("--owner-file", default="", help="...while this file exists...")
    parser.add_argument("--lock-file", default="", help="...checked under this lock")
    parser.add_argument(
        "--title-room", default="", help="padding: room in argv for its children's titles"
    )
    parser.add_argument(
        "--handover-fd", type=int, default=-1, help="the rest comes here after the preload"
    )
    args = parser.parse_args(argv)
    shown = [a for a in sys.argv[1:] if a.strip() and a != "--title-room"]
    set_process_title(" ".join(["kin.zygote", *shown]))
    if args.handover_fd < 0:
        _record(args)
    listeners = [socket.socket(fileno=fd) for fd in args.fd]
    listeners += [listen_unix(path, dir_mode=0o755) for path in args.socket]
    for listener in listeners:
        listener.setblocking(False)  # clients queue while we import
    _preload(args.preload)
    if args.handover_fd >= 0:
        handed = _take_handover(args)
        if handed is None:
            return 0  # the caller gave up before it knew where we would serve
        listeners += handed
    _log(f"ready, {len(sys.modules)} modules imported, serving {len(listeners)} sockets")
    try:
        serve(listeners)
    except _Become as request:
        return become(request)
    return 0


def _record(args: argparse.Namespace) -> None:
    if args.pid_file:  # first: a zygote of a deleted cluster makes nothing
        record_while_owned(ProcessRecord.of(os.getpid()), args.pid_file, args.owner_file,
                           args.lock_file)  # fmt: skip


def _preload(modules: str) -> None:
    with _system_cas_hidden():
        for name in filter(None, modules.split(",")):
            try:
                resolve(["python3", "-m", name])
            except ValueError as exc:
                _log(f"not preloaded: {exc}")
    gc.collect()
    gc.freeze()  # the heap imported so far stays shared: collections never write to it


@contextlib.contextmanager
def _system_cas_hidden() -> Iterator[None]:
    """aiohttp builds two TLS client contexts from the system's CA bundle as it is imported
    (0.1 s of CPU, on the path of every node's boot). No kin connection uses them: each
    carries its cluster CA's own context. So OpenSSL finds an empty bundle meanwhile."""
    saved = {name: os.environ.get(name) for name in CA_VARIABLES}
    os.environ.update(dict.fromkeys(CA_VARIABLES, os.devnull))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _take_handover(args: argparse.Namespace) -> list[socket.socket] | None:
    """What a zygote spawned early (``spawn_early``) waits for once it has imported: its
    log as fd 0 of the message's fds, then its listening sockets; its record files in
    the message. None when the caller closed the channel without sending them."""
    with socket.socket(fileno=args.handover_fd) as channel:
        message, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, HANDOVER_FDS)
        record = json.loads(message) if message else {}
        while message and len(fds) < int(record.get("fds", 0)):  # one node per listener
            message, more, _, _ = socket.recv_fds(channel, 1, HANDOVER_FDS)
            fds += more
    if not record or len(fds) != record.get("fds"):
        for fd in fds:
            os.close(fd)
        return None
    log_fd, *listening = fds
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    args.pid_file, args.owner_file = record["pid_file"], record["owner_file"]
    args.lock_file = record["lock_file"]
    _record(args)
    listeners = [socket.socket(fileno=fd) for fd in listening]
    for listener in listeners:
        listener.setblocking(False)
    return listeners


class Handover:
    """A zygote spawned before its caller knows where it will serve (``spawn_early``)."""

    def __init__(self, channel: socket.socket, pid: int) -> None:
        self.channel = channel
        self.pid = pid

    def hand_over(
        self, listeners: Sequence[socket.socket], log_path: str, record: dict[str, str]
    ) -> None:
        """Give the zygote its listening sockets, its log and its record files (``pid_file``,
        ``owner_file``, ``lock_file``); OSError when it is not there to take them."""
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            fds = [log_fd, *(listener.fileno() for listener in listeners)]
            message = json.dumps({**record, "fds": len(fds)}).encode()
            for start in range(0, len(fds), HANDOVER_FDS):  # the kernel's limit per message
                socket.send_fds(self.channel, [message], fds[start : start + HANDOVER_FDS])
                message = b"+"
        finally:
            os.close(log_fd)
            self.channel.close()

    def close(self) -> None:
        """Let it go without work: it exits once it has imported."""
        self.channel.close()


def spawn_early(preload: Sequence[str], env: dict[str, str], title_room: int = 0) -> Handover:
    """Start a zygote that imports ``preload`` at once, while its caller is still working
    out the sockets it will serve; ``Handover.hand_over`` gives them to it later."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    argv = [sys.executable, "-m", "kin.linux.zygote", "--handover-fd", str(theirs.fileno())]
    argv += ["--preload", ",".join(preload), "--title-room", " " * title_room]
    try:
        pid = spawn_daemon(argv, os.devnull, env, (theirs.fileno(),))
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return Handover(ours, pid)


if __name__ == "__main__":
    sys.exit(main())
