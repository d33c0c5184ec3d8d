"""Delete finds and removes everything, whatever died and whenever: kill -9, half-made creates."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from kin.cluster import network, query
from kin.cluster.ports import publisher_record
from kin.cluster.state import cluster_dir
from kin.linux import ns
from kin.testing.clusters import KIN, kin, temporary_cluster
from kin.testing.names import random_name

HEAD = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
TEN_NODES = HEAD + "nodes:\n- role: control-plane\n" + "- role: worker\n" * 9


def node_names(cluster: str) -> list[str]:
    return [node.name for node in query.list_nodes(cluster)]


def assert_gone(cluster: str, nodes: list[str]) -> None:
    assert not os.path.exists(cluster_dir(cluster))
    assert [n for n in nodes if ns.netns_exists(n)] == []


def test_delete_after_kill_9_of_a_node_and_of_the_publisher() -> None:
    with temporary_cluster(HEAD + "nodes:\n- role: control-plane\n- role: worker\n") as name:
        nodes = query.list_nodes(name)
        worker = nodes[1].supervisor()
        assert worker is not None
        os.kill(worker.pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        publisher = publisher_record(name)
        while publisher is None and time.monotonic() < deadline:
            time.sleep(0.05)  # it records itself once it runs
            publisher = publisher_record(name)
        assert publisher is not None
        os.kill(publisher.pid, signal.SIGKILL)
        assert kin("exec", nodes[1].name, "--", "true", check=False).returncode == 1
    assert_gone(name, [n.name for n in nodes])


def test_delete_twice_and_after_a_half_made_create() -> None:
    name = random_name("kt")
    create = subprocess.Popen(
        [*KIN, "create", "cluster", "--name", name, "--config", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert create.stdin is not None
    create.stdin.write(TEN_NODES)
    create.stdin.close()
    deadline = time.monotonic() + 20
    while not any(ns.netns_exists(f"{name}-worker{i}") for i in range(2, 11)):
        assert time.monotonic() < deadline, "create never got to the nodes"
        time.sleep(0.005)
    create.send_signal(signal.SIGKILL)
    create.wait()
    nodes = node_names(name)
    assert len(nodes) == 10
    kin("delete", "cluster", "--name", name)
    kin("delete", "cluster", "--name", name)
    assert_gone(name, nodes)


def test_a_failed_create_removes_everything_unless_retained() -> None:
    # A 51-character name is accepted (kind only warns) but its node names are too long
    # for their kubelets' certificates: the create fails half-way, after the namespaces.
    name = "kt" + "x" * 49
    failed = kin("create", "cluster", "--name", name, check=False)
    assert failed.returncode == 1
    assert f'cluster name "{name}" is probably too long' in failed.stderr
    assert " ✗ Writing configuration 📜" in failed.stderr
    assert f'Deleted nodes: ["{name}-control-plane"]' in failed.stderr
    assert failed.stderr.endswith(
        "ERROR: failed to create cluster: failed to write the cluster's PKI and kubeconfigs: "
        f"node name '{name}-control-plane' is too long for its certificate's common name "
        f"'system:node:{name}-control-plane' (64 characters at most; use a shorter cluster name)\n"
    )
    assert_gone(name, [f"{name}-control-plane"])

    kept = kin("create", "cluster", "--name", name, "--retain", check=False)
    assert kept.returncode == 1 and "Deleted nodes" not in kept.stderr
    assert ns.netns_exists(f"{name}-control-plane")
    kin("delete", "cluster", "--name", name)
    assert_gone(name, [f"{name}-control-plane"])


def test_deleting_the_last_cluster_removes_the_kin_network() -> None:
    with temporary_cluster(HEAD):
        assert ns.netns_exists(network.network_netns())
    if not query.list_clusters():
        assert not ns.netns_exists(network.network_netns())


def test_concurrent_creates_get_distinct_addresses_and_both_work() -> None:
    names = [random_name("kt") for _ in range(3)]
    config = HEAD + "nodes:\n- role: control-plane\n- role: worker\n"
    procs = [
        subprocess.Popen(
            [*KIN, "create", "cluster", "--name", name, "--config", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    try:
        for proc in procs:
            _, err = proc.communicate(config, timeout=60)
            assert proc.returncode == 0, err
        ips = [n.plan.ip for name in names for n in query.list_nodes(name)]
        assert len(ips) == 6 and len(set(ips)) == 6
        for name in names:
            assert kin("exec", f"{name}-worker", "--", "true").returncode == 0
    finally:
        for name in names:
            kin("delete", "cluster", "--name", name)


def test_an_interrupted_delete_can_simply_run_again() -> None:
    name = random_name("kt")
    kin("create", "cluster", "--name", name, "--config", "-", stdin=TEN_NODES)
    nodes = node_names(name)
    delete = subprocess.Popen(
        [*KIN, "delete", "cluster", "--name", name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while all(ns.netns_exists(n) for n in nodes) and delete.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    delete.send_signal(signal.SIGKILL)
    delete.wait()
    kin("delete", "cluster", "--name", name)
    assert_gone(name, nodes)
