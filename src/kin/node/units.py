"""Units: the daemons a node's supervisor keeps running (the systemd units of a kind node).

A unit is one JSON file ``<state_dir>/units/<name>.json``::

    {"argv": ["python3", "-m", "kin.kubelet", "--node", "myk8s-worker"],
     "env": {"KEY": "value"}, "restart": "always"}

``restart`` is ``always`` (default), ``on-failure`` or ``no``. The supervisor
starts every unit at boot and on ``reload``, restarts exited ones with an
exponential back-off, and writes each unit's output to ``/var/log/kin/<name>.log``
inside the node.

A unit with ``"socket": "/run/kin/x.sock"`` is socket-activated, as systemd does
it: the supervisor listens on that unix socket itself and starts the unit only
when the first client connects, handing it the listening socket as fd 3
(``LISTEN_FDS=1``). Clients queue meanwhile, and again while it restarts. A
daemon used only now and then then costs nothing until it is.

A unit with ``"zygote": "/run/kin/zygote.sock"`` (a ``python -m MODULE`` command) is
forked by the cluster's fork server listening there (``kin.linux.zygote``), so it shares
the zygote's imported libraries; while the zygote cannot answer, it is started as usual.
"""

from __future__ import annotations

import json
import os
import socket as socket_module

from kin.linux.files import write_atomic

__all__ = ["RESTART_POLICIES", "Unit", "UnitState", "load_units", "write_unit"]

RESTART_POLICIES = ("always", "on-failure", "no")
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
STABLE_AFTER = 10.0


class Unit:
    """What to run. A plain class, like ``NodeSpec``: it is on every node's boot path."""

    __slots__ = ("argv", "env", "name", "restart", "socket", "zygote")

    def __init__(
        self,
        name: str,
        argv: tuple[str, ...],
        env: tuple[tuple[str, str], ...] = (),
        restart: str = "always",
        socket: str = "",
        zygote: str = "",
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.restart = restart
        self.socket = socket
        self.zygote = zygote

    def _key(self) -> tuple[object, ...]:
        return (self.name, self.argv, self.env, self.restart, self.socket, self.zygote)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unit) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Unit({self.name!r}, {self.argv!r}, restart={self.restart!r})"

    def wants_restart(self, exit_code: int) -> bool:
        return self.restart == "always" or (self.restart == "on-failure" and exit_code != 0)


class UnitState:
    """A unit as the supervisor tracks it: its process, restarts and back-off."""

    def __init__(self, unit: Unit, started_at: float = 0.0) -> None:
        self.unit = unit
        self.pid: int | None = None
        self.started_at = started_at
        self.restarts = 0
        self.exit_code: int | None = None
        self.backoff = BACKOFF_FIRST
        self.restart_at: float | None = None
        self.stopping = False
        self.starting = False
        """Waiting for the zygote to name the PID it forked."""
        self.listener: socket_module.socket | None = None
        """The socket the supervisor holds for a socket-activated unit."""

    def describe(self) -> dict[str, object]:
        if self.pid:
            state = "running"
        elif self.starting:
            state = "starting"
        elif self.restart_at:
            state = "waiting"
        else:
            state = "listening" if self.listener else "exited"
        return {
            "state": state,
            "pid": self.pid,
            "restarts": self.restarts,
            "exit_code": self.exit_code,
        }

    def next_backoff(self, now: float) -> float:
        """Delay before the next start; resets once the unit ran long enough to count as stable."""
        if now - self.started_at >= STABLE_AFTER:
            self.backoff = BACKOFF_FIRST
        delay = self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX)
        return delay


def load_units(directory: str) -> tuple[dict[str, Unit], list[str]]:
    """Every valid unit in ``directory`` and one problem line per invalid file."""
    units: dict[str, Unit] = {}
    problems: list[str] = []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return units, problems
    for filename in names:
        if not filename.endswith(".json"):
            continue
        path = os.path.join(directory, filename)
        try:
            unit = _parse_unit(filename[: -len(".json")], path)
        except (OSError, ValueError) as exc:
            problems.append(f"unit file {path}: {exc}")
            continue
        units[unit.name] = unit
    return units, problems


def _parse_unit(name: str, path: str) -> Unit:
    with open(path) as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object")
    argv = raw.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("'argv' must be a non-empty list of strings")
    env = raw.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ValueError("'env' must map names to strings")
    restart = raw.get("restart", "always")
    if restart not in RESTART_POLICIES:
        raise ValueError(f"'restart' must be one of {', '.join(RESTART_POLICIES)}, not {restart!r}")
    socket = raw.get("socket", "")
    if not isinstance(socket, str) or (socket and not socket.startswith("/")):
        raise ValueError("'socket' must be an absolute path")
    zygote = raw.get("zygote", "")
    if not isinstance(zygote, str) or (zygote and not zygote.startswith("/")):
        raise ValueError("'zygote' must be an absolute path")
    if zygote and (len(argv) < 3 or argv[1] != "-m"):
        raise ValueError("a unit forked from the zygote runs 'python -m MODULE ...'")
    return Unit(name, tuple(argv), tuple(sorted(env.items())), restart, socket, zygote)


def write_unit(directory: str, unit: Unit) -> str:
    """Write ``unit`` atomically; return its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{unit.name}.json")
    body: dict[str, object] = {"argv": list(unit.argv), "env": dict(unit.env)}
    body["restart"] = unit.restart
    if unit.socket:
        body["socket"] = unit.socket
    if unit.zygote:
        body["zygote"] = unit.zygote
    write_atomic(path, json.dumps(body, indent=2) + "\n")
    return path
