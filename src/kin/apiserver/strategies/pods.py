"""Pods: the defaults kube-apiserver applies, the validation kubectl users meet most, and a
Pending status, so ``kubectl get pods`` shows ``0/1 Pending`` from the first moment.
"""

from __future__ import annotations

from typing import Any

from kin.apiserver.errors import cause
from kin.apiserver.objectmeta import DNS1123_LABEL, name_causes
from kin.apiserver.strategies.base import Causes, Obj, Strategy

__all__ = [
    "PodStrategy",
    "default_pod_spec",
    "pod_is_bound",
    "pod_is_terminal",
    "validate_pod_spec",
]

DEFAULT_TOLERATION_SECONDS = 300
POD_UPDATE_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
    "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only "
    "additions to existing tolerations) or `spec.terminationGracePeriodSeconds` (allow it to "
    "be set to 1 if it was previously negative)"
)


def _default_container(container: dict[str, Any]) -> None:
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = ("@" not in tag) and (":" not in tag or tag.endswith(":latest"))
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")


def _default_tolerations(spec: dict[str, Any]) -> None:
    """The DefaultTolerationSeconds admission plugin: tolerate not-ready/unreachable 300 s."""
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key for t in tolerations):
            tolerations.append({
                "key": key, "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            })  # fmt: skip


def default_pod_spec(spec: dict[str, Any], in_template: bool = False) -> None:
    """SetDefaults_PodSpec and friends (and, for real pods, the admission defaults)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(container, dict):
            _default_container(container)
    if not in_template:
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        _default_tolerations(spec)


def validate_pod_spec(spec: Any, path: str) -> Causes:
    if not isinstance(spec, dict):
        return [cause(path, "Required value", "FieldValueRequired")]
    causes = []
    containers = spec.get("containers")
    if not containers:
        causes.append(cause(f"{path}.containers", "Required value", "FieldValueRequired"))
    names: set[str] = set()
    for i, container in enumerate(containers or []):
        causes += _validate_container(container, f"{path}.containers[{i}]", names)
    policy = spec.get("restartPolicy")
    if policy not in ("Always", "OnFailure", "Never"):
        causes.append(
            cause(
                f"{path}.restartPolicy",
                f'Unsupported value: "{policy}": supported values: "Always", "OnFailure", "Never"',
                "FieldValueNotSupported",
            )
        )
    return causes


def _validate_container(container: Any, path: str, names: set[str]) -> Causes:
    if not isinstance(container, dict):
        return [cause(path, "Invalid value: must be an object")]
    causes = []
    name = container.get("name")
    if not name:
        causes.append(cause(f"{path}.name", "Required value", "FieldValueRequired"))
    elif name in names:
        causes.append(cause(f"{path}.name", f'Duplicate value: "{name}"', "FieldValueDuplicate"))
    else:
        causes += name_causes(str(name), DNS1123_LABEL, f"{path}.name")
    names.add(str(name))
    if not container.get("image"):
        causes.append(cause(f"{path}.image", "Required value", "FieldValueRequired"))
    for j, port in enumerate(container.get("ports") or []):
        number = port.get("containerPort") if isinstance(port, dict) else None
        if not isinstance(number, int) or not 0 < number < 65536:
            causes.append(
                cause(
                    f"{path}.ports[{j}].containerPort",
                    f"Invalid value: {number}: must be between 1 and 65535, inclusive",
                )
            )
    return causes


class PodStrategy(Strategy):
    tracks_generation = True

    def defaults(self, obj: Obj) -> None:
        default_pod_spec(obj.setdefault("spec", {}))

    def validate(self, obj: Obj) -> Causes:
        return super().validate(obj) + validate_pod_spec(obj.get("spec"), "spec")

    def initial_status(self, obj: Obj) -> Obj:
        return {"phase": "Pending", "qosClass": _qos_class(obj.get("spec") or {})}

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        if _immutable(new) != _immutable(old):
            causes.append(cause("spec", POD_UPDATE_FORBIDDEN, "FieldValueForbidden"))
        return causes


def _immutable(pod: Obj) -> object:
    """The parts of a pod spec that may not change after create (``nodeName`` neither:
    only a binding sets it)."""
    spec = dict(pod.get("spec") or {})
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        spec.pop(key, None)
    for key in ("containers", "initContainers"):
        spec[key] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get(key) or []]
    return spec


def _qos_class(spec: dict[str, Any]) -> str:
    containers = spec.get("containers") or []
    resources = [c.get("resources") or {} for c in containers if isinstance(c, dict)]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(_guaranteed(r, k) for r in resources for k in ("cpu", "memory"))
    return "Guaranteed" if guaranteed else "Burstable"


def _guaranteed(resources: dict[str, Any], key: str) -> bool:
    """Guaranteed for ``key`` when limited, and requests (defaulted to limits) equal limits."""
    limit = (resources.get("limits") or {}).get(key)
    return bool(limit) and (resources.get("requests") or {}).get(key, limit) == limit


def pod_is_bound(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def pod_is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
