"""A create's managed fields come from a one-walk builder; it must say exactly what the
general path (every added path, filtered, encoded) says, for every kind and subresource."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kin.apiserver import jsontext
from kin.apiserver.patch.apply import _created_fields, _owned_diff, update_managed_fields
from kin.apiserver.patch.created import SharedNode, root_plan
from kin.apiserver.patch.fieldpath import TypedWalker, encode_fields, item_element
from kin.apiserver.patch.strategic import Schema
from kin.apiserver.schema import catalog
from kin.testing.names import random_name

POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "uid": "u", "generateName": "web-",
                 "labels": {"app": "web", "tier": "fe"}, "annotations": {"a": "b"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                      "uid": "o", "controller": True}],
                 "finalizers": ["x/y"], "creationTimestamp": "2026-01-01T00:00:00Z"},
    "spec": {"containers": [
        {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}, {"containerPort": 53,
         "protocol": "UDP"}], "env": [{"name": "X", "value": "1"}, {"name": "Y", "valueFrom":
         {"fieldRef": {"fieldPath": "status.podIP"}}}], "resources": {"limits": {"cpu": "1"}},
         "volumeMounts": [{"name": "v", "mountPath": "/v"}], "args": ["-a", "-b"]},
        {"name": "b", "image": "busybox", "command": ["sleep", "1"]}],
        "volumes": [{"name": "v", "emptyDir": {}}], "tolerations": [{"key": "k",
        "operator": "Exists"}], "nodeSelector": {"disk": "ssd"}, "restartPolicy": "Always"},
    "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
               "conditions": [{"type": "Ready", "status": "True"}]},
}  # fmt: skip
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "generation": 1},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
             "template": {"metadata": {"labels": {"app": "d"}}, "spec": POD["spec"]}},
    "status": {},
}  # fmt: skip
SERVICE: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
    "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080},
                       {"port": 53, "protocol": "UDP", "name": "dns"}],
             "selector": {"app": "s"}, "clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"]},
    "status": {"loadBalancer": {}},
}  # fmt: skip
CONFIGMAP: dict[str, Any] = {
    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
    "data": {"a": "1"}, "binaryData": {},
}  # fmt: skip
WRONG_SHAPE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "w"},
    "spec": {"containers": {"a": {"ports": [{"containerPort": 1}]}}},
}
UNTYPED: dict[str, Any] = {
    "apiVersion": "example.com/v1",
    "kind": "Thing",
    "metadata": {"name": "t"},
    "spec": {"b": {"x": [1, 2], "a": {"k": "v"}}, "list": [{"name": "n"}]},
}
ODD: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "o"},
                       "spec": {"containers": [{"image": "no-name"}]}, "status": None}  # fmt: skip


def general(obj: dict[str, Any], subresource: str) -> dict[str, Any]:
    typedef = catalog.for_gvk(*_gvk(obj))
    walker = TypedWalker(Schema(typedef, catalog.lookup))
    diff = _owned_diff(walker, {}, obj, subresource)
    return encode_fields(diff.added | diff.modified)


def one_walk(obj: dict[str, Any], subresource: str) -> dict[str, Any]:
    typedef = catalog.for_gvk(*_gvk(obj))
    return _created_fields(root_plan(typedef, catalog.lookup), obj, subresource)


def _gvk(obj: dict[str, Any]) -> tuple[str, str, str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    return group, version, obj["kind"]


@pytest.mark.parametrize("obj", [POD, DEPLOYMENT, SERVICE, CONFIGMAP, ODD, WRONG_SHAPE, UNTYPED])
@pytest.mark.parametrize("subresource", ["", "status"])
def test_the_one_walk_builder_says_what_the_general_path_says(
    obj: dict[str, Any], subresource: str
) -> None:
    """Byte for byte: FieldsV1's order is part of what is stored and sent."""
    assert json.dumps(one_walk(obj, subresource)) == json.dumps(general(obj, subresource))


