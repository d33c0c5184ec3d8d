"""Resource URLs and what discovery tells kubectl about them."""

from __future__ import annotations

import pytest

from kin.apiserver import discovery
from kin.apiserver.http.routes import parse_route
from kin.apiserver.resources import CATALOG, find
from kin.errors import APIError


def test_namespaced_collection_object_and_subresource() -> None:
    route = parse_route("", "v1", ["namespaces", "default", "pods", "web", "status"])
    assert (route.resource.plural, route.namespace, route.name, route.sub) == (
        "pods",
        "default",
        "web",
        "status",
    )
    route = parse_route("apps", "v1", ["namespaces", "ns1", "deployments"])
    assert (route.resource.kind, route.namespace, route.name) == ("Deployment", "ns1", "")


def test_all_namespaces_and_cluster_scoped() -> None:
    route = parse_route("", "v1", ["pods"])
    assert (route.resource.plural, route.namespace) == ("pods", "")
    route = parse_route("", "v1", ["nodes", "n1", "status"])
    assert (route.resource.plural, route.name, route.sub) == ("nodes", "n1", "status")


def test_namespace_object_and_its_finalize() -> None:
    route = parse_route("", "v1", ["namespaces", "default"])
    assert (route.resource.plural, route.name) == ("namespaces", "default")
    route = parse_route("", "v1", ["namespaces", "default", "finalize"])
    assert (route.resource.plural, route.name, route.sub) == ("namespaces", "default", "finalize")


@pytest.mark.parametrize(
    "group, segments",
    [
        ("", ["widgets"]),
        ("", ["pods", "web", "nonsense"]),
        ("", ["namespaces", "default", "nodes", "n1"]),
        ("apps", ["deployments", "d", "scale", "extra"]),
        ("", []),
    ],
)
def test_what_is_not_served_is_404(group: str, segments: list[str]) -> None:
    with pytest.raises(APIError) as caught:
        parse_route(group, "v1", segments)
    assert caught.value.code == 404


def test_every_resource_is_listed_once_in_its_group_version() -> None:
    for res in CATALOG:
        listing = discovery.resource_list(res.group, res.version)
        assert listing is not None
        names = [r["name"] for r in listing["resources"]]
        assert names.count(res.plural) == 1
        for sub in res.subresources:
            assert f"{res.plural}/{sub.name}" in names


def test_aggregated_discovery_has_short_names_categories_and_scale_kind() -> None:
    apps = discovery.aggregated(core=False)
    [group] = [g for g in apps["items"] if g["metadata"]["name"] == "apps"]
    [deployments] = [r for r in group["versions"][0]["resources"] if r["resource"] == "deployments"]
    assert deployments["shortNames"] == ["deploy"]
    assert deployments["categories"] == ["all"]
    [scale] = [s for s in deployments["subresources"] if s["subresource"] == "scale"]
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    core = discovery.aggregated(core=True)
    assert [g["metadata"]["name"] for g in core["items"]] == [""]


def test_storage_keys_follow_kube_apiserver() -> None:
    nodes, services, pods = (
        find("", "v1", "nodes"),
        find("", "v1", "services"),
        find("", "v1", "pods"),
    )
    assert nodes is not None and services is not None and pods is not None
    assert nodes.key("", "n1") == "/registry/minions/n1"
    assert services.key("default", "web") == "/registry/services/specs/default/web"
    assert pods.prefix("") == "/registry/pods/"
    assert pods.prefix("kube-system") == "/registry/pods/kube-system/"
