"""The shim: one per pod sandbox, the parent of its pause process and its containers.

As containerd-shim-runc-v2 does for containerd, it keeps a pod running while the
runtime restarts: it is the subreaper of everything the pod starts, reads the
containers' stdout and stderr into their CRI log files, and records each exit
(code, signal, time) in the container's ``exit_file``, so a runtime that comes
back finds every exit code and every log line.

Run as ``python -m kin.runtime.shim BUNDLE``: ``BUNDLE/pause.json`` is the pause
spec (see ``launch``). The command returns once the shim is ready and prints
``{"shim": PID, "pause": PID}``; the shim itself lives on in its own session,
re-parented to the node's PID 1, and answers JSON lines on ``BUNDLE/shim.sock``.
With ``--in-place`` (how the node's zygote runs it, already forked and re-parented)
the process itself becomes the shim: it prints the same line and closes its output.

    -> {"op": "start", "spec": {...}}   <- {"ok": true, "pid": P, "starttime": T, "started_at": NS}
    -> {"op": "reopen", "id": "..."}    <- {"ok": true}
    -> {"op": "attach", "id": "...", ...} <- {"ok": true}, then frames (see ``attach``)
    -> {"op": "shutdown"}               <- {"ok": true}   (kills what is left, exits)

It imports little (no asyncio, no gRPC), so it starts fast and stays small.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import selectors
import signal
import socket
import sys
import time

from kin.linux.files import socket_path, write_atomic
from kin.linux.proc import reaped, set_process_title, start_time
from kin.linux.terminal import resize
from kin.runtime.attach import CLOSE, EXIT, RESIZE, STDIN, Attachment, write_stdin
from kin.runtime.launch import Started, start_container, start_pause
from kin.runtime.logs import LogWriter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["SOCKET_NAME", "main"]

SOCKET_NAME = "shim.sock"
PAUSE_EXIT = "pause-exit.json"
PR_SET_CHILD_SUBREAPER = 36
READ_CHUNK = 4096
SHUTDOWN_GRACE = 2.0


class Container:
    """A started container as the shim follows it."""

    def __init__(self, spec: dict[str, Any], started: Started, log: LogWriter) -> None:
        self.id: str = spec["id"]
        self.pid = started.pid
        self.exit_file: str = spec["exit_file"]
        self.log = log
        self.pipes = {started.stdout: "stdout", started.stderr: "stderr"}
        self.pipes.pop(-1, None)  # a terminal has one stream
        self.tty = bool(spec.get("tty"))
        self.terminal = started.stdout if self.tty else -1
        self.stdin = started.stdin
        """Where attached clients' input goes (-1 without stdin; the terminal with one)."""
        self.stdin_once = bool(spec.get("stdin_once"))
        self.attachments: list[Attachment] = []
        self.status: int | None = None
        self.done = False

    def close_stdin(self) -> None:
        if self.stdin >= 0 and not self.tty:
            os.close(self.stdin)
        self.stdin = -1


