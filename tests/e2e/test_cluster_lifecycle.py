"""Create, inspect, exec into and delete clusters with the real CLI, as a kind user would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from kin.cluster import network, query
from kin.linux import ns
from kin.testing import hoststate
from kin.testing.clusters import KIN, kin, temporary_cluster
from kin.testing.names import random_name

SEED_FILE = Path(__file__).parents[2] / "examples" / "kind-2node.yaml"


def test_seed_config_end_to_end_leaves_the_host_as_it_was() -> None:
    before = hoststate.snapshot()
    name = random_name("kt")
    # The seed's host ports moved to free ones, so that a running `make demo` does not collide.
    seed = re.sub(r"hostPort: \d+", "hostPort: 0", SEED_FILE.read_text())
    created = kin("create", "cluster", "--config", "-", "--name", name, stdin=seed)
    try:
        assert f'Creating cluster "{name}" ...' in created.stderr
        assert " ✓ Preparing nodes 📦 📦" in created.stderr
        assert created.stdout == ""
        assert kin("get", "nodes", "--name", name).stdout.split() == [
            f"{name}-control-plane",
            f"{name}-worker",
        ]
        assert kin("exec", f"{name}-worker", "--", "hostname").stdout == f"{name}-worker\n"
        ports = kin("get", "port-mappings", "--name", name).stdout.splitlines()
        assert ports[0].split() == ["NODE", "PORTS"]
        worker, mappings = ports[2].split(None, 1)
        assert worker == f"{name}-worker"
        assert re.fullmatch(r"0\.0\.0\.0:\d+->31000/tcp, 0\.0\.0\.0:\d+->31001/tcp", mappings)
        assert ports[1].split()[1].startswith("127.0.0.1:")
    finally:
        deleted = kin("delete", "cluster", "--name", name)
    assert deleted.stderr == (
        f'Deleting cluster "{name}" ...\nDeleted nodes: ["{name}-control-plane" "{name}-worker"]\n'
    )
    assert hoststate.diff(before, hoststate.snapshot()) == []


def test_nodes_have_planned_addresses_hosts_and_reach_each_other(two_nodes: str) -> None:
    cp, worker = f"{two_nodes}-control-plane", f"{two_nodes}-worker"
    plan = query.cluster_plan(two_nodes)
    addr = kin("exec", worker, "--", "ip", "-o", "-4", "addr", "show", "eth0").stdout
    assert f"inet {plan.node(worker).ip}/16" in addr  # type: ignore[union-attr]
    hosts = kin("exec", worker, "--", "cat", "/etc/hosts").stdout
    assert f"{plan.control_plane.ip}\t{cp}\n" in hosts
    ping = kin("exec", worker, "--", "ping", "-c", "1", "-W", "2", cp)
    assert "1 received" in ping.stdout
    route = kin("exec", cp, "--", "ip", "route", "show", "default").stdout
    assert route.startswith(f"default via {plan.network.gateway} dev eth0")


def test_exec_passes_stdin_exit_code_and_runs_in_every_node_namespace(two_nodes: str) -> None:
    node = f"{two_nodes}-worker"
    assert kin("exec", node, "--", "cat", stdin="piped through\n").stdout == "piped through\n"
    assert kin("exec", node, "--", "sh", "-c", "exit 7", check=False).returncode == 7
    assert kin("exec", node, "sh", "-c", "echo no-dashes").stdout == "no-dashes\n"
    inode = kin("exec", node, "--", "sh", "-c", "readlink /proc/self/ns/*").stdout.split()
    host = sorted(os.readlink(f"/proc/self/ns/{k}") for k in os.listdir("/proc/self/ns"))
    for kind in ("ipc", "mnt", "net", "pid", "uts"):
        theirs = [i for i in inode if i.startswith(kind + ":")]
        assert theirs and theirs[0] not in host, kind
    assert (
        kin("exec", node, "--", "ps", "-o", "args=", "-p", "1").stdout
        == f"kin.node --node {node}\n"
    )


def test_exec_errors_are_clear() -> None:
    missing = kin("exec", "kt-nosuchnode", "--", "true", check=False)
    assert missing.returncode == 1
    assert missing.stderr == 'ERROR: failed to exec: unknown node "kt-nosuchnode"\n'


def test_existing_cluster_cannot_be_created_again(two_nodes: str) -> None:
    again = kin("create", "cluster", "--name", two_nodes, check=False)
    assert again.returncode == 1
    assert again.stderr == (
        "ERROR: failed to create cluster: node(s) already exist for a cluster with the name "
        f'"{two_nodes}"\n'
    )
    assert kin("exec", f"{two_nodes}-control-plane", "--", "true").returncode == 0


def test_deleting_an_absent_cluster_succeeds_twice() -> None:
    for _ in range(2):
        result = kin("delete", "cluster", "--name", "kt-absent")
        assert result.stderr == 'Deleting cluster "kt-absent" ...\n'


def test_two_clusters_share_the_network_and_deleting_one_keeps_the_other() -> None:
    config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
    with temporary_cluster(config) as first:
        with temporary_cluster(config) as second:
            assert set(kin("get", "clusters").stdout.split()) >= {first, second}
            first_cp = query.cluster_plan(first).control_plane
            ping = kin("exec", f"{second}-control-plane", "--", "ping", "-c1", "-W2", first_cp.ip)
            assert "1 received" in ping.stdout
        assert kin("exec", f"{first}-control-plane", "--", "true").returncode == 0
        assert ns.netns_exists(network.network_netns())
        assert second not in kin("get", "clusters").stdout.split()
    assert not ns.netns_exists(network.network_netns())


def test_get_commands_on_no_clusters() -> None:
    nodes = kin("get", "nodes", "--name", "kt-none")
    assert (nodes.stdout, nodes.stderr) == ("", 'No kin nodes found for cluster "kt-none".\n')


def test_delete_clusters_by_name_and_all() -> None:
    config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
    names = [random_name("kt") for _ in range(2)]
    for name in names:
        kin("create", "cluster", "--name", name, "--config", "-", stdin=config)
    try:
        none = kin("delete", "clusters", check=False)
        assert none.stderr == "ERROR: failed to delete clusters: no cluster names provided\n"
        one = kin("delete", "clusters", names[0])
        assert one.stderr == f'Deleted clusters: ["{names[0]}"]\n'
        everything = kin("delete", "clusters", "--all")
        assert everything.stderr == f'Deleted clusters: ["{names[1]}"]\n'
    finally:
        for name in names:
            kin("delete", "cluster", "--name", name)


def test_wait_reports_ready_and_all_clusters_lists_every_node() -> None:
    config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
    with temporary_cluster(config, None, "--wait", "30s") as name:
        nodes = kin("get", "nodes", "--all-clusters").stdout.split()
        assert f"{name}-control-plane" in nodes
    # the status lines of the create itself
    result = kin("create", "cluster", "--name", name, "--wait", "1m", stdin=None)
    try:
        assert " ✓ Waiting ≤ 1m0s for control-plane = Ready ⏳" in result.stderr
        assert re.search(r" • Ready after \d+s 💚", result.stderr), result.stderr
    finally:
        kin("delete", "cluster", "--name", name)


def test_exec_gives_the_command_a_terminal_when_stdin_is_one(two_nodes: str) -> None:
    script = shutil.which("script")
    assert script is not None, "script (bsdutils) is needed for this test"
    command = " ".join([*KIN, "exec", f"{two_nodes}-worker", "--", "tty"])
    result = subprocess.run(
        [script, "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout.strip().startswith("/dev/pts/")
    piped = kin("exec", f"{two_nodes}-worker", "--", "tty", check=False)
    assert piped.stdout == "not a tty\n"


def test_version() -> None:
    assert kin("version").stdout.startswith("kin v0.1.0 python3.")
    assert kin("-q", "version").stdout == "0.1.0\n"


def test_create_merges_the_context_into_the_kubeconfig_and_delete_takes_it_out(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nested" / "config"
    others = {"apiVersion": "v1", "kind": "Config", "current-context": "mine",
              "clusters": [{"name": "mine", "cluster": {"server": "https://10.0.0.1"}}],
              "users": [{"name": "mine", "user": {}}],
              "contexts": [{"name": "mine", "context": {"cluster": "mine", "user": "mine"}}]}  # fmt: skip
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(others))
    name = random_name("kt")
    created = kin("create", "cluster", "--name", name, "--kubeconfig", str(path), stdin=None)
    try:
        assert f'Set kubectl context to "kin-{name}"' in created.stderr
        assert f"kubectl cluster-info --context kin-{name} --kubeconfig {path}" in created.stderr
        config = yaml.safe_load(path.read_text())
        assert config["current-context"] == f"kin-{name}"
        assert {c["name"] for c in config["contexts"]} == {"mine", f"kin-{name}"}
        assert oct(path.stat().st_mode)[-3:] == "600"
        info = subprocess.run(["kubectl", "--kubeconfig", str(path), "get", "nodes", "-o", "name"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        assert info.stdout.strip() == f"node/{name}-control-plane"
        other = tmp_path / "other"
        exported = kin("export", "kubeconfig", "--name", name, "--kubeconfig", str(other))
        assert exported.stderr == f'Set kubectl context to "kin-{name}"\n'
        assert yaml.safe_load(other.read_text())["current-context"] == f"kin-{name}"
    finally:
        kin("delete", "cluster", "--name", name, "--kubeconfig", str(path))
    config = yaml.safe_load(path.read_text())
    assert {c["name"] for c in config["contexts"]} == {"mine"}
    assert config["current-context"] == ""
    missing = kin("export", "kubeconfig", "--name", name, "--kubeconfig", str(other), check=False)
    assert missing.returncode == 1 and "ERROR: failed to export kubeconfig" in missing.stderr
