"""kin.cni.portmap_rules without root: config checks, the nft scripts ADD writes, what DEL,
GC and CHECK make of ``nft -j`` listings, and the plugin's two readers of /proc (the
route toward the pod for ``route_localnet``, tracked UDP flows for ``conntrack -D``).

The netns tier proves these scripts move packets; here every case pins the text, so a
change to the layout shows up as a readable diff. Listings are built in the shape
``nft -j list table`` prints (nftables 1.0.6).
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

import pytest

from kin.cni import portmap_rules as rules
from kin.cni.plugins import portmap
from kin.cni.spec import ERR_INVALID_NETWORK_CONFIG, ERR_UNSUPPORTED_FIELD
from kin.errors import CNIError

POD4 = "10.244.1.2"
POD6 = "fd00:10:244:1::2"
COMMENT = "cbr0/c0ffee"


def config(*mappings: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "cbr0", "runtimeConfig": {"portMappings": list(mappings)}, **extra}


def tcp(host: int, container: int, host_ip: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {"hostPort": host, "containerPort": container, "protocol": "tcp"}
    return {**entry, "hostIP": host_ip} if host_ip else entry


def udp(host: int, container: int) -> dict[str, Any]:
    return {"hostPort": host, "containerPort": container, "protocol": "udp"}


def script(family: str, pod: str, raw: dict[str, Any]) -> list[str]:
    return rules.add_script(family, pod, rules.parse_config(raw), COMMENT).splitlines()


def skeleton(family: str, entry: str = "fib daddr type local jump hostports_all") -> list[str]:
    at = f"{family} cni_hostport"
    return [
        f'add table {at} {{ comment "CNI portmap plugin" ; }}',
        f"add chain {at} hostports",
        f"add chain {at} hostip_hostports",
        f"add chain {at} hostports_all",
        f"flush chain {at} hostports_all",
        f"add rule {at} hostports_all jump hostip_hostports",
        f"add rule {at} hostports_all jump hostports",
        f"add chain {at} prerouting {{ type nat hook prerouting priority -100 ; }}",
        f"flush chain {at} prerouting",
        f"add rule {at} prerouting {entry}",
        f"add chain {at} output {{ type nat hook output priority -100 ; }}",
        f"flush chain {at} output",
        f"add rule {at} output {entry}",
    ]


MASQ_CHAIN = "add chain {} cni_hostport masquerading {{ type nat hook postrouting priority 100 ; }}"


# --- config ---------------------------------------------------------------------------------


def test_defaults_follow_the_reference() -> None:
    conf = rules.parse_config(config(tcp(8080, 80)))
    assert (conf.snat, conf.masq_all, conf.mark_bit, conf.backend) == (True, False, 13, "")
    assert conf.conditions == {"ip": [], "ip6": []}
    assert [repr(m) for m in conf.mappings] == ["8080->80/tcp"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"markMasqBit": 32}, "markMasqBit must be between 0 and 31, not 32"),
        ({"markMasqBit": -1}, "markMasqBit must be between 0 and 31, not -1"),
        ({"markMasqBit": True}, "markMasqBit must be between 0 and 31, not True"),
        ({"markMasqBit": "13"}, "markMasqBit must be between 0 and 31, not '13'"),
        (
            {"markMasqBit": 13, "externalSetMarkChain": "KUBE-MARK-MASQ"},
            "cannot specify externalSetMarkChain and markMasqBit",
        ),
        ({"snat": "yes"}, "snat must be true or false, not 'yes'"),
        ({"masqAll": 1}, "masqAll must be true or false, not 1"),
        (
            {"conditionsV4": "ip saddr 1.2.3.4"},
            "conditionsV4 must be a list of strings, not 'ip saddr 1.2.3.4'",
        ),
        (
            {"conditionsV6": ["ip6 saddr ::1\nflush ruleset"]},
            "conditionsV6: one rule's matches only, no newline, ';' or '#': ['ip6 saddr ::1\\nflush ruleset']",
        ),
        (
            {"conditionsV4": ["accept;", "flush ruleset"]},
            "conditionsV4: one rule's matches only, no newline, ';' or '#': ['accept;', 'flush ruleset']",
        ),
    ],
)
def test_invalid_settings_are_code_7_naming_the_field(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(CNIError) as caught:
        rules.parse_config(config(tcp(8080, 80), **extra))
    assert (caught.value.code, caught.value.msg) == (ERR_INVALID_NETWORK_CONFIG, message)


@pytest.mark.parametrize("bit", [0, 13, 31])
def test_mark_bit_is_validated_but_writes_no_mark(bit: int) -> None:
    """The nftables layout masquerades by address: any valid bit gives the same script."""
    raw = config(tcp(8080, 80), markMasqBit=bit)
    assert rules.parse_config(raw).mark_bit == bit
    assert script("ip", POD4, raw) == script("ip", POD4, config(tcp(8080, 80)))
    assert not any("mark" in line for line in script("ip", POD4, raw))


def test_backend_iptables_is_refused_as_an_unsupported_field() -> None:
    with pytest.raises(CNIError) as caught:
        rules.parse_config(config(tcp(8080, 80), backend="iptables"))
    assert caught.value.code == ERR_UNSUPPORTED_FIELD
    assert caught.value.msg == "unsupported field \"backend\": 'iptables'"
    assert rules.parse_config(config(tcp(8080, 80), backend="nftables")).backend == "nftables"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (tcp(0, 80), "Invalid host port number: 0 (runtimeConfig.portMappings[1].hostPort)"),
        (
            tcp(65536, 80),
            "Invalid host port number: 65536 (runtimeConfig.portMappings[1].hostPort)",
        ),
        (
            tcp(8080, -1),
            "Invalid container port number: -1 (runtimeConfig.portMappings[1].containerPort)",
        ),
        (
            {"hostPort": "8080", "containerPort": 80},
            "Invalid host port number: '8080' (runtimeConfig.portMappings[1].hostPort)",
        ),
        (
            {**tcp(1, 2), "protocol": "icmp"},
            "runtimeConfig.portMappings[1].protocol: unsupported protocol 'icmp' (tcp, udp or sctp)",
        ),
        (
            tcp(8080, 80, "10.0.0.300"),
            "runtimeConfig.portMappings[1].hostIP: '10.0.0.300' is not an IP address",
        ),
        (
            tcp(8080, 80, "1.2.3.4 accept"),
            "runtimeConfig.portMappings[1].hostIP: '1.2.3.4 accept' is not an IP address",
        ),
        (
            tcp(8080, 80, 'fe80::1%x"; flush ruleset'),
            "runtimeConfig.portMappings[1].hostIP: 'fe80::1%x\"; flush ruleset' is not an IP address",
        ),
        (
            {**tcp(8080, 80), "hostIP": 167772161},
            "runtimeConfig.portMappings[1].hostIP: 167772161 is not an IP address",
        ),
        ("8080:80", "runtimeConfig.portMappings[1] must be an object, not '8080:80'"),
    ],
)
def test_invalid_mappings_are_code_7_naming_the_entry(entry: object, message: str) -> None:
    raw = config(tcp(1, 1))
    raw["runtimeConfig"]["portMappings"].append(entry)
    with pytest.raises(CNIError) as caught:
        rules.parse_config(raw)
    assert (caught.value.code, caught.value.msg) == (ERR_INVALID_NETWORK_CONFIG, message)


def test_mappings_normalise_protocol_and_host_ip() -> None:
    conf = rules.parse_config(
        config({"hostPort": 1, "containerPort": 2, "protocol": "UDP"}, tcp(3, 4, "FD00::0:1"))
    )
    assert [repr(m) for m in conf.mappings] == ["1->2/udp", "fd00::1:3->4/tcp"]
    assert rules.parse_config({"name": "n"}).mappings == []


# --- ADD scripts ------------------------------------------------------------------------------


def test_tcp_and_udp_mappings_in_order_with_hairpin_and_localhost_masquerade() -> None:
    lines = script("ip", POD4, config(tcp(8080, 80), udp(5353, 53), tcp(8443, 443)))
    assert lines == [
        *skeleton("ip"),
        MASQ_CHAIN.format("ip"),
        f'add rule ip cni_hostport hostports tcp dport 8080 dnat to {POD4}:80 comment "{COMMENT}"',
        f'add rule ip cni_hostport hostports udp dport 5353 dnat to {POD4}:53 comment "{COMMENT}"',
        f'add rule ip cni_hostport hostports tcp dport 8443 dnat to {POD4}:443 comment "{COMMENT}"',
        f'add rule ip cni_hostport masquerading ip saddr {POD4} ip daddr {POD4} masquerade comment "{COMMENT}"',
        f'add rule ip cni_hostport masquerading ip saddr 127.0.0.1 ip daddr {POD4} masquerade comment "{COMMENT}"',
    ]


def test_ipv6_uses_brackets_and_has_no_localhost_rule() -> None:
    lines = script("ip6", POD6, config(tcp(8080, 80)))
    assert lines == [
        *skeleton("ip6"),
        MASQ_CHAIN.format("ip6"),
        f'add rule ip6 cni_hostport hostports tcp dport 8080 dnat to [{POD6}]:80 comment "{COMMENT}"',
        f'add rule ip6 cni_hostport masquerading ip6 saddr {POD6} ip6 daddr {POD6} masquerade comment "{COMMENT}"',
    ]


def test_host_ip_restricts_its_own_family_and_skips_the_other() -> None:
    raw = config(
        tcp(1001, 1, "172.31.0.1"),
        tcp(1002, 2, "0.0.0.0"),
        tcp(1003, 3, "fd00::1"),
        tcp(1004, 4, "::"),
    )
    dnat4 = [line for line in script("ip", POD4, raw) if "dnat" in line]
    dnat6 = [line for line in script("ip6", POD6, raw) if "dnat" in line]
    assert [line.split(" hostports ")[1].split(" comment")[0] for line in dnat4] == [
        f"ip daddr 172.31.0.1 tcp dport 1001 dnat to {POD4}:1",
        f"tcp dport 1002 dnat to {POD4}:2",
    ]
    assert [line.split(" hostports ")[1].split(" comment")[0] for line in dnat6] == [
        f"ip6 daddr fd00::1 tcp dport 1003 dnat to [{POD6}]:3",
        f"tcp dport 1004 dnat to [{POD6}]:4",
    ]


def test_a_family_without_mappings_gets_no_table() -> None:
    assert script("ip6", POD6, config(tcp(1001, 1, "172.31.0.1"))) == []


def test_snat_off_writes_no_masquerading_at_all() -> None:
    lines = script("ip", POD4, config(tcp(8080, 80), snat=False))
    assert lines == [
        *skeleton("ip"),
        f'add rule ip cni_hostport hostports tcp dport 8080 dnat to {POD4}:80 comment "{COMMENT}"',
    ]


def test_masq_all_masquerades_dnatted_connections_to_the_pod() -> None:
    lines = script("ip", POD4, config(tcp(8080, 80), masqAll=True))
    assert lines[-1] == (
        f'add rule ip cni_hostport masquerading ip daddr {POD4} ct status dnat masquerade comment "{COMMENT}"'
    )
    assert sum("masquerade comment" in line for line in lines) == 1


def test_conditions_guard_the_entry_rules_of_their_family_only() -> None:
    raw = config(
        tcp(8080, 80),
        conditionsV4=["ip", "saddr", "!=", "10.9.0.0/16"],
        conditionsV6=["meta mark 1"],
    )
    v4, v6 = script("ip", POD4, raw), script("ip6", POD6, raw)
    assert v4[:13] == skeleton(
        "ip", "ip saddr != 10.9.0.0/16 fib daddr type local jump hostports_all"
    )
    assert v6[:13] == skeleton("ip6", "meta mark 1 fib daddr type local jump hostports_all")


# --- identity ---------------------------------------------------------------------------------


def test_comment_names_network_and_container() -> None:
    assert rules.owner_comment("cbr0", "c0ffee") == "cbr0/c0ffee"
    assert rules.network_prefix("cbr0") == "cbr0/"


@pytest.mark.parametrize(
    ("network", "cid"), [("n" * 60, "c" * 64), ("kindnet", "c" * 200), ("n" * 300, "c" * 300)]
)
def test_long_comments_fit_nft_and_stay_distinct_and_stable(network: str, cid: str) -> None:
    comment = rules.owner_comment(network, cid)
    assert len(comment) <= 128
    assert comment.startswith(rules.network_prefix(network))
    assert comment == rules.owner_comment(network, cid)
    assert comment != rules.owner_comment(network, cid[:-1] + "x")
    assert rules.network_prefix(network) != rules.network_prefix(network[:-1] + "x")


# --- which addresses --------------------------------------------------------------------------


def test_container_ips_take_the_first_sandbox_address_per_family() -> None:
    prev = {
        "interfaces": [
            {"name": "cni0", "mac": "aa"},
            {"name": "veth1", "mac": "bb"},
            {"name": "eth0", "mac": "cc", "sandbox": "/run/netns/p"},
            {"name": "net1", "mac": "dd", "sandbox": "/run/netns/p"},
        ],
        "ips": [
            {"address": "10.244.1.1/24", "interface": 0},
            {"address": "10.9.9.9/24", "interface": 3},
            {"address": "10.244.1.2/24", "interface": 2},
            {"address": "10.244.1.3/24", "interface": 2},
            {"address": "FD00::2/64"},
        ],
    }
    assert rules.container_ips(prev, "eth0") == {"ip": "10.244.1.2", "ip6": "fd00::2"}
    assert rules.container_ips({"ips": []}, "eth0") == {}
    with pytest.raises(CNIError, match=r"prevResult\.ips: 'fe80::2%eth0' is not an IP address"):
        rules.container_ips({"ips": [{"address": "fe80::2%eth0/64"}]}, "eth0")


def route_line(iface: str, dest: str, mask: str, metric: int = 0, flags: int = 1) -> str:
    def word(address: str) -> str:
        return f"{int.from_bytes(ipaddress.IPv4Address(address).packed, sys.byteorder):08X}"

    return f"{iface}\t{word(dest)}\t00000000\t{flags:04X}\t0\t0\t{metric}\t{word(mask)}\t0\t0\t0"


def test_route_interface_is_the_longest_prefix_then_lowest_metric() -> None:
    table = "\n".join(
        [
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT",
            route_line("eth0", "0.0.0.0", "0.0.0.0"),
            route_line("cni0", "10.244.1.0", "255.255.255.0", metric=10),
            route_line("veth9", "10.244.1.0", "255.255.255.0", metric=5),
            route_line("down0", "10.244.1.2", "255.255.255.255", flags=0),
            route_line("flannel.1", "10.244.0.0", "255.255.0.0"),
        ]
    )
    assert portmap.route_interface(table, "10.244.1.2") == "veth9"
    assert portmap.route_interface(table, "10.244.7.2") == "flannel.1"
    assert portmap.route_interface(table, "8.8.8.8") == "eth0"
    assert portmap.route_interface(table.splitlines()[0], "8.8.8.8") is None


NF_CONNTRACK = """\
ipv4     2 udp      17 28 src=172.31.0.2 dst=172.31.0.1 sport=40000 dport=5353 [UNREPLIED] src=172.31.0.1 dst=172.31.0.2 sport=5353 dport=40000 mark=0 zone=0 use=2
ipv4     2 udp      17 28 src=172.31.0.2 dst=172.31.0.1 sport=5353 dport=40001 [UNREPLIED] src=172.31.0.1 dst=172.31.0.2 sport=40001 dport=5353 mark=0 zone=0 use=2
ipv4     2 tcp      6 431999 ESTABLISHED src=172.31.0.2 dst=172.31.0.1 sport=40002 dport=8080 src=10.244.1.2 dst=172.31.0.2 sport=80 dport=40002 [ASSURED] mark=0 zone=0 use=2
ipv6     10 udp      17 28 src=fd00:31::2 dst=fd00:31::1 sport=40003 dport=8080 [UNREPLIED] src=fd00:31::1 dst=fd00:31::2 sport=8080 dport=40003 mark=0 zone=0 use=2
"""


def test_tracked_udp_reads_the_original_destination_port_per_family() -> None:
    both = ("ip", "ip6")
    assert portmap.tracked_udp(NF_CONNTRACK, {5353, 8080, 40001}, both) == {
        ("ip", 5353),
        ("ip", 40001),
        ("ip6", 8080),
    }
    assert portmap.tracked_udp(NF_CONNTRACK, {5353, 8080}, ("ip",)) == {("ip", 5353)}
    assert portmap.tracked_udp(NF_CONNTRACK, {53}, both) == set()
    assert portmap.tracked_udp("", {5353}, both) == set()


# --- DEL, GC and CHECK against listings -------------------------------------------------------


def payload(proto: str, field: str, right: object, op: str = "==") -> dict[str, Any]:
    return {
        "match": {
            "op": op,
            "left": {"payload": {"protocol": proto, "field": field}},
            "right": right,
        }
    }


class Listing:
    """Builds what ``nft -j list table FAMILY cni_hostport`` prints after kin's ADDs."""

    def __init__(self, family: str = "ip") -> None:
        self.family = family
        self.handle = 10
        self.items: list[dict[str, Any]] = [
            {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
            {"table": {"family": family, "name": "cni_hostport", "handle": 1}},
        ]
        for name in (
            "hostports",
            "hostip_hostports",
            "hostports_all",
            "prerouting",
            "output",
            "masquerading",
        ):
            self.items.append({"chain": {"family": family, "table": "cni_hostport", "name": name}})
        for target in ("hostip_hostports", "hostports"):
            self.rule("hostports_all", [{"jump": {"target": target}}])
        self.entry = [
            {
                "match": {
                    "op": "==",
                    "left": {"fib": {"result": "type", "flags": ["daddr"]}},
                    "right": "local",
                }
            }
        ]
        self.entry.append({"jump": {"target": "hostports_all"}})
        self.rule("prerouting", self.entry)
        self.rule("output", self.entry)

    def rule(self, chain: str, expr: list[dict[str, Any]], comment: str = "") -> int:
        self.handle += 1
        rule: dict[str, Any] = {
            "family": self.family,
            "table": "cni_hostport",
            "chain": chain,
            "handle": self.handle,
            "expr": expr,
        }
        if comment:
            rule["comment"] = comment
        self.items.append({"rule": rule})
        return self.handle

    def dnat(self, comment: str, pod: str, host_port: int, port: int, host_ip: str = "") -> int:
        match = [payload(self.family, "daddr", host_ip)] if host_ip else []
        expr = [*match, payload("tcp", "dport", host_port), {"dnat": {"addr": pod, "port": port}}]
        return self.rule("hostports", expr, comment)

    def masquerade(self, comment: str, source: str, pod: str) -> int:
        expr = [
            payload(self.family, "saddr", source),
            payload(self.family, "daddr", pod),
            {"masquerade": None},
        ]
        return self.rule("masquerading", expr, comment)

    def add(self, comment: str, pod: str, host_port: int, port: int) -> list[int]:
        handles = [self.dnat(comment, pod, host_port, port), self.masquerade(comment, pod, pod)]
        return [*handles, self.masquerade(comment, "127.0.0.1", pod)]


def hooks_handles(listing: Listing) -> list[int]:
    return [
        i["rule"]["handle"]
        for i in listing.items
        if i.get("rule", {}).get("chain") in ("prerouting", "output")
    ]


def test_removing_the_last_attachment_removes_the_table_guarded_by_the_entry_jumps() -> None:
    listing = Listing()
    listing.add("cbr0/a", POD4, 8080, 80)
    prerouting, output = hooks_handles(listing)
    assert rules.removal_script("ip", listing.items, "cbr0/a".__eq__).splitlines() == [
        f"delete rule ip cni_hostport prerouting handle {prerouting}",
        f"delete rule ip cni_hostport output handle {output}",
        "delete table ip cni_hostport",
    ]


def test_removing_one_of_two_attachments_deletes_exactly_its_rules() -> None:
    listing = Listing()
    mine = listing.add("cbr0/a", POD4, 8080, 80)
    listing.add("cbr0/b", "10.244.1.3", 8081, 80)
    assert rules.removal_script("ip", listing.items, "cbr0/a".__eq__).splitlines() == [
        f"delete rule ip cni_hostport {chain} handle {handle}"
        for chain, handle in zip(["hostports", "masquerading", "masquerading"], mine, strict=True)
    ]


def test_nothing_of_ours_means_no_script() -> None:
    listing = Listing()
    listing.add("cbr0/b", POD4, 8080, 80)
    assert rules.removal_script("ip", listing.items, "cbr0/a".__eq__) == ""
    assert rules.removal_script("ip", [], "cbr0/a".__eq__) == ""


def test_an_empty_table_left_by_a_race_goes_with_the_next_removal() -> None:
    listing = Listing()
    assert rules.removal_script("ip", listing.items, "cbr0/a".__eq__).splitlines()[-1] == (
        "delete table ip cni_hostport"
    )


@pytest.mark.parametrize(
    "foreign",
    [
        {"chain": {"family": "ip", "table": "cni_hostport", "name": "someone_elses"}},
        {"set": {"family": "ip", "table": "cni_hostport", "name": "s"}},
    ],
)
def test_anything_foreign_in_the_table_keeps_the_table(foreign: dict[str, Any]) -> None:
    listing = Listing()
    mine = listing.add("cbr0/a", POD4, 8080, 80)
    listing.items.append(foreign)
    lines = rules.removal_script("ip", listing.items, "cbr0/a".__eq__).splitlines()
    assert [int(line.rsplit(" ", 1)[1]) for line in lines] == mine


def test_reference_rules_without_our_comment_keep_the_table() -> None:
    listing = Listing()
    mine = listing.add("cbr0/a", POD4, 8080, 80)
    listing.dnat("c0ffee", "10.244.1.9", 9090, 90)  # the Go plugin's bare container ID
    lines = rules.removal_script("ip", listing.items, "cbr0/a".__eq__).splitlines()
    assert [int(line.rsplit(" ", 1)[1]) for line in lines] == mine


def test_check_accepts_exactly_what_add_wrote() -> None:
    conf = rules.parse_config(config(tcp(8080, 80), tcp(9090, 90, "172.31.0.1")))
    listing = Listing()
    listing.dnat(COMMENT, POD4, 8080, 80)
    listing.dnat(COMMENT, POD4, 9090, 90, host_ip="172.31.0.1")
    listing.masquerade(COMMENT, POD4, POD4)
    listing.masquerade(COMMENT, "127.0.0.1", POD4)
    assert rules.check_problems("ip", POD4, conf, COMMENT, listing.items) == []
    assert rules.check_problems("ip", "10.244.1.3", conf, COMMENT, listing.items) == [
        "no DNAT rule for 8080->80/tcp to 10.244.1.3",
        "no DNAT rule for 172.31.0.1:9090->90/tcp to 10.244.1.3",
    ]
    assert rules.check_problems("ip", POD4, conf, "cbr0/other", listing.items) == [
        f"no DNAT rule for 8080->80/tcp to {POD4}",
        f"no DNAT rule for 172.31.0.1:9090->90/tcp to {POD4}",
        "2 of 2 masquerade rules for 10.244.1.2 missing",
    ]


def test_check_notices_a_missing_entry_jump_and_missing_masquerade() -> None:
    conf = rules.parse_config(config(tcp(8080, 80)))
    listing = Listing()
    listing.dnat(COMMENT, POD4, 8080, 80)
    listing.masquerade(COMMENT, POD4, POD4)
    listing.items = [i for i in listing.items if i.get("rule", {}).get("chain") != "output"]
    assert rules.check_problems("ip", POD4, conf, COMMENT, listing.items) == [
        "no jump to hostports_all in ip output",
        "1 of 2 masquerade rules for 10.244.1.2 missing",
    ]
    assert rules.check_problems(
        "ip", POD4, rules.parse_config(config(tcp(8080, 80), snat=False)), COMMENT, listing.items
    ) == ["no jump to hostports_all in ip output"]
    assert rules.check_problems("ip", POD4, conf, COMMENT, []) == [
        "no jump to hostports_all in ip prerouting",
        "no jump to hostports_all in ip output",
        f"no DNAT rule for 8080->80/tcp to {POD4}",
        "2 of 2 masquerade rules for 10.244.1.2 missing",
    ]
