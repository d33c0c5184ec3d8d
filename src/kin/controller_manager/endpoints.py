"""The Endpoints and EndpointSlice controllers: which pods answer for a Service.

For each Service with a selector, the pods of its namespace whose labels it selects and
that have an IP are its endpoints: ready ones (Ready condition true, or any when
``publishNotReadyAddresses``) and not-ready ones. Each Service port's ``targetPort`` is
resolved per pod (a name looks up the pod's container ports), so pods with different
ports land in different subsets and slices. Both views are written: ``v1/Endpoints``
named after the Service (terminating pods left out) and ``discovery.k8s.io/v1``
EndpointSlices labelled ``kubernetes.io/service-name`` (terminating pods in with
``terminating: true``), one per port set and at most 100 endpoints each, as kube-proxy
and CoreDNS read them.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from kin.controller_manager.controller import Controller, Informers
from kin.controller_manager.pods import DONE_PHASES, ready
from kin.errors import APIError
from kin.kube.client import Client
from kin.kube.informer import key_of

__all__ = ["EndpointsController", "endpoint_groups"]

log = logging.getLogger("kin.controller_manager")
Obj = dict[str, Any]
Ports = tuple[tuple[str, int, str], ...]
SERVICES = "/api/v1/services"
PODS = "/api/v1/pods"
ENDPOINTS = "/api/v1/endpoints"
SLICES = "/apis/discovery.k8s.io/v1/endpointslices"
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS = 100  # per slice: kube-controller-manager's --max-endpoints-per-slice
ENDPOINTS_MANAGED_BY = "endpoints.kubernetes.io/managed-by"
ENDPOINTS_CONTROLLER = "endpoint-controller"


class EndpointsController(Controller):
    name = "endpoints"

    def __init__(self, api: Client, informers: Informers) -> None:
        super().__init__(api, informers)
        self.services = self.watch(SERVICES)
        self.pods = self.watch(PODS)
        self.endpoints = self.watch(ENDPOINTS)
        self.slices = self.watch(SLICES)
        self.members: dict[str, set[str]] = {}
        """Pod key -> the Services whose endpoints list it, to hear about pods that leave."""
        self.services.add_handler(lambda kind, obj: self.enqueue(obj))
        self.pods.add_handler(self._pod_changed)
        # Someone else changed or deleted what this controller writes: put it right.
        self.endpoints.add_handler(lambda kind, obj: self.enqueue(obj))
        self.slices.add_handler(self._slice_changed)

    async def resync_all(self) -> None:
        for key in self.services.objects:
            self.enqueue(key)

    def _pod_changed(self, kind: str, pod: Obj) -> None:
        key = key_of(pod)
        for member_of in self.members.get(key, set()):
            self.enqueue(member_of)
        namespace = pod["metadata"].get("namespace")
        for skey, service in self.services.objects.items():
            if service["metadata"].get("namespace") == namespace and _selects(service, pod):
                self.enqueue(skey)

    def _slice_changed(self, kind: str, endpoint_slice: Obj) -> None:
        labels = endpoint_slice["metadata"].get("labels") or {}
        if labels.get(MANAGED_BY) == CONTROLLER and labels.get(SERVICE_NAME):
            self.enqueue(f"{endpoint_slice['metadata']['namespace']}/{labels[SERVICE_NAME]}")

    async def sync(self, key: str) -> None:
        service = self.services.objects.get(key)
        if service is None:
            self._drop_members(key)
            await self._delete_endpoints(key)  # its slices go with it (owner references)
            return
        if not (service.get("spec") or {}).get("selector"):
            self._drop_members(key)
            return  # its endpoints are its user's
        namespace = service["metadata"]["namespace"]
        pods = [
            p for p in self.pods.objects.values()
            if p["metadata"].get("namespace") == namespace and _selects(service, p)
            and (p.get("status") or {}).get("podIP")
            and (p.get("status") or {}).get("phase") not in DONE_PHASES
        ]  # fmt: skip
        self._drop_members(key)
        for pod in pods:
            self.members.setdefault(key_of(pod), set()).add(key)
        groups = endpoint_groups(service, pods)
        await self._write_endpoints(service, groups)
        await self._write_slices(service, groups)

    def _drop_members(self, service_key: str) -> None:
        for pod_key in [k for k, keys in self.members.items() if service_key in keys]:
            self.members[pod_key].discard(service_key)
            if not self.members[pod_key]:
                del self.members[pod_key]

    async def _write_endpoints(self, service: Obj, groups: dict[Ports, list[Obj]]) -> None:
        meta = service["metadata"]
        subsets = []
        for ports, pods in groups.items():
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            ready_ones = [_address(p) for p in live if _counts_ready(service, p)]
            others = [_address(p) for p in live if not _counts_ready(service, p)]
            if not ready_ones and not others:
                continue
            subset: Obj = {}
            if ready_ones:
                subset["addresses"] = ready_ones
            if others:
                subset["notReadyAddresses"] = others
            if ports:
                subset["ports"] = [_port(p) for p in ports]
            subsets.append(subset)
        body: Obj = {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "labels": {**(meta.get("labels") or {}),
                                    ENDPOINTS_MANAGED_BY: ENDPOINTS_CONTROLLER}},
        }  # fmt: skip
        if subsets:
            body["subsets"] = subsets
        current = self.endpoints.objects.get(key_of(service))
        path = f"/api/v1/namespaces/{meta['namespace']}/endpoints"
        if current is None:
            try:
                self.endpoints.remember(await self.api.create(path, body))
                return
            except APIError as exc:
                if exc.code != 409:
                    raise
                current = await self.api.get(f"{path}/{meta['name']}")
        if current.get("subsets") == body.get("subsets") and _same_labels(current, body):
            return
        body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
        self.endpoints.remember(await self.api.update(f"{path}/{meta['name']}", body))

    async def _delete_endpoints(self, key: str) -> None:
        current = self.endpoints.objects.get(key)
        if (
            current is None
            or (current["metadata"].get("labels") or {}).get(ENDPOINTS_MANAGED_BY)
            != ENDPOINTS_CONTROLLER
        ):
            return  # not ours (a user's, or the API server's own)
        namespace, _, name = key.partition("/")
        try:
            await self.api.delete(f"/api/v1/namespaces/{namespace}/endpoints/{name}")
        except APIError as exc:
            if exc.code != 404:
                raise
        self.endpoints.objects.pop(key, None)

    async def _write_slices(self, service: Obj, groups: dict[Ports, list[Obj]]) -> None:
        meta = service["metadata"]
        existing: dict[Ports, list[Obj]] = {}
        for candidate in self.slices.objects.values():
            labels = candidate["metadata"].get("labels") or {}
            if (candidate["metadata"].get("namespace") == meta["namespace"]
                    and labels.get(SERVICE_NAME) == meta["name"]
                    and labels.get(MANAGED_BY) == CONTROLLER):  # fmt: skip
                existing.setdefault(_slice_ports(candidate), []).append(candidate)
        path = f"/apis/discovery.k8s.io/v1/namespaces/{meta['namespace']}/endpointslices"
        stale: list[Obj] = []
        for ports, pods in groups.items() or {(): []}.items():
            chunks = [pods[i : i + MAX_ENDPOINTS] for i in range(0, len(pods), MAX_ENDPOINTS)]
            found = sorted(existing.pop(ports, []), key=_first_address)  # as the chunks go
            for index, chunk in enumerate(chunks or [[]]):
                body = _slice(service, ports, chunk)
                current = found[index] if index < len(found) else None
                if current is None:
                    self.slices.remember(await self.api.create(path, body))
                elif _slice_view(current) != _slice_view(body):
                    name = current["metadata"]["name"]
                    body["metadata"]["name"] = name
                    body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
                    self.slices.remember(await self.api.update(f"{path}/{name}", body))
            stale += found[max(len(chunks), 1) :]  # fewer pods now, or a retried create's twin
        stale += [s for slices in existing.values() for s in slices]
        for old in stale:
            try:
                await self.api.delete(f"{path}/{old['metadata']['name']}")
            except APIError as exc:
                if exc.code != 404:
                    raise
            self.slices.forget(old)


def endpoint_groups(service: Obj, pods: list[Obj]) -> dict[Ports, list[Obj]]:
    """Pods grouped by the ports the Service's ports resolve to on them."""
    groups: dict[Ports, list[Obj]] = {}
    for pod in sorted(pods, key=lambda p: _ip_order((p.get("status") or {}).get("podIP"))):
        ports = tuple(
            resolved for port in (service.get("spec") or {}).get("ports") or []
            if (resolved := _resolve(port, pod)) is not None
        )  # fmt: skip
        groups.setdefault(ports, []).append(pod)
    return groups


