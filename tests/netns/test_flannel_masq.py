"""--ip-masq and the forward rules in a node's nftables, and what they do to real packets:
pod traffic leaving the network is masqueraded to the node's address (seen by an
"outside" namespace the test puts on the underlay); pod-to-pod traffic keeps its source."""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kin.flannel.lease import Lease
from kin.flannel.masq import TABLE, Rules, apply
from kin.linux import nft, ns
from kin.testing.underlay import NETWORK, Node, attach, source_seen, underlay_nodes


@pytest.fixture
def nodes(netns_factory: Callable[[], str]) -> Iterator[list[Node]]:
    with underlay_nodes(netns_factory, count=2) as made:
        backends = {node.number: node.backend("vxlan") for node in made}
        leases = {
            n: Lease(node.lease, backends[n].prepare())
            for n, node in zip(backends, made, strict=True)
        }
        for node in made:
            backends[node.number].configure(node.lease)
            backends[node.number].reconcile(
                [lease for n, lease in leases.items() if n != node.number]
            )
        yield made


def rules_of(node: Node, chain: str) -> list[str]:
    listed = nft.list_json("chain", "ip", TABLE, chain, netns=ns.netns_path(node.name))
    return [_text(item["rule"]["expr"]) for item in listed if "rule" in item]


def _text(expressions: list[dict[str, Any]]) -> str:
    return " ".join(
        sorted(next(iter(e)) for e in expressions)
    )  # the statements' kinds, enough to count


def test_pods_leaving_the_network_are_masqueraded_pods_meeting_pods_are_not(
    nodes: list[Node], netns_factory: Callable[[], str]
) -> None:
    first, second = nodes
    outside = attach(first.underlay, netns_factory, "172.31.0.100/24")
    assert source_seen(first.pod, outside, "172.31.0.100") == first.pod_ip  # no rules yet
    apply(Rules(NETWORK, first.lease, ip_masq=True), ns.netns_path(first.name))
    assert source_seen(first.pod, outside, "172.31.0.100") == "172.31.0.1"
    assert source_seen(first.pod, second.pod, second.pod_ip) == first.pod_ip
    assert source_seen(second.pod, first.pod, first.pod_ip) == second.pod_ip


def test_the_table_holds_exactly_the_wanted_chains_however_often_applied(nodes: list[Node]) -> None:
    node, path = nodes[0], ns.netns_path(nodes[0].name)
    for _ in range(2):  # a resync re-applies: nothing doubles
        apply(Rules(NETWORK, node.lease, ip_masq=True), path)
        assert len(rules_of(node, "postrtg")) == 6 and len(rules_of(node, "forward")) == 2
    chains = {c["chain"]["name"]: c["chain"] for c in nft.list_json("table", "ip", TABLE, netns=path)
              if "chain" in c}  # fmt: skip
    assert (chains["postrtg"]["type"], chains["postrtg"]["hook"]) == ("nat", "postrouting")
    assert (chains["forward"]["type"], chains["forward"]["hook"]) == ("filter", "forward")
    apply(Rules(NETWORK, node.lease, ip_masq=False), path)  # --ip-masq turned off
    names = [
        c["chain"]["name"] for c in nft.list_json("table", "ip", TABLE, netns=path) if "chain" in c
    ]
    assert names == ["forward"]


@pytest.mark.parametrize(
    ("flannel_nftables", "outside_rule"),
    [(False, "ip saddr != 10.244.0.0/16 ip daddr 10.244.1.0/24 return"),
     (True, "ip saddr != 10.244.1.0/24 ip daddr 10.244.0.0/16 return")],
)  # fmt: skip
def test_enable_nftables_chooses_flannels_nftables_rules(
    nodes: list[Node], flannel_nftables: bool, outside_rule: str
) -> None:
    path = ns.netns_path(nodes[0].name)
    lease = ipaddress.IPv4Network("10.244.1.0/24")
    apply(Rules(NETWORK, lease, ip_masq=True, flannel_nftables=flannel_nftables), path)
    listed = nft_text(path)
    assert outside_rule in listed
    assert "ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random" in listed


def nft_text(path: str) -> str:
    argv = ["nsenter", f"--net={path}", "nft", "list", "table", "ip", TABLE]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
