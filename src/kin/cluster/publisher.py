"""The port publisher: kind's docker-proxy, one process per cluster.

It inherits the host-side listening sockets that ``kin create cluster`` bound
(``listenAddress:hostPort`` of every extraPortMapping, and the API server's
``127.0.0.1:<port>``), then moves itself into the kin network's namespace.
From there every upstream socket it opens lives on the kin bridge, so traffic
reaches ``<node IP>:<containerPort>`` exactly as docker-proxy's would reach a
container: in through the node's ``eth0``, where ``tcpdump`` sees it. The host
gets only listening sockets: no routes, no NAT rules.

Run as ``python -m kin.cluster.publisher --cluster NAME --spec publisher.json``
with the sockets' fds inherited; ``publisher.json`` lists them::

    {"netns": "/run/netns/kin-net", "pid_file": ".../publisher.pid",
     "owner_file": ".../cluster.json", "lock_file": "/var/lib/kin/.lock",
     "control": ".../publisher.sock",
     "ports": [{"fd": 5, "protocol": "tcp", "listen": "0.0.0.0:31000",
                "node": "myk8s-worker", "target": ["172.18.0.3", 31000]}]}

On ``control`` (a unix SOCK_SEQPACKET socket) it takes requests while it runs, one JSON
message each, answered with ``{"ok": true}`` or ``{"ok": false, "error": ...}``:
``{"op": "add", "protocol", "listen", "node", "target"}`` with the listening socket
attached (SCM_RIGHTS) publishes one more port; ``{"op": "remove", "listen":
"0.0.0.0:31000/tcp"}`` closes one (``kin create|delete port-mapping``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kin.linux import syscalls
from kin.linux.proc import ProcessRecord, record_while_owned

__all__ = ["PublishedPort", "main", "serve_tcp", "serve_udp"]

log = logging.getLogger("kin.publisher")

Address = tuple[Any, ...]
CONNECT_TIMEOUT = 5.0
UDP_IDLE_TIMEOUT = 90.0
BUFFER = 65536


@dataclass(frozen=True)
class PublishedPort:
    listener: socket.socket
    listen: str  # "0.0.0.0:31000/tcp"
    node: str
    target: tuple[str, int]
    stopped: threading.Event = field(default_factory=threading.Event)
    """Set when the port is removed: its serving thread then ends."""

    def describe(self) -> str:
        return f"{self.listen} -> {self.node} {self.target[0]}:{self.target[1]}"


def serve_tcp(port: PublishedPort) -> None:
    """Accept until removed; each connection is relayed by its own pair of threads."""
    while True:
        try:
            client, _ = port.listener.accept()
        except OSError as exc:
            if port.stopped.is_set():
                return
            log.info("%s: accept failed: %s", port.describe(), exc)
            time.sleep(0.1)  # out of descriptors, say: wait rather than spin
            continue
        threading.Thread(target=_relay_tcp, args=(port, client), daemon=True).start()


def _relay_tcp(port: PublishedPort, client: socket.socket) -> None:
    try:
        upstream = socket.create_connection(port.target, timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        log.info("%s: connect failed: %s", port.describe(), exc)
        client.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy until EOF, then half-close the sink so the far side sees EOF too."""
    buf = bytearray(BUFFER)
    view = memoryview(buf)
    try:
        while n := source.recv_into(buf):
            sink.sendall(view[:n])
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        for sock in (source, sink):
            _shutdown_quietly(sock)


def _shutdown_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def serve_udp(port: PublishedPort) -> None:
    """One upstream socket per client address; replies go back from the listening socket."""
    sessions: dict[Address, socket.socket] = {}
    lock = threading.Lock()
    while True:
        try:
            data, client = port.listener.recvfrom(BUFFER)
        except OSError:
            if port.stopped.is_set():
                return
            continue
        with lock:
            upstream = sessions.get(client)
            if upstream is None:
                upstream = _open_udp_session(port, client, sessions, lock)
        try:
            upstream.send(data)
        except OSError as exc:
            log.info("%s: send from %s failed: %s", port.describe(), client, exc)