def _resolve(port: Obj, pod: Obj) -> tuple[str, int, str] | None:
    protocol = port.get("protocol") or "TCP"
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return (str(port.get("name") or ""), int(target), protocol)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for cport in container.get("ports") or []:
            if cport.get("name") == target and (cport.get("protocol") or "TCP") == protocol:
                return (str(port.get("name") or ""), int(cport["containerPort"]), protocol)
    return None


def _selects(service: Obj, pod: Obj) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    labels = pod["metadata"].get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _counts_ready(service: Obj, pod: Obj) -> bool:
    return bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or ready(pod)


def _address(pod: Obj) -> Obj:
    address: Obj = {"ip": pod["status"]["podIP"], "targetRef": _target_ref(pod)}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        address["nodeName"] = node
    return address


def _target_ref(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"],
            "uid": meta.get("uid")}  # fmt: skip


def _port(port: tuple[str, int, str]) -> Obj:
    name, number, protocol = port
    found: Obj = {"port": number, "protocol": protocol}
    if name:
        found["name"] = name
    return found


def _slice(service: Obj, ports: Ports, pods: list[Obj]) -> Obj:
    meta = service["metadata"]
    endpoints = []
    for pod in pods:
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        serving = _counts_ready(service, pod)
        endpoint: Obj = {
            "addresses": [pod["status"]["podIP"]],
            "conditions": {"ready": serving and not terminating, "serving": serving,
                           "terminating": terminating},
            "targetRef": _target_ref(pod),
        }  # fmt: skip
        if (pod.get("spec") or {}).get("nodeName"):
            endpoint["nodeName"] = pod["spec"]["nodeName"]
        endpoints.append(endpoint)
    labels = {**(meta.get("labels") or {}), SERVICE_NAME: meta["name"], MANAGED_BY: CONTROLLER}
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{meta['name']}-", "namespace": meta["namespace"], "labels": labels,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": meta["name"],
                                 "uid": meta["uid"], "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [_port(p) for p in ports],
    }  # fmt: skip


