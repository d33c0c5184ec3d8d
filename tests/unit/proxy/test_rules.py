"""The rules both modes write: upstream's names and shapes, and minimal nft transactions."""

from __future__ import annotations

from kin.proxy import iptables, names, nftables
from kin.proxy.conntrack import Flow, stale_udp_flows
from kin.proxy.model import Endpoint, ServicePort
from kin.proxy.options import Settings
from kin.proxy.ruleset import Ruleset, transaction

SETTINGS = Settings(node="a", cluster_cidr="10.244.0.0/16")
A, B = Endpoint("10.180.0.1", 80, "a"), Endpoint("10.180.0.2", 80, "b")


def port(**fields: object) -> ServicePort:
    base: dict[str, object] = {"namespace": "ns1", "name": "svc1", "port_name": "p80",
                               "protocol": "tcp", "cluster_ip": "172.30.0.41", "port": 80,
                               "cluster_endpoints": (A, B), "external_endpoints": (A, B)}  # fmt: skip
    return ServicePort(**{**base, **fields})  # type: ignore[arg-type]


def test_chain_names_are_upstream_kube_proxys() -> None:
    # The names upstream's own proxier tests expect for ns1/svc1:p80 and 10.180.0.1:80.
    assert names.iptables_chain("KUBE-SVC-", port()) == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert names.iptables_chain("KUBE-SEP-", port(), A) == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    assert names.nft_service_base(port()) == "ULMVA6XW-ns1/svc1/tcp/p80"
    assert names.nft_endpoint_base(port(), A) == "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"


def test_iptables_chooses_uniformly_and_masquerades_from_outside_the_pod_network() -> None:
    tables = iptables.render([port()], SETTINGS)
    svc = tables.nat["KUBE-SVC-XPGD46QRK7WJZT7O"]
    assert "! -s 10.244.0.0/16 -j KUBE-MARK-MASQ" in svc[0]
    assert "--probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ" in svc[1]
    assert "statistic" not in svc[2]
    assert tables.nat["KUBE-SERVICES"][-1].endswith("--dst-type LOCAL -j KUBE-NODEPORTS")
    sep = tables.nat["KUBE-SEP-SXIVWICOYRO3J4NJ"]
    assert sep[0].endswith("-s 10.180.0.1 -j KUBE-MARK-MASQ")
    assert sep[1].endswith("-j DNAT --to-destination 10.180.0.1:80")


def test_iptables_rejects_a_port_without_endpoints_and_drops_one_without_local_ones() -> None:
    tables = iptables.render([port(cluster_endpoints=(), external_endpoints=())], SETTINGS)
    (reject,) = tables.filter["KUBE-SERVICES"]
    assert "has no endpoints" in reject and reject.endswith("--reject-with icmp-port-unreachable")
    local = port(node_port=31000, external_local=True, external_endpoints=())
    tables = iptables.render([local], SETTINGS)
    ext = tables.nat[names.iptables_chain("KUBE-EXT-", local)]
    assert ext[0].endswith("-s 10.244.0.0/16 -j KUBE-SVC-XPGD46QRK7WJZT7O")
    assert ext[-1].endswith("-j DROP")


def test_restore_text_declares_every_chain_and_deletes_the_stale() -> None:
    text = iptables.restore_text(
        iptables.render([port()], SETTINGS),
        iptables.Tables(nat={"KUBE-SVC-OLD": []}, filter={}),
    )
    assert text.startswith("*filter\n:KUBE-SERVICES - [0:0]\n")
    assert ":KUBE-SVC-OLD - [0:0]" in text and "-X KUBE-SVC-OLD\nCOMMIT" in text
    assert text.count("COMMIT") == 2


