"""API servers for tests and benchmarks, and a small HTTP client to talk to them.

* ``InProcessServer`` runs ``APIServer`` on a thread of its own (plain HTTP, a bearer
  token) for fast tests of HTTP semantics.
* ``ServerProcess`` runs ``python -m kin.apiserver`` as kin runs it: HTTPS with a fresh
  cluster CA, client-certificate auth, and a kubeconfig for the real kubectl. It is
  stopped by its exact PID.

Both listen on a free port of 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from kin.apiserver import kubeconfig, pki
from kin.apiserver.server import APIServer, ServerConfig
from kin.testing.etcd import free_port

__all__ = ["Client", "InProcessServer", "Response", "ServerProcess"]

TOKEN = "kin-test-token"
SERVICE_CIDR = "10.96.0.0/16"
NODE = "kin-test-node"
"""``ServerProcess`` also writes a client certificate for this node (``node-<NODE>.crt``)."""
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
JSON = "application/json"
RETRYABLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body[:300]!r}>"


class Client:
    """One keep-alive connection; ``request`` sends JSON (or raw bytes) and reads the reply."""

    def __init__(self, url: str, token: str = "", context: ssl.SSLContext | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 443
        self.https = parts.scheme == "https"
        self.token = token
        self.context = context
        self.conn = self._connect()

    def _connect(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self.context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _headers(self, content_type: str, accept: str) -> dict[str, str]:
        headers = {"Content-Type": content_type, "Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = JSON,
        accept: str = JSON,
    ) -> Response:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = self._headers(content_type, accept)
        for attempt in (1, 2):  # the server may have closed an idle keep-alive connection
            try:
                self.conn.request(method, path, data, headers)
                reply = self.conn.getresponse()
                with contextlib.closing(reply):  # a body cut short must not leak its socket
                    return Response(reply.status, reply.headers, reply.read())
            except (OSError, http.client.HTTPException) as exc:
                self.conn.close()  # never leave a half-used socket behind
                self.conn = self._connect()
                if attempt == 2 or not isinstance(exc, RETRYABLE):
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Response:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any, content_type: str, **kw: Any) -> Response:
        return self.request("PATCH", path, body, content_type=content_type, **kw)

    def delete(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.request("DELETE", path, body, **kw)

    def watch(self, path: str, timeout: float = 10.0) -> Iterator[dict[str, Any]]:
        """Events of a watch, one per line, on a connection of its own."""
        conn = self._connect(timeout)
        try:
            conn.request("GET", path, None, self._headers(JSON, JSON))
            reply = conn.getresponse()
            if reply.status != 200:
                raise AssertionError(f"watch {path}: {reply.status} {reply.read()!r}")
            while line := reply.readline():
                yield json.loads(line)
        finally:
            conn.close()

    def close(self) -> None:
        self.conn.close()


class InProcessServer:
    """``APIServer`` on its own event loop thread; ``url`` and ``token`` reach it."""

    def __init__(self, storage: str = "memory://", service_cidr: str = "10.96.0.0/16") -> None:
        self._dir = tempfile.mkdtemp(prefix="kin-apiserver-test-")
        tokens = Path(self._dir, "tokens.csv")
        tokens.write_text(f'{TOKEN},admin,admin-uid,"system:masters"\n')
        self.config = ServerConfig(
            storage=storage,
            port=0,
            token_auth_file=str(tokens),
            service_cluster_ip_range=service_cidr,
        )
        self.token = TOKEN
        self.server = APIServer(self.config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="apiserver", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> InProcessServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(START_TIMEOUT)
        return self

    def client(self, token: str | None = None) -> Client:
        return Client(self.url, self.token if token is None else token)

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(STOP_TIMEOUT)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(STOP_TIMEOUT)
        self.loop.close()
        for name in os.listdir(self._dir):
            os.unlink(os.path.join(self._dir, name))
        os.rmdir(self._dir)

    def __enter__(self) -> InProcessServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerProcess:
    """``python -m kin.apiserver`` over HTTPS with a fresh PKI, and a kubeconfig for kubectl."""

    def __init__(self, storage: str, directory: str) -> None:
        self.dir = Path(directory)
        self.storage = storage
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = str(self.dir / "kubeconfig")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "apiserver.log"
        self._write_pki()

    def _write_pki(self) -> None:
        d = str(self.dir)
        self.ca = pki.write_cluster_pki(d, SERVICE_CIDR, ("127.0.0.1",), (NODE,))
        self.write_kubeconfig(self.kubeconfig, "admin")

    def write_kubeconfig(self, path: str, identity: str) -> None:
        """A kubeconfig that authenticates with ``<identity>.crt`` (``admin``, ``node-<name>``)."""
        pair = pki.load(str(self.dir / f"{identity}.crt"), str(self.dir / f"{identity}.key"))
        config = kubeconfig.render(
            "kind-test", self.url, self.ca.cert_pem(), pair.cert_pem(), pair.key_pem(), identity
        )
        kubeconfig.write(config, path)

    def start(self) -> ServerProcess:
        d = self.dir
        command = [
            sys.executable, "-m", "kin.apiserver",
            "--storage", self.storage,
            "--secure-port", str(self.port),
            "--tls-cert-file", str(d / "apiserver.crt"),
            "--tls-private-key-file", str(d / "apiserver.key"),
            "--client-ca-file", str(d / "ca.crt"),
            "--kubelet-client-certificate", str(d / "apiserver-kubelet-client.crt"),
            "--kubelet-client-key", str(d / "apiserver-kubelet-client.key"),
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.dir / "ca.crt"))
        context.load_cert_chain(str(self.dir / "admin.crt"), str(self.dir / "admin.key"))
        return context

    def client(self) -> Client:
        return Client(self.url, context=self.ssl_context())

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                code, tail = self.proc.returncode, self.log.read_text()[-2000:]
                raise RuntimeError(f"kin.apiserver exited with {code}: {tail}")
            try:
                with contextlib.closing(self.client()) as client:
                    if client.get("/readyz", accept="*/*").status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"kin.apiserver did not become ready: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM (a clean stop) or SIGKILL (a crash); then wait for the exact PID."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
