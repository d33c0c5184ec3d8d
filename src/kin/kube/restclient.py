"""A small synchronous client of the API server, on the standard library alone.

``kin create cluster`` asks the API server a dozen things while the nodes boot (is
``/readyz`` there, flannel's objects applied, has the control plane its podCIDR). The
asynchronous client's aiohttp costs 0.3 s of CPU to import, taken on a 2-core machine from
the very daemons that are starting then; ``http.client`` costs nothing. One keep-alive
connection, TLS from the kubeconfig's context (or plain HTTP); failures are ``APIError`` as with
``kin.kube.client``, an unreachable server a 503.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

from kin.errors import APIError
from kin.kube.kubeconfig import Connection
from kin.kube.responses import api_error, parse_json

__all__ = ["RestClient"]

Obj = dict[str, Any]
JSON = "application/json"


class RestClient:
    def __init__(self, connection: Connection, timeout: float = 10.0) -> None:
        self.connection = connection
        url = urllib.parse.urlsplit(connection.server)
        self.host, self.port = (
            url.hostname or "",
            url.port or (443 if connection.ssl_context else 80),
        )
        self.timeout = timeout
        self._http: http.client.HTTPConnection | None = None

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def get(self, path: str) -> Obj:
        return self.request("GET", path)

    def create(self, path: str, body: Obj) -> Obj:
        return self.request("POST", path, body)

    def update(self, path: str, body: Obj) -> Obj:
        return self.request("PUT", path, body)

    def request(self, method: str, path: str, body: Obj | None = None) -> Obj:
        headers = {"Accept": JSON, "User-Agent": "kin"}
        if self.connection.token:
            headers["Authorization"] = f"Bearer {self.connection.token}"
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = JSON
        try:
            status, payload = self._exchange(method, path, data, headers)
        except (OSError, http.client.HTTPException) as exc:
            self.close()  # a new connection next time
            why = f"{method} {path} at {self.connection.server}: {str(exc) or type(exc).__name__}"
            raise APIError(503, "ServiceUnavailable", why) from exc
        answer = parse_json(payload)
        if status >= 400:
            raise api_error(status, answer, f"{method} {path}")
        return answer

    def _exchange(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self._http is None:
            tls = self.connection.ssl_context
            self._http = (
                http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=tls)
                if tls is not None
                else http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            )
        self._http.request(method, path, body=data, headers=headers)
        response = self._http.getresponse()
        return response.status, response.read()
