"""A container's environment as the kubelet builds it: ``env`` and ``envFrom`` with the
downward API (``fieldRef``), ConfigMap and Secret keys, and ``$(VAR)`` references
expanded in values, command and args as Kubernetes expands them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any

from kin.errors import KinError

__all__ = ["EnvironmentError_", "build_environment", "expand"]

Pod = dict[str, Any]
Fetch = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]
"""(kind "configmaps" or "secrets", namespace, name) -> the object, or None if absent."""
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


class EnvironmentError_(KinError):
    """A referenced ConfigMap, Secret or key is missing (the container cannot start)."""


def field_value(pod: Pod, path: str, pod_ip: str, host_ip: str) -> str:
    meta = pod["metadata"]
    spec = pod["spec"]
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path in simple:
        return str(simple[path])
    for prefix, key in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str(meta.get(key, {}).get(path[len(prefix) + 2 : -2], ""))
        if path == prefix:
            items = sorted(meta.get(key, {}).items())
            return "\n".join(f'{k}="{v}"' for k, v in items)
    raise EnvironmentError_(f"unsupported fieldRef {path!r}")


async def build_environment(
    pod: Pod, container: dict[str, Any], pod_ip: str, host_ip: str, fetch: Fetch | None
) -> dict[str, str]:
    env: dict[str, str] = {}
    namespace = pod["metadata"]["namespace"]
    for source in container.get("envFrom") or []:
        for kind, ref_key in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
            ref = source.get(ref_key)
            if ref is None:
                continue
            data = await _data(fetch, kind, namespace, ref["name"], bool(ref.get("optional")))
            prefix = source.get("prefix", "")
            env.update({prefix + k: v for k, v in data.items()})
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = expand(str(item.get("value", "")), env)
            continue
        value = await _value_from(item["valueFrom"], pod, pod_ip, host_ip, fetch, namespace)
        if value is not None:
            env[name] = value
    return env


async def _value_from(
    source: dict[str, Any], pod: Pod, pod_ip: str, host_ip: str, fetch: Fetch | None, namespace: str
) -> str | None:
    if "fieldRef" in source:
        return field_value(pod, source["fieldRef"]["fieldPath"], pod_ip, host_ip)
    if "resourceFieldRef" in source:
        return "0"  # no resource limits are enforced on these machines' hybrid cgroups
    for kind, ref_key in (("configmaps", "configMapKeyRef"), ("secrets", "secretKeyRef")):
        ref = source.get(ref_key)
        if ref is None:
            continue
        optional = bool(ref.get("optional"))
        data = await _data(fetch, kind, namespace, ref["name"], optional)
        if ref["key"] not in data:
            if optional:
                return None
            raise EnvironmentError_(
                f"couldn't find key {ref['key']} in {kind[:-1]} {namespace}/{ref['name']}"
            )
        return data[ref["key"]]
    raise EnvironmentError_("env valueFrom names no source")


async def _data(
    fetch: Fetch | None, kind: str, namespace: str, name: str, optional: bool
) -> dict[str, str]:
    obj = await fetch(kind, namespace, name) if fetch is not None else None
    if obj is None:
        if optional:
            return {}
        raise EnvironmentError_(f'{kind[:-1]} "{name}" not found')
    if kind == "secrets":
        return {
            k: base64.b64decode(v).decode(errors="replace")
            for k, v in (obj.get("data") or {}).items()
        }
    return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}


def expand(text: str, env: dict[str, str]) -> str:
    """``$(NAME)`` becomes its value when defined (else stays); ``$$`` is a literal ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return REFERENCE.sub(replace, text)