def _open_udp_session(
    port: PublishedPort,
    client: Address,
    sessions: dict[Address, socket.socket],
    lock: threading.Lock,
) -> socket.socket:
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.connect(port.target)
    upstream.settimeout(UDP_IDLE_TIMEOUT)
    sessions[client] = upstream
    args = (port, client, upstream, sessions, lock)
    threading.Thread(target=_udp_replies, args=args, daemon=True).start()
    return upstream


def _udp_replies(
    port: PublishedPort,
    client: Address,
    upstream: socket.socket,
    sessions: dict[Address, socket.socket],
    lock: threading.Lock,
) -> None:
    try:
        while True:
            port.listener.sendto(upstream.recv(BUFFER), client)
    except OSError:
        pass  # idle timeout, or the node refused (ICMP port unreachable)
    finally:
        with lock:
            sessions.pop(client, None)
        upstream.close()


def serve_control(path: str, cluster: str, ports: dict[str, PublishedPort]) -> None:
    """Answer ``kin create|delete port-mapping`` on the control socket, one at a time."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # left by a stopped cluster's publisher
    control = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    control.bind(path)
    os.chmod(path, 0o600)
    control.listen(8)
    while True:
        conn, _ = control.accept()
        with conn:
            try:
                message, fds, _, _ = socket.recv_fds(conn, 65536, 1)
                reply = _control(json.loads(message), fds, cluster, ports)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                reply = {"ok": False, "error": f"bad request: {exc}"}
            with contextlib.suppress(OSError):
                conn.send(json.dumps(reply).encode())


def _control(
    request: dict[str, Any], fds: list[int], cluster: str, ports: dict[str, PublishedPort]
) -> dict[str, Any]:
    if request.get("op") == "add" and len(fds) == 1:
        listen = f"{request['listen']}/{request['protocol']}"
        target = (str(request["target"][0]), int(request["target"][1]))
        port = PublishedPort(socket.socket(fileno=fds[0]), listen, request["node"], target)
        ports[port.listen] = port
        _start(port, cluster)
        return {"ok": True}
    for fd in fds:  # not ours to keep
        os.close(fd)
    if request.get("op") == "remove":
        removed = ports.pop(str(request.get("listen")), None)
        if removed is None:
            return {"ok": False, "error": f"not publishing {request.get('listen')}"}
        removed.stopped.set()
        _shutdown_quietly(removed.listener)
        removed.listener.close()
        log.info("cluster %s: no longer publishing %s", cluster, removed.describe())
        return {"ok": True}
    return {"ok": False, "error": f"unknown request {request!r}"}


def _start(port: PublishedPort, cluster: str) -> None:
    serve = serve_tcp if port.listener.type == socket.SOCK_STREAM else serve_udp
    threading.Thread(target=serve, args=(port,), daemon=True).start()
    log.info("cluster %s: publishing %s", cluster, port.describe())


def _register(spec: dict[str, str]) -> bool:
    """Record our PID while the cluster exists (under the host lock); False if it is gone."""
    try:
        record_while_owned(
            ProcessRecord.of(os.getpid()), spec["pid_file"], spec["owner_file"], spec["lock_file"]
        )
    except OSError:
        return False
    return True


def _load(spec_path: str) -> tuple[dict[str, Any], list[PublishedPort]]:
    with open(spec_path) as f:
        spec = json.load(f)
    ports = [
        PublishedPort(
            listener=socket.socket(fileno=entry["fd"]),
            listen=f"{entry['listen']}/{entry['protocol']}",
            node=entry["node"],
            target=(entry["target"][0], int(entry["target"][1])),
        )
        for entry in spec["ports"]
    ]
    return spec, ports


def _enter_netns(path: str) -> None:
    """Move the whole (still single-threaded) process: every thread started later inherits it."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, syscalls.CLONE_NEWNET)
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kin.cluster.publisher")
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    spec, ports = _load(args.spec)
    if not _register(spec):
        log.info("cluster %s: deleted before its publisher started; exiting", args.cluster)
        return 0
    _enter_netns(spec["netns"])
    published = {port.listen: port for port in ports}
    for port in ports:
        _start(port, args.cluster)
    if spec.get("control"):
        control = (spec["control"], args.cluster, published)
        threading.Thread(target=serve_control, args=control, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