def _first_address(endpoint_slice: Obj) -> tuple[int, int]:
    """Slices in the order of the addresses they hold (chunk i stays in the slice that held
    chunk i, so a change rewrites one slice, not all); empty ones last."""
    addresses = [a for e in endpoint_slice.get("endpoints") or [] for a in e.get("addresses") or []]
    return min((_ip_order(a) for a in addresses), default=(1, 0))


def _ip_order(address: object) -> tuple[int, int]:
    """Addresses in numeric order (10.0.0.9 before 10.0.0.10); none or a bad one last."""
    try:
        return (0, int(ipaddress.ip_address(str(address))))
    except ValueError:
        return (1, 0)


def _slice_view(endpoint_slice: Obj) -> tuple[Any, ...]:
    """What this controller decides in a slice (endpoints, ports, labels)."""
    labels = endpoint_slice["metadata"].get("labels") or {}
    return (endpoint_slice.get("endpoints") or [], endpoint_slice.get("ports") or [], labels)


def _slice_ports(endpoint_slice: Obj) -> Ports:
    return tuple(
        (str(p.get("name") or ""), int(p.get("port") or 0), str(p.get("protocol") or "TCP"))
        for p in endpoint_slice.get("ports") or []
    )  # fmt: skip


def _same_labels(current: Obj, body: Obj) -> bool:
    return bool((current["metadata"].get("labels") or {}) == body["metadata"]["labels"])
