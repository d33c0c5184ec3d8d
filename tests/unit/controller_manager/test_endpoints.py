"""Endpoints and EndpointSlices against kin's real API server: what kube-proxy and cluster
DNS will read for each Service."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kin.errors import APIError
from kin.kube.client import Client
from kin.kube.events import now
from kin.testing.apiserver import InProcessServer
from kin.testing.controllers import PODS, container, controllers, eventually, gone

pytestmark = pytest.mark.unit
Obj = dict[str, Any]
NS = "/api/v1/namespaces/default"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"


async def start_pod(api: Client, name: str, ip: str, ready: bool = True, port_name: str = "http",
                    port: int = 8080, app: str = "web") -> None:  # fmt: skip
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"nodeName": "kin-n1", "containers": [
                container(ports=[{"name": port_name, "containerPort": port}])]}}  # fmt: skip
    await api.create(PODS, body)
    status = {
        "phase": "Running",
        "podIP": ip,
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now()}
        ],
    }
    await api.patch(f"{PODS}/{name}/status", {"status": status})


def service(name: str, target: int | str = "http", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"}, "ports": [
                {"name": "web", "port": 80, "targetPort": target}], **spec}}  # fmt: skip


def test_a_service_lists_its_ready_and_unready_pods_with_named_ports_resolved(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["endpoints"]) as api:
            await start_pod(api, "a", "10.244.1.5")
            await start_pod(api, "b", "10.244.1.6", ready=False)
            await start_pod(api, "c", "10.244.1.7", port=9090)  # "http" is 9090 here
            await start_pod(api, "other", "10.244.1.8", app="db")
            await api.create(f"{NS}/services", service("web"))
            endpoints = await eventually(lambda: _endpoints(api, "web", 2))
            by_port = {s["ports"][0]["port"]: s for s in endpoints["subsets"]}
            assert [a["ip"] for a in by_port[8080]["addresses"]] == ["10.244.1.5"]
            assert [a["ip"] for a in by_port[8080]["notReadyAddresses"]] == ["10.244.1.6"]
            assert [a["ip"] for a in by_port[9090]["addresses"]] == ["10.244.1.7"]
            assert by_port[8080]["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
            assert by_port[8080]["addresses"][0]["targetRef"]["name"] == "a"
            assert endpoints["metadata"]["labels"] == {
                "tier": "front", "endpoints.kubernetes.io/managed-by": "endpoint-controller",
            }  # fmt: skip
            slices = await eventually(lambda: _slices(api, "web", 2))
            ports = sorted(s["ports"][0]["port"] for s in slices)
            assert ports == [8080, 9090]
            [wide] = [s for s in slices if s["ports"][0]["port"] == 8080]
            conditions = {e["addresses"][0]: e["conditions"]["ready"] for e in wide["endpoints"]}
            assert conditions == {"10.244.1.5": True, "10.244.1.6": False}
            assert wide["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == (
                "endpointslice-controller.k8s.io"
            )
            # The unready pod becomes ready; a pod goes: both views follow.
            ready = {"type": "Ready", "status": "True", "lastTransitionTime": now()}
            await api.patch(f"{PODS}/b/status", {"status": {"conditions": [ready]}},
                            "application/strategic-merge-patch+json")  # fmt: skip
            await api.delete(f"{PODS}/c?gracePeriodSeconds=0")
            endpoints = await eventually(lambda: _endpoints(api, "web", 1))
            [subset] = endpoints["subsets"]
            assert [a["ip"] for a in subset["addresses"]] == ["10.244.1.5", "10.244.1.6"]
            assert "notReadyAddresses" not in subset
            await eventually(lambda: _slices(api, "web", 1))
            # A slice someone deletes comes back; the Service's deletion takes both views.
            [only] = await _slices(api, "web", 1) or []
            await api.delete(f"{SLICES}/{only['metadata']['name']}")
            again = await eventually(lambda: _slices(api, "web", 1))
            assert again[0]["metadata"]["name"] != only["metadata"]["name"]
            await api.delete(f"{NS}/services/web")
            await eventually(lambda: gone(api, f"{NS}/endpoints/web"))

    asyncio.run(scenario())


def test_a_service_without_pods_has_empty_endpoints_and_one_without_selector_is_left_alone(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["endpoints"]) as api:
            await api.create(f"{NS}/services", service("lonely", 8080, selector={"app": "none"}))
            endpoints = await eventually(lambda: _endpoints(api, "lonely", 0))
            assert "subsets" not in endpoints
            [placeholder] = await eventually(lambda: _slices(api, "lonely", 1))
            assert placeholder["endpoints"] in (None, [])
            manual = service("manual", 8080)
            del manual["spec"]["selector"]
            await api.create(f"{NS}/services", manual)
            await asyncio.sleep(0.3)
            with pytest.raises(APIError) as gone:
                await api.get(f"{NS}/endpoints/manual")
            assert gone.value.code == 404

    asyncio.run(scenario())


def test_a_service_of_more_than_a_hundred_pods_gets_a_slice_per_hundred(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["endpoints"]) as api:
            await asyncio.gather(*(start_pod(api, f"p{i}", f"10.244.2.{i + 2}", app="many")
                                   for i in range(120)))  # fmt: skip
            body = service("many")
            body["spec"]["selector"] = {"app": "many"}
            await api.create(f"{NS}/services", body)
            slices = await eventually(lambda: _sized(api, "many", [100, 20]), timeout=20)
            addresses = [e["addresses"][0] for s in slices for e in s["endpoints"]]
            assert addresses == [f"10.244.2.{i + 2}" for i in range(120)]  # in address order
            now_gone = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
            for i in range(30):  # fewer pods: one slice again
                await api.request("DELETE", f"{PODS}/p{i}", now_gone)
            await eventually(lambda: _sized(api, "many", [90]), timeout=20)

    asyncio.run(scenario())


async def _sized(api: Client, name: str, sizes: list[int]) -> list[Obj] | None:
    """The Service's slices once they hold ``sizes`` endpoints, in address order."""
    slices = await _slices(api, name, len(sizes))
    if slices is None:
        return None
    slices.sort(key=lambda s: [int(p) for p in s["endpoints"][0]["addresses"][0].split(".")])
    return slices if [len(s["endpoints"]) for s in slices] == sizes else None


async def _endpoints(api: Client, name: str, subsets: int) -> Obj | None:
    try:
        found = await api.get(f"{NS}/endpoints/{name}")
    except APIError as exc:
        if exc.code == 404:
            return None
        raise
    return found if len(found.get("subsets") or []) == subsets else None


async def _slices(api: Client, name: str, count: int) -> list[Obj] | None:
    items = (await api.get(SLICES, labelSelector=f"kubernetes.io/service-name={name}"))["items"]
    return items if len(items) == count else None
