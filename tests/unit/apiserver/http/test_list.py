"""GET on collections: label and field selectors, paging with limit/continue, all namespaces."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from kin.testing.apiserver import Client

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"


def configmap(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": labels}, "data": {}}


def names(listing: Obj) -> list[str]:
    return [item["metadata"]["name"] for item in listing["items"]]


def query(path: str, **params: str) -> str:
    return f"{path}?{urllib.parse.urlencode(params)}"


@pytest.fixture
def labelled(api: Client, ns: str) -> str:
    """Five ConfigMaps with assorted labels; returns their collection's path."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for name, labels in (
        ("a", {"tier": "web", "env": "prod"}),
        ("b", {"tier": "web", "env": "dev"}),
        ("c", {"tier": "db", "env": "prod"}),
        ("d", {"tier": "cache"}),
        ("e", {}),
    ):
        assert api.post(path, configmap(name, **labels)).status == 201
    return path


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", ["a", "b"]),
        ("tier==web", ["a", "b"]),
        ("tier!=web", ["c", "d", "e"]),
        ("tier in (web,db)", ["a", "b", "c"]),
        ("tier notin (web,db)", ["d", "e"]),
        ("env", ["a", "b", "c"]),
        ("!env", ["d", "e"]),
        ("tier=web,env=prod", ["a"]),
        ("tier in (web),env!=prod", ["b"]),
        ("tier=nothing", []),
        ("", ["a", "b", "c", "d", "e"]),
    ],
)
def test_label_selectors(api: Client, labelled: str, selector: str, expected: list[str]) -> None:
    listing = api.get(query(labelled, labelSelector=selector))
    assert listing.status == 200, listing
    assert names(listing.json()) == expected


@pytest.mark.parametrize(
    "selector", ["tier in web", "=web", "tier=(web)", "tier in (a b", "tier=a=b", "!"]
)
def test_malformed_label_selectors_are_400(api: Client, labelled: str, selector: str) -> None:
    refused = api.get(query(labelled, labelSelector=selector))
    assert refused.status == 400, (selector, refused)
    assert refused.json()["reason"] == "BadRequest"