def test_a_repeated_spec_gets_the_same_fields_from_one_node_that_refuses_changes() -> None:
    """A spec met twice is answered from memory from then on: the same FieldsV1, held by
    every such object, so no change to it may reach another (copies are plain dicts)."""
    typedef = catalog.for_gvk("", "v1", "Pod")
    plan = root_plan(typedef, catalog.lookup)
    body = copy.deepcopy(POD)
    body["spec"]["hostname"] = random_name("h")  # a spec this process has not met
    once, twice, first, second = (_created_fields(plan, copy.deepcopy(body), "") for _ in range(4))
    assert type(once["f:spec"]) is dict and type(twice["f:spec"]) is dict  # kept from here
    assert once == twice == first == second == general(body, "")
    shared = second["f:spec"]
    assert isinstance(shared, SharedNode) and first["f:spec"] is shared
    with pytest.raises(TypeError, match="shared"):
        shared["f:containers"]["x"] = {}
    with pytest.raises(TypeError, match="shared"):
        shared.pop("f:containers")
    copied = copy.deepcopy(second)
    assert copied == second and type(copied["f:spec"]["f:containers"]) is dict
    copied["f:spec"]["f:containers"].clear()
    assert json.loads(json.dumps(second)) == general(body, "")  # serialises as a dict
    assert jsontext.loads(jsontext.dumps(second)) == general(body, "")
    assert _created_fields(plan, copy.deepcopy(body), "") == general(body, "")


def test_plans_do_not_grow_with_the_map_keys_objects_bring() -> None:
    typedef = catalog.for_gvk("", "v1", "ConfigMap")
    plan = root_plan(typedef, catalog.lookup)
    for i in range(50):
        body = {"metadata": {"name": f"c{i}", "labels": {f"l{i}": "x"}}, "data": {f"k{i}": "v"}}
        _created_fields(plan, body, "")
    assert len(plan.member("data")._members) == 0
    assert len(plan.member("metadata").member("labels")._members) == 0


def test_a_create_records_one_entry_with_the_builders_fields() -> None:
    typedef = catalog.for_gvk("", "v1", "Pod")
    out = update_managed_fields(
        None, copy.deepcopy(POD), "kubectl-create", typedef=typedef, lookup=catalog.lookup
    )
    [entry] = out["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl-create" and entry["operation"] == "Update"
    assert entry["fieldsV1"] == general(POD, "")
    assert "f:status" not in entry["fieldsV1"]
    assert "f:name" not in entry["fieldsV1"]["f:metadata"]
    assert (
        'k:{"containerPort":53,"protocol":"UDP"}'
        in (entry["fieldsV1"]["f:spec"]["f:containers"]['k:{"name":"a"}']["f:ports"])
    )


@pytest.mark.parametrize(
    ("keys", "item"),
    [
        (("name",), {"name": "a<b>&c"}),
        (("name",), {"name": 'ünï\u2603 "q" \\ \n'}),
        (("containerPort", "protocol"), {"protocol": "UDP", "containerPort": 53}),
        (("containerPort", "protocol"), {"containerPort": 80.0}),  # TCP by default, 80 not 80.0
        (("port",), {"port": True}),
        (("port",), {"port": {"nested": ["x", 1]}}),
        ((), "a&b"),
        ((), 7.5),
    ],
)
def test_list_item_elements_are_gos_sorted_compact_json(keys: tuple[str, ...], item: Any) -> None:
    """The element text is compared byte for byte against FieldsV1 from kube, so the fast
    scalar encoding must say what sorted, compact, Go-escaped JSON says."""
    if keys:
        fields = {k: item.get(k, "TCP" if k == "protocol" else None) for k in keys}
        fields = {k: int(v) if isinstance(v, float) else v for k, v in fields.items()}
        expected = "k:" + go_json(fields)
    else:
        expected = "v:" + go_json(item)
    assert item_element(keys, item) == expected


def go_json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