class Shim:
    def __init__(self, bundle: str) -> None:
        self.bundle = bundle
        self.selector = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.containers: dict[str, Container] = {}
        self.by_pid: dict[int, Container] = {}
        self.pause_pid = 0
        self.stopping = False

    def start(self) -> None:
        with open(os.path.join(self.bundle, "pause.json")) as f:
            spec = json.load(f)
        path = os.path.join(self.bundle, SOCKET_NAME)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        with socket_path(path) as short:
            self.listener.bind(short)
        os.chmod(path, 0o600)
        self.listener.listen(16)
        self.pause_pid = start_pause(spec)

    def run(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the runtime stops a pod, not a signal
        self.selector.register(wake_r, selectors.EVENT_READ, "signal")
        self.selector.register(self.listener, selectors.EVENT_READ, "control")
        self._reap()
        while not self.stopping:
            for key, events in self.selector.select(1.0):
                if key.data == "signal":
                    _drain(wake_r)
                elif key.data == "control":
                    self._serve_one()
                elif isinstance(key.data, tuple):
                    container, client = key.data
                    self._client_event(container, client, events)
                else:
                    self._pump(key.fileobj, key.data)  # type: ignore[arg-type]
            self._reap()
        self._shutdown()

    # -- containers -----------------------------------------------------------------------

    def _start_container(self, spec: dict[str, Any]) -> dict[str, Any]:
        if spec["id"] in self.containers:
            return {"ok": False, "error": f"container {spec['id']} was already started"}
        started_at = time.time_ns()
        try:
            log_writer = LogWriter(spec["log_path"])  # before the process: it must have a log
        except OSError as exc:
            return {"ok": False, "error": f"failed to open the log {spec['log_path']}: {exc}"}
        try:
            started = start_container(spec, self.pause_pid)
        except Exception as exc:  # any failure before exec is the start's error
            log_writer.close()
            return {"ok": False, "error": str(exc) or type(exc).__name__}
        container = Container(spec, started, log_writer)
        self.containers[container.id] = container
        self.by_pid[container.pid] = container
        for fd in container.pipes:
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, container)
        if container.stdin >= 0:
            os.set_blocking(container.stdin, False)
        log("container %s started, pid %d", container.id[:13], container.pid)
        # Not reaped yet, so readable even if it already exited: the runtime needs both.
        pid = container.pid
        return {"ok": True, "pid": pid, "starttime": start_time(pid), "started_at": started_at}

    def _pump(self, fd: int, container: Container) -> None:
        """Copy what is in the pipe into the log; close the stream at its end."""
        stream = container.pipes[fd]
        while True:
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:  # EIO: a terminal whose last user is gone
                chunk = b""
            if not chunk:
                self.selector.unregister(fd)
                if fd != container.terminal:  # closed when the container is done
                    os.close(fd)
                del container.pipes[fd]
                container.log.flush(stream)
                self._finish_if_done(container)
                return
            container.log.write(stream, chunk)
            for client in list(container.attachments):
                if not client.output(stream, chunk):
                    log("attach to %s: dropped a client that fell behind", container.id[:13])
                    self._detach(container, client)
                else:
                    self._watch_writes(container, client)

    def _reap(self) -> None:
        for pid, status in reaped():
            if pid == self.pause_pid:
                self._record(os.path.join(self.bundle, PAUSE_EXIT), status)
                log("pause %d exited (%s)", pid, _describe_status(status))
            container = self.by_pid.pop(pid, None)
            if container is not None:
                self._exited(container, status)

    def _exited(self, container: Container, status: int) -> None:
        # Everything the process wrote is in the pipes now: log it before the exit.
        for fd in list(container.pipes):
            self._pump(fd, container)
        container.status = status
        self._record(container.exit_file, status)
        log("container %s exited (%s)", container.id[:13], _describe_status(status))
        self._finish_if_done(container)

    def _finish_if_done(self, container: Container) -> None:
        if container.status is not None and not container.pipes and not container.done:
            container.done = True
            container.log.close()
            if container.tty:
                os.close(container.terminal)
                container.terminal = container.stdin = -1
            container.close_stdin()
            for client in list(container.attachments):
                client.closing = True
                if client.send(EXIT, str(_exit_code(container.status)).encode()):
                    self._watch_writes(container, client)
                else:
                    self._detach(container, client)

    # -- attach ---------------------------------------------------------------------------

    def _attach(self, conn: socket.socket, request: dict[str, Any]) -> None:
        container = self.containers.get(request.get("id", ""))
        if container is None or container.status is not None:
            conn.sendall(b'{"ok": false, "error": "the container is not running"}\n')
            conn.close()
            return
        streams = {s for s in ("stdout", "stderr") if request.get(s)}
        client = Attachment(conn, streams, bool(request.get("stdin")) and container.stdin >= 0)
        conn.sendall(b'{"ok": true}\n')  # a fresh socket's buffer takes it whole
        container.attachments.append(client)
        self.selector.register(conn, selectors.EVENT_READ, (container, client))
        log("attached a client to %s", container.id[:13])

    def _client_event(self, container: Container, client: Attachment, events: int) -> None:
        if events & selectors.EVENT_WRITE:
            if client.flush():
                self._watch_writes(container, client)
            else:
                self._detach(container, client)
        if events & selectors.EVENT_READ and client.open:
            self._from_client(container, client)

    def _watch_writes(self, container: Container, client: Attachment) -> None:
        """Wake on the client's socket draining while its outbox holds something; a client
        whose container ended goes once everything is sent."""
        if not client.outbox and client.closing:
            self._detach(container, client)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.outbox else 0)
        self.selector.modify(client.conn, events, (container, client))

    def _from_client(self, container: Container, client: Attachment) -> None:
        received = client.receive()
        if received is None:
            self._detach(container, client)
            return
        for channel, data in received:
            if channel == STDIN and client.stdin and container.stdin >= 0:
                if write_stdin(container.stdin, data):
                    log("attach to %s: its stdin is full, input dropped", container.id[:13])
            elif channel == RESIZE and container.tty:
                resize(container.terminal, data)
            elif channel == CLOSE and client.stdin:  # the client's input ended
                client.stdin = False
                if container.stdin_once:
                    container.close_stdin()

    def _detach(self, container: Container, client: Attachment) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(client.conn)
        client.close()
        if client in container.attachments:
            container.attachments.remove(client)
        if client.stdin and container.stdin_once:
            container.close_stdin()

    def _record(self, path: str, status: int) -> None:
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        record = {"exit_code": _exit_code(status), "signal": signum, "finished_at": time.time_ns()}
        write_atomic(path, json.dumps(record))

    # -- control --------------------------------------------------------------------------

    def _serve_one(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        conn.settimeout(5.0)
        try:
            request = json.loads(_read_line(conn) or b"{}")
            if request.get("op") == "attach":
                self._attach(conn, request)  # the connection stays, as the client's
                return
            conn.sendall(json.dumps(self._answer(request)).encode() + b"\n")
        except (OSError, ValueError) as exc:
            log("control request failed: %s", exc)
        conn.close()

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "start":
            return self._start_container(request["spec"])
        if op == "reopen":
            container = self.containers.get(request.get("id", ""))
            if container is None:
                return {"ok": False, "error": "no such container in this shim"}
            container.log.reopen()
            return {"ok": True}
        if op == "ping":
            return {"ok": True, "pause": self.pause_pid, "containers": len(self.by_pid)}
        if op == "shutdown":
            self.stopping = True
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def _shutdown(self) -> None:
        """Kill what is left (the runtime normally stopped it all), reap it, and go."""
        deadline = time.monotonic() + SHUTDOWN_GRACE
        for pid in [self.pause_pid, *self.by_pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while self.by_pid and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.01)
        for container in self.containers.values():
            container.log.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.bundle, SOCKET_NAME))
        log("shim exiting")


