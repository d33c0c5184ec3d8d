"""Kubernetes' matching rules, shared by the scheduler and the controllers.

Label selectors (``matchLabels`` and ``matchExpressions`` of a ``LabelSelector``), node
selector terms (``nodeSelector`` and required node affinity, ``matchFields`` included) and
tolerations against taints: the same answers kube-scheduler and kube-controller-manager
give, as pure functions over plain objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["node_selector_matches", "selector_matches", "tolerates"]

Obj = dict[str, Any]


def selector_matches(selector: Obj | None, labels: Mapping[str, str] | None) -> bool:
    """A ``LabelSelector``: all of ``matchLabels`` and ``matchExpressions`` hold. An empty
    selector matches everything, a missing one (None) nothing, as in apimachinery."""
    if selector is None:
        return False
    have = dict(labels or {})
    if any(have.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(requirement(e, have) for e in selector.get("matchExpressions") or [])


def node_selector_matches(pod: Obj, node: Obj) -> bool:
    """The pod's ``nodeSelector`` and required node affinity both accept ``node``."""
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {})
        .get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    )  # fmt: skip
    terms = required.get("nodeSelectorTerms")
    return terms is None or any(_term_matches(t, node) for t in terms)


def _term_matches(term: Obj, node: Obj) -> bool:
    """A term matches when all its requirements do; an empty term matches nothing."""
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    expressions = [(e, labels) for e in term.get("matchExpressions") or []]
    expressions += [(e, fields) for e in term.get("matchFields") or []]
    return bool(expressions) and all(requirement(e, values) for e, values in expressions)


def requirement(expression: Obj, values: Mapping[str, str]) -> bool:
    """One ``{key, operator, values}`` requirement (In, NotIn, Exists, DoesNotExist, Gt, Lt)."""
    key, op, wanted = (
        expression.get("key", ""),
        expression.get("operator"),
        expression.get("values") or [],
    )
    present, value = key in values, values.get(key, "")
    if op == "In":
        return present and value in wanted
    if op == "NotIn":
        return not present or value not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            have, bound = int(value), int(wanted[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def tolerates(pod: Obj, taint: Obj) -> bool:
    """Whether one of the pod's tolerations tolerates ``taint`` (Kubernetes' rules)."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    return any(toleration_matches(t, taint) for t in tolerations)


def toleration_matches(toleration: Obj, taint: Obj) -> bool:
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key, operator = toleration.get("key"), toleration.get("operator") or "Equal"
    if not key:
        return bool(operator == "Exists")
    if key != taint.get("key"):
        return False
    return bool(operator == "Exists" or toleration.get("value", "") == taint.get("value", ""))
