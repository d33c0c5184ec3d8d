"""``kin stop cluster`` / ``kin start cluster``: a reboot on purpose, which kind cannot survive.

A stop leaves nothing running and no namespace, only the state directory; a start brings
back every object, the nodes' addresses and each pod's address, and pods on two nodes
reach each other again through a flannel network rebuilt from nothing.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from kin.cluster import network, query
from kin.cluster.nodes import Node
from kin.cluster.ports import publisher_record
from kin.cluster.state import cluster_dir, load_state, running_cluster_names
from kin.cluster.zygote import zygote_record
from kin.linux import ns
from kin.testing.clusters import TWO_NODES, kin, kubeconfig_for, kubectl, temporary_cluster
from kin.testing.waiting import eventually

SLEEPER = "import time; time.sleep(3600)"


def pod(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"kept": "yes"}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [
            {"name": "app", "image": "busybox", "command": [sys.executable, "-c", SLEEPER]}]},
    }  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "etcd"])
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    flags = ("--datastore", request.param, "--wait", "60s")
    with temporary_cluster(TWO_NODES, None, *flags) as name:
        config = kubeconfig_for(name, str(tmp_path_factory.mktemp("kubeconfig")))
        yield name, config


def snapshot(config: str) -> dict[str, Any]:
    """What must survive: pods (uid, node, IP), nodes' addresses, a ConfigMap's data."""
    pods = json.loads(kubectl(config, "get", "pod", "-l", "kept=yes", "-o", "json").stdout)
    nodes = json.loads(kubectl(config, "get", "node", "-o", "json").stdout)
    data = kubectl(config, "get", "configmap", "kept", "-o", "jsonpath={.data}").stdout
    return {
        "pods": {
            p["metadata"]["name"]: (p["metadata"]["uid"], p["spec"]["nodeName"], p["status"]["podIP"])
            for p in pods["items"]
        },
        "nodes": {
            n["metadata"]["name"]: [a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP"]
            for n in nodes["items"]
        },
        "configmap": json.loads(data),
    }  # fmt: skip


def test_a_stopped_cluster_starts_with_its_objects_and_every_address(
    cluster: tuple[str, str],
) -> None:
    name, config = cluster
    worker, cp = f"{name}-worker", f"{name}-control-plane"
    items = [pod("a", worker), pod("b", cp), pod("c", worker)]
    kubectl(
        config,
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"kind": "List", "apiVersion": "v1", "items": items}),
    )
    kubectl(config, "create", "configmap", "kept", "--from-literal=answer=42")
    kubectl(config, "wait", "--for=condition=Ready", "pod", "-l", "kept=yes", "--timeout=60s")
    before = snapshot(config)
    plan = query.cluster_plan(name)

    stopped = kin("stop", "cluster", "--name", name)
    assert stopped.stderr == (
        f'Stopping cluster "{name}" ...\nStopped nodes: ["{cp}" "{worker}"]\n'
    )
    assert not any(Node(name, n).running() for n in plan.nodes)
    assert not any(ns.netns_exists(n.name) for n in plan.nodes)
    for record in (publisher_record(name), zygote_record(name)):
        assert record is not None and not record.alive()
    if not running_cluster_names():
        assert not ns.netns_exists(network.network_netns())
    assert os.path.isdir(cluster_dir(name)) and load_state(name).status == "stopped"  # type: ignore[union-attr]
    assert kubectl(config, "get", "node", check=False, timeout=20).returncode != 0
    assert kin("stop", "cluster", "--name", name).returncode == 0  # stopping again is fine

    started = kin("start", "cluster", "--name", name, "--wait", "60s")
    assert started.stderr.startswith(f'Starting cluster "{name}" ...\n')
    assert " ✓ Waiting ≤ 1m0s for nodes = Ready ⏳" in started.stderr
    ips = before["pods"]
    # Running again (exec needs a live container) and reaching across nodes.
    eventually(
        lambda: (
            kubectl(
                config, "exec", "a", "--", "ping", "-c1", "-W2", ips["b"][2], check=False
            ).returncode
            == 0
        ),
        timeout=60,
    )
    kubectl(config, "wait", "--for=condition=Ready", "pod", "-l", "kept=yes", "--timeout=60s")
    assert snapshot(config) == before
    inside = kubectl(config, "exec", "c", "--", "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert f"inet {ips['c'][2]}/24" in inside
    again = kin("start", "cluster", "--name", name)
    assert f'cluster "{name}" is already running' in again.stderr


def test_stop_and_start_of_an_unknown_cluster_fail_clearly() -> None:
    for verb in ("stop", "start"):
        result = kin(verb, "cluster", "--name", "kin-no-such-cluster", check=False)
        assert result.returncode == 1
        assert 'unknown cluster "kin-no-such-cluster"' in result.stderr
