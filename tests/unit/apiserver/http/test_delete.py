"""DELETE: preconditions, dry runs, graceful pods, finalizers, propagation to dependents,
namespace termination, and deletecollection."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from kin.testing.apiserver import Client

Obj = dict[str, Any]
Eventually = Callable[..., Any]
MERGE = "application/merge-patch+json"


def configmap(name: str, owner: Obj | None = None, **metadata: Any) -> Obj:
    body: Obj = {"metadata": {"name": name, **metadata}, "data": {}}
    if owner is not None:
        ref = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
        }
        body["metadata"]["ownerReferences"] = [ref]
    return body


def pod(name: str, node: str = "", grace: int | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"metadata": {"name": name}, "spec": spec}


def gone(api: Client, path: str) -> Callable[[], bool]:
    return lambda: api.get(path).status == 404


def test_a_uid_precondition_that_does_not_hold_is_409(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    uid = api.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("cfg")).json()["metadata"][
        "uid"
    ]
    refused = api.delete(path, {"preconditions": {"uid": "not-the-uid"}})
    assert refused.status == 409, refused
    assert refused.json()["message"] == (
        'Operation cannot be fulfilled on configmaps "cfg": Precondition failed: '
        f"UID in precondition: not-the-uid, UID in object meta: {uid}"
    )
    assert api.get(path).status == 200
    assert api.delete(path, {"preconditions": {"uid": uid}}).status == 200
    assert api.get(path).status == 404


def test_a_resource_version_precondition_that_does_not_hold_is_409(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    created = api.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("cfg")).json()
    changed = api.patch(path, {"data": {"a": "b"}}, MERGE).json()
    stale = {"preconditions": {"resourceVersion": created["metadata"]["resourceVersion"]}}
    refused = api.delete(path, stale)
    assert refused.status == 409, refused
    assert "Precondition failed: ResourceVersion in precondition" in refused.json()["message"]
    current = {"preconditions": {"resourceVersion": changed["metadata"]["resourceVersion"]}}
    assert api.delete(path, current).status == 200


def test_deleting_a_missing_object_is_404(api: Client, ns: str) -> None:
    refused = api.delete(f"/api/v1/namespaces/{ns}/configmaps/ghost")
    assert refused.status == 404, refused
    assert refused.json()["message"] == 'configmaps "ghost" not found'


def test_dry_run_deletes_nothing(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    api.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("cfg"))
    assert api.delete(path + "?dryRun=All").status == 200
    assert api.delete(path, {"dryRun": ["All"]}).status == 200
    assert api.get(path).status == 200
    bound = f"/api/v1/namespaces/{ns}/pods/p"
    api.post(f"/api/v1/namespaces/{ns}/pods", pod("p", node="node-a"))
    assert api.delete(bound + "?dryRun=All").status == 200
    assert "deletionTimestamp" not in api.get(bound).json()["metadata"]


def test_a_bound_pod_is_deleted_gracefully(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods/p"
    api.post(f"/api/v1/namespaces/{ns}/pods", pod("p", node="node-a"))
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    marked = api.delete(path)
    assert marked.status == 200, marked
    metadata = api.get(path).json()["metadata"]
    assert metadata["deletionGracePeriodSeconds"] == 30
    deadline = datetime.datetime.fromisoformat(metadata["deletionTimestamp"].replace("Z", "+00:00"))
    assert before + datetime.timedelta(seconds=29) <= deadline
    assert deadline <= before + datetime.timedelta(seconds=32)
    assert marked.json()["metadata"]["deletionTimestamp"] == metadata["deletionTimestamp"]
    shorter = api.delete(path + "?gracePeriodSeconds=5")
    assert shorter.status == 200, shorter
    assert api.get(path).json()["metadata"]["deletionGracePeriodSeconds"] == 5
    assert api.delete(path + "?gracePeriodSeconds=0").status == 200
    assert api.get(path).status == 404


def test_a_pod_s_own_grace_period_is_its_default(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods/p"
    api.post(f"/api/v1/namespaces/{ns}/pods", pod("p", node="node-a", grace=7))
    api.delete(path)
    assert api.get(path).json()["metadata"]["deletionGracePeriodSeconds"] == 7
    assert api.delete(path, {"gracePeriodSeconds": 0}).status == 200
    assert api.get(path).status == 404


def test_an_unbound_pod_is_removed_at_once(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods/p"
    api.post(f"/api/v1/namespaces/{ns}/pods", pod("p"))
    assert api.delete(path).status == 200
    assert api.get(path).status == 404


def test_a_finished_pod_is_removed_at_once(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods/p"
    api.post(f"/api/v1/namespaces/{ns}/pods", pod("p", node="node-a"))
    api.patch(path + "/status", {"status": {"phase": "Succeeded"}}, MERGE)
    assert api.delete(path).status == 200
    assert api.get(path).status == 404


def test_finalizers_keep_an_object_until_the_last_one_goes(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    held = configmap("cfg", finalizers=["example.com/a", "example.com/b"])
    api.post(f"/api/v1/namespaces/{ns}/configmaps", held)
    marked = api.delete(path)
    assert marked.status == 200, marked
    stored = api.get(path).json()
    assert stored["metadata"]["deletionTimestamp"]
    assert stored["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]
    again = api.delete(path)
    assert again.status == 200 and api.get(path).status == 200
    one = api.patch(path, {"metadata": {"finalizers": ["example.com/b"]}}, MERGE)
    assert one.status == 200, one
    assert api.get(path).json()["metadata"]["finalizers"] == ["example.com/b"]
    last = api.patch(path, {"metadata": {"finalizers": []}}, MERGE)
    assert last.status == 200, last
    assert api.get(path).status == 404


def test_a_client_cannot_set_or_clear_deletion_fields(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    api.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("cfg", finalizers=["example.com/a"]))
    sneaky = {"metadata": {"deletionTimestamp": "2020-01-01T00:00:00Z"}}
    assert api.patch(path, sneaky, MERGE).status == 200
    assert "deletionTimestamp" not in api.get(path).json()["metadata"]
    api.delete(path)
    clear = {"metadata": {"deletionTimestamp": None}}
    api.patch(path, clear, MERGE)
    assert api.get(path).json()["metadata"]["deletionTimestamp"]
    api.patch(path, {"metadata": {"finalizers": None}}, MERGE)
    assert api.get(path).status == 404


def test_background_propagation_deletes_dependents(
    api: Client, ns: str, eventually: Eventually
) -> None:
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    owner = api.post(cms, configmap("owner")).json()
    for name in ("dep-1", "dep-2"):
        assert api.post(cms, configmap(name, owner)).status == 201
    api.post(cms, configmap("bystander"))
    deleted = api.delete(f"{cms}/owner", {"propagationPolicy": "Background"})
    assert deleted.status == 200, deleted
    assert api.get(f"{cms}/owner").status == 404
    eventually(gone(api, f"{cms}/dep-1"))
    eventually(gone(api, f"{cms}/dep-2"))
    assert api.get(f"{cms}/bystander").status == 200


def test_background_is_the_default(api: Client, ns: str, eventually: Eventually) -> None:
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    owner = api.post(cms, configmap("owner")).json()
    api.post(cms, configmap("dep", owner))
    api.delete(f"{cms}/owner")
    eventually(gone(api, f"{cms}/dep"))


def test_orphan_propagation_keeps_dependents_without_the_owner_reference(
    api: Client, ns: str, eventually: Eventually
) -> None:
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    owner = api.post(cms, configmap("owner")).json()
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "other-uid"}
    dep = configmap("dep", owner)
    dep["metadata"]["ownerReferences"].append(other)
    api.post(cms, dep)
    marked = api.delete(f"{cms}/owner", {"propagationPolicy": "Orphan"})
    assert marked.status == 200, marked
    eventually(gone(api, f"{cms}/owner"))
    kept = api.get(f"{cms}/dep").json()
    assert kept["metadata"]["ownerReferences"] == [other]
    assert "deletionTimestamp" not in kept["metadata"]


def test_foreground_propagation_keeps_the_owner_until_dependents_are_gone(
    api: Client, ns: str, eventually: Eventually
) -> None:
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    owner = api.post(cms, configmap("owner")).json()
    api.post(cms, configmap("dep", owner))
    api.post(cms, configmap("held", owner, finalizers=["example.com/hold"]))
    marked = api.delete(f"{cms}/owner", {"propagationPolicy": "Foreground"})
    assert marked.status == 200, marked
    metadata = marked.json()["metadata"]
    assert metadata["deletionTimestamp"] and "foregroundDeletion" in metadata["finalizers"]
    eventually(gone(api, f"{cms}/dep"))
    eventually(lambda: api.get(f"{cms}/held").json()["metadata"].get("deletionTimestamp"))
    stored = api.get(f"{cms}/owner").json()["metadata"]
    assert stored["finalizers"] == ["foregroundDeletion"]
    api.patch(f"{cms}/held", {"metadata": {"finalizers": None}}, MERGE)
    eventually(gone(api, f"{cms}/owner"))


def test_a_namespace_terminates_empties_and_goes(
    api: Client, ns: str, eventually: Eventually
) -> None:
    base = f"/api/v1/namespaces/{ns}"
    api.post(f"{base}/configmaps", configmap("plain"))
    api.post(f"{base}/configmaps", configmap("held", finalizers=["example.com/hold"]))
    api.post(f"{base}/pods", pod("running", node="node-a"))
    api.post(f"{base}/secrets", {"metadata": {"name": "s"}})
    deleted = api.delete(base)
    assert deleted.status == 200, deleted
    terminating = api.get(base).json()
    assert terminating["status"]["phase"] == "Terminating"
    assert terminating["metadata"]["deletionTimestamp"]
    eventually(gone(api, f"{base}/configmaps/plain"))
    eventually(gone(api, f"{base}/secrets/s"))
    eventually(lambda: api.get(f"{base}/pods/running").json()["metadata"].get("deletionTimestamp"))
    assert api.get(base).status == 200  # the pod and the held configmap keep it
    api.delete(f"{base}/pods/running?gracePeriodSeconds=0")
    api.patch(f"{base}/configmaps/held", {"metadata": {"finalizers": None}}, MERGE)
    eventually(gone(api, base))


def test_deleting_a_terminating_namespace_again_is_fine(api: Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}"
    api.post(f"{base}/configmaps", configmap("held", finalizers=["example.com/hold"]))
    first = api.delete(base).json()["metadata"]["deletionTimestamp"]
    again = api.delete(base)
    assert again.status == 200, again
    assert again.json()["metadata"]["deletionTimestamp"] == first
    api.patch(f"{base}/configmaps/held", {"metadata": {"finalizers": None}}, MERGE)


def test_deletecollection_with_a_label_selector(api: Client, ns: str) -> None:
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    for name, labels in (("a", {"app": "x"}), ("b", {"app": "x"}), ("c", {"app": "y"})):
        api.post(cms, configmap(name, labels=labels))
    deleted = api.delete(f"{cms}?labelSelector=app%3Dx")
    assert deleted.status == 200, deleted
    assert deleted.json()["kind"] == "ConfigMapList"
    remaining = [i["metadata"]["name"] for i in api.get(cms).json()["items"]]
    assert remaining == ["c"]


def test_deletecollection_dry_run_deletes_nothing(api: Client, ns: str) -> None:
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(cms, configmap("a"))
    assert api.delete(f"{cms}?dryRun=All").status == 200
    assert [i["metadata"]["name"] for i in api.get(cms).json()["items"]] == ["a"]


def test_no_finalizer_may_be_added_once_deletion_began(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    api.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("cfg", finalizers=["example.com/a"]))
    api.delete(path)
    more = {"metadata": {"finalizers": ["example.com/a", "example.com/b"]}}
    refused = api.patch(path, more, MERGE)
    assert refused.status == 422, refused
    [cause] = refused.json()["details"]["causes"]
    assert cause == {
        "reason": "FieldValueForbidden",
        "field": "metadata.finalizers",
        "message": "Forbidden: no new finalizers can be added if the object is being deleted, "
        'found new finalizers []string{"example.com/b"}',
    }
    assert api.get(path).json()["metadata"]["finalizers"] == ["example.com/a"]
    api.patch(path, {"metadata": {"finalizers": None}}, MERGE)
    assert api.get(path).status == 404


def test_a_graceful_pod_with_finalizers_goes_after_grace_0_and_the_last_finalizer(
    api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/pods/p"
    held = pod("p", node="node-a")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    api.post(f"/api/v1/namespaces/{ns}/pods", held)
    assert api.delete(path).json()["metadata"]["deletionGracePeriodSeconds"] == 30
    finished = api.delete(path + "?gracePeriodSeconds=0")  # its kubelet is done with it
    assert finished.status == 200, finished
    assert api.get(path).json()["metadata"]["deletionGracePeriodSeconds"] == 0
    assert api.patch(path, {"metadata": {"finalizers": None}}, MERGE).status == 200
    assert api.get(path).status == 404


def test_a_graceful_pod_without_finalizers_still_waits_for_its_kubelet(
    api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/pods/p"
    held = pod("p", node="node-a")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    api.post(f"/api/v1/namespaces/{ns}/pods", held)
    api.delete(path)
    assert api.patch(path, {"metadata": {"finalizers": None}}, MERGE).status == 200
    assert api.get(path).json()["metadata"]["deletionGracePeriodSeconds"] == 30
    assert api.delete(path + "?gracePeriodSeconds=0").status == 200
    assert api.get(path).status == 404


def test_the_system_namespaces_may_not_be_deleted(api: Client) -> None:
    for name in ("default", "kube-system", "kube-public"):
        refused = api.delete(f"/api/v1/namespaces/{name}")
        assert refused.status == 403, (name, refused)
        assert refused.json()["message"] == (
            f'namespaces "{name}" is forbidden: this namespace may not be deleted'
        )
        namespace = api.get(f"/api/v1/namespaces/{name}").json()
        assert namespace["status"]["phase"] == "Active"
        assert "deletionTimestamp" not in namespace["metadata"]


def test_an_unknown_propagation_policy_is_422_and_deletes_nothing(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    api.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("cfg"))
    refused = api.delete(path + "?propagationPolicy=Sideways")
    assert refused.status == 422, refused
    assert refused.json()["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
        '"Sideways": supported values: "Foreground", "Background", "Orphan", "nil"'
    )
    both = {"propagationPolicy": "Orphan", "orphanDependents": True}
    assert api.delete(path, both).status == 422
    assert api.get(path).status == 200


def test_a_negative_grace_period_means_one_second(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods/p"
    api.post(f"/api/v1/namespaces/{ns}/pods", pod("p", node="node-a"))
    marked = api.delete(path + "?gracePeriodSeconds=-5")
    assert marked.status == 200, marked
    assert api.get(path).json()["metadata"]["deletionGracePeriodSeconds"] == 1
