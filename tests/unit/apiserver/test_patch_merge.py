"""JSON merge patch (RFC 7386, as evanphx/json-patch applies it for kube-apiserver) and the
JSON patch of RFC 6902: the patches ``kubectl label/annotate/scale`` and
``kubectl patch --type=merge|json`` send, with the Status a bad one earns."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kin.apiserver.patch import PatchError, json_patch, merge_patch
from kin.apiserver.patch.merge import REJECTED, json_equal

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "r1", "labels": {"app": "r1", "env": "dev"}},
    "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}], "restartPolicy": "Always"},
}


# RFC 7386 appendix A, plus the evanphx detail that nulls inside added objects are pruned.
MERGE_CASES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ({"a": 1}, {"a": {"b": None, "c": [{"d": None, "e": 1}]}}, {"a": {"c": [{"e": 1}]}}),
    ({"a": None}, {"a": {"b": 1}}, {"a": {"b": 1}}),
]


@pytest.mark.parametrize(("original", "patch", "expected"), MERGE_CASES)
def test_merge_patch_follows_rfc_7386(original, patch, expected):
    assert merge_patch(original, patch) == expected


def test_kubectl_label_and_unlabel():
    labeled = merge_patch(POD, {"metadata": {"labels": {"tier": "web"}}})
    assert labeled["metadata"]["labels"] == {"app": "r1", "env": "dev", "tier": "web"}
    unlabeled = merge_patch(labeled, {"metadata": {"labels": {"env": None}}})
    assert unlabeled["metadata"]["labels"] == {"app": "r1", "tier": "web"}
    assert unlabeled["spec"] == POD["spec"]


def test_merge_patch_with_nulls_and_a_replaced_list():
    patch = {
        "metadata": {"annotations": {"a": "1", "gone": None}, "labels": None},
        "spec": {"containers": [{"name": "d", "image": "busybox", "args": None}]},
    }
    patched = merge_patch(POD, patch)
    assert patched["metadata"] == {"name": "r1", "annotations": {"a": "1"}}
    assert patched["spec"]["containers"] == [{"name": "d", "image": "busybox"}]


def test_merge_patch_modifies_neither_input():
    original, patch = copy.deepcopy(POD), {"metadata": {"labels": {"app": None, "x": {"y": 1}}}}
    before = copy.deepcopy(patch)
    merge_patch(original, patch)["metadata"]["labels"]["x"]["y"] = 2
    assert original == POD
    assert patch == before


@pytest.mark.parametrize("patch", [None, [], ["a"], "x", 3])
def test_merge_patch_that_is_not_an_object_is_a_400(patch):
    with pytest.raises(PatchError) as caught:
        merge_patch(POD, patch)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message == "Invalid JSON Patch"


def test_scale_patch_on_a_scale_object():
    scale = {"kind": "Scale", "apiVersion": "autoscaling/v1", "spec": {"replicas": 1}}
    assert merge_patch(scale, {"spec": {"replicas": 3}})["spec"] == {"replicas": 3}


# --- RFC 6902 ---------------------------------------------------------------------------


def test_json_patch_operations_in_order():
    ops = [
        {"op": "add", "path": "/metadata/labels/tier", "value": "web"},
        {"op": "remove", "path": "/metadata/labels/env"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.26"},
        {"op": "add", "path": "/spec/containers/-", "value": {"name": "d", "image": "busybox"}},
        {"op": "copy", "from": "/spec/containers/1/name", "path": "/metadata/annotations"},
        {"op": "move", "from": "/metadata/annotations", "path": "/metadata/labels/copied"},
        {"op": "test", "path": "/metadata/labels/copied", "value": "d"},
        {"op": "add", "path": "/spec/containers/0", "value": {"name": "first"}},
    ]
    patched = json_patch(POD, ops)
    assert patched["metadata"]["labels"] == {"app": "r1", "tier": "web", "copied": "d"}
    assert "annotations" not in patched["metadata"]
    names = [c["name"] for c in patched["spec"]["containers"]]
    assert names == ["first", "c", "d"]
    assert patched["spec"]["containers"][1]["image"] == "nginx:1.26"
    assert POD["metadata"]["labels"] == {"app": "r1", "env": "dev"}


def test_json_patch_pointer_escapes():
    doc = {"metadata": {"annotations": {"a/b": "1", "m~n": "2"}}}
    ops = [
        {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "x"},
        {"op": "remove", "path": "/metadata/annotations/m~0n"},
    ]
    assert json_patch(doc, ops) == {"metadata": {"annotations": {"a/b": "x"}}}


def test_json_patch_test_passes_on_equal_values():
    ops = [
        {"op": "test", "path": "/spec", "value": copy.deepcopy(POD["spec"])},
        {"op": "test", "path": "/metadata/labels/missing", "value": None},
        {"op": "test", "path": "/spec/containers/0/name", "value": "c"},
    ]
    assert json_patch(POD, ops) == POD


@pytest.mark.parametrize(
    ("op", "detail"),
    [
        ({"op": "test", "path": "/metadata/labels/app", "value": "x"}, "testing value"),
        ({"op": "test", "path": "/spec/restartPolicy", "value": 1}, "testing value"),
        ({"op": "test", "path": "/metadata/labels/nope", "value": "x"}, "testing value"),
        ({"op": "remove", "path": "/metadata/labels/nope"}, "nonexistent"),
        ({"op": "replace", "path": "/metadata/nope", "value": 1}, "missing path"),
        ({"op": "add", "path": "/nope/deeper", "value": 1}, "missing path"),
        ({"op": "add", "path": "/spec/containers/5", "value": {}}, "invalid index"),
        ({"op": "add", "path": "/spec/containers/01", "value": {}}, "invalid index"),
        ({"op": "remove", "path": "/spec/containers/-"}, "nonexistent"),
        ({"op": "move", "from": "/spec", "path": "/spec/x"}, "own child"),
        ({"op": "frobnicate", "path": "/spec"}, "Unexpected kind: frobnicate"),
        ({"op": "add", "path": "spec", "value": 1}, "invalid JSON pointer"),
        ({"op": "replace", "path": "", "value": [1]}, "not an object"),
    ],
)
def test_json_patch_that_does_not_apply_is_kubernetes_422(op, detail):
    ops = [{"op": "add", "path": "/metadata/labels/first", "value": "1"}, op]
    with pytest.raises(PatchError) as caught:
        json_patch(POD, ops)
    assert (caught.value.code, caught.value.reason) == (422, "Invalid")
    assert caught.value.message == REJECTED
    assert detail in caught.value.detail
    assert caught.value.status()["message"] == REJECTED
    assert "first" not in POD["metadata"]["labels"]


def test_json_patch_replacing_the_whole_document():
    assert json_patch(POD, [{"op": "replace", "path": "", "value": {"a": 1}}]) == {"a": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"op": "add"},
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        ),
        (["add"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
    ],
)
def test_json_patch_that_is_not_a_list_of_operations_is_a_400(body, message):
    with pytest.raises(PatchError) as caught:
        json_patch(POD, body)
    assert (caught.value.code, caught.value.message) == (400, message)


def test_json_patch_operation_limit_is_a_413():
    ops = [{"op": "test", "path": "/kind", "value": "Pod"}] * 10001
    with pytest.raises(PatchError) as caught:
        json_patch(POD, ops)
    assert caught.value.code == 413
    assert caught.value.message == (
        "The allowed maximum operations in a JSON patch is 10000, got 10001"
    )


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [(1, 1.0, True), (True, 1, False), (None, False, False), ({"a": [1]}, {"a": [1.0]}, True)],
)
def test_json_equality_is_go_deep_equal_on_decoded_json(a, b, equal):
    assert json_equal(a, b) is equal
