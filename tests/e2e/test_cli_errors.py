"""Bad input and missing prerequisites: a clear ERROR line, exit 1, and nothing created."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from kin.cluster import network, query
from kin.linux import ns
from kin.testing.clusters import KIN, kin, temporary_cluster

HEAD = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"


def assert_nothing_created() -> None:
    assert query.list_clusters() == []
    assert not ns.netns_exists(network.network_netns())


def test_unknown_field_is_reported_with_its_line_from_stdin() -> None:
    result = kin("create", "cluster", "--config", "-", stdin=HEAD + "addons: []\n", check=False)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "ERROR: failed to create cluster: unable to decode config: yaml: unmarshal errors:\n"
        "  line 3: field addons not found in type v1alpha4.Cluster\n"
    )
    assert_nothing_created()


def test_every_validation_problem_is_reported_at_once() -> None:
    body = HEAD + "name: Bad_Name\nnodes:\n- role: worker\nnetworking:\n  kubeProxyMode: fast\n"
    result = kin("create", "cluster", "--config", "-", stdin=body, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        "ERROR: failed to create cluster: ['Bad_Name' is not a valid cluster name, cluster names "
        "must match `^[a-z0-9.-]+$`, invalid kubeProxyMode: fast, must have at least one "
        "control-plane node]\n"
    )
    assert_nothing_created()


def test_what_kin_cannot_do_yet_is_an_error_naming_the_field() -> None:
    body = (
        HEAD
        + "networking:\n  ipFamily: ipv6\nnodes:\n- role: control-plane\n- role: control-plane\n"
    )
    result = kin("create", "cluster", "--config", "-", stdin=body, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        "ERROR: failed to create cluster: [networking.ipFamily: ipv6 is not supported by kin yet "
        "(only ipv4), nodes: 2 control-plane nodes; kin supports exactly one]\n"
    )
    assert_nothing_created()


def test_fields_kin_ignores_give_one_warning_each(tmp_path: Path) -> None:
    body = HEAD + (
        "featureGates: {A: true}\nnodes:\n- role: control-plane\n  image: kindest/node:v1.30.0\n"
        "  kubeadmConfigPatches: ['x: y']\n"
    )
    with temporary_cluster(body) as name:
        assert query.list_nodes(name)
    created = kin("create", "cluster", "--config", "-", stdin=body, check=False)
    assert created.returncode == 0
    warnings = [line for line in created.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        "WARNING: featureGates: kin's components have no feature gates to set; ignored",
        "WARNING: nodes[0].image: kin runs on the host's files and ignores node images",
        "WARNING: nodes[0].kubeadmConfigPatches: kin does not run kubeadm; ignored",
    ]
    kin("delete", "cluster")


def test_a_host_port_in_use_fails_before_anything_is_created() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        body = HEAD + (
            "nodes:\n- role: control-plane\n  extraPortMappings:\n"
            f"  - containerPort: 80\n    hostPort: {port}\n    listenAddress: 127.0.0.1\n"
            "  - containerPort: 81\n    hostPort: 81\n    listenAddress: 203.0.113.9\n"
        )
        result = kin("create", "cluster", "--config", "-", stdin=body, check=False)
    assert result.returncode == 1
    assert result.stderr.endswith(
        f"ERROR: failed to create cluster: [host port 127.0.0.1:{port}/tcp "
        "(nodes[0].extraPortMappings[0]) is already in use on this host, listen address "
        "203.0.113.9 (nodes[0].extraPortMappings[1]) is not an address of this host]\n"
    )
    assert "Preparing nodes" not in result.stderr
    assert_nothing_created()


def test_a_missing_config_file_and_a_bad_wait() -> None:
    missing = kin("create", "cluster", "--config", "/nonexistent/kind.yaml", check=False)
    assert missing.stderr == (
        "ERROR: failed to create cluster: error reading file: "
        "open /nonexistent/kind.yaml: no such file or directory\n"
    )
    wait = kin("create", "cluster", "--wait", "30", check=False)
    assert wait.stderr == 'ERROR: failed to create cluster: time: missing unit in duration "30"\n'
    assert_nothing_created()


def test_not_root_is_one_line_naming_the_privilege() -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed for this test")
    argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *KIN, "get", "clusters"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        "ERROR: failed to list clusters: kin must run as root: it creates network, mount and PID "
        "namespaces (try: sudo kin ...)\n"
    )


def test_a_missing_program_is_named_with_its_debian_package(two_nodes: str) -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    argv = [*KIN, "exec", f"{two_nodes}-worker", "--", "true"]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        "ERROR: failed to exec: nsenter not found: install the Debian package util-linux\n"
    )


def test_extra_mounts_are_bound_into_the_node(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("from the host\n")
    body = HEAD + (
        f"nodes:\n- role: control-plane\n  extraMounts:\n  - hostPath: {tmp_path}\n"
        "    containerPath: /etc/kubernetes/extra\n    readOnly: true\n"
    )
    with temporary_cluster(body) as name:
        node = f"{name}-control-plane"
        assert kin("exec", node, "--", "cat", "/etc/kubernetes/extra/data.txt").stdout == (
            "from the host\n"
        )
        write = kin("exec", node, "--", "touch", "/etc/kubernetes/extra/new", check=False)
        assert write.returncode == 1 and "Read-only file system" in write.stderr
