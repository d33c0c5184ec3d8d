"""``/version`` and API discovery, legacy and aggregated, as kubectl 1.32 reads them.

The installed kubectl is a dispatcher that picks its binary from ``/version``'s ``minor``:
reporting 1.32 makes it use its built-in 1.32 client. kubectl asks ``/api`` and ``/apis``
for aggregated discovery first (two requests in all); that answer needs its exact content
type, or kubectl reads the body as legacy discovery and finds no resources.
"""

from __future__ import annotations

from typing import Any

from kin import KUBERNETES_VERSION
from kin.apiserver.resources import CATALOG, Resource, groups

__all__ = [
    "AGGREGATED_CONTENT_TYPE",
    "KUBE_VERSION",
    "aggregated",
    "api_group_list",
    "api_versions",
    "resource_list",
    "version_info",
    "wants_aggregated",
]

KUBE_VERSION = KUBERNETES_VERSION
AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def version_info() -> dict[str, str]:
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": KUBE_VERSION,
        "gitCommit": "kin",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "python",
        "compiler": "cpython",
        "platform": "linux/amd64",
    }


def wants_aggregated(accept: str) -> bool:
    return "as=APIGroupDiscoveryList" in accept and "g=apidiscovery.k8s.io" in accept


def _verbs(resource: Resource) -> list[str]:
    return sorted(resource.verbs)


def _in(group: str, version: str) -> list[Resource]:
    return [r for r in CATALOG if r.group == group and r.version == version]


# -- legacy --------------------------------------------------------------------------------


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_entry(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def api_group_list() -> dict[str, Any]:
    named = [_group_entry(g, vs) for g, vs in groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": named}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """``APIResourceList`` of one group-version, or None when it is not served."""
    served = _in(group, version)
    if not served:
        return None
    entries: list[dict[str, Any]] = []
    for r in served:
        entries.append(_legacy_entry(r))
        entries += [_legacy_sub(r, s.name, s.kind, s.verbs) for s in r.subresources]
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": entries}  # fmt: skip


def _legacy_entry(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": _verbs(r),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    return entry


def _legacy_sub(r: Resource, name: str, kind: str, verbs: tuple[str, ...]) -> dict[str, Any]:
    return {"name": f"{r.plural}/{name}", "singularName": "", "namespaced": r.namespaced,
            "kind": kind, "verbs": sorted(verbs)}  # fmt: skip


# -- aggregated ----------------------------------------------------------------------------


def aggregated(core: bool) -> dict[str, Any]:
    """``/api`` (core=True) or ``/apis`` as an APIGroupDiscoveryList."""
    items = [_group_discovery(g, vs) for g, vs in groups().items() if (g == "") == core]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}  # fmt: skip


def _group_discovery(group: str, versions: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": group},
        "versions": [
            {"version": v, "freshness": "Current",
             "resources": [_aggregated_entry(r) for r in _in(group, v)]}
            for v in versions
        ],
    }  # fmt: skip


def _aggregated_entry(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": _verbs(r),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [
            {"subresource": s.name,
             "responseKind": {"group": s.group if s.version else r.group,
                              "version": s.version or r.version, "kind": s.kind},
             "verbs": sorted(s.verbs)}
            for s in r.subresources
        ]  # fmt: skip
    return entry
