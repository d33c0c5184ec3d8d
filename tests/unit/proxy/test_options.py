"""kube-proxy's flags and KubeProxyConfiguration file: flags win, bad input is named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kin.errors import ConfigError
from kin.proxy.options import Settings, parse_args

CONFIG = """\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clusterCIDR: 10.244.0.0/16
clientConnection:
  kubeconfig: /etc/kubernetes/kubelet.conf
nftables:
  minSyncPeriod: 500ms
  syncPeriod: 1m0s
  masqueradeBit: 13
conntrack:
  maxPerCore: 0
"""


def test_the_config_file_is_read_and_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "config.conf"
    path.write_text(CONFIG)
    settings = parse_args([f"--config={path}", "--hostname-override=w"], {})
    assert settings == Settings(node="w", mode="nftables", cluster_cidr="10.244.0.0/16",
                                kubeconfig="/etc/kubernetes/kubelet.conf", masquerade_bit=13,
                                min_sync_period=0.5, sync_period=60.0)  # fmt: skip
    assert settings.mark == "0x2000"
    assert parse_args([f"--config={path}", "--proxy-mode=iptables"], {"NODE_NAME": "n"}).mode == (
        "iptables"
    )


def test_defaults_and_node_name_from_the_environment() -> None:
    settings = parse_args([], {"NODE_NAME": "myk8s-worker"})
    assert (settings.node, settings.mode, settings.mark) == ("myk8s-worker", "iptables", "0x4000")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mode: ipvs\n", "ipvs needs the kernel's IPVS"),
        ("mode: userspace\n", "invalid proxy mode 'userspace'"),
        ("clusterCIDR: 10.244.0.0/33\n", "clusterCIDR '10.244.0.0/33'"),
        ("colour: blue\n", 'unknown field "colour"'),
        ("mode: 3\n", "mode must be a string"),
        ("iptables:\n  minSyncPeriod: soon\n", "iptables.minSyncPeriod: time: invalid duration"),
        ("- a list\n", "must be a mapping"),
        ("mode: [\n", "not YAML"),
    ],
)
def test_bad_configs_name_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.conf"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_args([f"--config={path}"], {"NODE_NAME": "n"})


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read .*nope"):
        parse_args([f"--config={tmp_path}/nope"], {"NODE_NAME": "n"})
