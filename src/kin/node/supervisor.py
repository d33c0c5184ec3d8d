"""The node supervisor: PID 1 of a node's PID namespace.

Like systemd in a kind node it reaps every orphan that lands on it, keeps the
node's units (daemons) running, and answers a small JSON-lines protocol on a
unix socket so that the host can ask whether the node is up:

    -> {"op": "ping"}     <- {"ok": true, "node": "myk8s-worker", "units": 2}
    -> {"op": "status"}   <- {"ok": true, "units": {"kubelet": {"state": "running", ...}}}
    -> {"op": "reload"}   <- {"ok": true, "started": [...], "stopped": [...]}

It is single-threaded: one ``selectors`` loop wakes on the control socket, on
signals (through the wakeup fd), on restart timers and on the zygote's replies (a unit
with a ``zygote`` is forked by the cluster's fork server; its PID arrives in the loop,
and it is our child: the zygote's last fork happens inside our PID namespace). SIGTERM
stops every unit
and exits; the kernel then kills whatever else is left in the PID namespace.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import selectors
import signal
import socket
import sys
import time

from kin.errors import ZygoteError
from kin.linux.files import listen_unix
from kin.linux.proc import reaped, spawn_daemon
from kin.linux.zygote import encode_request, parse_reply
from kin.node.spec import NodeSpec
from kin.node.units import Unit, UnitState, load_units

__all__ = ["Supervisor", "log"]


UNIT_LOG_DIR = "/var/log/kin"
STOP_GRACE = 2.0
REQUEST_TIMEOUT = 1.0
UNCLAIMED_EXITS = 64  # exits of PIDs the zygote has not named yet (a unit that died at once)
ZYGOTE_REPLY_TIMEOUT = 30.0


class _ZygoteReply:
    """A unit's start request sent to the zygote; the reply carries its PID."""

    def __init__(self, state: UnitState, sock: socket.socket, deadline: float) -> None:
        self.state = state
        self.sock = sock
        self.deadline = deadline
        self.received = b""


