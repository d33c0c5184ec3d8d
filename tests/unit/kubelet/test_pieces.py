"""The kubelet's pure parts: static pod defaults, validation, back-off, DNS, env, status."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest

from kin.kube.quantity import parse_quantity as quantity
from kin.kubelet import pods, static
from kin.kubelet.backoff import Backoff
from kin.kubelet.criconfig import (
    NodeContext,
    container_config,
    dns_config,
    sandbox_config,
)
from kin.kubelet.environment import EnvironmentError_, build_environment, expand
from kin.kubelet.podstate import ContainerView, PodState
from kin.kubelet.status import pod_status
from kin.kubelet.sync import Waiting
from kin.runtime.cri import api_pb2 as cri

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5.15-0
"""


def test_static_pods_get_the_kubelets_names_and_annotations(tmp_path: Path) -> None:
    path = tmp_path / "etcd.yaml"
    path.write_text(MANIFEST)
    pod = static.parse_manifest(str(path), "MyK8s-Control-Plane")
    meta = pod["metadata"]
    assert meta["name"] == "etcd-myk8s-control-plane"
    assert meta["annotations"][pods.CONFIG_HASH] == meta["uid"] and len(meta["uid"]) == 32
    assert meta["annotations"][pods.CONFIG_SOURCE] == "file"
    assert pod["spec"]["nodeName"] == "MyK8s-Control-Plane"
    assert {"operator": "Exists", "effect": "NoExecute"} in pod["spec"]["tolerations"]
    assert pod["spec"]["restartPolicy"] == "Always"
    same = static.parse_manifest(str(path), "MyK8s-Control-Plane")
    assert same["metadata"]["uid"] == meta["uid"]  # deterministic
    other_node = static.parse_manifest(str(path), "other")
    path.write_text(MANIFEST.replace("3.5.15-0", "3.5.16-0"))
    changed = static.parse_manifest(str(path), "MyK8s-Control-Plane")
    assert len({meta["uid"], other_node["metadata"]["uid"], changed["metadata"]["uid"]}) == 3


def test_a_manifest_directory_skips_hidden_and_invalid_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MANIFEST)
    (tmp_path / ".hidden").write_text(
        MANIFEST.replace("name: etcd\n  namespace", "name: x\n  namespace")
    )
    (tmp_path / "b.json").write_text(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}}'
    )
    (tmp_path / "c.txt").write_text("kind: Deployment\napiVersion: apps/v1\n")
    (tmp_path / "sub").mkdir()
    directory = static.ManifestDirectory(str(tmp_path), "node")
    assert directory.changed()
    problems = directory.read()
    assert [p.split(":")[0] for p in problems] == [
        f"Could not process manifest file {tmp_path}/b.json",
        f"Could not process manifest file {tmp_path}/c.txt",
    ]
    assert "name is needed for the pod" in problems[0]
    assert [p["metadata"]["name"] for p in directory.pods.values()] == ["etcd-node"]
    assert not directory.changed()
    seen = next(iter(directory.pods.values()))["metadata"]["annotations"][pods.CONFIG_SEEN]
    (tmp_path / "c.txt").unlink()
    assert directory.changed()
    directory.read()
    assert next(iter(directory.pods.values()))["metadata"]["annotations"][pods.CONFIG_SEEN] == seen


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"containers": []}, "spec.containers: Required value"),
        ({"containers": [{"name": "a"}]}, "spec.containers[0].image: Required value"),
        ({"containers": [{"name": "A_b", "image": "x"}]}, "spec.containers[0].name: Invalid value"),
        (
            {"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]},
            "Duplicate value",
        ),
        (
            {"restartPolicy": "Sometimes", "containers": [{"name": "a", "image": "x"}]},
            "Unsupported value",
        ),
    ],
)
def test_validation_names_the_problem(spec: dict[str, Any], problem: str) -> None:
    found = pods.validate({"metadata": {"name": "p"}, "spec": spec})
    assert any(problem in p for p in found), found


def test_backoff_restarts_at_once_then_doubles_to_the_maximum() -> None:
    backoff = Backoff(initial=10, maximum=40)
    assert not backoff.in_backoff("k", since=100, now=100)
    backoff.next("k", now=100)
    assert backoff.in_backoff("k", since=100, now=105) and not backoff.in_backoff(
        "k", since=100, now=111
    )
    for expected in (20, 40, 40):
        backoff.next("k", now=111)
        assert backoff.delay("k") == expected
    assert not backoff.in_backoff("k", since=111, now=111 + 81)  # ran cleanly: forgotten
    assert backoff.delay("k") == 0


def pod(**spec: Any) -> dict[str, Any]:
    body = {"metadata": {"name": "web", "namespace": "team", "uid": "u1", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], **spec}}  # fmt: skip
    pods.apply_defaults(body)
    return body


