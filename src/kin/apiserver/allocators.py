"""Cluster IPs and node ports for Services, as kube-apiserver allocates them.

What is taken is derived from the Services that exist (no separate bitmap to drift), under
the registry's write lock so that two creates never get the same address. The first
address of the service CIDR belongs to the ``kubernetes`` service and the tenth to
``kube-dns``, as on every kubeadm cluster; other addresses are handed out at random, as
kube-apiserver does, so deleted addresses are not reused at once.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any, NoReturn

from kin.apiserver import errors
from kin.apiserver.errors import cause

__all__ = ["ServiceAllocator", "dns_service_ip", "kubernetes_service_ip"]

NODE_PORTS = (30000, 32767)
DNS_OFFSET = 10
RANDOM_TRIES = 64


def kubernetes_service_ip(cidr: str) -> str:
    return str(ipaddress.ip_network(cidr)[1])


def dns_service_ip(cidr: str) -> str:
    return str(ipaddress.ip_network(cidr)[DNS_OFFSET])


class ServiceAllocator:
    def __init__(self, cidr: str, node_ports: tuple[int, int] = NODE_PORTS) -> None:
        self.network = ipaddress.ip_network(cidr)
        self.node_ports = node_ports

    def assign(
        self, svc: dict[str, Any], existing: list[dict[str, Any]], old: dict[str, Any] | None = None
    ) -> None:
        """Give ``svc`` a cluster IP and node ports it lacks; check the ones it asks for."""
        spec = svc.setdefault("spec", {})
        others = [s for s in existing if _uid(s) != _uid(svc)]
        if spec.get("type") != "ExternalName":
            self._cluster_ip(svc, spec, others, old)
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            _keep_node_ports(spec, old)
            self._node_ports(svc, spec, others)
        else:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)

    def _cluster_ip(
        self,
        svc: dict[str, Any],
        spec: dict[str, Any],
        others: list[dict[str, Any]],
        old: dict[str, Any] | None,
    ) -> None:
        previous = ((old or {}).get("spec") or {}).get("clusterIP")
        wanted = spec.get("clusterIP") or (spec.get("clusterIPs") or [""])[0] or previous
        if previous and wanted != previous:
            changed = f"Invalid value: {_go_strings([str(wanted)])}: may not change once set"
            self._refuse(svc, "spec.clusterIPs[0]", changed)
        if wanted == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
            return
        taken = {((s.get("spec") or {}).get("clusterIP")) for s in others}
        if wanted:
            self._check_ip(svc, str(wanted), taken, previous)
        else:
            wanted = self._free_ip(svc, taken)
        spec["clusterIP"], spec["clusterIPs"] = wanted, [wanted]

    def _check_ip(self, svc: dict[str, Any], ip: str, taken: set[Any], previous: Any) -> None:
        try:
            inside = ipaddress.ip_address(ip) in self.network
        except ValueError:
            inside = False
        if not inside:
            self._refuse(
                svc,
                "spec.clusterIPs",
                f"Invalid value: {_go_strings([ip])}: failed to allocate IP {ip}: the provided IP "
                f"({ip}) is not in the valid range. The range of valid IPs is {self.network}",
            )
        if ip in taken and ip != previous:
            self._refuse(
                svc,
                "spec.clusterIPs",
                f"Invalid value: {_go_strings([ip])}: failed to allocate IP {ip}: "
                "provided IP is already allocated",
            )

    def _free_ip(self, svc: dict[str, Any], taken: set[Any]) -> str:
        network = self.network
        reserved = {kubernetes_service_ip(str(network)), dns_service_ip(str(network))}
        size = network.num_addresses - 2  # neither the network nor the broadcast address
        for _ in range(
            RANDOM_TRIES if size > 0 else 0
        ):  # a sparse range: random picks find a hole at once
            ip = str(network[random.randint(1, size)])
            if ip not in taken and ip not in reserved:
                return ip
        for host in network.hosts():
            if str(host) not in taken and str(host) not in reserved:
                return str(host)
        message = "Internal error: failed to allocate a serviceIP: range is full"
        self._refuse(svc, "spec.clusterIPs", message)

    def _node_ports(
        self, svc: dict[str, Any], spec: dict[str, Any], others: list[dict[str, Any]]
    ) -> None:
        taken = {
            p.get("nodePort") for s in others for p in (s.get("spec") or {}).get("ports") or []
        }
        low, high = self.node_ports
        for i, port in enumerate(spec.get("ports") or []):
            number = port.get("nodePort")
            if number:
                if not low <= number <= high:
                    self._refuse(
                        svc,
                        f"spec.ports[{i}].nodePort",
                        f"Invalid value: {number}: provided port is not in the valid range. "
                        f"The range of valid ports is {low}-{high}",
                    )
                if number in taken:
                    self._refuse(
                        svc,
                        f"spec.ports[{i}].nodePort",
                        f"Invalid value: {number}: provided port is already allocated",
                    )
            else:
                free = [p for p in range(low, high + 1) if p not in taken]
                if not free:
                    self._refuse(
                        svc,
                        f"spec.ports[{i}].nodePort",
                        "Internal error: failed to allocate a nodePort: range is full",
                    )
                number = port["nodePort"] = random.choice(free)
            taken.add(number)

    def _refuse(self, svc: dict[str, Any], field: str, message: str) -> NoReturn:
        name = str((svc.get("metadata") or {}).get("name", ""))
        raise errors.invalid("Service", name, [cause(field, message)])


def _uid(obj: dict[str, Any]) -> Any:
    return (obj.get("metadata") or {}).get("uid")


def _keep_node_ports(spec: dict[str, Any], old: dict[str, Any] | None) -> None:
    """An update that leaves a port's nodePort out keeps the one the port (by name) had,
    unless another port now uses it (kube's ``patchAllocatedValues``)."""
    before = {
        p.get("name", ""): p.get("nodePort")
        for p in ((old or {}).get("spec") or {}).get("ports") or []
    }
    used = {p.get("nodePort") for p in spec.get("ports") or [] if p.get("nodePort")}
    for port in spec.get("ports") or []:
        kept = before.get(port.get("name", ""))
        if not port.get("nodePort") and kept and kept not in used:
            port["nodePort"] = kept
            used.add(kept)


def _go_strings(values: list[str]) -> str:
    """A ``[]string`` as Go's ``%#v`` prints it in field errors: ``[]string{"10.96.0.5"}``."""
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"
