"""Plugin executables hand their calls to the node's CNI server, and run themselves without one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kin.cni.install import install_plugins
from kin.linux import ns
from kin.testing.cni import REFERENCE_DIR, cni_env, run_plugin


@pytest.fixture
def node(netns_factory: Callable[[], str]) -> str:
    return netns_factory()


@pytest.fixture
def server(node: str, tmp_path: Path) -> Iterator[str]:
    """A CNI server in the node's network namespace, on a socket in tmp_path."""
    socket_path = str(tmp_path / "run" / "cni.sock")
    argv = ["nsenter", f"--net={ns.netns_path(node)}", "--", sys.executable, "-m",
            "kin.cni.server", "--socket", socket_path]  # fmt: skip
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None and "serving" in proc.stderr.readline()
        yield socket_path
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


def bridge_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "cbr0",
        "type": "bridge",
        "isGateway": True,
        "ipam": {
            "type": "host-local",
            "dataDir": str(tmp_path / "ipam"),
            "ranges": [[{"subnet": "10.244.1.0/24"}]],
        },
    }


def add(
    node: str, pod: str, bin_dir: Path, conf: dict[str, Any], socket_path: str, cid: str = "c1"
) -> tuple[int, Any, str]:
    env = cni_env(
        "ADD",
        container_id=cid,
        netns=ns.netns_path(pod),
        ifname="eth0",
        cni_path=f"{bin_dir}:{REFERENCE_DIR}",
        extra={"KIN_CNI_SOCKET": socket_path},
    )
    run = run_plugin(str(bin_dir / "bridge"), node, env, conf)
    return run.code, run.out, run.stderr


def test_the_server_runs_the_call_and_the_pod_gets_its_network(
    node: str, server: str, tmp_path: Path, netns_factory: Callable[[], str]
) -> None:
    bin_dir = tmp_path / "bin"
    install_plugins(str(bin_dir))
    pod = netns_factory()
    code, out, _ = add(node, pod, bin_dir, bridge_config(tmp_path), server)
    assert code == 0, out
    assert out["ips"][0]["address"] == "10.244.1.2/24"
    addrs = subprocess.run(["ip", "-n", pod, "-4", "-o", "addr", "show", "eth0"],
                           capture_output=True, text=True).stdout  # fmt: skip
    assert "10.244.1.2/24" in addrs


def test_errors_come_back_unchanged(node: str, server: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    install_plugins(str(bin_dir))
    code, out, _ = add(node, "absent-pod", bin_dir, {**bridge_config(tmp_path), "vlan": 5}, server)
    assert (code, out["code"], out["msg"]) == (1, 2, "unsupported field vlan: 5")


def test_a_caller_in_another_namespace_is_refused_and_runs_the_plugin_itself(
    server: str, tmp_path: Path, netns_factory: Callable[[], str]
) -> None:
    other_node, pod = netns_factory(), netns_factory()
    bin_dir = tmp_path / "bin"
    install_plugins(str(bin_dir))
    code, out, _ = add(other_node, pod, bin_dir, bridge_config(tmp_path), server)
    assert code == 0, out
    links = subprocess.run(["ip", "-n", other_node, "-o", "link", "show", "cni0"],
                           capture_output=True, text=True)  # fmt: skip
    assert links.returncode == 0  # the bridge is in the caller's node, not the server's


def test_no_server_means_the_plugin_runs_itself(
    node: str, tmp_path: Path, netns_factory: Callable[[], str]
) -> None:
    bin_dir = tmp_path / "bin"
    install_plugins(str(bin_dir))
    code, out, _ = add(
        node, netns_factory(), bin_dir, bridge_config(tmp_path), str(tmp_path / "none.sock")
    )
    assert code == 0, out


def test_version_through_the_server(node: str, server: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    install_plugins(str(bin_dir))
    env = cni_env("VERSION", extra={"KIN_CNI_SOCKET": server})
    run = run_plugin(str(bin_dir / "host-local"), node, env, None)
    assert run.code == 0
    assert run.out["cniVersion"] == "1.1.0" and "0.3.1" in run.out["supportedVersions"]