def test_field_selectors_on_pods(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods"
    for name, node in (("p1", "node-a"), ("p2", "node-b"), ("p3", "")):
        spec: Obj = {"containers": [{"name": "c", "image": "busybox"}]}
        if node:
            spec["nodeName"] = node
        assert api.post(path, {"metadata": {"name": name}, "spec": spec}).status == 201
    running = {"status": {"phase": "Running"}}
    assert api.patch(f"{path}/p2/status", running, MERGE).status == 200
    cases = {
        "metadata.name=p1": ["p1"],
        "metadata.name!=p1": ["p2", "p3"],
        f"metadata.namespace={ns}": ["p1", "p2", "p3"],
        "metadata.namespace=elsewhere": [],
        "spec.nodeName=node-a": ["p1"],
        "spec.nodeName=": ["p3"],
        "spec.nodeName!=": ["p1", "p2"],
        "status.phase!=Running": ["p1", "p3"],
        "status.phase=Running,spec.nodeName=node-b": ["p2"],
    }
    for selector, expected in cases.items():
        listing = api.get(query(path, fieldSelector=selector))
        assert listing.status == 200, (selector, listing)
        assert names(listing.json()) == expected, selector


def test_label_and_field_selectors_combine(api: Client, labelled: str) -> None:
    listing = api.get(query(labelled, labelSelector="tier=web", fieldSelector="metadata.name!=a"))
    assert names(listing.json()) == ["b"]


def test_unknown_or_malformed_field_selectors_are_400(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    unknown = api.get(query(pods, fieldSelector="spec.color=blue"))
    assert unknown.status == 400, unknown
    assert unknown.json()["message"] == ("field label not supported: spec.color")
    for selector in ("metadata.name", "metadata.name=a=b"):
        refused = api.get(query(pods, fieldSelector=selector))
        assert refused.status == 400, (selector, refused)


def test_paging_gives_every_object_exactly_once_at_one_resource_version(
    api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    made = [f"cm-{i:02d}" for i in range(25)]
    for name in made:
        assert api.post(path, configmap(name, page="yes")).status == 201
    seen: list[str] = []
    versions: set[str] = set()
    token = ""
    pages = 0
    while True:
        params = {"limit": "10", "labelSelector": "page=yes"}
        if token:
            params["continue"] = token
        page = api.get(query(path, **params))
        assert page.status == 200, page
        listing = page.json()
        assert len(listing["items"]) <= 10
        seen += names(listing)
        versions.add(listing["metadata"]["resourceVersion"])
        pages += 1
        if pages == 1:  # written after the first page: not part of this listing
            assert api.post(path, configmap("cm-10a", page="yes")).status == 201
            assert api.delete(f"{path}/cm-24").status == 200
        token = listing["metadata"].get("continue", "")
        if not token:
            break
    assert pages == 3
    assert seen == made
    assert len(versions) == 1
    fresh = api.get(query(path, labelSelector="page=yes")).json()
    assert "cm-10a" in names(fresh) and "cm-24" not in names(fresh)
    assert int(fresh["metadata"]["resourceVersion"]) > int(versions.pop())


def test_a_page_that_ends_the_listing_has_no_continue_token(api: Client, labelled: str) -> None:
    listing = api.get(query(labelled, limit="5")).json()
    assert names(listing) == ["a", "b", "c", "d", "e"]
    assert "continue" not in listing["metadata"]


@pytest.mark.parametrize("token", ["garbage", "e30=", "W10=", "not base64 !"])
def test_an_invalid_continue_token_is_400(api: Client, labelled: str, token: str) -> None:
    refused = api.get(query(labelled, limit="2", **{"continue": token}))
    assert refused.status == 400, (token, refused)
    assert refused.json()["reason"] == "BadRequest"


def test_an_invalid_limit_is_400(api: Client, labelled: str) -> None:
    assert api.get(query(labelled, limit="ten")).status == 400


def test_listing_all_namespaces(api: Client, ns: str) -> None:
    from kin.testing.names import random_name

    other = random_name("t")
    assert api.post("/api/v1/namespaces", {"metadata": {"name": other}}).status == 201
    for namespace in (ns, other):
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        assert api.post(path, configmap("shared", marker=ns)).status == 201
    listing = api.get(query("/api/v1/configmaps", labelSelector=f"marker={ns}"))
    assert listing.status == 200, listing
    found = sorted(
        (i["metadata"]["namespace"], i["metadata"]["name"]) for i in listing.json()["items"]
    )
    assert found == sorted([(ns, "shared"), (other, "shared")])
    assert listing.json()["kind"] == "ConfigMapList"
    one = api.get(query(f"/api/v1/namespaces/{ns}/configmaps", labelSelector=f"marker={ns}"))
    assert [i["metadata"]["namespace"] for i in one.json()["items"]] == [ns]


def test_a_list_is_a_typed_list_with_a_string_resource_version(api: Client, labelled: str) -> None:
    listing = api.get(labelled).json()
    assert (listing["kind"], listing["apiVersion"]) == ("ConfigMapList", "v1")
    assert isinstance(listing["metadata"]["resourceVersion"], str)
    assert all("kind" not in item for item in listing["items"])


def test_cluster_scoped_lists(api: Client, ns: str) -> None:
    listing = api.get(query("/api/v1/namespaces", fieldSelector=f"metadata.name={ns}")).json()
    assert names(listing) == [ns]
    assert listing["items"][0]["status"]["phase"] == "Active"
    for system in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert api.get(f"/api/v1/namespaces/{system}").status == 200


def test_across_all_namespaces_only_list_and_watch_are_served(api: Client, ns: str) -> None:
    api.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("kept"))
    assert api.delete("/api/v1/configmaps").status == 405
    assert (
        api.post("/api/v1/configmaps", {"metadata": {"name": "x", "namespace": ns}}).status == 405
    )
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/kept").status == 200
