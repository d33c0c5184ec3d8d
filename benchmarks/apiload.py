"""Load for ``bench_apiserver``: client processes over HTTPS, and the server's CPU and memory.

Each client is a forked process with one keep-alive HTTPS connection (client-certificate
auth), driven over a pipe: it runs a job (a list of requests) from a common start time
and sends back its latencies and stamps, or it holds one watch open and stamps each event
as its line arrives. Times are ``time.monotonic()``, CLOCK_MONOTONIC on Linux, the same
clock in every process, so a writer's 201 and a watcher's event compare directly.
Processes rather than threads: 32 clients in one process would share one GIL and could
become the bottleneck themselves. ``CpuMeter`` shows whether they did.

The timed requests go through ``LeanClient``, which speaks just the HTTP/1.1 the server
answers with (a reply by Content-Length or in chunks) over the same TLS: ``http.client``
parses every reply's headers with the ``email`` package, and 8 clients built on it took
0.37 of this machine's 2 CPUs at 700 creates/s, CPU the server then did not have. A load
generator should measure the server, not compete with it: Kubernetes' own load tests
drive the API server from other machines.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing
import os
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from kin.testing.apiserver import ServerProcess

__all__ = ["NAME", "SPEC", "Clients", "CpuMeter", "Job", "Result", "memory"]

NAME = "__NAME__"  # in a POST body template, replaced by each request's pod name
SPEC = "__SPEC__"  # in its spec, replaced by the request's own value, or one all share
SHARED = "shared"
Job = list[tuple[str, str, str, str]]  # (method, path, pod name, spec value or "") per request


# -- the client processes -------------------------------------------------------------------


@dataclass
class Result:
    """What one client process did in one phase; times are ``time.monotonic()``."""

    latencies: list[float] = field(default_factory=list)
    stamps: list[tuple[str, float]] = field(default_factory=list)  # (pod, 201 or event)
    started: float = 0.0
    ended: float = 0.0
    cpu: float = 0.0
    size: int = 0  # bytes of the last response


def tls(directory: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=f"{directory}/ca.crt")
    context.load_cert_chain(f"{directory}/admin.crt", f"{directory}/admin.key")
    return context


class LeanClient:
    """One keep-alive HTTPS connection: a request in one write, its reply read by
    Content-Length or chunks (what aiohttp sends), reconnecting once if the server closed
    the connection while it was idle."""

    def __init__(self, url: str, context: ssl.SSLContext) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 443
        self.context = context
        self.sock: ssl.SSLSocket | None = None
        self.buffer = bytearray()

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Accept: application/json\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body or b'')}\r\n\r\n"
        ).encode()
        for attempt in (1, 2):
            if self.sock is None:
                self._connect()
            assert self.sock is not None
            try:
                self.sock.sendall(head + (body or b""))
                return self._reply()
            except OSError:  # ConnectionError and ssl.SSLError too
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock, self.buffer = None, bytearray()

    def _connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), timeout=60)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.context.wrap_socket(raw, server_hostname=self.host)

    def _reply(self) -> tuple[int, bytes]:
        end = self._fill_until(b"\r\n\r\n")
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        status = int(head[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        if fields.get("transfer-encoding", "").lower() == "chunked":
            return status, self._chunks()
        return status, self._take(int(fields.get("content-length", "0")))

    def _chunks(self) -> bytes:
        body = bytearray()
        while True:
            end = self._fill_until(b"\r\n")
            size = int(bytes(self.buffer[:end]).split(b";")[0], 16)
            del self.buffer[: end + 2]
            body += self._take(size)
            self._take(2)  # the CRLF after the chunk (after the last, no trailers are sent)
            if size == 0:
                return bytes(body)

    def _take(self, n: int) -> bytes:
        if len(self.buffer) >= n:
            data = bytes(self.buffer[:n])
            del self.buffer[:n]
            return data
        body = bytearray(n)  # the rest is read straight into place
        view = memoryview(body)
        got = len(self.buffer)
        view[:got] = self.buffer
        self.buffer = bytearray()
        assert self.sock is not None
        while got < n:
            read = self.sock.recv_into(view[got:])
            if not read:
                raise ConnectionError("the server closed the connection")
            got += read
        return bytes(body)

    def _fill_until(self, marker: bytes) -> int:
        while (at := self.buffer.find(marker)) < 0:
            self._recv()
        return at

    def _recv(self) -> None:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data


def run_job(client: LeanClient, template: bytes, job: Job, start_at: float) -> Result:
    client.request("GET", "/readyz")  # reopen an idle keep-alive connection, untimed
    time.sleep(max(0.0, start_at - time.monotonic()))
    result = Result(started=time.monotonic())
    cpu = time.process_time()
    for method, path, name, spec in job:
        body = None
        if method == "POST":
            body = template.replace(NAME.encode(), name.encode())
            body = body.replace(SPEC.encode(), (spec or SHARED).encode())
        sent = time.monotonic()
        status, reply = client.request(method, path, body)
        done = time.monotonic()
        if status != (201 if method == "POST" else 200):
            raise RuntimeError(f"{method} {path} {name}: {status} {reply[:300]!r}")
        result.latencies.append(done - sent)
        result.stamps.append((name, done))
        result.size = len(reply)
    result.ended = time.monotonic()
    result.cpu = time.process_time() - cpu
    return result


def run_watch(link: Connection, url: str, context: ssl.SSLContext, path: str, n: int) -> Result:
    """Open the watch, say "ready", then stamp each ADDED event as its line arrives."""
    host, port = url.removeprefix("https://").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=120)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        reply = conn.getresponse()
        if reply.status != 200:
            raise RuntimeError(f"watch {path}: {reply.status} {reply.read()!r}")
        link.send("ready")
        result = Result(started=time.monotonic())
        while len(result.stamps) < n:
            line = reply.readline()
            arrived = time.monotonic()
            if not line:
                raise RuntimeError(f"watch {path} ended after {len(result.stamps)} events")
            event = json.loads(line)
            if event["type"] == "ADDED":
                result.stamps.append((event["object"]["metadata"]["name"], arrived))
        result.ended = time.monotonic()
        return result
    finally:
        conn.close()


def client_process(link: Connection, url: str, directory: str, template: bytes) -> None:
    context = tls(directory)
    client = LeanClient(url, context)
    try:
        while (message := link.recv()) is not None:
            kind, payload, arg = message
            try:
                if kind == "watch":
                    link.send(run_watch(link, url, context, payload, arg))
                else:
                    link.send(run_job(client, template, payload, arg))
            except Exception as exc:  # the parent raises it; it must not wait forever
                link.send(f"client {os.getpid()}: {type(exc).__name__}: {exc}")
    finally:
        client.close()


class Clients:
    """``count`` forked client processes, each driven over a pipe; stopped by exact PID."""

    def __init__(self, count: int, server: ServerProcess, template: bytes) -> None:
        context = multiprocessing.get_context("fork")
        self.links: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for _ in range(count):
            parent, child = context.Pipe()
            args = (child, server.url, str(server.dir), template)
            proc = context.Process(target=client_process, args=args, daemon=True)
            proc.start()
            child.close()
            self.links.append(parent)
            self.procs.append(proc)

    def receive(self, i: int) -> Any:
        answer = self.links[i].recv()
        if isinstance(answer, str) and answer != "ready":
            raise RuntimeError(answer)
        return answer

    def run(self, jobs: list[Job], cpu: CpuMeter) -> tuple[list[Result], dict[str, float]]:
        """Run ``jobs[i]`` on client ``i``, all starting together; also the CPU they took."""
        start_at = time.monotonic() + 0.5
        for i, job in enumerate(jobs):
            self.links[i].send(("job", job, start_at))
        time.sleep(max(0.0, start_at - time.monotonic()))
        cpu.start()
        results = [self.receive(i) for i in range(len(jobs))]
        return results, cpu.stop(sum(r.cpu for r in results))

    def close(self) -> None:
        for link in self.links:
            link.send(None)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()  # this exact child
                proc.join()


# -- the server side: CPU and memory --------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU cores used by the server (and etcd) over a phase, next to the clients' own."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.began: dict[str, float] = {}
        self.at = 0.0

    def start(self) -> None:
        self.at = time.monotonic()
        self.began = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self, clients: float) -> dict[str, float]:
        wall = time.monotonic() - self.at
        used = {name: cpu_seconds(pid) - self.began[name] for name, pid in self.pids.items()}
        return {name: seconds / wall for name, seconds in {**used, "clients": clients}.items()}


def memory(pid: int) -> dict[str, int]:
    """RSS and PSS (smaps_rollup) and peak RSS (VmHWM), in kB."""
    found: dict[str, int] = {}
    for path, names in ((f"/proc/{pid}/smaps_rollup", ("Rss", "Pss")),
                        (f"/proc/{pid}/status", ("VmHWM",))):  # fmt: skip
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in names:
                    found[name] = int(value.split()[0])
    return found
