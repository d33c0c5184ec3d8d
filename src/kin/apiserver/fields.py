"""Field selectors: their grammar, which fields each kind offers and how to read them, and
``matches``/``matcher``, which apply a label and a field selector to a resource's objects.

``fieldSelector=`` follows apimachinery's ``fields`` package: comma-separated
``field=value``, ``field==value`` or ``field!=value`` terms, values escaped with
backslashes (``\\,`` ``\\=`` ``\\\\``), empty values allowed (``involvedObject.namespace=``
is how ``kubectl describe node`` finds cluster-scoped events), no whitespace trimming.

Which labels a kind accepts is kube-apiserver's per-version field-label conversion
(``pkg/apis/core/v1/conversion.go``, ``pkg/apis/events/v1``); kinds without one accept
only ``metadata.name`` and ``metadata.namespace``, each kind with its own error wording.
The values compared are the registry's ``ToSelectableFields`` read off the v1 JSON, with
v1's conversion quirks (``status.podIP`` from ``podIPs[0]``, ``spec.hostNetwork`` as
``"true"``/``"false"``, an event's ``source`` falling back to ``reportingController``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kin.apiserver.errors import bad_request
from kin.apiserver.selectors import Selector, parse_label_selector

__all__ = [
    "RESOURCES",
    "FieldSelector",
    "ResourceInfo",
    "Term",
    "canonical",
    "core_event",
    "escape_value",
    "field_set",
    "matcher",
    "matches",
    "parse_field_selector",
    "pod_ip",
    "resource_info",
]

Obj = Mapping[str, Any]
Fields = dict[str, str]
_META_ONLY = {"metadata.name": "metadata.name", "metadata.namespace": "metadata.namespace"}


# --- grammar ------------------------------------------------------------------------------


def escape_value(value: str) -> str:
    """``fields.EscapeValue``: backslash-escape ``\\``, ``,`` and ``=``."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out, escaped = [], False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise bad_request(f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            out.append(char)
    if escaped:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not backslash-escaped (the backslash is kept)."""
    terms, start, escaped = [], 0, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:index])
            start = index + 1
    return [*terms, text[start:]] if text else []


def _split_term(term: str) -> tuple[str, str, str] | None:
    """The first ``!=``, ``==`` or ``=`` splits a term; the left side has no escaping."""
    for index in range(len(term)):
        for operator in ("!=", "==", "="):
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    return None


@dataclass(frozen=True)
class Term:
    field: str
    value: str
    negated: bool = False

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) != self.negated

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """Terms ANDed together; no terms selects everything."""

    terms: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(term.matches(fields) for term in self.terms)

    def requires_exact_match(self, name: str) -> str | None:
        """The value an ``=`` term demands of ``name`` (an index hint), or None."""
        return next((t.value for t in self.terms if t.field == name and not t.negated), None)

    def transform(self, resource: str) -> FieldSelector:
        """Map each label to the field ``resource`` stores it as; 400 if it has none."""
        convert = resource_info(resource).convert_label
        return FieldSelector(tuple(Term(convert(t.field), t.value, t.negated) for t in self.terms))

    def __str__(self) -> str:
        return ",".join(str(term) for term in self.terms)


def parse_field_selector(text: str | FieldSelector, resource: str | None = None) -> FieldSelector:
    """Parse ``fieldSelector=`` (400 on bad syntax); with ``resource``, also check and map
    its labels as kube-apiserver does (400 ``field label not supported: foo``)."""
    selector = text if isinstance(text, FieldSelector) else _parse(text)
    return selector.transform(resource) if resource is not None else selector


def _parse(text: str) -> FieldSelector:
    terms = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        name, operator, value = split
        terms.append(Term(name, _unescape(value), operator == "!="))
    return FieldSelector(tuple(terms))


# --- kinds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceInfo:
    """What selectors and tables need about a resource: its kind, scope and fields.

    ``labels`` maps each accepted selector label to its stored field name; None means
    only ``metadata.name``/``metadata.namespace`` with the generic error wording.
    """

    kind: str
    api_version: str
    namespaced: bool = True
    labels: Mapping[str, str] | None = None
    extract: Callable[[Obj], Fields] = field(default=lambda obj: {})

    def convert_label(self, label: str) -> str:
        if self.labels is None:
            if label in _META_ONLY:
                return label
            only = '"metadata.name", "metadata.namespace"'
            raise bad_request(f"{json.dumps(label)} is not a known field selector: only {only}")
        if label not in self.labels:
            raise bad_request(f"field label not supported: {label}")
        return self.labels[label]


def _get(obj: Obj, *path: str) -> Any:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _text(obj: Obj, *path: str) -> str:
    value = _get(obj, *path)
    return "" if value is None else str(value)


def _bool(obj: Obj, *path: str) -> str:
    return "true" if _get(obj, *path) is True else "false"


def pod_ip(pod: Obj) -> str:
    """The pod's primary IP as kube's internal type has it: ``podIPs[0]``, else ``podIP``."""
    ips = _get(pod, "status", "podIPs") or []
    first = ips[0].get("ip") if ips and isinstance(ips[0], Mapping) else None
    return str(first or _text(pod, "status", "podIP"))


def _pod_fields(pod: Obj) -> Fields:
    service_account = _text(pod, "spec", "serviceAccountName")
    return {
        "spec.nodeName": _text(pod, "spec", "nodeName"),
        "spec.restartPolicy": _text(pod, "spec", "restartPolicy"),
        "spec.schedulerName": _text(pod, "spec", "schedulerName"),
        "spec.serviceAccountName": service_account or _text(pod, "spec", "serviceAccount"),
        "spec.hostNetwork": _bool(pod, "spec", "hostNetwork"),
        "status.phase": _text(pod, "status", "phase"),
        "status.podIP": pod_ip(pod),
        "status.nominatedNodeName": _text(pod, "status", "nominatedNodeName"),
    }


_EVENT_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}


def core_event(event: Obj) -> dict[str, Any]:
    """An ``events.k8s.io/v1`` Event in core/v1 shape (core events pass unchanged)."""
    if not any(name in event for name in _EVENT_RENAMES):
        return dict(event)
    return {_EVENT_RENAMES.get(k, k): v for k, v in event.items()}


def _event_fields(obj: Obj) -> Fields:
    event = core_event(obj)
    involved = {f"involvedObject.{k}": _text(event, "involvedObject", k) for k in _INVOLVED}
    controller = _text(event, "reportingController")
    return involved | {
        "reason": _text(event, "reason"),
        "reportingComponent": controller,
        "source": _text(event, "source", "component") or controller,
        "type": _text(event, "type"),
    }


_INVOLVED = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
_EVENT_LABELS = {f"involvedObject.{k}": f"involvedObject.{k}" for k in _INVOLVED}
_EVENT_LABELS |= {k: k for k in ("reason", "reportingComponent", "source", "type")}
_EVENTS_V1_LABELS = {f"regarding.{k}": f"involvedObject.{k}" for k in _INVOLVED}
_EVENTS_V1_LABELS |= {"reportingController": "reportingComponent"}
_EVENTS_V1_LABELS |= {k: k for k in ("reason", "source", "type")}
_POD_LABELS = {k: k for k in _pod_fields({})} | {"status.podIPs": "status.podIPs"}


def _labels(names: Mapping[str, str] | list[str], namespaced: bool = True) -> dict[str, str]:
    base = dict(_META_ONLY) if namespaced else {"metadata.name": "metadata.name"}
    return base | (dict(names) if isinstance(names, Mapping) else {n: n for n in names})


RESOURCES: dict[str, ResourceInfo] = {
    "pods": ResourceInfo(
        "Pod", "v1", labels=_labels(_POD_LABELS | {"spec.host": "spec.nodeName"}),
        extract=_pod_fields,
    ),
    "nodes": ResourceInfo(
        "Node", "v1", False, _labels(["spec.unschedulable"], namespaced=False),
        lambda n: {"spec.unschedulable": _bool(n, "spec", "unschedulable")},
    ),
    "namespaces": ResourceInfo(
        "Namespace", "v1", False, _labels(["status.phase"], namespaced=False),
        lambda n: {"status.phase": _text(n, "status", "phase")},
    ),
    "services": ResourceInfo(
        "Service", "v1", labels=_labels(["spec.clusterIP", "spec.type"]),
        extract=lambda s: {"spec.clusterIP": _text(s, "spec", "clusterIP"),
                           "spec.type": _text(s, "spec", "type")},
    ),
    "secrets": ResourceInfo(
        "Secret", "v1", labels=_labels(["type"]), extract=lambda s: {"type": _text(s, "type")}
    ),
    "events": ResourceInfo("Event", "v1", labels=_labels(_EVENT_LABELS), extract=_event_fields),
    "events.events.k8s.io": ResourceInfo(
        "Event", "events.k8s.io/v1", labels=_labels(_EVENTS_V1_LABELS), extract=_event_fields
    ),
    "endpoints": ResourceInfo("Endpoints", "v1"),
    "configmaps": ResourceInfo("ConfigMap", "v1"),
    "serviceaccounts": ResourceInfo("ServiceAccount", "v1"),
    "deployments.apps": ResourceInfo("Deployment", "apps/v1"),
    "replicasets.apps": ResourceInfo("ReplicaSet", "apps/v1"),
    "daemonsets.apps": ResourceInfo("DaemonSet", "apps/v1"),
    "leases.coordination.k8s.io": ResourceInfo("Lease", "coordination.k8s.io/v1"),
    "endpointslices.discovery.k8s.io": ResourceInfo("EndpointSlice", "discovery.k8s.io/v1"),
}  # fmt: skip
_BY_PLURAL: dict[str, str] = {}
for _name in RESOURCES:
    _BY_PLURAL.setdefault(_name.split(".", 1)[0], _name)
_UNKNOWN = ResourceInfo("", "")


def canonical(resource: str) -> str:
    """The qualified name: ``deployments`` becomes ``deployments.apps``; a bare plural
    means the first group serving it (``events`` is core's). Unknown names pass through."""
    return resource if resource in RESOURCES else _BY_PLURAL.get(resource, resource)


def resource_info(resource: str) -> ResourceInfo:
    """Kind, scope and selectable fields of ``pods``, ``deployments.apps``,
    ``events.events.k8s.io`` ...; unknown resources get the generic rules."""
    return RESOURCES.get(canonical(resource), _UNKNOWN)


def field_set(resource: str, obj: Obj) -> Fields:
    """The selectable fields of ``obj``, keyed by stored field name, values as strings."""
    info = resource_info(resource)
    fields = {"metadata.name": _text(obj, "metadata", "name")}
    if info.namespaced:
        fields["metadata.namespace"] = _text(obj, "metadata", "namespace")
    return fields | info.extract(obj)


# --- both selectors -----------------------------------------------------------------------


def matcher(
    resource: str,
    label_selector: str | Selector = "",
    field_selector: str | FieldSelector = "",
) -> Callable[[Obj], bool]:
    """Parse both selectors once (a 400 on error, label selector first, as kube checks
    them) and return a predicate over objects of ``resource``."""
    if not isinstance(label_selector, Selector):
        label_selector = parse_label_selector(label_selector)
    labels = label_selector
    terms = parse_field_selector(field_selector, resource)

    def match(obj: Obj) -> bool:
        if not labels.matches(_get(obj, "metadata", "labels") or {}):
            return False
        return terms.empty or terms.matches(field_set(resource, obj))

    return match


def matches(
    resource: str,
    obj: Obj,
    label_selector: str | Selector = "",
    field_selector: str | FieldSelector = "",
) -> bool:
    """Does ``obj`` (of ``pods``, ``events.events.k8s.io`` ...) match both selectors?"""
    return matcher(resource, label_selector, field_selector)(obj)
