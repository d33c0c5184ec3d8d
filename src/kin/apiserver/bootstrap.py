"""What exists on every cluster before anyone asks: the four system namespaces, and the
``kubernetes`` Service (the first address of the service CIDR) with an Endpoints and an
EndpointSlice pointing at this API server, as kube-apiserver's bootstrap controllers
create them (kube-proxy reads the slice).

Idempotent: a restart over existing storage finds them and leaves them alone (but
repoints the endpoints, in case the advertised address changed).
"""

from __future__ import annotations

from typing import Any

from kin.apiserver import errors
from kin.apiserver.allocators import kubernetes_service_ip
from kin.apiserver.registry import Registry, WriteOptions
from kin.apiserver.resources import Resource, find

__all__ = ["SYSTEM_NAMESPACES", "bootstrap"]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
MANAGER = "kube-apiserver"


def _resource(plural: str) -> Resource:
    found = find("", "v1", plural)
    assert found is not None, plural
    return found


async def bootstrap(registry: Registry, service_cidr: str, address: str, port: int) -> None:
    namespaces = _resource("namespaces")
    for name in SYSTEM_NAMESPACES:
        await _ensure(registry, namespaces, "", {"metadata": {"name": name}})
    service = {
        "metadata": {
            "name": "kubernetes",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": kubernetes_service_ip(service_cidr),
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
        },
    }
    await _ensure(registry, _resource("services"), "default", service)
    endpoints = {
        "metadata": {
            "name": "kubernetes",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [
            {
                "addresses": [{"ip": address}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }
        ],
    }
    await _ensure(registry, _resource("endpoints"), "default", endpoints, ("subsets",))
    slices = find("discovery.k8s.io", "v1", "endpointslices")
    assert slices is not None
    endpoint_slice = {
        "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }
    await _ensure(registry, slices, "default", endpoint_slice, ("endpoints", "ports"))


async def _ensure(
    registry: Registry,
    res: Resource,
    namespace: str,
    body: dict[str, Any],
    replace: tuple[str, ...] = (),
) -> None:
    """Create ``body`` unless it exists; else set the fields ``replace`` names (repoint an
    Endpoints or EndpointSlice).

    Looked up first, as kube's bootstrap controller does: creating the ``kubernetes``
    Service again would fail on its taken cluster IP (422), not its taken name."""
    opts = WriteOptions(manager=MANAGER)
    name = body["metadata"]["name"]
    if not await _exists(registry, res, namespace, name):
        await registry.create(res, namespace, body, opts)
        return
    if not replace:
        return

    def repoint(current: dict[str, Any]) -> dict[str, Any]:
        current.update({key: body[key] for key in replace})
        return current

    await registry.replace_with(res, namespace, name, repoint, opts)


async def _exists(registry: Registry, res: Resource, namespace: str, name: str) -> bool:
    try:
        await registry.get(res, namespace, name)
    except errors.APIError as exc:
        if exc.code == 404:
            return False
        raise
    return True
