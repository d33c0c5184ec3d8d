"""Pods as the kubelet handles them: plain dicts in the API's JSON shape, with the
kubelet's names for them, the defaults the API server would have applied, and the
checks that make a manifest runnable.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

__all__ = [
    "CONFIG_HASH",
    "CONFIG_MIRROR",
    "CONFIG_SEEN",
    "CONFIG_SOURCE",
    "apply_defaults",
    "containers",
    "full_name",
    "is_static",
    "now_rfc3339",
    "uid",
    "validate",
    "with_defaults",
]

Pod = dict[str, Any]

CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_SEEN = "kubernetes.io/config.seen"
CONFIG_MIRROR = "kubernetes.io/config.mirror"
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def full_name(pod: Pod) -> str:
    """``name_namespace``, as the kubelet names a pod in its logs."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta.get('namespace', 'default')}"


def uid(pod: Pod) -> str:
    return str(pod["metadata"]["uid"])


def is_static(pod: Pod) -> bool:
    return bool(pod["metadata"].get("annotations", {}).get(CONFIG_SOURCE, "api") != "api")


def containers(pod: Pod, kind: str = "containers") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = pod["spec"].get(kind) or []
    return found


def now_rfc3339(nano: bool = True) -> str:
    now = datetime.datetime.now(datetime.UTC)
    if nano:
        return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def validate(pod: Pod) -> list[str]:
    """What makes a pod impossible to run, one problem per line (empty when fine)."""
    problems = []
    meta = pod.get("metadata")
    spec = pod.get("spec")
    if not isinstance(meta, dict) or not meta.get("name"):
        problems.append("name is needed for the pod")
    elif not DNS_SUBDOMAIN.fullmatch(str(meta["name"])) or len(str(meta["name"])) > 253:
        problems.append(
            f"metadata.name: Invalid value: {meta['name']!r}: a lowercase RFC 1123 subdomain"
        )
    if not isinstance(spec, dict):
        return [*problems, "spec: Required value"]
    policy = spec.get("restartPolicy", "Always")
    if policy not in RESTART_POLICIES:
        problems.append(f"spec.restartPolicy: Unsupported value: {policy!r}")
    if not isinstance(spec.get("containers"), list) or not spec["containers"]:
        problems.append("spec.containers: Required value")
    names: set[str] = set()
    for kind in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(kind) or []):
            where = f"spec.{kind}[{i}]"
            if not isinstance(container, dict):
                problems.append(f"{where}: must be an object")
                continue
            name = container.get("name")
            if not name or not DNS_LABEL.fullmatch(str(name)):
                problems.append(f"{where}.name: Invalid value: {name!r}")
            elif name in names:
                problems.append(f"{where}.name: Duplicate value: {name!r}")
            names.add(str(name))
            if not container.get("image"):
                problems.append(f"{where}.image: Required value")
    return problems


def with_defaults(pod: Pod) -> Pod:
    """``pod`` with the defaults applied (a no-op for pods that came from an API server)."""
    apply_defaults(pod)
    return pod


def apply_defaults(pod: Pod) -> None:
    """The API server's defaults for a Pod, for the pods that never went through one."""
    pod.setdefault("metadata", {}).setdefault("namespace", "default")
    spec = pod["spec"]
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    for kind in ("initContainers", "containers"):
        for container in spec.get(kind) or []:
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            image = str(container.get("image", ""))
            latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
            container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            for port in container.get("ports") or []:
                port.setdefault("protocol", "TCP")
