"""Who may use the kubelet's API: the API server and cluster admins, not nodes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from kin.kubelet.server import authorize


class Transport:
    def __init__(self, peer: dict[str, Any] | None) -> None:
        self.peer = peer

    def get_extra_info(self, name: str) -> Any:
        return self.peer if name == "peercert" else None


class Request:
    def __init__(self, path: str, peer: dict[str, Any] | None) -> None:
        self.path = path
        self.transport = Transport(peer)


def subject(cn: str, *orgs: str) -> dict[str, Any]:
    return {"subject": tuple([(("organizationName", o),) for o in orgs] + [(("commonName", cn),)])}


async def ok(request: Any) -> web.StreamResponse:
    return web.Response(text="ok")


def call(path: str, peer: dict[str, Any] | None) -> web.StreamResponse:
    return asyncio.run(authorize(Request(path, peer), ok))  # type: ignore[arg-type]


def test_the_api_server_and_admins_may_exec() -> None:
    assert (
        call(
            "/exec/default/p/c", subject("kube-apiserver-kubelet-client", "kubeadm:cluster-admins")
        ).status
        == 200
    )
    assert (
        call("/containerLogs/default/p/c", subject("kubernetes-admin", "system:masters")).status
        == 200
    )


@pytest.mark.parametrize(
    ("peer", "error"),
    [(subject("system:node:w1", "system:nodes"), web.HTTPForbidden), (None, web.HTTPUnauthorized)],
)
def test_nodes_and_anonymous_clients_may_not(
    peer: dict[str, Any] | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        call("/exec/kube-system/kube-apiserver-cp/kube-apiserver", peer)


def test_health_is_open() -> None:
    assert call("/healthz", None).status == 200
