"""Strategic merge patch against small TypeDefs that carry the real types' patch tags.

The first half is what kubectl sends (client-side apply, taint, cordon, patch); the second
replays cases of k8s.io/apimachinery's strategicpatch tests (``Current`` patched with
``ThreeWay`` gives ``Result``) over their ``MergeItem`` type.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kin.apiserver.patch import PatchError, strategic_merge_patch
from kin.apiserver.schema.model import BOOLEAN, INTEGER, STRING, Field, TypeDef, array, mapof, ref

TYPES = {
    t.name: t
    for t in [
        TypeDef(
            "ObjectMeta",
            [
                Field("name", STRING),
                Field("labels", mapof(STRING)),
                Field("annotations", mapof(STRING)),
                Field("finalizers", array(STRING), strategy="merge"),
            ],
        ),
        TypeDef("Pod", [Field("metadata", ref("ObjectMeta")), Field("spec", ref("PodSpec"))]),
        TypeDef(
            "PodSpec",
            [
                Field("containers", array(ref("Container")), merge_key="name", strategy="merge"),
                Field(
                    "volumes", array(ref("Volume")), merge_key="name", strategy="merge,retainKeys"
                ),
                Field("tolerations", array(ref("Toleration"))),
                Field("nodeSelector", mapof(STRING)),
                Field("affinity", ref("Affinity"), strategy="replace"),
            ],
        ),
        TypeDef(
            "Container",
            [
                Field("name", STRING),
                Field("image", STRING),
                Field("args", array(STRING)),
                Field(
                    "ports",
                    array(ref("ContainerPort")),
                    merge_key="containerPort",
                    strategy="merge",
                    list_type="map",
                    map_keys=("containerPort", "protocol"),
                ),
                Field("env", array(ref("EnvVar")), merge_key="name", strategy="merge"),
                Field(
                    "volumeMounts",
                    array(ref("VolumeMount")),
                    merge_key="mountPath",
                    strategy="merge",
                ),
            ],
        ),
        TypeDef(
            "ContainerPort",
            [Field("containerPort", INTEGER), Field("protocol", STRING), Field("name", STRING)],
        ),
        TypeDef("EnvVar", [Field("name", STRING), Field("value", STRING)]),
        TypeDef("VolumeMount", [Field("mountPath", STRING), Field("name", STRING)]),
        TypeDef(
            "Volume",
            [
                Field("name", STRING),
                Field("emptyDir", ref("EmptyDir")),
                Field("configMap", ref("ConfigMapVolume")),
            ],
        ),
        TypeDef("EmptyDir", [Field("medium", STRING)]),
        TypeDef("ConfigMapVolume", [Field("name", STRING)]),
        TypeDef("Toleration", [Field("key", STRING), Field("operator", STRING)]),
        TypeDef("Affinity", [Field("nodeAffinity", ref("Any")), Field("podAffinity", ref("Any"))]),
        TypeDef("Node", [Field("metadata", ref("ObjectMeta")), Field("spec", ref("NodeSpec"))]),
        TypeDef(
            "NodeSpec",
            [
                Field("taints", array(ref("Taint"))),
                Field("unschedulable", BOOLEAN),
                Field("podCIDR", STRING),
            ],
        ),
        TypeDef("Taint", [Field("key", STRING), Field("value", STRING), Field("effect", STRING)]),
    ]
}


def smp(original: dict[str, Any], patch: Any, kind: str = "Pod") -> dict[str, Any]:
    return strategic_merge_patch(original, patch, TYPES.get(kind), TYPES.get)


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}},
        "spec": {"containers": list(containers), **spec},
    }


def names(obj: dict[str, Any], field: str = "containers") -> list[str]:
    return [c["name"] for c in obj["spec"][field]]


WEB = {"name": "web", "image": "nginx:1.25", "args": ["-g", "daemon off;"]}
SIDE = {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]}


def test_changing_one_container_of_two_by_name_keeps_the_other():
    patched = smp(pod(WEB, SIDE), {"spec": {"containers": [{"name": "sidecar", "image": "b:2"}]}})
    assert patched["spec"]["containers"] == [WEB, {**SIDE, "image": "b:2"}]


def test_the_body_of_a_second_client_side_apply():
    live = pod({"name": "c", "image": "nginx:1.25"})
    live["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    patch = {
        "metadata": {
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"new":1}\n'},
            "labels": {"tier": "web"},
        },
        "spec": {
            "$setElementOrder/containers": [{"name": "c"}],
            "containers": [{"image": "nginx:1.26", "name": "c"}],
        },
    }
    patched = smp(live, patch)
    assert patched["metadata"]["labels"] == {"app": "web", "tier": "web"}
    assert patched["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": '{"new":1}\n'
    }
    assert patched["spec"]["containers"] == [{"name": "c", "image": "nginx:1.26"}]


def test_set_element_order_reorders_including_elements_it_does_not_mention():
    third = {"name": "third", "image": "t"}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]}}
    assert names(smp(pod(WEB, SIDE), patch)) == ["sidecar", "web"]
    # "third" is only on the server: it goes before the first listed element that came
    # after it there (the reference's merge of the two runs by server position).
    assert names(smp(pod(WEB, third, SIDE), patch)) == ["third", "sidecar", "web"]
    assert names(smp(pod(WEB, SIDE, third), patch)) == ["sidecar", "web", "third"]


def test_set_element_order_places_an_added_element():
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "new"}, {"name": "sidecar"}],
            "containers": [{"name": "new", "image": "n"}],
        }
    }
    assert names(smp(pod(WEB, SIDE), patch)) == ["web", "new", "sidecar"]


def test_a_new_element_without_set_element_order_comes_first_as_on_a_real_server():
    patch = {"spec": {"containers": [{"name": "new", "image": "n"}]}}
    assert names(smp(pod(WEB, SIDE), patch)) == ["new", "web", "sidecar"]


def test_patch_delete_removes_a_list_element_by_key():
    patch = {"spec": {"containers": [{"name": "web", "$patch": "delete"}]}}
    assert smp(pod(WEB, SIDE), patch)["spec"]["containers"] == [SIDE]


def test_patch_replace_on_a_list_and_on_a_map():
    replaced = smp(
        pod(WEB, SIDE, nodeSelector={"a": "1", "b": "2"}),
        {
            "spec": {
                "containers": [{"name": "only", "image": "o"}, {"$patch": "replace"}],
                "nodeSelector": {"c": "3", "$patch": "replace"},
            }
        },
    )
    assert replaced["spec"]["containers"] == [{"name": "only", "image": "o"}]
    assert replaced["spec"]["nodeSelector"] == {"c": "3"}


def test_patch_delete_on_a_map_empties_it():
    patched = smp(
        pod(WEB, nodeSelector={"a": "1"}), {"spec": {"nodeSelector": {"$patch": "delete"}}}
    )
    assert patched["spec"]["nodeSelector"] == {}


def test_null_removes_a_map_key():
    patched = smp(pod(WEB), {"metadata": {"labels": {"tier": None}}, "spec": {"nope": None}})
    assert patched["metadata"]["labels"] == {"app": "web"}
    assert "nope" not in patched["spec"]


def test_env_merges_by_name():
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}]
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "env": [
                        {"name": "B", "value": "two"},
                        {"name": "C", "$patch": "delete"},
                        {"name": "D", "value": "4"},
                    ],
                }
            ]
        }
    }
    patched = smp(pod({**WEB, "env": env}), patch)
    assert patched["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "two"},
        {"name": "D", "value": "4"},
    ]


def test_volumes_merge_by_name_and_retain_keys_switches_the_source():
    volumes = [{"name": "data", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c1"}}]
    patch = {
        "spec": {
            "volumes": [
                {"name": "data", "$retainKeys": ["configMap", "name"], "configMap": {"name": "d"}},
                {"name": "extra", "emptyDir": {"medium": "Memory"}},
            ]
        }
    }
    patched = smp(pod(WEB, volumes=volumes), patch)
    assert patched["spec"]["volumes"] == [
        {"name": "data", "configMap": {"name": "d"}},
        {"name": "extra", "emptyDir": {"medium": "Memory"}},
        {"name": "conf", "configMap": {"name": "c1"}},
    ]


def test_ports_merge_by_container_port_and_mounts_by_mount_path():
    live = pod(
        {
            **WEB,
            "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
            "volumeMounts": [{"mountPath": "/a", "name": "x"}, {"mountPath": "/b", "name": "y"}],
        }
    )
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "ports": [{"containerPort": 443, "name": "https"}],
                    "volumeMounts": [{"mountPath": "/a", "name": "z"}],
                }
            ]
        }
    }
    container = smp(live, patch)["spec"]["containers"][0]
    assert container["ports"] == [
        {"containerPort": 80, "name": "http"},
        {"containerPort": 443, "name": "https"},
    ]
    assert container["volumeMounts"] == [
        {"mountPath": "/a", "name": "z"},
        {"mountPath": "/b", "name": "y"},
    ]


def test_atomic_lists_are_replaced_whole():
    patch = {"spec": {"containers": [{"name": "web", "args": ["-v"]}], "tolerations": []}}
    patched = smp(pod(WEB, tolerations=[{"key": "a", "operator": "Exists"}]), patch)
    assert patched["spec"]["containers"][0]["args"] == ["-v"]
    assert patched["spec"]["tolerations"] == []


def test_a_replace_strategy_object_is_replaced_whole():
    live = pod(WEB, affinity={"nodeAffinity": {"x": 1}})
    patched = smp(live, {"spec": {"affinity": {"podAffinity": {"y": 2}}}})
    assert patched["spec"]["affinity"] == {"podAffinity": {"y": 2}}


NODE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "node2"},
    "spec": {"podCIDR": "10.244.1.0/24", "taints": [{"key": "old", "effect": "NoExecute"}]},
}


def test_the_taint_patches_kubectl_sends():
    taints = [
        {"key": "old", "effect": "NoExecute"},
        {"effect": "NoSchedule", "key": "dedicated", "value": "gpu"},
    ]
    tainted = smp(NODE, {"spec": {"taints": taints}}, "Node")
    assert tainted["spec"] == {"podCIDR": "10.244.1.0/24", "taints": taints}
    one_left = smp(tainted, {"spec": {"taints": [taints[1]]}}, "Node")
    assert one_left["spec"]["taints"] == [taints[1]]
    untainted = smp(one_left, {"spec": {"taints": None}}, "Node")
    assert untainted["spec"] == {"podCIDR": "10.244.1.0/24"}


def test_cordon_and_uncordon():
    cordoned = smp(NODE, {"spec": {"unschedulable": True}}, "Node")
    assert cordoned["spec"]["unschedulable"] is True
    assert cordoned["spec"]["taints"] == NODE["spec"]["taints"]
    assert "unschedulable" not in smp(cordoned, {"spec": {"unschedulable": None}}, "Node")["spec"]


def test_primitive_merge_lists_are_sets_and_delete_from_primitive_list():
    live = pod(WEB)
    live["metadata"]["finalizers"] = ["a", "b"]
    added = smp(live, {"metadata": {"finalizers": ["b", "c"]}})
    assert added["metadata"]["finalizers"] == ["a", "b", "c"]
    removed = smp(added, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "z"]}})
    assert removed["metadata"]["finalizers"] == ["b", "c"]


def test_a_list_absent_from_the_original_stores_no_directives():
    patch = {"spec": {"containers": [{"name": "a", "$patch": "delete"}, {"name": "b", "x": None}]}}
    assert smp({"spec": {}}, patch)["spec"]["containers"] == [{"name": "b"}]


def test_without_a_typedef_it_is_a_merge_patch_that_knows_directives():
    crd = {"spec": {"items": [{"name": "a", "v": 1}, {"name": "b"}], "m": {"x": 1, "y": 2}}}
    patch = {"spec": {"items": [{"name": "a", "v": 2}], "m": {"x": None, "z": 3}}}
    patched = strategic_merge_patch(crd, patch, None, TYPES.get)
    assert patched == {"spec": {"items": [{"name": "a", "v": 2}], "m": {"y": 2, "z": 3}}}
    replaced = strategic_merge_patch(
        crd, {"spec": {"m": {"$patch": "replace", "q": 1}}}, None, TYPES.get
    )
    assert replaced["spec"]["m"] == {"q": 1}


def test_neither_input_is_modified():
    live, patch = pod(WEB, SIDE), {"spec": {"containers": [{"name": "web", "$patch": "delete"}]}}
    live_copy, patch_copy = copy.deepcopy(live), copy.deepcopy(patch)
    smp(live, patch)["spec"]["containers"].append({"name": "x"})
    assert (live, patch) == (live_copy, patch_copy)


@pytest.mark.parametrize(
    ("patch", "code", "message"),
    [
        (["x"], 400, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        (
            {"spec": {"containers": [{"image": "x"}]}},
            422,
            "map: map[image:x] does not contain declared merge key: name",
        ),
        ({"spec": {"$patch": "frob"}}, 422, "unknown patch type: frob in map: map[$patch:frob]"),
        (
            {"spec": {"containers": [{"name": "web", "$patch": "frob"}]}},
            422,
            "unknown patch type: frob in map: map[$patch:frob name:web]",
        ),
        (
            {"spec": {"$setElementOrder/containers": {"name": "web"}}},
            400,
            "invalid patch format of setElementOrder list",
        ),
        (
            {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
            400,
            "invalid patch format of primitive list",
        ),
        (
            {"spec": {"$retainKeys": ["containers"], "volumes": []}},
            400,
            "invalid patch format of retainKeys",
        ),
        (
            {"metadata": {"finalizers": [["a"]]}},
            422,
            "the server rejected our request due to an error in our request",
        ),
    ],
)
def test_bad_patches(patch, code, message):
    with pytest.raises(PatchError) as caught:
        smp(pod(WEB), patch)
    assert (caught.value.code, caught.value.message) == (code, message)


# --- cases of k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go -----------------

MERGE_ITEM = TypeDef(
    "MergeItem",
    [
        Field("name", STRING),
        Field("value", STRING),
        Field("other", STRING),
        Field("mergingList", array(ref("MergeItem")), merge_key="name", strategy="merge"),
        Field("nonMergingList", array(ref("MergeItem"))),
        Field("mergingIntList", array(INTEGER), strategy="merge"),
        Field("nonMergingIntList", array(INTEGER)),
        Field("simpleMap", mapof(STRING)),
        Field("retainKeysMap", ref("RetainKeysMergeItem"), strategy="retainKeys"),
    ],
)
RETAIN_KEYS_ITEM = TypeDef(
    "RetainKeysMergeItem",
    [Field("name", STRING), Field("value", STRING), Field("other", STRING)],
)
ITEMS = {"MergeItem": MERGE_ITEM, "RetainKeysMergeItem": RETAIN_KEYS_ITEM}


def n(name: Any, **rest: Any) -> dict[str, Any]:
    return {"name": name, **rest}


REFERENCE = {
    "merge lists of maps": (
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b")]},
        {
            "$setElementOrder/mergingList": [n(4), n(1), n(2), n(3)],
            "mergingList": [n(4, value=4), n(3, value=3)],
        },
        {"mergingList": [n(4, value=4), n(1, other="a"), n(2, value=2, other="b"), n(3, value=3)]},
    ),
    "add map and delete map from merging list": (
        {"mergingList": [n(1), n(2, other="b"), n(4, other="c")]},
        {
            "$setElementOrder/mergingList": [n(2), n(3)],
            "mergingList": [n(3), n(1, **{"$patch": "delete"})],
        },
        {"mergingList": [n(2, other="b"), n(4, other="c"), n(3)]},
    ),
    "add map and delete map from merging list with conflict": (
        {"mergingList": [n(1, other="a"), n(4, other="c")]},
        {
            "$setElementOrder/mergingList": [n(2), n(3)],
            "mergingList": [n(2), n(3), n(1, **{"$patch": "delete"})],
        },
        {"mergingList": [n(4, other="c"), n(2), n(3)]},
    ),
    "delete missing map from merging list with conflict": (
        {"mergingList": [n(3, other="a")]},
        {
            "$setElementOrder/mergingList": [n(2)],
            "mergingList": [n(2), n(1, **{"$patch": "delete"})],
        },
        {"mergingList": [n(2), n(3, other="a")]},
    ),
    "add and delete an item in a list and preserve order": (
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b"), n(3, value=3)]},
        {
            "$setElementOrder/mergingList": [n(4), n(2), n(1)],
            "mergingList": [n(4, value=4), n(3, **{"$patch": "delete"})],
        },
        {"mergingList": [n(4, value=4), n(2, value=2, other="b"), n(1, other="a")]},
    ),
    "add an item in a list of primitives and preserve order": (
        {"mergingIntList": [1, 4, 2]},
        {"$setElementOrder/mergingIntList": [3, 1, 2], "mergingIntList": [3]},
        {"mergingIntList": [3, 1, 4, 2]},
    ),
    "delete an item in a list of primitives and preserve order": (
        {"mergingIntList": [1, 2, 3]},
        {"$setElementOrder/mergingIntList": [2, 1], "$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [2, 1]},
    ),
    "merge lists of scalars": (
        {"mergingIntList": [1, 2, 4]},
        {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3]},
        {"mergingIntList": [1, 2, 3, 4]},
    ),
    "$setElementOrder contains item that is not present in the int list to be merged": (
        {"mergingIntList": [1, 3]},
        {"$setElementOrder/mergingIntList": [3, 2, 1]},
        {"mergingIntList": [3, 1]},
    ),
    "preserve the order from the patch in a merging list 2": (
        {"mergingList": [n(1), n(2, value="b"), n(3)]},
        {"mergingList": [n(3, value="c"), n(1, value="a")]},
        {"mergingList": [n(2, value="b"), n(3, value="c"), n(1, value="a")]},
    ),
    "preserve the order from the patch in a merging int list": (
        {"mergingIntList": [1, 2, 3]},
        {"mergingIntList": [3, 1]},
        {"mergingIntList": [2, 3, 1]},
    ),
    "delete all duplicate entries in a merging list": (
        {"mergingList": [n(1), n(1), n(2, value="a"), n(3), n(3)]},
        {"mergingList": [n(1, **{"$patch": "delete"}), n(3, **{"$patch": "delete"})]},
        {"mergingList": [n(2, value="a")]},
    ),
    "nested patch merge with empty list": (
        {"name": "hi", "mergingList": [n("hello2")]},
        {
            "$setElementOrder/mergingList": [n("hello"), n("doesntexist")],
            "mergingList": [n("hello"), n("doesntexist", **{"$patch": "delete"})],
        },
        {"name": "hi", "mergingList": [n("hello"), n("hello2")]},
    ),
    "nested patch merge with empty list, two-way": (
        {"name": "hi"},
        {"mergingList": [n("hello"), n("doesntexist", **{"$patch": "delete"})]},
        {"name": "hi", "mergingList": [n("hello")]},
    ),
    "add field to map in merging list nested in merging list with deletion conflict": (
        {"mergingList": [n(1, other="a", mergingList=[n(2, value=2, other="d")]), n(2, other="b")]},
        {
            "$setElementOrder/mergingList": [n(1), n(2)],
            "mergingList": [
                {
                    "$setElementOrder/mergingList": [n(2), n(1)],
                    "name": 1,
                    "mergingList": [n(1, value=1)],
                }
            ],
        },
        {
            "mergingList": [
                n(1, other="a", mergingList=[n(2, value=2, other="d"), n(1, value=1)]),
                n(2, other="b"),
            ]
        },
    ),
    "$deleteFromPrimitiveList of nonexistent item in primitive list": (
        {"mergingIntList": [1, 2]},
        {"$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2]},
    ),
    "$deleteFromPrimitiveList on nonexistent primitive list": (
        {"foo": ["bar"]},
        {"$deleteFromPrimitiveList/mergingIntList": [3]},
        {"foo": ["bar"]},
    ),
    "$deleteFromPrimitiveList should delete item from a list without merge patch strategy": (
        {"nonMergingIntList": [1, 2, 3]},
        {"$deleteFromPrimitiveList/nonMergingIntList": [2]},
        {"nonMergingIntList": [1, 3]},
    ),
    "replace non merging list nested in merging list": (
        {"mergingList": [n(1, other="a", nonMergingList=[n(1), n(2, value=2)]), n(2, other="b")]},
        {
            "$setElementOrder/mergingList": [n(1), n(2)],
            "mergingList": [n(1, nonMergingList=[n(1, value=1)])],
        },
        {"mergingList": [n(1, other="a", nonMergingList=[n(1, value=1)]), n(2, other="b")]},
    ),
    "delete all items from merging list": (
        {"mergingList": [n(1), n(2)]},
        {"mergingList": [{"$patch": "replace"}]},
        {"mergingList": []},
    ),
    "add key and delete all keys from map": (
        {"name": 1, "value": 1},
        {"other": "a", "$patch": "replace"},
        {"other": "a"},
    ),
    "delete map from nested map": (
        {"simpleMap": {"key1": 1, "key2": 1}},
        {"simpleMap": {"$patch": "delete"}},
        {"simpleMap": {}},
    ),
    "delete field from map in merging list": (
        {"mergingList": [n(1, value=1, other="a"), n(2, value=2, other="b")]},
        {"$setElementOrder/mergingList": [n(1), n(2)], "mergingList": [n(1, value=None)]},
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b")]},
    ),
    "retainKeys map clears the keys it does not list": (
        {"retainKeysMap": {"name": "foo", "value": "a", "other": "x"}},
        {"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "b"}},
        {"retainKeysMap": {"name": "foo", "value": "b"}},
    ),
}


@pytest.mark.parametrize(("current", "patch", "result"), REFERENCE.values(), ids=REFERENCE.keys())
def test_reference_cases(current, patch, result):
    assert strategic_merge_patch(current, patch, MERGE_ITEM, ITEMS.get) == result


@pytest.mark.parametrize(
    ("current", "patch", "message"),
    [
        (
            {"mergingList": [n(1), n(3), n(2)]},
            {
                "$setElementOrder/mergingList": [n(1), n(2), n(3)],
                "mergingList": [n(3, value=3), n(1, value=1)],
            },
            "doesn't match",
        ),
        (
            {"mergingIntList": [1, 3, 2]},
            {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]},
            "doesn't match",
        ),
        (
            {"mergingList": [n(1, value="a")]},
            {"mergingList": [{"value": "b"}]},
            "does not contain declared merge key",
        ),
    ],
)
def test_reference_error_cases(current, patch, message):
    with pytest.raises(PatchError) as caught:
        strategic_merge_patch(current, patch, MERGE_ITEM, ITEMS.get)
    assert caught.value.code == 422
    assert message in caught.value.message


def test_deleting_and_adding_in_one_client_side_apply_keeps_a_server_only_element_in_place():
    # Config went from [a, b] to [a, d]; "c" was added on the server (an injected sidecar).
    live = pod({"name": "a"}, {"name": "b"}, {"name": "c"})
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "d"}],
            "containers": [{"name": "d"}, {"name": "b", "$patch": "delete"}],
        }
    }
    assert names(smp(live, patch)) == ["a", "c", "d"]