class Supervisor:
    def __init__(self, spec: NodeSpec) -> None:
        self.spec = spec
        self.units: dict[str, UnitState] = {}
        self.by_pid: dict[int, UnitState] = {}
        self.selector = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.terminating = False
        self.stop_deadline = 0.0
        self.unclaimed_exits: dict[int, int] = {}
        self.replies: list[_ZygoteReply] = []

    def listen(self) -> None:
        """Bind the control socket; called before the node reports ready."""
        path = self.spec.control_socket
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(16)

    def run(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._note_signal)
        self.selector.register(wake_r, selectors.EVENT_READ, "signal")
        self.selector.register(self.listener, selectors.EVENT_READ, "control")
        self.reload()
        while not (self.terminating and not self.by_pid):
            self._wait_once(wake_r)
        log("node %s: supervisor exiting", self.spec.name)

    def _note_signal(self, signum: int, frame: object) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT) and not self.terminating:
            self.terminating = True
            self._stop_all()

    def _wait_once(self, wake_r: int) -> None:
        for key, _ in self.selector.select(self._next_timeout()):
            if key.data == "signal":
                _drain(wake_r)
            elif key.data == "control":
                self._serve_one()
            elif isinstance(key.data, UnitState):
                self._activate(key.data)
            elif isinstance(key.data, _ZygoteReply):
                self._zygote_replied(key.data)
        self._reap()
        self._run_timers()
        self._expire_replies()

    def _next_timeout(self) -> float | None:
        due = [s.restart_at for s in self.units.values() if s.restart_at is not None]
        due += [reply.deadline for reply in self.replies]
        if self.terminating:
            due.append(time.monotonic() + 0.2)
        return max(0.0, min(due) - time.monotonic()) if due else None

    # -- children -------------------------------------------------------------------------

    def _reap(self) -> None:
        for pid, status in reaped():
            state = self.by_pid.pop(pid, None)
            if state is not None:
                self._unit_exited(state, os.waitstatus_to_exitcode(status))
            elif self.replies:  # perhaps a unit whose PID the zygote has not told yet
                self.unclaimed_exits[pid] = os.waitstatus_to_exitcode(status)
                if len(self.unclaimed_exits) > UNCLAIMED_EXITS:
                    del self.unclaimed_exits[next(iter(self.unclaimed_exits))]

    def _unit_exited(self, state: UnitState, code: int) -> None:
        state.pid = None
        state.exit_code = code
        log("unit %s exited with code %d", state.unit.name, code)
        if self.terminating or state.stopping:
            return
        if state.listener is not None:
            self._await_client(state)  # the next client starts it again
            return
        if not state.unit.wants_restart(code):
            return
        now = time.monotonic()
        delay = state.next_backoff(now)
        state.restart_at = now + delay
        log("unit %s: restarting in %.1fs", state.unit.name, delay)

    def _run_timers(self) -> None:
        now = time.monotonic()
        for state in list(self.units.values()):
            if state.restart_at is not None and state.restart_at <= now:
                state.restart_at = None
                state.restarts += 1
                self._start(state)
        if self.terminating:
            self._escalate_stop()

    def _start(self, state: UnitState) -> None:
        if not (state.unit.zygote and self._ask_zygote(state)):
            self._start_directly(state)

    def _started(self, state: UnitState, pid: int) -> None:
        state.pid, state.started_at, state.exit_code = pid, time.monotonic(), None
        self.by_pid[pid] = state
        log("unit %s started, pid %d", state.unit.name, pid)
        if state.stopping:
            _kill_group(pid, signal.SIGTERM)
        if pid in self.unclaimed_exits:
            del self.by_pid[pid]
            self._unit_exited(state, self.unclaimed_exits.pop(pid))

    # -- the zygote -----------------------------------------------------------------------

    def _ask_zygote(self, state: UnitState) -> bool:
        """Send the unit's start request to the zygote; False if it cannot take it now."""
        unit = state.unit
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        fds: list[int] = []
        try:
            env = _unit_io(unit, state.listener, fds)
            sock.connect(unit.zygote)
            socket.send_fds(sock, [encode_request(unit.argv, env)], fds)
        except OSError as exc:
            log("unit %s: zygote %s unavailable (%s), starting it directly", unit.name,
                unit.zygote, exc)  # fmt: skip
            sock.close()
            return False
        finally:
            for fd in set(fds[:3]):  # /dev/null and the log; the listener stays ours
                os.close(fd)
        state.starting = True
        reply = _ZygoteReply(state, sock, time.monotonic() + ZYGOTE_REPLY_TIMEOUT)
        self.replies.append(reply)
        self.selector.register(sock, selectors.EVENT_READ, reply)
        return True

    def _expire_replies(self) -> None:
        """A zygote that does not answer in time is broken: start those units directly.
        (It checks that a client still waits before it forks, so none starts twice.)"""
        now = time.monotonic()
        for reply in [r for r in self.replies if r.deadline <= now]:
            log("unit %s: the zygote did not answer; starting it directly", reply.state.unit.name)
            self._close_reply(reply)
            if not reply.state.stopping:
                self._start_directly(reply.state)

    def _close_reply(self, reply: _ZygoteReply) -> None:
        self.selector.unregister(reply.sock)
        reply.sock.close()
        reply.state.starting = False
        self.replies.remove(reply)

    def _zygote_replied(self, reply: _ZygoteReply) -> None:
        try:
            chunk = reply.sock.recv(4096)
        except OSError:
            chunk = b""
        reply.received += chunk
        if chunk and not reply.received.endswith(b"\n"):
            return
        self._close_reply(reply)
        state = reply.state
        try:
            pid = parse_reply(reply.received)
        except ZygoteError as exc:
            log("unit %s: %s; starting it directly", state.unit.name, exc)
            pid = 0
        if pid:
            self._started(state, pid)
        elif not state.stopping:
            self._start_directly(state)
        if not self.replies:
            self.unclaimed_exits.clear()  # only exits while a reply is awaited can be its

    def _start_directly(self, state: UnitState) -> None:
        unit = state.unit
        try:
            pid = _spawn(unit, state.listener)
        except OSError as exc:
            log("unit %s: failed to start %s: %s", unit.name, unit.argv[0], exc)
            self._unit_exited(state, 127)
            return
        self._started(state, pid)

    def _stop(self, state: UnitState) -> None:
        state.stopping = True
        state.restart_at = None
        if state.pid is not None:
            _kill_group(state.pid, signal.SIGTERM)
        if state.listener is not None:
            self._close_listener(state)

    # -- socket activation ----------------------------------------------------------------

    def _listen_for(self, state: UnitState) -> None:
        path = state.unit.socket
        state.listener = listen_unix(path)
        self._await_client(state)
        log("unit %s: listening on %s, started on the first connection", state.unit.name, path)

    def _await_client(self, state: UnitState) -> None:
        if state.listener is not None:
            self.selector.register(state.listener, selectors.EVENT_READ, state)

    def _activate(self, state: UnitState) -> None:
        """A client is waiting: hand the listening socket to the unit, started now."""
        if state.listener is None:
            return
        self.selector.unregister(state.listener)
        log("unit %s: activated by a connection on %s", state.unit.name, state.unit.socket)
        self._start(state)

    def _close_listener(self, state: UnitState) -> None:
        if state.listener is None:
            return
        with contextlib.suppress(KeyError):
            self.selector.unregister(state.listener)
        state.listener.close()
        state.listener = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(state.unit.socket)

    def _stop_all(self) -> None:
        self.stop_deadline = time.monotonic() + STOP_GRACE
        for state in self.units.values():
            self._stop(state)

    def _escalate_stop(self) -> None:
        if time.monotonic() >= self.stop_deadline:
            for pid in list(self.by_pid):
                _kill_group(pid, signal.SIGKILL)

    # -- units ----------------------------------------------------------------------------

    def reload(self) -> dict[str, object]:
        wanted, problems = load_units(self.spec.units_dir)
        for problem in problems:
            log("%s", problem)
        stopped = [name for name in self.units if wanted.get(name) != self.units[name].unit]
        for name in stopped:
            self._stop(self.units.pop(name))
        started = [name for name in wanted if name not in self.units]
        for name in started:
            self.units[name] = state = UnitState(wanted[name])
            if state.unit.socket:
                self._listen_for(state)
            else:
                self._start(state)
        return {"ok": not problems, "started": started, "stopped": stopped, "problems": problems}

    # -- control socket -------------------------------------------------------------------

    def _serve_one(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(REQUEST_TIMEOUT)
            try:
                request = json.loads(conn.makefile("rb").readline() or b"{}")
                reply = self._answer(request)
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except (OSError, ValueError) as exc:
                log("control request failed: %s", exc)

    def _answer(self, request: dict[str, object]) -> dict[str, object]:
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "node": self.spec.name, "units": len(self.units)}
        if op == "status":
            return {"ok": True, "units": {n: s.describe() for n, s in self.units.items()}}
        if op == "reload":
            return self.reload()
        return {"ok": False, "error": f"unknown op {op!r}"}


