"""The seed's pod network: the flannel conflist through kin's libcni-style executor.

flannel -> bridge -> host-local, run the way containerd runs them (processes,
CNI_PATH, cached results), inside a throwaway node namespace.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from kin.cni.install import install_plugins
from kin.cni.invoke import KIN_PLUGINS
from kin.linux import ns
from kin.testing.cni import REFERENCE_DIR, run_executor

SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"


def available_kin_plugins() -> tuple[str, ...]:
    return tuple(n for n in KIN_PLUGINS if find_spec(KIN_PLUGINS[n]))


class Setup:
    def __init__(self, tmp: Path, node: str, make_ns: Callable[[], str]) -> None:
        self.tmp = tmp
        self.node = node
        self.make_ns = make_ns
        self.bin = tmp / "bin"
        install_plugins(str(self.bin), available_kin_plugins())
        self.path = [str(self.bin), REFERENCE_DIR]
        (tmp / "subnet.env").write_text(SUBNET_ENV)
        self.confdir = tmp / "net.d"
        self.confdir.mkdir()
        self.write_conflist("10-flannel.conflist")

    def write_conflist(self, name: str, version: str = "1.0.0", **flannel: Any) -> None:
        plugin = {
            "type": "flannel",
            "subnetFile": str(self.tmp / "subnet.env"),
            "dataDir": str(self.tmp / "flannel"),
            "ipam": {"dataDir": str(self.tmp / "ipam")},
            "delegate": {"hairpinMode": True, "isDefaultGateway": True},
            **flannel,
        }
        body = {"name": "cbr0", "cniVersion": version, "plugins": [plugin]}
        (self.confdir / name).write_text(json.dumps(body))

    def run(self, op: str, cid: str = "c1", netns: str = "", **extra: Any) -> tuple[int, Any]:
        request = {
            "op": op,
            "confdir": str(self.confdir),
            "path": self.path,
            "cache": str(self.tmp / "cache"),
            "cid": cid,
            "netns": ns.netns_path(netns) if netns else "",
            **extra,
        }
        return run_executor(self.node, request)

    def held_ips(self) -> list[str]:
        directory = self.tmp / "ipam" / "cbr0"
        return sorted(p.name for p in directory.iterdir() if p.name[0].isdigit())


@pytest.fixture
def setup(tmp_path: Path, netns_factory: Callable[[], str]) -> Setup:
    return Setup(tmp_path, netns_factory(), netns_factory)


def pod_view(pod: str) -> tuple[list[str], list[str]]:
    addrs = json.loads(subprocess.run(["ip", "-j", "-n", pod, "addr", "show", "eth0"],
                                      capture_output=True, text=True, check=True).stdout)  # fmt: skip
    routes = json.loads(subprocess.run(["ip", "-j", "-n", pod, "route"],
                                       capture_output=True, text=True, check=True).stdout)  # fmt: skip
    inet = [
        f"{a['local']}/{a['prefixlen']}" for a in addrs[0]["addr_info"] if a["family"] == "inet"
    ]
    return inet, sorted(f"{r['dst']} {r.get('gateway', '')}".strip() for r in routes)


def test_add_check_del_through_the_executor(setup: Setup) -> None:
    pod = setup.make_ns()
    code, out = setup.run("add", netns=pod)
    assert code == 0, out
    result = out["result"]
    assert result["cniVersion"] == "1.0.0"
    assert [i["name"] for i in result["interfaces"]][::2] == ["cni0", "eth0"]
    assert result["ips"] == [{"address": "10.244.1.2/24", "gateway": "10.244.1.1", "interface": 2}]
    assert result["routes"] == [{"dst": "10.244.0.0/16"}, {"dst": "0.0.0.0/0", "gw": "10.244.1.1"}]
    assert pod_view(pod) == (
        ["10.244.1.2/24"],
        ["10.244.0.0/16 10.244.1.1", "10.244.1.0/24", "default 10.244.1.1"],
    )
    cached = json.loads((setup.tmp / "cache" / "results" / "cbr0-c1-eth0").read_text())
    assert cached["kind"] == "cniCacheV1" and cached["result"] == result
    assert json.loads(base64.b64decode(cached["config"]))["name"] == "cbr0"
    assert ["IgnoreUnknown", "1"] in cached["cniArgs"]
    scratch = setup.tmp / "flannel" / "c1"
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o600
    assert stat.S_IMODE(scratch.parent.stat().st_mode) == 0o700
    assert json.loads(scratch.read_text())["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]]
    assert setup.run("check", netns=pod) == (0, {"result": None})
    assert setup.run("del", netns=pod) == (0, {"result": None})
    assert not scratch.exists()
    assert setup.held_ips() == []
    assert not (setup.tmp / "cache" / "results" / "cbr0-c1-eth0").exists()
    assert setup.run("del", netns=pod) == (0, {"result": None})  # twice


def test_in_process_and_exec_delegation_give_the_same_pod(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = []
    for forced_exec in ("", "1"):
        monkeypatch.setenv("KIN_CNI_EXEC", forced_exec)
        pod = setup.make_ns()
        code, out = setup.run("add", cid=f"c{forced_exec or 0}", netns=pod)
        assert code == 0, out
        results.append(
            (out["result"]["routes"], out["result"]["ips"][0]["gateway"], pod_view(pod)[1])
        )
    assert results[0] == results[1]


def test_kin_flannel_delegates_to_the_reference_bridge(setup: Setup, tmp_path: Path) -> None:
    only_flannel = tmp_path / "only-flannel"
    install_plugins(str(only_flannel), ("flannel",))
    setup.path = [str(only_flannel), REFERENCE_DIR]
    pod = setup.make_ns()
    code, out = setup.run("add", netns=pod)
    assert code == 0, out
    assert out["result"]["ips"][0]["address"] == "10.244.1.2/24"
    assert pod_view(pod)[0] == ["10.244.1.2/24"]
    assert setup.run("del", netns=pod)[0] == 0
    assert setup.held_ips() == []


def test_fifty_concurrent_adds_get_fifty_addresses(setup: Setup) -> None:
    pods = [setup.make_ns() for _ in range(50)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(lambda i: setup.run("add", cid=f"c{i}", netns=pods[i]), range(50)))
    assert all(code == 0 for code, _ in outcomes), [o for c, o in outcomes if c][:2]
    addresses = {out["result"]["ips"][0]["address"] for _, out in outcomes}
    assert len(addresses) == 50
    assert len(setup.held_ips()) == 50


def test_missing_subnet_env_is_the_error_kubelet_users_know(setup: Setup) -> None:
    os.unlink(setup.tmp / "subnet.env")
    code, out = setup.run("add", netns=setup.make_ns())
    assert code == 1
    assert out["error"] == {
        "code": 11,
        "msg": "plugin type=\"flannel\" failed (add): failed to load flannel 'subnet.env' file: "
        f"open {setup.tmp}/subnet.env: no such file or directory. "
        "Check the flannel pod log for this node.",
    }


def test_del_without_a_saved_config_calls_no_delegate(setup: Setup) -> None:
    setup.path = [str(setup.bin)]  # no host-local, no bridge would be found if called
    os.unlink(setup.bin / "bridge")
    assert setup.run("del", cid="never-added") == (0, {"result": None})


def test_the_lexically_first_valid_file_wins(setup: Setup) -> None:
    (setup.confdir / "00-broken.conflist").write_text("{not json")
    (setup.confdir / "05-noplugins.conflist").write_text('{"name": "x", "plugins": []}')
    (setup.confdir / "99-other.conf").write_text('{"name": "other", "type": "loopback"}')
    pod = setup.make_ns()
    code, out = setup.run("add", netns=pod)
    assert code == 0 and out["result"]["ips"][0]["address"] == "10.244.1.2/24"
