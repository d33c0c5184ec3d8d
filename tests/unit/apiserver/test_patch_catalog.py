"""The patches against kin's real catalog of built-in types, as the server runs them:
what kubectl sends for pods, nodes, services and deployments, with the patch tags the
catalog declares (not ones a test made up)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kin.apiserver.patch import PatchError, apply, strategic_merge_patch, update_managed_fields
from kin.apiserver.schema import catalog

POD = catalog.for_gvk("", "v1", "Pod")
NODE = catalog.for_gvk("", "v1", "Node")
SERVICE = catalog.for_gvk("", "v1", "Service")
DEPLOYMENT = catalog.for_gvk("apps", "v1", "Deployment")


def smp(obj: dict[str, Any], patch: Any, typedef: Any = POD) -> dict[str, Any]:
    return strategic_merge_patch(obj, patch, typedef, catalog.lookup)


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"app": "p"}},
        "spec": {"containers": list(containers), "restartPolicy": "Always", **spec},
        "status": {"phase": "Running"},
    }


def test_the_catalog_has_the_types():
    assert None not in (POD, NODE, SERVICE, DEPLOYMENT)


def test_one_container_of_two_changes_by_name_the_other_stays():
    web = {"name": "web", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}]}
    side = {"name": "side", "image": "busybox", "args": ["sleep", "1d"]}
    patch = {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}
    patched = smp(pod(web, side), patch)
    assert patched["spec"]["containers"] == [{**web, "image": "nginx:1.26"}, side]
    assert patched["status"] == {"phase": "Running"}


def test_env_ports_mounts_and_volumes_use_the_catalog_keys():
    live = pod(
        {
            "name": "web",
            "image": "i",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        },
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "env": [{"name": "B", "value": "two"}],
                    "ports": [{"containerPort": 443, "protocol": "TCP"}],
                    "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
                }
            ],
            "volumes": [
                {"name": "data", "$retainKeys": ["name", "configMap"], "configMap": {"name": "c"}}
            ],
        }
    }
    patched = smp(live, patch)
    container = patched["spec"]["containers"][0]
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "two"}]
    assert [p["containerPort"] for p in container["ports"]] == [443, 80]
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]
    assert patched["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "c"}}]


def test_tolerations_are_atomic_and_pod_conditions_merge_by_type():
    live = pod({"name": "c", "image": "i"}, tolerations=[{"key": "a", "operator": "Exists"}])
    live["status"]["conditions"] = [
        {"type": "Ready", "status": "False"},
        {"type": "PodScheduled", "status": "True"},
    ]
    patch = {
        "spec": {"tolerations": [{"key": "b", "operator": "Exists"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    patched = smp(live, patch)
    assert patched["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    assert patched["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
    ]


def test_taint_cordon_and_untaint_a_node():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}, "spec": {}}
    taint = {"effect": "NoSchedule", "key": "dedicated", "value": "gpu"}
    tainted = smp(node, {"spec": {"taints": [taint]}}, NODE)
    cordoned = smp(tainted, {"spec": {"unschedulable": True}}, NODE)
    assert cordoned["spec"] == {"taints": [taint], "unschedulable": True}
    assert smp(cordoned, {"spec": {"taints": None}}, NODE)["spec"] == {"unschedulable": True}


def test_service_ports_merge_by_port():
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
    }
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
    assert smp(svc, patch, SERVICE)["spec"]["ports"] == [
        {"port": 80, "targetPort": 9090, "protocol": "TCP"}
    ]


def deployment(image: str = "nginx:1.25", replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default", "labels": {"app": "d"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {
                    "containers": [{"name": "c", "image": image, "ports": [{"containerPort": 80}]}]
                },
            },
        },
    }


def ssa(live: Any, applied: Any, manager: str = "kubectl", force: bool = False) -> Any:
    return apply(live, applied, manager, force, DEPLOYMENT, catalog.lookup, now="T")


def test_server_side_apply_of_a_deployment_records_kubernetes_fields_v1():
    created = ssa(None, deployment())
    (entry,) = created["metadata"]["managedFields"]
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"c"}': {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":80,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                }
                            },
                        }
                    }
                },
            },
        },
    }


def test_server_side_apply_after_client_side_apply_conflicts_until_forced():
    live = update_managed_fields(
        None,
        deployment(),
        "kubectl-client-side-apply",
        typedef=DEPLOYMENT,
        lookup=catalog.lookup,
        now="T0",
    )
    with pytest.raises(PatchError) as caught:
        ssa(live, deployment(image="nginx:1.26"))
    assert caught.value.code == 409
    assert caught.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
        '.spec.template.spec.containers[name="c"].image'
    )
    forced = ssa(live, deployment(image="nginx:1.26"), force=True)
    assert forced["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert [e["manager"] for e in forced["metadata"]["managedFields"]] == [
        "kubectl",
        "kubectl-client-side-apply",
    ]
    again = ssa(forced, deployment(image="nginx:1.26", replicas=2))
    assert again == forced
    assert copy.deepcopy(live) == live