def log(message: str, *args: object) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message % args}\n")
    sys.stderr.flush()


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"code {os.WEXITSTATUS(status)}"


def _read_line(conn: socket.socket) -> bytes:
    """One request line, read without buffering past it (frames may follow)."""
    line = bytearray()
    while not line.endswith(b"\n") and len(line) < 1 << 20:
        byte = conn.recv(1)
        if not byte:
            break
        line += byte
    return bytes(line)


def _exit_code(status: int) -> int:
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except OSError as exc:
        if exc.errno != errno.EAGAIN:
            raise


def _become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _daemon(bundle: str, ready_w: int) -> None:
    """The shim proper, in the grandchild of the command; never returns."""
    code = 0
    try:
        with contextlib.suppress(PermissionError):  # already a session leader (--in-place)
            os.setsid()
        _become_subreaper()
        set_process_title(f"kin.runtime.shim -id {os.path.basename(bundle)}")
        shim = Shim(bundle)
        shim.start()
        out = os.open(os.path.join(bundle, "shim.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        null = os.open("/dev/null", os.O_RDONLY)
        for fd, target in ((null, 0), (out, 1), (out, 2)):
            os.dup2(fd, target)
        report = {"shim": os.getpid(), "pause": shim.pause_pid}
        os.write(ready_w, json.dumps(report).encode())
        os.close(ready_w)
        shim.run()
    except BaseException as exc:
        with contextlib.suppress(OSError):
            failure = {"error": str(exc) or type(exc).__name__, "shim": os.getpid()}
            os.write(ready_w, json.dumps(failure).encode())
        code = 1
    finally:
        os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    in_place = args[:1] == ["--in-place"]
    args = args[1:] if in_place else args
    if len(args) != 1:
        sys.stderr.write("usage: python -m kin.runtime.shim [--in-place] BUNDLE\n")
        return 2
    bundle = os.path.abspath(args[0])
    if in_place:
        sys.stdout.flush()
        _daemon(bundle, os.dup(1))  # the report goes to our stdout, whose end is our exit
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        os.close(ready_r)
        _daemon(bundle, ready_w)
    os.close(ready_w)
    chunks = []
    while chunk := os.read(ready_r, 4096):
        chunks.append(chunk)
    report = b"".join(chunks).decode() or '{"error": "the shim died before it was ready"}'
    sys.stdout.write(report + "\n")
    return 1 if "error" in json.loads(report) else 0


if __name__ == "__main__":
    sys.exit(main())