def test_nft_affinity_goes_before_the_random_choice_and_updates_in_the_endpoint() -> None:
    rs = nftables.ruleset([port(affinity_seconds=60)], SETTINGS)
    service = rs.chains["service-ULMVA6XW-ns1/svc1/tcp/p80"]
    affinity = "affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    assert (
        service[1] == f"ip saddr @{affinity} goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    )
    assert service[-2] == (
        "numgen random mod 2 == 0 goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    )
    assert service[-1].startswith("goto endpoint-")
    assert "timeout 60s" in rs.declarations[affinity]
    endpoint = rs.chains["endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"]
    assert endpoint == ("ip saddr 10.180.0.1 mark set mark or 0x4000",
                        f"update @{affinity} {{ ip saddr }}",
                        "meta l4proto tcp dnat to 10.180.0.1:80")  # fmt: skip
    assert rs.elements["service-ips"] == {
        "172.30.0.41 . tcp . 80": "goto service-ULMVA6XW-ns1/svc1/tcp/p80"
    }


def test_nft_no_endpoints_rejects_and_node_ports_route_through_external_chains() -> None:
    rs = nftables.ruleset([port(cluster_endpoints=(), external_endpoints=(), node_port=31000)],
                          SETTINGS)  # fmt: skip
    assert rs.elements["no-endpoint-services"] == {"172.30.0.41 . tcp . 80": "goto reject-chain"}
    assert rs.elements["no-endpoint-nodeports"] == {"tcp . 31000": "goto reject-chain"}
    rs = nftables.ruleset([port(node_port=31000)], SETTINGS)
    external = "external-ULMVA6XW-ns1/svc1/tcp/p80"
    assert rs.elements["service-nodeports"] == {"tcp . 31000": f"goto {external}"}
    assert rs.chains[external] == ("jump mark-for-masquerade",
                                   "goto service-ULMVA6XW-ns1/svc1/tcp/p80")  # fmt: skip


def _rs(chains: dict[str, tuple[str, ...]], elements: dict[str, str]) -> Ruleset:
    return Ruleset("ip", "t", chains=chains, hooks={"base": "type nat hook output priority 0"},
                   declarations={"m": "map { type ipv4_addr : verdict ; }"},
                   elements={"m": elements})  # fmt: skip


def test_an_unchanged_ruleset_makes_an_empty_transaction() -> None:
    rs = _rs({"base": ("jump x",), "x": ("accept",)}, {"10.0.0.1": "goto x"})
    assert transaction(rs, rs) == "add table ip t\n"


def test_a_transaction_touches_only_what_changed_and_deletes_stale_chains_last() -> None:
    old = _rs({"base": ("jump x",), "x": ("accept",), "y": ("drop",)},
              {"10.0.0.1": "goto x", "10.0.0.2": "goto y"})  # fmt: skip
    new = _rs({"base": ("jump x",), "x": ("drop",), "z": ("accept",)},
              {"10.0.0.1": "goto x", "10.0.0.3": "goto z"})  # fmt: skip
    assert transaction(old, new).splitlines() == [
        "add table ip t",
        "add chain ip t z",
        "flush chain ip t x",
        "delete element ip t m { 10.0.0.2 }",
        "add rule ip t x drop",
        "add rule ip t z accept",
        "add element ip t m { 10.0.0.3 : goto z }",
        "delete chain ip t y",
    ]


def test_a_first_or_redeclaring_transaction_rebuilds_the_table() -> None:
    rs = _rs({"base": ("jump x",), "x": ("accept",)}, {})
    script = transaction(None, rs).splitlines()
    assert script[:3] == ["add table ip t", "delete table ip t", "add table ip t"]
    assert "add chain ip t base { type nat hook output priority 0 ; }" in script
    other = Ruleset("ip", "t", chains=rs.chains, hooks=rs.hooks,
                    declarations={"m": "map { type ipv4_addr : verdict ; timeout 1s ; }"},
                    elements=rs.elements)  # fmt: skip
    assert transaction(rs, other).splitlines()[1] == "delete table ip t"


def test_udp_flows_to_endpoints_that_went_are_found_for_each_way_in() -> None:
    before = port(protocol="udp", node_port=31053, external_ips=("192.0.2.9",))
    after = port(protocol="udp", node_port=31053, external_ips=("192.0.2.9",),
                 cluster_endpoints=(B,), external_endpoints=(B,))  # fmt: skip
    assert stale_udp_flows([before], [after]) == [
        Flow("", 31053, A.ip),
        Flow("172.30.0.41", 80, A.ip),
        Flow("192.0.2.9", 80, A.ip),
    ]
    assert stale_udp_flows([before], [before]) == []
    assert stale_udp_flows([port()], []) == []  # TCP ends its own connections
    assert {f.reply_src for f in stale_udp_flows([before], [])} == {A.ip, B.ip}
