"""The Corefile kubeadm writes, and kin's, read as CoreDNS reads them; mistakes named."""

from __future__ import annotations

from pathlib import Path

import pytest

from kin.cluster.addons import COREFILE
from kin.dns.__main__ import upstream_of
from kin.dns.corefile import DnsConfig, parse_corefile
from kin.errors import ConfigError

KUBEADM = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""


def test_kubeadms_corefile_forwards_and_kins_does_not() -> None:
    kubeadm = parse_corefile(KUBEADM)
    assert (kubeadm.zone, kubeadm.ttl, kubeadm.port) == ("cluster.local", 30, 53)
    assert kubeadm.upstream == "/etc/resolv.conf"
    assert kubeadm.zones == ["cluster.local", "in-addr.arpa", "ip6.arpa"]
    kin = parse_corefile(COREFILE.replace("ZONE", "cluster.local"))
    assert kin == DnsConfig(zones=kubeadm.zones)  # the defaults, and nothing leaves


def test_zone_ttl_ports_and_pods_follow_the_file() -> None:
    config = parse_corefile(
        ".:1053 {\n  health :9080\n  ready :9181\n"
        "  kubernetes example.test {\n    ttl 5\n    pods disabled\n  }\n"
        "  forward . 10.0.0.53:5353  # a comment\n}\n"
    )
    assert (config.port, config.health_port, config.ready_port) == (1053, 9080, 9181)
    assert (config.zone, config.ttl, config.pods, config.upstream) == (
        "example.test", 5, False, "10.0.0.53:5353")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (".:53 {\n  rewrite name a b\n}\n", "Corefile:2: unknown plugin 'rewrite'"),
        (
            ".:53 {\n  kubernetes cluster.local {\n    ttl soon\n  }\n}\n",
            "Corefile:3: kubernetes: bad ttl",
        ),
        (".:53 {\n  errors\n", "a '{' is never closed"),
        ("example.org:53 {\n}\n", "Corefile:1: the server block must be '.:PORT'"),
        (".:53 {\n}\n.:54 {\n}\n", "one server block is served, not 2"),
        (".:53 {\n  forward 8.8.8.8\n}\n", "Corefile:2: forward needs '. ADDRESS'"),
    ],
)
def test_mistakes_are_named_with_their_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_corefile(text)
    assert message in str(raised.value)


def test_forward_to_a_resolv_conf_means_its_first_nameserver(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("search example.test\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n")
    assert upstream_of(str(resolv)) == ("192.0.2.53", 53)
    assert upstream_of("192.0.2.9:5353") == ("192.0.2.9", 5353)
    assert upstream_of("") is None
    resolv.write_text("search example.test\n")
    with pytest.raises(ConfigError, match="names no nameserver"):
        upstream_of(str(resolv))