def test_cluster_first_dns_uses_the_cluster_resolver_and_search_path(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.168.1.1\nsearch example.com\noptions edns0\n")
    node = NodeContext("n", cluster_dns=("10.96.0.10",), resolv_conf=str(resolv))
    config = dns_config(pod(), node)
    assert config is not None
    assert list(config.servers) == ["10.96.0.10"]
    assert list(config.searches) == [
        "team.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
        "example.com",
    ]
    assert list(config.options) == ["ndots:5"]
    host = dns_config(pod(hostNetwork=True), node)
    assert host is not None and list(host.servers) == ["192.168.1.1"]
    no_cluster_dns = dns_config(pod(), NodeContext("n", resolv_conf=str(resolv)))
    assert no_cluster_dns is not None and list(no_cluster_dns.servers) == ["192.168.1.1"]


def test_sandbox_config_carries_the_kubelets_labels_and_namespace_modes() -> None:
    node = NodeContext("n")
    config = sandbox_config(pod(shareProcessNamespace=True), 2, node)
    assert config.metadata.attempt == 2 and config.hostname == "web"
    assert config.labels["io.kubernetes.pod.uid"] == "u1" and config.labels["app"] == "web"
    assert config.log_directory == "/var/log/pods/team_web_u1"
    options = config.linux.security_context.namespace_options
    assert (options.network, options.pid, options.ipc) == (cri.POD, cri.POD, cri.POD)
    host = sandbox_config(pod(hostNetwork=True, hostPID=True), 0, node)
    options = host.linux.security_context.namespace_options
    assert (options.network, options.pid, host.hostname) == (cri.NODE, cri.NODE, "")
    assert (
        sandbox_config(pod(), 0, node).linux.security_context.namespace_options.pid == cri.CONTAINER
    )


def test_environment_with_downward_api_config_and_expansion() -> None:
    async def fetch(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if (kind, name) == ("configmaps", "cfg"):
            return {"data": {"mode": "fast", "level": "3"}}
        if (kind, name) == ("secrets", "s"):
            return {"data": {"token": base64.b64encode(b"hunter2").decode()}}
        return None

    container = {
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        "env": [
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
            {"name": "GREETING", "value": "hi $(POD) at $(IP), $(UNSET) $$(POD)"},
            {
                "name": "MAYBE",
                "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}},
            },
        ],
    }
    env = asyncio.run(build_environment(pod(), container, "10.244.1.5", "172.18.0.3", fetch))
    assert env == {
        "CFG_mode": "fast", "CFG_level": "3", "POD": "web", "IP": "10.244.1.5", "TOKEN": "hunter2",
        "GREETING": "hi web at 10.244.1.5, $(UNSET) $(POD)",
    }  # fmt: skip
    missing = {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]}
    with pytest.raises(EnvironmentError_, match='secret "gone" not found'):
        asyncio.run(build_environment(pod(), missing, "", "", fetch))
    assert expand("$(A)-$(B)", {"A": "1"}) == "1-$(B)"


def view(name: str, state: cri.ContainerState, attempt: int = 0, code: int = 0) -> ContainerView:
    status = cri.ContainerStatus(
        id=f"{name}{attempt}", metadata=cri.ContainerMetadata(name=name, attempt=attempt), state=state,
        exit_code=code, started_at=10**18, finished_at=2 * 10**18 if state == cri.CONTAINER_EXITED else 0,
    )  # fmt: skip
    return ContainerView(status, "s1")


def state_of(*views: ContainerView) -> PodState:
    sandbox = cri.PodSandboxStatus(id="s1", state=cri.SANDBOX_READY, created_at=10**18)
    sandbox.network.ip = "10.244.1.5"
    return PodState([sandbox], list(views))


@pytest.mark.parametrize(
    ("policy", "views", "phase"),
    [
        ("Always", [], "Pending"),
        ("Always", [("running", 0)], "Running"),
        ("Always", [("exited", 1)], "Running"),
        ("Never", [("exited", 0)], "Succeeded"),
        ("Never", [("exited", 2)], "Failed"),
        ("OnFailure", [("exited", 0)], "Succeeded"),
        ("OnFailure", [("exited", 3)], "Running"),
    ],
)
def test_phase_follows_the_kubelets_rules(
    policy: str, views: list[tuple[str, int]], phase: str
) -> None:
    states = {"running": cri.CONTAINER_RUNNING, "exited": cri.CONTAINER_EXITED}
    state = state_of(*(view("app", states[s], code=c) for s, c in views))
    status = pod_status(pod(restartPolicy=policy), state, {}, {}, "172.18.0.3", None)
    assert status["phase"] == phase
    assert status["podIP"] == "10.244.1.5" and status["hostIP"] == "172.18.0.3"


def test_statuses_show_restarts_last_state_and_waiting_reasons() -> None:
    state = state_of(
        view("app", cri.CONTAINER_EXITED, 0, 1), view("app", cri.CONTAINER_EXITED, 1, 1)
    )
    waiting = {
        ("u1", "app"): Waiting("CrashLoopBackOff", "back-off 10s restarting failed container=app")
    }
    status = pod_status(pod(), state, waiting, {}, "172.18.0.3", None)
    app = status["containerStatuses"][0]
    assert app["restartCount"] == 1 and app["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert app["lastState"]["terminated"]["exitCode"] == 1 and app["ready"] is False
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "False",
                          "ContainersReady": "False", "PodScheduled": "True"}  # fmt: skip
    running = pod_status(pod(), state_of(view("app", cri.CONTAINER_RUNNING, 2)), {}, {}, "", status)
    assert running["containerStatuses"][0]["ready"] and running["phase"] == "Running"
    assert running["containerStatuses"][0]["containerID"] == "kin://app2"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("250m", 0.25),
        ("2", 2.0),
        ("1.5", 1.5),
        ("100k", 100_000.0),
        ("1M", 1e6),
    ],
)
def test_quantities(text: str, value: float) -> None:
    assert quantity(text) == pytest.approx(value)


def test_resources_become_cgroup_settings() -> None:
    body = pod()
    body["spec"]["containers"][0]["resources"] = {
        "limits": {"memory": "64Mi", "cpu": "500m"},
        "requests": {"cpu": "250m"},
    }
    config = container_config(body, body["spec"]["containers"][0], 0, "sha256:x", {}, [])
    resources = config.linux.resources
    assert resources.memory_limit_in_bytes == 64 * 2**20
    assert (resources.cpu_period, resources.cpu_quota, resources.cpu_shares) == (
        100_000,
        50_000,
        256,
    )
