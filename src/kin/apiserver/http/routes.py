"""Resource URLs to (resource, namespace, name, subresource), as kube-apiserver lays them out.

/api/v1/pods                                 all namespaces
/api/v1/namespaces/default/pods[/NAME[/SUB]] one namespace
/api/v1/namespaces/default[/status|/finalize] the namespace object itself
/apis/apps/v1/namespaces/default/deployments/NAME/scale
/api/v1/nodes/NAME/status                    cluster-scoped
"""

from __future__ import annotations

from dataclasses import dataclass

from kin.apiserver import errors
from kin.apiserver.resources import Resource, find

__all__ = ["Route", "parse_route"]


@dataclass(frozen=True)
class Route:
    resource: Resource
    namespace: str = ""
    name: str = ""
    sub: str = ""


def parse_route(group: str, version: str, segments: list[str]) -> Route:
    """404 when nothing is served there."""
    if (
        len(segments) >= 3
        and segments[0] == "namespaces"
        and _is_resource(group, version, segments[2])
    ):
        namespace, rest = segments[1], segments[2:]
    else:
        namespace, rest = "", segments
    if not rest or len(rest) > 3:
        raise _not_served()
    resource = find(group, version, rest[0])
    if resource is None:
        raise _not_served()
    if resource.namespaced == (not namespace) and not (resource.namespaced and len(rest) == 1):
        raise _not_served()
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and resource.subresource(sub) is None:
        raise _not_served()
    return Route(resource, namespace, name, sub)


def _is_resource(group: str, version: str, segment: str) -> bool:
    resource = find(group, version, segment)
    return resource is not None and resource.namespaced


def _not_served() -> errors.APIError:
    return errors.APIError(404, "NotFound", "the server could not find the requested resource")
