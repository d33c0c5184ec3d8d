"""The other core/v1 kinds: what each defaults, validates, and whether it has a status."""

from __future__ import annotations

import base64

from kin.apiserver.errors import cause
from kin.apiserver.objectmeta import DNS1123_LABEL, meta
from kin.apiserver.strategies.base import Causes, Obj, Strategy

__all__ = [
    "NamespaceStrategy",
    "NodeStrategy",
    "PlainStrategy",
    "SecretStrategy",
    "ServiceStrategy",
]


SERVICE_TYPES = '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'


class PlainStrategy(Strategy):
    """Kinds without status or spec generation (ConfigMap, Endpoints, ServiceAccount, Event...)."""

    has_status = False
    tracks_generation = False


class NamespaceStrategy(Strategy):
    name_rule = DNS1123_LABEL
    tracks_generation = False

    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("finalizers", ["kubernetes"])
        labels = obj.setdefault("metadata", {}).setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")

    def initial_status(self, obj: Obj) -> Obj:
        return {"phase": "Active"}


class NodeStrategy(Strategy):
    tracks_generation = False

    def prepare_create(self, obj: Obj) -> None:
        """Nodes register themselves with a status: keep what the kubelet sent."""

    def prepare_status_update(self, new: Obj, old: Obj) -> None:
        """Status, labels and annotations from the write, the rest from the stored node:
        flanneld publishes its backend as annotations through ``nodes/status`` (its RBAC
        grants that, not ``nodes``). kube's node status strategy is wider (it keeps only
        the spec), and records no field owner for those metadata changes here either."""
        labels, annotations = meta(new).get("labels"), meta(new).get("annotations")
        super().prepare_status_update(new, old)
        for key, value in (("labels", labels), ("annotations", annotations)):
            if value is None:
                meta(new).pop(key, None)
            else:
                meta(new)[key] = value


class SecretStrategy(PlainStrategy):
    def defaults(self, obj: Obj) -> None:
        """``type`` Opaque, and write-only ``stringData`` moved into ``data`` (base64; it
        wins over a ``data`` key of the same name), as v1 Secret's conversion does."""
        obj.setdefault("type", "Opaque")
        strings = obj.pop("stringData", None)
        if isinstance(strings, dict) and strings:
            current = obj.get("data")
            data: dict[str, str] = current if isinstance(current, dict) else {}
            for key, value in strings.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        if new.get("type") != old.get("type"):
            message = f'Invalid value: "{new.get("type")}": field is immutable'
            causes.append(cause("type", message))
        return causes


class ServiceStrategy(Strategy):
    """Services; cluster IPs and node ports are allocated by the registry (``allocators``)."""

    name_rule = DNS1123_LABEL
    tracks_generation = False

    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        if spec["type"] != "ExternalName":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if spec["type"] == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)

    def initial_status(self, obj: Obj) -> Obj:
        return {"loadBalancer": {}}

    def validate(self, obj: Obj) -> Causes:
        causes = super().validate(obj)
        spec = obj.get("spec") or {}
        kind = spec.get("type")
        if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            message = f'Unsupported value: "{kind}": supported values: {SERVICE_TYPES}'
            causes.append(cause("spec.type", message, "FieldValueNotSupported"))
        if kind != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
            causes.append(cause("spec.ports", "Required value", "FieldValueRequired"))
        for i, port in enumerate(spec.get("ports") or []):
            number = port.get("port")
            if not isinstance(number, int) or not 0 < number < 65536:
                causes.append(
                    cause(
                        f"spec.ports[{i}].port",
                        f"Invalid value: {number}: must be between 1 and 65535, inclusive",
                    )
                )
        return causes
