"""Server-side apply and managedFields, over a Deployment-shaped set of TypeDefs.

Expected FieldsV1 and conflict messages are kube-apiserver's (structured-merge-diff's
``ToFieldSet``/``Compare`` and the field manager's ``printManager``).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kin.apiserver.patch import PatchError, apply, update_managed_fields
from kin.apiserver.patch.fieldpath import decode_fields, encode_fields, path_text
from kin.apiserver.schema.model import (
    INT_OR_STRING,
    INTEGER,
    QUANTITY,
    STRING,
    Field,
    TypeDef,
    array,
    mapof,
    ref,
)

_DEFS = [
    TypeDef(
        "Deployment",
        [
            Field("apiVersion", STRING),
            Field("kind", STRING),
            Field("metadata", ref("ObjectMeta")),
            Field("spec", ref("DeploymentSpec")),
            Field("status", ref("DeploymentStatus")),
        ],
        gvk=("apps", "v1", "Deployment"),
    ),
    TypeDef(
        "ObjectMeta",
        [
            Field("name", STRING),
            Field("namespace", STRING),
            Field("uid", STRING),
            Field("resourceVersion", STRING),
            Field("generation", INTEGER),
            Field("labels", mapof(STRING)),
            Field("annotations", mapof(STRING)),
            Field("finalizers", array(STRING), strategy="merge"),
        ],
    ),
    TypeDef(
        "DeploymentSpec",
        [
            Field("replicas", INTEGER),
            Field("selector", ref("LabelSelector")),
            Field("template", ref("PodTemplateSpec")),
            Field("strategy", ref("DeploymentStrategy")),
            Field("revisionHistoryLimit", INTEGER),
        ],
    ),
    TypeDef("LabelSelector", [Field("matchLabels", mapof(STRING))], atomic=True),
    TypeDef(
        "DeploymentStrategy",
        [Field("type", STRING), Field("rollingUpdate", ref("RollingUpdateDeployment"))],
    ),
    TypeDef(
        "RollingUpdateDeployment",
        [Field("maxSurge", INT_OR_STRING), Field("maxUnavailable", INT_OR_STRING)],
    ),
    TypeDef(
        "PodTemplateSpec", [Field("metadata", ref("ObjectMeta")), Field("spec", ref("PodSpec"))]
    ),
    TypeDef(
        "PodSpec",
        [
            Field(
                "containers",
                array(ref("Container")),
                merge_key="name",
                strategy="merge",
                list_type="map",
                map_keys=("name",),
            ),
            Field("tolerations", array(ref("Toleration")), list_type="atomic"),
            Field("nodeSelector", mapof(STRING)),
            Field("restartPolicy", STRING),
        ],
    ),
    TypeDef(
        "Container",
        [
            Field("name", STRING),
            Field("image", STRING),
            Field("args", array(STRING), list_type="atomic"),
            Field(
                "ports",
                array(ref("ContainerPort")),
                merge_key="containerPort",
                strategy="merge",
                list_type="map",
                map_keys=("containerPort", "protocol"),
            ),
            Field("env", array(ref("EnvVar")), merge_key="name", strategy="merge"),
            Field("resources", ref("ResourceRequirements")),
        ],
    ),
    TypeDef(
        "ContainerPort",
        [Field("containerPort", INTEGER), Field("protocol", STRING), Field("name", STRING)],
    ),
    TypeDef("EnvVar", [Field("name", STRING), Field("value", STRING)]),
    TypeDef("Toleration", [Field("key", STRING), Field("operator", STRING)]),
    TypeDef(
        "ResourceRequirements",
        [Field("limits", mapof(QUANTITY)), Field("requests", mapof(QUANTITY))],
    ),
    TypeDef("DeploymentStatus", [Field("replicas", INTEGER), Field("readyReplicas", INTEGER)]),
]
TYPES = {t.name: t for t in _DEFS}
DEPLOYMENT = TYPES["Deployment"]


def config(image: str = "nginx:1.25", replicas: int | None = 2, **spec: Any) -> dict[str, Any]:
    labels = {"app": "d"}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default", "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [{"name": "c", "image": image, "ports": [{"containerPort": 80}]}]
                },
            },
            **spec,
        },
    }
    if replicas is not None:
        body["spec"]["replicas"] = replicas
    return body


def ssa(live: Any, applied: Any, manager: str = "kubectl", force: bool = False, now: str = "T1"):
    return apply(live, applied, manager, force, DEPLOYMENT, TYPES.get, now=now)


def entries(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"]["managedFields"]}


def owned(obj: dict[str, Any], manager: str) -> set[str]:
    return {path_text(p) for p in decode_fields(entries(obj)[manager]["fieldsV1"])}


KEYED_C = 'k:{"name":"c"}'
PORT_80 = 'k:{"containerPort":80,"protocol":"TCP"}'
APPLIED_FIELDS = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {
        "f:replicas": {},
        "f:selector": {},
        "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:containers": {
                    KEYED_C: {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {PORT_80: {".": {}, "f:containerPort": {}}},
                    }
                }
            },
        },
    },
}


def test_apply_creates_the_object_with_its_managed_fields():
    created = ssa(None, config())
    assert created["spec"] == config()["spec"]
    assert created["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": "T1",
            "fieldsType": "FieldsV1",
            "fieldsV1": APPLIED_FIELDS,
        }
    ]


def test_applying_the_same_configuration_again_changes_nothing():
    created = ssa(None, config())
    assert ssa(created, config(), now="T2") == created


def test_apply_updates_and_keeps_what_others_set():
    live = ssa(None, config())
    live["spec"]["strategy"] = {"type": "RollingUpdate"}  # a default nobody owns
    live["status"] = {"replicas": 2}
    updated = ssa(live, config(image="nginx:1.26"), now="T2")
    assert updated["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert updated["spec"]["strategy"] == {"type": "RollingUpdate"}
    assert updated["status"] == {"replicas": 2}
    assert entries(updated)["kubectl"]["time"] == "T2"
    assert entries(updated)["kubectl"]["fieldsV1"] == APPLIED_FIELDS


def test_apply_merges_keyed_lists_by_key_in_the_configuration_order():
    live = ssa(None, config())
    live["spec"]["template"]["spec"]["containers"].insert(0, {"name": "injected", "image": "x"})
    two = config()
    two["spec"]["template"]["spec"]["containers"].insert(0, {"name": "first", "image": "f"})
    merged = ssa(live, two)
    names = [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]]
    assert names == ["injected", "first", "c"]
    assert merged["spec"]["template"]["spec"]["containers"][2]["ports"] == [{"containerPort": 80}]


def test_two_appliers_conflict_on_a_field_with_different_values():
    live = ssa(None, config(), manager="alice")
    with pytest.raises(PatchError) as caught:
        ssa(live, config(replicas=3), manager="bob")
    error = caught.value
    assert (error.code, error.reason) == (409, "Conflict")
    assert error.message == 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas'
    assert error.status()["details"] == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "alice"',
                "field": ".spec.replicas",
            }
        ]
    }


def test_force_takes_the_field_over():
    live = ssa(None, config(), manager="alice")
    forced = ssa(live, config(replicas=3), manager="bob", force=True)
    assert forced["spec"]["replicas"] == 3
    assert ".spec.replicas" not in owned(forced, "alice")
    assert ".spec.replicas" in owned(forced, "bob")


def test_the_same_value_is_shared_without_conflict():
    live = ssa(None, config(), manager="alice")
    shared = ssa(live, config(), manager="bob")
    assert ".spec.replicas" in owned(shared, "alice") & owned(shared, "bob")
    assert [e["manager"] for e in shared["metadata"]["managedFields"]] == ["alice", "bob"]


def test_a_conflict_with_an_update_manager_names_its_api_version():
    created = update_managed_fields(
        None, config(), "kubectl-client-side-apply", typedef=DEPLOYMENT, lookup=TYPES.get
    )
    with pytest.raises(PatchError) as caught:
        ssa(created, config(image="nginx:1.26", replicas=5))
    assert caught.value.message == (
        "Apply failed with 2 conflicts: "
        'conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="c"].image'
    )
    details: Any = caught.value.details
    fields = [c["field"] for c in details["causes"]]
    assert fields == [".spec.replicas", '.spec.template.spec.containers[name="c"].image']


def test_a_first_apply_to_an_unmanaged_object_conflicts_with_before_first_apply():
    with pytest.raises(PatchError) as caught:
        ssa(config(), config(replicas=3))
    assert 'conflict with "before-first-apply" using apps/v1' in caught.value.message
    assert ssa(config(), config())["spec"] == config()["spec"]


def test_fields_an_applier_stops_applying_are_removed_unless_someone_else_owns_them():
    first = config(revisionHistoryLimit=5)
    first["metadata"]["labels"]["tier"] = "web"
    first["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "s"})
    live = ssa(None, first, manager="alice")
    live = ssa(live, {**config(), "spec": {**config()["spec"], "revisionHistoryLimit": 5}}, "bob")
    released = ssa(live, config(), manager="alice")
    assert released["metadata"]["labels"] == {"app": "d"}
    names = [c["name"] for c in released["spec"]["template"]["spec"]["containers"]]
    assert names == ["c"]
    assert released["spec"]["revisionHistoryLimit"] == 5  # bob still applies it
    assert ".metadata.labels.tier" not in owned(released, "alice")


def test_a_field_taken_by_an_update_survives_its_applier_dropping_it():
    live = ssa(None, config(), manager="kubectl")
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    scaled = update_managed_fields(
        live, scaled, "kubectl-scale", typedef=DEPLOYMENT, lookup=TYPES.get
    )
    assert ".spec.replicas" not in owned(scaled, "kubectl")
    reapplied = ssa(scaled, config(replicas=None), now="T2")
    assert reapplied["spec"]["replicas"] == 5


def test_apply_with_a_null_removes_the_field_and_owns_it():
    live = ssa(None, config(), manager="alice")
    applied = config()
    applied["metadata"]["labels"]["app"] = None
    with pytest.raises(PatchError):
        ssa(live, applied, manager="bob")
    cleared = ssa(live, applied, manager="alice")
    assert "app" not in cleared["metadata"].get("labels", {})
    assert ".metadata.labels.app" in owned(cleared, "alice")


def test_sets_atomic_lists_and_the_status_subresource():
    applied = config(replicas=None)
    applied["metadata"]["finalizers"] = ["a/b"]
    pod_spec = applied["spec"]["template"]["spec"]
    pod_spec["tolerations"] = [{"key": "k", "operator": "Exists"}]
    pod_spec["containers"][0]["args"] = ["-v"]
    pod_spec["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    created = ssa(None, applied)
    fields = owned(created, "kubectl")
    assert '.metadata.finalizers[="a/b"]' in fields
    assert ".spec.template.spec.tolerations" in fields
    assert '.spec.template.spec.containers[name="c"].args' in fields
    assert '.spec.template.spec.containers[name="c"].resources.limits.cpu' in fields
    status = apply(
        created,
        {**applied, "status": {"replicas": 1}},
        "kcm",
        False,
        DEPLOYMENT,
        TYPES.get,
        subresource="status",
        now="T3",
    )
    entry = entries(status)["kcm"]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:replicas": {}}}


def test_bad_apply_configurations_are_400s():
    with_fields = config()
    with_fields["metadata"]["managedFields"] = []
    with pytest.raises(PatchError) as caught:
        ssa(None, with_fields)
    assert (caught.value.code, caught.value.message) == (400, "metadata.managedFields must be nil")
    with pytest.raises(PatchError) as caught:
        ssa(None, {**config(), "apiVersion": "apps/v1beta1"})
    assert caught.value.message == (
        "Incorrect version specified in apply patch. "
        "Specified patch version: apps/v1beta1, expected: apps/v1"
    )


def test_apply_modifies_neither_input():
    live = ssa(None, config(), manager="alice")
    live_copy, applied = copy.deepcopy(live), config(image="other")
    applied_copy = copy.deepcopy(applied)
    result = ssa(live, applied, manager="alice", now="T2")
    result["spec"]["template"]["spec"]["containers"][0]["image"] = "mutated"
    assert (live, applied) == (live_copy, applied_copy)


def test_without_a_typedef_objects_merge_and_lists_are_atomic():
    live = apply(None, {"spec": {"a": {"b": 1}, "l": [1, 2]}}, "m", False, None, TYPES.get, now="T")
    assert entries(live)["m"]["fieldsV1"] == {
        "f:spec": {".": {}, "f:a": {".": {}, "f:b": {}}, "f:l": {}}
    }
    merged = apply(live, {"spec": {"a": {"c": 2}, "l": [3]}}, "n", True, None, TYPES.get, now="T")
    assert merged["spec"] == {"a": {"b": 1, "c": 2}, "l": [3]}


# --- update_managed_fields ----------------------------------------------------------------


def update(old: Any, new: Any, manager: str, **kw: Any) -> dict[str, Any]:
    return update_managed_fields(
        old, new, manager, typedef=DEPLOYMENT, lookup=TYPES.get, now="U", **kw
    )


def test_create_records_an_update_entry_without_the_identity_or_status():
    created = update(None, {**config(), "status": {"replicas": 0}}, "kubectl-create")
    (entry,) = created["metadata"]["managedFields"]
    assert {k: entry[k] for k in ("manager", "operation", "apiVersion", "time")} == {
        "manager": "kubectl-create",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": "U",
    }
    fields = entry["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    assert "f:status" not in fields
    containers = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers[KEYED_C]["f:ports"][PORT_80] == {".": {}, "f:containerPort": {}}


def test_label_and_unlabel_move_ownership():
    created = update(None, config(), "kubectl-create")
    labeled = copy.deepcopy(created)
    labeled["metadata"]["labels"].update(app="e", env="dev")
    labeled = update(created, labeled, "kubectl-label")
    assert owned(labeled, "kubectl-label") == {".metadata.labels.app", ".metadata.labels.env"}
    assert ".metadata.labels.app" not in owned(labeled, "kubectl-create")
    unlabeled = copy.deepcopy(labeled)
    del unlabeled["metadata"]["labels"]["env"], unlabeled["metadata"]["labels"]["app"]
    unlabeled = update(labeled, unlabeled, "kubectl-label")
    assert "kubectl-label" not in entries(unlabeled)
    assert ".metadata.labels" in owned(unlabeled, "kubectl-create")


def test_an_update_that_changes_nothing_records_nothing():
    created = update(None, config(), "kubectl-create")
    assert update(created, copy.deepcopy(created), "someone") == created


def test_status_writes_own_status_only_and_main_writes_never_do():
    created = update(None, config(), "kubectl-create")
    status = {**copy.deepcopy(created), "status": {"replicas": 2}}
    status["spec"]["replicas"] = 9
    written = update(created, status, "kube-controller-manager", subresource="status")
    entry = entries(written)["kube-controller-manager"]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {".": {}, "f:replicas": {}}}
    assert ".spec.replicas" in owned(written, "kubectl-create")


def test_clients_can_reset_or_replace_managed_fields():
    created = update(None, config(), "kubectl-create")
    reset = copy.deepcopy(created)
    reset["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in update(created, reset, "x")["metadata"]
    mine = [
        {
            "manager": "m",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        }
    ]
    replaced = copy.deepcopy(created)
    replaced["metadata"]["managedFields"] = mine
    assert update(created, replaced, "x")["metadata"]["managedFields"] == mine


def test_fields_v1_round_trip():
    tree = {"f:a": {".": {}, "f:b": {}, KEYED_C: {".": {}, "f:x": {}}}, "f:c": {"f:d": {}}}
    paths = decode_fields(tree)
    assert paths == {
        ("f:a",),
        ("f:a", "f:b"),
        ("f:a", KEYED_C),
        ("f:a", KEYED_C, "f:x"),
        ("f:c", "f:d"),
    }
    assert encode_fields(paths) == tree
    assert path_text(("f:a", 'k:{"containerPort":80,"protocol":"TCP"}', 'v:"x"')) == (
        '.a[containerPort=80,protocol="TCP"][="x"]'
    )
