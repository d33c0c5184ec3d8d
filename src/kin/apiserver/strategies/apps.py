"""apps/v1 workloads: defaults, and the selector/template checks users hit first."""

from __future__ import annotations

from typing import Any

from kin.apiserver.errors import cause
from kin.apiserver.strategies.base import Causes, Obj, Strategy
from kin.apiserver.strategies.pods import default_pod_spec, validate_pod_spec

__all__ = ["DaemonSetStrategy", "DeploymentStrategy", "ReplicaSetStrategy"]


def _default_template(spec: dict[str, Any]) -> None:
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    default_pod_spec(template.setdefault("spec", {}), in_template=True)


def _validate_workload(obj: Obj) -> Causes:
    spec = obj.get("spec") or {}
    causes = []
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        causes.append(cause("spec.selector", "Required value", "FieldValueRequired"))
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    wanted = (selector or {}).get("matchLabels") or {} if isinstance(selector, dict) else {}
    if any(labels.get(k) != v for k, v in wanted.items()):
        causes.append(
            cause(
                "spec.template.metadata.labels",
                f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
            )
        )
    causes += validate_pod_spec((spec.get("template") or {}).get("spec"), "spec.template.spec")
    replicas = spec.get("replicas", 0)
    if isinstance(replicas, int) and replicas < 0:
        causes.append(
            cause("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")
        )
    return causes


def _go_map(labels: dict[str, Any]) -> str:
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items()))
    return "map[string]string{" + inner + "}"


def _immutable_selector(new: Obj, old: Obj) -> Causes:
    """apps/v1 workloads keep the selector they were created with."""
    selector = (new.get("spec") or {}).get("selector")
    if selector == (old.get("spec") or {}).get("selector"):
        return []
    message = f"Invalid value: {_go_selector(selector)}: field is immutable"
    return [cause("spec.selector", message)]


def _go_selector(selector: Any) -> str:
    """A LabelSelector as Go's ``%#v`` prints it in a field error."""
    if not isinstance(selector, dict):
        return "(*v1.LabelSelector)(nil)"
    labels = selector.get("matchLabels")
    shown = _go_map(labels) if labels else "map[string]string(nil)"
    requirements = [
        f'v1.LabelSelectorRequirement{{Key:"{r.get("key", "")}", '
        f'Operator:"{r.get("operator", "")}", Values:{_go_strings(r.get("values"))}}}'
        for r in selector.get("matchExpressions") or []
    ]
    expressions = (
        "[]v1.LabelSelectorRequirement{" + ", ".join(requirements) + "}"
        if requirements
        else "[]v1.LabelSelectorRequirement(nil)"
    )
    return f"v1.LabelSelector{{MatchLabels:{shown}, MatchExpressions:{expressions}}}"


def _go_strings(values: Any) -> str:
    if not values:
        return "[]string(nil)"
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"


class _Workload(Strategy):
    """What the three apps/v1 workloads share: selector and template checks, and a
    selector that never changes."""

    def validate(self, obj: Obj) -> Causes:
        return super().validate(obj) + _validate_workload(obj)

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        return self.validate(new) + _immutable_selector(new, old)


class DeploymentStrategy(_Workload):
    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _default_template(spec)


class ReplicaSetStrategy(_Workload):
    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        _default_template(spec)


class DaemonSetStrategy(_Workload):
    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        update = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if update.get("type", "RollingUpdate") == "RollingUpdate":
            update.setdefault("type", "RollingUpdate")
            rolling = update.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        _default_template(spec)

    def initial_status(self, obj: Obj) -> Obj:
        return {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                "desiredNumberScheduled": 0, "numberReady": 0}  # fmt: skip
