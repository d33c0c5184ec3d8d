"""``kubectl delete`` as kube-apiserver answers it: unbound pods go at once, pods on a node
wait for their kubelet (simulated here with the HTTP client), ``--force``, selectors,
dependents, and namespaces that terminate with everything in them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kin.testing.apiserver import Client
from kin.testing.names import random_name

if TYPE_CHECKING:
    from tests.e2e.apiserver.conftest import Kubectl

Stored = Callable[[str], Any]
Eventually = Callable[..., Any]
Table = Callable[[str], list[dict[str, str]]]
FORCE_WARNING = (
    "Warning: Immediate deletion does not wait for confirmation that the running resource "
    "has been terminated. The resource may continue to run on the cluster indefinitely.\n"
)


def bound_pod(k: Kubectl, name: str, node: str, **labels: str) -> None:
    """A pod already scheduled to ``node``, as the scheduler's binding leaves it."""
    overrides = json.dumps({"spec": {"nodeName": node}})
    args = ["run", name, "--image=nginx:1.25", f"--overrides={overrides}"]
    if labels:
        args.append("--labels=" + ",".join(f"{k}={v}" for k, v in labels.items()))
    k(*args)


def kubelet_deletes(api: Client, namespace: str, name: str) -> None:
    """The kubelet's last word on a pod whose containers are gone: DELETE with grace 0."""
    path = f"/api/v1/namespaces/{namespace}/pods/{name}"
    reply = api.delete(path, {"gracePeriodSeconds": 0})
    assert reply.status == 200, reply


def test_delete_unbound_pod_goes_at_once(k: Kubectl, namespace: str, api: Client) -> None:
    k("run", "r1", "--image=nginx:1.25")
    started = time.monotonic()
    assert k("delete", "pod", "r1").stdout == 'pod "r1" deleted\n'
    assert time.monotonic() - started < 5.0
    assert api.get(f"/api/v1/namespaces/{namespace}/pods/r1").status == 404


def test_delete_bound_pod_waits_for_the_kubelet(
    k: Kubectl, namespace: str, node: str, api: Client, stored: Stored
) -> None:
    bound_pod(k, "r1", node)
    path = f"/api/v1/namespaces/{namespace}/pods/r1"
    with k.start("delete", "pod", "r1") as deleting:
        assert deleting.next() == 'pod "r1" deleted'  # said at once; then it waits
        pod = stored(path)
        assert pod["metadata"]["deletionTimestamp"]
        assert pod["metadata"]["deletionGracePeriodSeconds"] == 30
        assert k("get", "pod", "r1", "-o", "jsonpath={.metadata.name}").stdout == "r1"
        time.sleep(1.0)
        assert deleting.proc.poll() is None, "kubectl waits for the pod to be gone"

        kubelet_deletes(api, namespace, "r1")
        assert deleting.wait() == 0
        assert deleting.quiet(0.1), "nothing more to say"
    assert api.get(path).status == 404


def test_delete_bound_pod_without_waiting_shows_terminating(
    k: Kubectl, namespace: str, node: str, api: Client, table: Table
) -> None:
    bound_pod(k, "r1", node)
    assert k("delete", "pod", "r1", "--wait=false").stdout == 'pod "r1" deleted\n'
    (row,) = table(k("get", "pods").stdout)
    assert (row["NAME"], row["STATUS"]) == ("r1", "Terminating")
    again = k("delete", "pod", "r1", "--wait=false")
    assert again.returncode == 0, "deleting a terminating pod again is fine"
    kubelet_deletes(api, namespace, "r1")
    assert api.get(f"/api/v1/namespaces/{namespace}/pods/r1").status == 404


def test_delete_force_skips_the_kubelet(k: Kubectl, namespace: str, node: str, api: Client) -> None:
    bound_pod(k, "r1", node)
    done = k("delete", "pod", "r1", "--grace-period=0", "--force")
    assert done.stdout == 'pod "r1" force deleted\n'
    assert done.stderr == FORCE_WARNING
    assert api.get(f"/api/v1/namespaces/{namespace}/pods/r1").status == 404


def test_delete_by_label_selector(k: Kubectl, namespace: str, api: Client) -> None:
    for name, app in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        k("run", name, "--image=nginx:1.25", f"--labels=app={app}")
    done = k("delete", "pods", "-l", "app=a")
    assert sorted(done.stdout.splitlines()) == ['pod "a1" deleted', 'pod "a2" deleted']
    names = [
        p["metadata"]["name"]
        for p in api.get(f"/api/v1/namespaces/{namespace}/pods").json()["items"]
    ]
    assert names == ["b1"]
    nothing = k("delete", "pods", "-l", "app=a")
    assert nothing.stdout == "No resources found\n"


