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
     "ports": [{"fd": 5, "protocol": "tcp", "listen": "0.0.0.0:31000",
                "node": "myk8s-worker", "target": ["172.18.0.3", 31000]}]}
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
from dataclasses import dataclass
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
    listen: str
    node: str
    target: tuple[str, int]

    def describe(self) -> str:
        return f"{self.listen} -> {self.node} {self.target[0]}:{self.target[1]}"


def serve_tcp(port: PublishedPort) -> None:
    """Accept forever; each connection is relayed by its own pair of threads."""
    while True:
        client, _ = port.listener.accept()
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
        data, client = port.listener.recvfrom(BUFFER)
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
    for port in ports:
        serve = serve_tcp if port.listener.type == socket.SOCK_STREAM else serve_udp
        threading.Thread(target=serve, args=(port,), daemon=True).start()
        log.info("cluster %s: publishing %s", args.cluster, port.describe())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
