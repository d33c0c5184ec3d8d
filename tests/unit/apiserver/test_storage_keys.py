"""Storage keys, values and messages: what all three backends check and derive alike."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from kin.apiserver.storage import keys
from kin.errors import APIError


@pytest.mark.parametrize(
    "key",
    [
        "/registry/pods/default/web",
        "/registry/minions/node-1",
        "/registry/services/specs/kube-system/kube-dns",
        "/registry/apiextensions.k8s.io/customresourcedefinitions/x.example.com",
    ],
)
def test_object_keys_under_registry_are_accepted(key: str) -> None:
    assert keys.check_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        None,
        7,
        "pods/default/web",
        "/registry",
        "/registry/",
        "/registry/pods/",
        "/registry//web",
        "/registryx/pods/web",
        "/registry/pods/we\x00b",
        "/registry/pods/\udcff",
        "/registry/pods/" + "x" * 5000,
    ],
)
def test_bad_keys_are_400(key: object) -> None:
    with pytest.raises(APIError) as caught:
        keys.check_key(key)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")


@pytest.mark.parametrize("prefix", ["/registry", "/registry/", "/registry/pods/default/"])
def test_prefixes_under_registry_are_accepted(prefix: str) -> None:
    assert keys.check_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "/", "/reg", "/registryx", "registry/"])
def test_bad_prefixes_are_400(prefix: str) -> None:
    with pytest.raises(APIError) as caught:
        keys.check_prefix(prefix)
    assert caught.value.code == 400


@pytest.mark.parametrize("value", [-1, True, "3", 1.0, None])
def test_bad_revisions_are_400(value: object) -> None:
    with pytest.raises(APIError) as caught:
        keys.check_revision(value)
    assert caught.value.code == 400


def test_expected_revision_and_continue_may_be_empty() -> None:
    assert keys.check_expected(None) is None
    assert keys.check_expected(0) == 0
    assert keys.check_continue("") == ""
    assert keys.check_continue("/registry/pods/a/b") == "/registry/pods/a/b"


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        ("/registry/pods/", "/registry/pods0"),
        ("/registry", "/registrz"),
        ("a\U0010ffff", "b"),
        ("\U0010ffff", ""),
    ],
)
def test_prefix_end_bounds_every_key_with_the_prefix(prefix: str, end: str) -> None:
    assert keys.prefix_end(prefix) == end
    if end:
        assert prefix + "\U0010ffff" * 3 < end


def test_values_are_stored_without_resource_version_and_read_with_it() -> None:
    obj: dict[str, Any] = {"kind": "Pod", "metadata": {"name": "web", "resourceVersion": "5"}}
    obj["spec"] = {}
    text = keys.encode(obj)
    assert text == '{"kind":"Pod","metadata":{"name":"web"},"spec":{}}'
    assert obj["metadata"]["resourceVersion"] == "5"  # the caller's object is untouched
    assert keys.decode(text, 9, "/registry/pods/a/web")["metadata"]["resourceVersion"] == "9"
    assert keys.decode(keys.encode({}), 2, "/registry/x/y") == {
        "metadata": {"resourceVersion": "2"}
    }


@pytest.mark.parametrize("value", [[1], {"metadata": []}, {"x": {1, 2}}, {"x": 2**70}])
def test_values_that_are_not_json_objects_are_400(value: object) -> None:
    with pytest.raises(APIError) as caught:
        keys.encode(value)
    assert caught.value.code == 400


@pytest.mark.parametrize("text", ["[1]", "not json", '{"metadata": 3}', b"\xff"])
def test_foreign_values_read_back_are_500_naming_the_key(text: str | bytes) -> None:
    with pytest.raises(APIError) as caught:
        keys.decode(text, 1, "/registry/pods/a/web")
    assert caught.value.code == 500
    assert "/registry/pods/a/web" in caught.value.message


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("/registry/pods/default/web", 'pods "web" not found'),
        ("/registry/minions/n1", 'nodes "n1" not found'),
        ("/registry/services/specs/default/kubernetes", 'services "kubernetes" not found'),
        ("/registry/deployments/default/d", 'deployments.apps "d" not found'),
        ("/registry/leases/kube-node-lease/n1", 'leases.coordination.k8s.io "n1" not found'),
        ("/registry/example.com/widgets/ns/w", 'widgets.example.com "w" not found'),
    ],
)
def test_messages_name_the_resource_as_kubernetes_does(key: str, message: str) -> None:
    assert keys.not_found(key).message == message


def test_conflict_expired_and_unavailable_messages() -> None:
    conflict = keys.conflict("/registry/pods/default/web")
    assert (conflict.code, conflict.reason) == (409, "Conflict")
    assert conflict.message.startswith('Operation cannot be fulfilled on pods "web": ')
    expired = keys.expired(3, 10)
    assert (expired.code, expired.reason, expired.message) == (
        410,
        "Expired",
        "too old resource version: 3 (10)",
    )
    unavailable = keys.unavailable("etcd", "http://127.0.0.1:1: refused")
    assert (unavailable.code, unavailable.reason) == (503, "ServiceUnavailable")
    assert "etcd" in unavailable.message


def test_decoding_many_pauses_the_collector_and_restores_it() -> None:
    rows = [(f"/registry/pods/a/p{i}", i + 1, '{"metadata":{}}') for i in range(300)]
    assert gc.isenabled()
    items = keys.decode_many(rows)
    assert [i["metadata"]["resourceVersion"] for i in items[:2]] == ["1", "2"]
    assert gc.isenabled()
    gc.disable()
    try:
        keys.decode_many(rows)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
    with pytest.raises(APIError):
        keys.decode_many([*rows, ("/registry/pods/a/bad", 1, "[]")])
    assert gc.isenabled()