def test_delete_deployment_takes_its_replicasets(
    k: Kubectl, namespace: str, api: Client, stored: Stored, eventually: Eventually
) -> None:
    k("create", "deployment", "d1", "--image=nginx:1.25")
    owner = stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/d1")["metadata"]
    replicaset = {
        "metadata": {
            "name": "d1-abc",
            "labels": {"app": "d1"},
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "Deployment", "name": "d1",
                "uid": owner["uid"], "controller": True, "blockOwnerDeletion": True,
            }],
        },
        "spec": {
            "selector": {"matchLabels": {"app": "d1"}},
            "template": {
                "metadata": {"labels": {"app": "d1"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]},
            },
        },
    }  # fmt: skip
    made = api.post(f"/apis/apps/v1/namespaces/{namespace}/replicasets", replicaset)
    assert made.status == 201, made
    assert k("delete", "deployment", "d1").stdout == 'deployment.apps "d1" deleted\n'
    assert api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/d1").status == 404
    rs_path = f"/apis/apps/v1/namespaces/{namespace}/replicasets/d1-abc"
    eventually(lambda: api.get(rs_path).status == 404)


def test_delete_missing_object(k: Kubectl) -> None:
    missing = k("delete", "pod", "nope", check=False)
    assert missing.returncode == 1
    assert missing.stderr == 'Error from server (NotFound): pods "nope" not found\n'
    assert k("delete", "pod", "nope", "--ignore-not-found").stdout == ""


# -- namespaces --------------------------------------------------------------------------------


def test_namespace_terminates_with_its_contents(
    kubectl: Kubectl, api: Client, node: str, table: Table, eventually: Eventually
) -> None:
    name = random_name("kt")
    assert kubectl("create", "namespace", name).stdout == f"namespace/{name} created\n"
    inside = kubectl.within(name)
    try:
        inside("create", "configmap", "c1", "--from-literal=a=1")
        inside("run", "loose", "--image=nginx:1.25")
        bound_pod(inside, "held", node)

        done = kubectl("delete", "namespace", name, "--wait=false")
        assert done.stdout == f'namespace "{name}" deleted\n'
        (row,) = table(kubectl("get", "namespace", name).stdout)
        assert (row["NAME"], row["STATUS"]) == (name, "Terminating")
        stored_ns = api.get(f"/api/v1/namespaces/{name}").json()
        assert stored_ns["status"]["phase"] == "Terminating"
        assert stored_ns["metadata"]["deletionTimestamp"]

        base = f"/api/v1/namespaces/{name}"
        eventually(lambda: api.get(f"{base}/configmaps/c1").status == 404)
        eventually(lambda: api.get(f"{base}/pods/loose").status == 404)
        held = api.get(f"{base}/pods/held").json()
        assert held["metadata"]["deletionTimestamp"], "the bound pod waits for its kubelet"

        refused = inside("create", "configmap", "c2", "--from-literal=a=1", check=False)
        assert refused.returncode == 1
        assert refused.stderr == (
            'error: failed to create configmap: configmaps "c2" is forbidden: unable to create '
            f"new content in namespace {name} because it is being terminated\n"
        )

        kubelet_deletes(api, name, "held")
        eventually(lambda: api.get(base).status == 404)
        gone = kubectl("get", "namespace", name, check=False)
        assert gone.stderr == f'Error from server (NotFound): namespaces "{name}" not found\n'
    finally:
        api.delete(f"/api/v1/namespaces/{name}/pods/held", {"gracePeriodSeconds": 0})
        api.delete(f"/api/v1/namespaces/{name}")


def test_delete_namespace_waits_until_gone(kubectl: Kubectl, api: Client) -> None:
    name = random_name("kt")
    kubectl("create", "namespace", name)
    kubectl.within(name)("create", "configmap", "c1", "--from-literal=a=1")
    assert kubectl("delete", "namespace", name).stdout == f'namespace "{name}" deleted\n'
    assert api.get(f"/api/v1/namespaces/{name}").status == 404
    assert api.get(f"/api/v1/namespaces/{name}/configmaps/c1").status == 404
