"""CNI 1.1.0's STATUS and GC for bridge and flannel, judged against the spec (the reference
plugins Debian ships stop at 1.0.0)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kin.cni.install import install_plugins
from kin.linux import ns
from kin.testing.cni import PluginRun, cni_env, run_plugin


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    install_plugins(str(tmp_path / "bin"))
    return tmp_path / "bin"


def bridge(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "cniVersion": "1.1.0",
        "name": "cbr0",
        "type": "bridge",
        "isGateway": True,
        "ipam": {
            "type": "host-local",
            "dataDir": str(tmp_path / "ipam"),
            "ranges": [[{"subnet": "10.244.1.0/24"}]],
        },
        **extra,
    }


def call(
    bin_dir: Path,
    plugin: str,
    node: str,
    command: str,
    conf: dict[str, Any],
    pod: str = "",
    cid: str = "",
) -> PluginRun:
    env = cni_env(
        command,
        container_id=cid,
        netns=ns.netns_path(pod) if pod else "",
        ifname="eth0" if cid else "",
        cni_path=str(bin_dir),
        extra={"KIN_CNI_SERVER": "0"},
    )
    return run_plugin(str(bin_dir / plugin), node, env, conf)


def test_bridge_status_asks_its_ipam(
    bin_dir: Path, tmp_path: Path, netns_factory: Callable[[], str]
) -> None:
    assert call(bin_dir, "bridge", netns_factory(), "STATUS", bridge(tmp_path)).code == 0


def test_flannel_status_is_50_until_subnet_env_exists(
    bin_dir: Path, tmp_path: Path, netns_factory: Callable[[], str]
) -> None:
    conf = {
        "cniVersion": "1.1.0",
        "name": "cbr0",
        "type": "flannel",
        "subnetFile": str(tmp_path / "subnet.env"),
        "ipam": {"dataDir": str(tmp_path / "ipam")},
    }
    node = netns_factory()
    waiting = call(bin_dir, "flannel", node, "STATUS", conf)
    assert (waiting.code, waiting.out["code"], waiting.out["msg"]) == (
        1,
        50,
        "flannel is not ready",
    )
    (tmp_path / "subnet.env").write_text(
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\n"
        "FLANNEL_IPMASQ=true\n"
    )
    assert call(bin_dir, "flannel", node, "STATUS", conf).code == 0


def masquerade_rules(node: str) -> str:
    argv = ["ip", "netns", "exec", node, "nft", "-j", "list", "chain", "inet",
            "cni_plugins_masquerade", "masq_checks"]  # fmt: skip
    rules = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
    return " ".join(
        str(item["rule"].get("comment", "")) for item in rules["nftables"] if "rule" in item
    )


def test_bridge_gc_releases_what_is_not_valid_and_keeps_what_is(
    bin_dir: Path, tmp_path: Path, netns_factory: Callable[[], str]
) -> None:
    node = netns_factory()
    conf = bridge(tmp_path, ipMasq=True)
    pods = {cid: netns_factory() for cid in ("keep", "gone")}
    for cid, pod in pods.items():
        call(bin_dir, "bridge", node, "ADD", conf, pod, cid).ok()
    assert "id: keep" in masquerade_rules(node) and "id: gone" in masquerade_rules(node)
    valid = {**conf, "cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}]}
    assert call(bin_dir, "bridge", node, "GC", valid).code == 0
    rules = masquerade_rules(node)
    assert "id: keep" in rules and "id: gone" not in rules
    held = sorted(p.name for p in (tmp_path / "ipam" / "cbr0").iterdir() if p.name[0].isdigit())
    assert held == ["10.244.1.2"]  # "keep" got .2 first; "gone"'s .3 is released


def test_gc_is_refused_for_older_configs(
    bin_dir: Path, tmp_path: Path, netns_factory: Callable[[], str]
) -> None:
    old = call(bin_dir, "bridge", netns_factory(), "GC", bridge(tmp_path, cniVersion="1.0.0"))
    assert (old.code, old.out["msg"]) == (1, "config version does not allow GC")