def log(message: str, *args: object) -> None:
    """One line per event on stderr (the node's supervisor.log). Not ``logging``: it costs
    10-25 ms of import on every node's boot path."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    sys.stderr.write(f"{stamp} {message % args}\n")
    sys.stderr.flush()


def _unit_env(unit: Unit, listener: socket.socket | None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), **dict(unit.env)}
    if listener is not None:
        env["LISTEN_FDS"] = "1"  # systemd's convention: the socket is fd 3
    return env


def _log_path(unit: Unit) -> str:
    os.makedirs(UNIT_LOG_DIR, exist_ok=True)
    return os.path.join(UNIT_LOG_DIR, f"{unit.name}.log")


def _spawn(unit: Unit, listener: socket.socket | None) -> int:
    env, log_path = _unit_env(unit, listener), _log_path(unit)
    if listener is None:
        return spawn_daemon(list(unit.argv), log_path, env)
    return spawn_daemon(list(unit.argv), log_path, env, fd3=listener.fileno())


def _unit_io(unit: Unit, listener: socket.socket | None, fds: list[int]) -> dict[str, str]:
    """The environment of a unit forked by the zygote; its fds 0, 1, 2 (and 3) are added
    to ``fds`` as they open, so the caller closes what was opened even after a failure."""
    fds.append(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
    fds += [os.open(_log_path(unit), flags, 0o644)] * 2
    if listener is not None:
        fds.append(listener.fileno())
    return _unit_env(unit, listener)


def _kill_group(pid: int, signum: int) -> None:
    """Units run in their own session, so their helpers go down with them."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except OSError as exc:
        if exc.errno != errno.EAGAIN:
            raise
