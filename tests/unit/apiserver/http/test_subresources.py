"""Subresources with verbs of their own: binding, eviction, scale, finalize, log."""

from __future__ import annotations

from typing import Any

from kin.testing.apiserver import Client

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"


def pod(name: str = "p", node: str = "") -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


def binding(name: str, node: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }


def deployment(name: str = "web", replicas: int = 2) -> Obj:
    labels = {"app": name, "tier": "front"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    }
    spec = {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}
    return {"metadata": {"name": name}, "spec": spec}


def test_binding_assigns_the_node_once(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.post(pods, pod())
    bound = api.post(f"{pods}/p/binding", binding("p", "node-a"))
    assert bound.status == 201, bound
    assert bound.json()["kind"] == "Status" and bound.json()["status"] == "Success"
    assert api.get(f"{pods}/p").json()["spec"]["nodeName"] == "node-a"
    again = api.post(f"{pods}/p/binding", binding("p", "node-b"))
    assert again.status == 409, again
    assert again.json()["reason"] == "Conflict"
    assert again.json()["message"] == (
        'Operation cannot be fulfilled on pods/binding "p": '
        'pod p is already assigned to node "node-a"'
    )
    assert api.get(f"{pods}/p").json()["spec"]["nodeName"] == "node-a"


def test_only_a_binding_sets_the_node(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.post(pods, pod())
    refused = api.patch(f"{pods}/p", {"spec": {"nodeName": "node-a"}}, MERGE)
    assert refused.status == 422, refused
    assert "pod updates may not change fields" in refused.json()["message"]
    assert "nodeName" not in api.get(f"{pods}/p").json()["spec"]
    api.post(f"{pods}/p/binding", binding("p", "node-a"))
    moved = api.patch(f"{pods}/p", {"spec": {"nodeName": "node-b"}}, MERGE)
    assert moved.status == 422, moved
    assert api.get(f"{pods}/p").json()["spec"]["nodeName"] == "node-a"


def test_the_bindings_collection_binds_too(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.post(pods, pod())
    bound = api.post(f"/api/v1/namespaces/{ns}/bindings", binding("p", "node-b"))
    assert bound.status == 201, bound
    assert api.get(f"{pods}/p").json()["spec"]["nodeName"] == "node-b"
    assert api.post(f"/api/v1/namespaces/{ns}/bindings", binding("p", "node-c")).status == 409


def test_a_pod_being_deleted_cannot_be_bound(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    held = pod()
    held["metadata"]["finalizers"] = ["example.com/hold"]
    api.post(pods, held)
    api.delete(f"{pods}/p")
    refused = api.post(f"{pods}/p/binding", binding("p", "node-a"))
    assert refused.status == 409, refused
    assert refused.json()["message"] == (
        'Operation cannot be fulfilled on pods/binding "p": '
        "pod p is being deleted, cannot be assigned to a host"
    )
    api.patch(f"{pods}/p", {"metadata": {"finalizers": None}}, MERGE)


def test_binding_a_missing_pod_is_404(api: Client, ns: str) -> None:
    refused = api.post(f"/api/v1/namespaces/{ns}/pods/ghost/binding", binding("ghost", "n"))
    assert refused.status == 404, refused
    assert refused.json()["message"] == 'pods "ghost" not found'


def test_a_binding_must_name_the_pod_on_the_url(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.post(pods, pod("p"))
    api.post(pods, pod("q"))
    refused = api.post(f"{pods}/p/binding", binding("q", "node-a"))
    assert refused.status == 400, refused
    assert "nodeName" not in api.get(f"{pods}/p").json()["spec"]
    assert "nodeName" not in api.get(f"{pods}/q").json()["spec"]


def test_a_binding_needs_a_target(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.post(pods, pod())
    refused = api.post(f"{pods}/p/binding", {"metadata": {"name": "p"}, "target": {}})
    assert refused.status == 422, refused


def test_eviction_deletes_the_pod(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.post(pods, pod("loose"))
    api.post(pods, pod("bound", node="node-a"))
    for name in ("loose", "bound"):
        eviction = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": ns},
        }
        evicted = api.post(f"{pods}/{name}/eviction", eviction)
        assert evicted.status == 201, evicted
        assert evicted.json()["status"] == "Success"
    assert api.get(f"{pods}/loose").status == 404
    assert api.get(f"{pods}/bound").json()["metadata"]["deletionTimestamp"]
    now = {"metadata": {"name": "bound"}, "deleteOptions": {"gracePeriodSeconds": 0}}
    assert api.post(f"{pods}/bound/eviction", now).status == 201
    assert api.get(f"{pods}/bound").status == 404


def test_an_eviction_must_name_the_pod_on_the_url(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.post(pods, pod("p"))
    refused = api.post(f"{pods}/p/eviction", {"metadata": {"name": "q"}})
    assert refused.status == 400, refused
    assert refused.json()["message"] == "name in URL does not match name in Eviction object"
    assert api.get(f"{pods}/p").status == 200


def test_evicting_a_missing_pod_is_404(api: Client, ns: str) -> None:
    refused = api.post(
        f"/api/v1/namespaces/{ns}/pods/ghost/eviction", {"metadata": {"name": "ghost"}}
    )
    assert refused.status == 404, refused


def test_scale_shows_a_deployment_as_an_autoscaling_v1_scale(api: Client, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    created = api.post(path, deployment()).json()
    scale = api.get(f"{path}/web/scale")
    assert scale.status == 200, scale
    body = scale.json()
    assert (body["kind"], body["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert body["metadata"]["name"] == "web" and body["metadata"]["namespace"] == ns
    assert body["metadata"]["uid"] == created["metadata"]["uid"]
    assert body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert body["spec"] == {"replicas": 2}
    assert body["status"]["replicas"] == 0
    assert body["status"]["selector"] == "app=web,tier=front"


def test_put_and_merge_patch_on_scale_change_replicas_only(api: Client, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    api.post(path, deployment())
    scale = api.get(f"{path}/web/scale").json()
    scale["spec"]["replicas"] = 5
    put = api.put(f"{path}/web/scale", scale)
    assert put.status == 200, put
    assert put.json()["spec"]["replicas"] == 5
    assert api.get(f"{path}/web").json()["spec"]["replicas"] == 5
    patched = api.patch(f"{path}/web/scale", {"spec": {"replicas": 0}}, MERGE)
    assert patched.status == 200, patched
    assert patched.json()["spec"]["replicas"] == 0
    stored = api.get(f"{path}/web").json()
    assert stored["spec"]["replicas"] == 0
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert stored["metadata"]["generation"] == 3


def test_scale_with_a_stale_resource_version_is_409(api: Client, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    api.post(path, deployment())
    scale = api.get(f"{path}/web/scale").json()
    api.patch(f"{path}/web", {"metadata": {"labels": {"a": "b"}}}, MERGE)
    scale["spec"]["replicas"] = 4
    refused = api.put(f"{path}/web/scale", scale)
    assert refused.status == 409, refused
    assert api.get(f"{path}/web").json()["spec"]["replicas"] == 2


def test_negative_replicas_are_422(api: Client, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    api.post(path, deployment())
    scale = api.get(f"{path}/web/scale").json()
    scale["spec"]["replicas"] = -1
    for refused in (
        api.put(f"{path}/web/scale", scale),
        api.patch(f"{path}/web/scale", {"spec": {"replicas": -3}}, MERGE),
    ):
        assert refused.status == 422, refused
        status = refused.json()
        assert status["reason"] == "Invalid"
        assert status["details"]["causes"][0]["field"] == "spec.replicas"
    assert api.get(f"{path}/web").json()["spec"]["replicas"] == 2


def test_scale_of_a_missing_deployment_is_404(api: Client, ns: str) -> None:
    refused = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/ghost/scale")
    assert refused.status == 404, refused
    assert refused.json()["message"] == 'deployments.apps "ghost" not found'


def test_replicasets_scale_too(api: Client, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/replicasets"
    api.post(path, deployment("rs"))
    patched = api.patch(f"{path}/rs/scale", {"spec": {"replicas": 7}}, MERGE)
    assert patched.status == 200, patched
    assert api.get(f"{path}/rs").json()["spec"]["replicas"] == 7


def test_finalize_replaces_a_namespace_s_finalizers(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}"
    current = api.get(path).json()
    assert current["spec"]["finalizers"] == ["kubernetes"]
    current["spec"]["finalizers"] = []
    finalized = api.put(f"{path}/finalize", current)
    assert finalized.status == 200, finalized
    assert api.get(path).json()["spec"].get("finalizers") in (None, [])
    assert api.get(path).json()["status"]["phase"] == "Active"


def test_log_of_an_unscheduled_pod_is_400(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.post(pods, pod())
    refused = api.get(f"{pods}/p/log", accept="*/*")
    assert refused.status == 400, refused
    assert refused.json()["message"] == "pod p does not have a host assigned"


def test_log_on_a_missing_node_is_404(api: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.post(pods, pod(node="no-such-node"))
    refused = api.get(f"{pods}/p/log", accept="*/*")
    assert refused.status == 404, refused
    assert refused.json()["message"] == 'nodes "no-such-node" not found'


def test_log_from_an_unreachable_kubelet_is_an_error_that_says_so(api: Client, ns: str) -> None:
    from kin.testing.etcd import free_port
    from kin.testing.names import random_name

    node = random_name("node")
    status = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": free_port()}},
    }
    assert api.post("/api/v1/nodes", {"metadata": {"name": node}, "status": status}).status == 201
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.post(pods, pod(node=node))
    refused = api.get(f"{pods}/p/log", accept="*/*")
    assert refused.status >= 500, refused
    assert "error dialing backend" in refused.json()["message"]
    api.delete(f"/api/v1/nodes/{node}")


def test_log_of_a_missing_pod_is_404(api: Client, ns: str) -> None:
    refused = api.get(f"/api/v1/namespaces/{ns}/pods/ghost/log", accept="*/*")
    assert refused.status == 404, refused


def test_status_of_a_node_is_its_own_subresource(api: Client) -> None:
    from kin.testing.names import random_name

    name = random_name("node")
    node = {"metadata": {"name": name}, "status": {"capacity": {"cpu": "2"}}}
    created = api.post("/api/v1/nodes", node)
    assert created.status == 201, created
    assert created.json()["status"]["capacity"] == {"cpu": "2"}  # a kubelet registers with it
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    patched = api.patch(f"/api/v1/nodes/{name}/status", ready, MERGE)
    assert patched.status == 200, patched
    assert api.get(f"/api/v1/nodes/{name}").json()["status"]["conditions"][0]["type"] == "Ready"
    assert api.delete(f"/api/v1/nodes/{name}").status == 200


def test_node_status_may_change_labels_and_annotations_but_not_the_spec(api: Client) -> None:
    """kube's node status strategy keeps only the spec: flanneld (allowed nodes/status
    patch, not nodes) publishes its backend annotations this way."""
    from kin.testing.names import random_name

    name = random_name("node")
    node = {"metadata": {"name": name}, "spec": {"podCIDR": "10.244.3.0/24"}}
    assert api.post("/api/v1/nodes", node).status == 201
    patch = {"metadata": {"annotations": {"flannel.alpha.coreos.com/backend-type": "vxlan"},
                          "labels": {"kin": "yes"}},
             "spec": {"podCIDR": "10.244.9.0/24"}}  # fmt: skip
    assert api.patch(f"/api/v1/nodes/{name}/status", patch, MERGE).status == 200
    stored = api.get(f"/api/v1/nodes/{name}").json()
    assert stored["metadata"]["annotations"] == {"flannel.alpha.coreos.com/backend-type": "vxlan"}
    assert stored["metadata"]["labels"] == {"kin": "yes"}
    assert stored["spec"]["podCIDR"] == "10.244.3.0/24"
    assert api.delete(f"/api/v1/nodes/{name}").status == 200
