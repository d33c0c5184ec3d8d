"""kind's validate_test.go cases, with the exact messages rather than just a count."""

from __future__ import annotations

import pytest

from kin import config
from kin.errors import ConfigError


def defaulted(**networking: object) -> config.Cluster:
    cluster = config.Cluster()
    config.set_defaults(cluster)
    for key, value in networking.items():
        setattr(cluster.networking, key, value)
    return cluster


def problems(cluster: config.Cluster) -> list[str]:
    try:
        config.validate(cluster)
    except ConfigError as exc:
        return exc.problems
    return []


def test_defaulted_cluster_is_valid():
    assert problems(defaulted()) == []


def test_defaulted_ipv6_and_dual_are_valid():
    for family in ("ipv6", "dual"):
        cluster = config.Cluster(networking=config.Networking(ip_family=family))
        config.set_defaults(cluster)
        assert problems(cluster) == []


def test_multiple_valid_nodes():
    cluster = defaulted()
    cluster.nodes += [config.Node("worker", "myImage:latest"), config.Node("worker", "img")]
    assert problems(cluster) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"pod_subnet": "aa"},
            [
                'invalid pod subnet failed to parse cidr value:"aa" with error: '
                "invalid CIDR address: aa"
            ],
        ),
        ({"api_server_port": 9999999}, ["invalid apiServerPort: invalid port number: 9999999"]),
        ({"api_server_port": -1}, []),
        ({"kube_proxy_mode": "notiptables"}, ["invalid kubeProxyMode: notiptables"]),
        ({"kube_proxy_mode": "none"}, []),
        ({"kube_proxy_mode": "nftables"}, []),
        ({"kube_proxy_mode": "ipvs"}, []),
        ({"ip_family": "ds"}, ["invalid ipFamily: ds"]),
        (
            {"pod_subnet": "192.168.0.2/24,2.2.2.0/24"},
            ["invalid pod subnet only one CIDR allowed for single-stack networking"],
        ),
        (
            {"pod_subnet": "", "service_subnet": ""},
            [
                'invalid pod subnet failed to parse cidr value:"" with error: invalid CIDR address: ',
                'invalid service subnet failed to parse cidr value:"" with error: '
                "invalid CIDR address: ",
            ],
        ),
        (
            {"pod_subnet": "10.0.0.0/33"},
            [
                "invalid pod subnet failed to parse cidr value:"
                '"10.0.0.0/33" with error: invalid CIDR address: '
                "10.0.0.0/33"
            ],
        ),
        (
            {"pod_subnet": "fe80::/64%eth0"},
            [
                "invalid pod subnet failed to parse cidr value:"
                '"fe80::/64%eth0" with error: invalid CIDR address: '
                "fe80::/64%eth0"
            ],
        ),
        ({"pod_subnet": "10.0.0.1/8"}, []),  # host bits are allowed, as in net.ParseCIDR
    ],
)
def test_cluster_field_problems(changes, expected):
    assert problems(defaulted(**changes)) == expected


@pytest.mark.parametrize(
    ("family", "pod", "service", "count"),
    [
        ("dual", "192.168.0.2/24,fd00:1::/25", "192.168.0.2/24,fd00:1::/25", 0),
        ("dual", "192.168.0.2/24,fd00:1::/25", "192.168.0.2/24,fd00:1::/25,10.0.0.0/16", 1),
        ("dual", "192.168.0.2/24,fd00:1::/25", "192.168.0.2/24", 0),
        ("dual", "192.168.0.2/24", "192.168.0.2/24,fd00:1::/25", 0),
        ("dual", "192.168.0.2/24,2.2.2.0/25", "192.168.0.2/24,2.2.2.0/25", 2),
        ("ipv6", "192.168.0.2/24", "192.168.0.2/24", 2),
        ("ipv4", "fd00:1::/25", "fd00:1::/25", 2),
        ("ipv4", "::ffff:10.0.0.0/120", "10.96.0.0/16", 0),  # IPv4-mapped counts as IPv4
    ],
)
def test_subnet_families(family, pod, service, count):
    cluster = defaulted(ip_family=family, pod_subnet=pod, service_subnet=service)
    assert len(problems(cluster)) == count


def test_missing_control_plane():
    cluster = defaulted()
    cluster.nodes = []
    assert problems(cluster) == ["must have at least one control-plane node"]


def test_bogus_node_role_is_one_problem_and_still_counts_no_control_plane():
    cluster = config.Cluster(nodes=[config.Node(role="bogus"), config.Node()])
    config.set_defaults(cluster)
    assert problems(cluster) == [
        'invalid configuration for node 0: "bogus" is not a valid node role'
    ]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (config.Node("control-plane", "img"), None),
        (config.Node("worker", "img"), None),
        (config.Node("control-plane", ""), "image is a required field"),
        (config.Node("", "img"), '"" is not a valid node role'),
        (config.Node("ssss", "img"), '"ssss" is not a valid node role'),
        (config.Node("con\ttrol", "img"), '"con\\ttrol" is not a valid node role'),
        (config.Node("", ""), '["" is not a valid node role, image is a required field]'),
    ],
)
def test_node_problems(node, expected):
    cluster = config.Cluster(name="kind", nodes=[config.Node("control-plane", "img")])
    config.set_defaults(cluster)
    cluster.nodes.append(node)
    found = problems(cluster)
    assert found == ([] if expected is None else [f"invalid configuration for node 1: {expected}"])


def mapping(addr: str, port: int, protocol: str, container: int = 80) -> config.PortMapping:
    return config.PortMapping(container, port, addr, protocol)


CLASH = "port mapping with same listen address, port and protocol already configured"


@pytest.mark.parametrize(
    ("mappings", "expected"),
    [
        (
            [
                mapping("127.0.0.1", 80, "UDP"),
                mapping("127.0.0.1", 80, "TCP"),
                mapping("0.0.0.0", 3000, "UDP"),
                mapping("0.0.0.0", 5000, "TCP"),
            ],
            None,
        ),
        (
            [
                mapping("::1", 80, "UDP"),
                mapping("::1", 80, "TCP"),
                mapping("1e3d:6e85:424d:a011:a72e:9780:5f6f:a6fc", 3000, "UDP"),
                mapping("6516:944d:e070:a1d1:2e91:8437:a6b3:edf9", 5000, "TCP"),
            ],
            None,
        ),
        (
            [
                mapping("127.0.0.1", 80, "TCP"),
                mapping("127.0.0.1", 80, "UDP"),
                mapping("127.0.0.1", 80, "TCP"),
            ],
            f"{CLASH}: 127.0.0.1:80/TCP",
        ),
        (
            [mapping("::1", 80, "TCP"), mapping("::1", 80, "UDP"), mapping("::1", 80, "TCP")],
            f"{CLASH}: ::1:80/TCP",
        ),
        (
            [
                mapping("127.0.0.1", 80, "TCP"),
                mapping("0.0.0.0", 80, "UDP"),
                mapping("::1", 80, "TCP"),
                mapping("::", 80, "UDP"),
            ],
            f"{CLASH}: :::80/UDP",
        ),
        (
            [mapping("127.0.0.1", 80, "TCP"), mapping("0.0.0.0", 80, "TCP")],
            f"{CLASH}: 0.0.0.0:80/TCP",
        ),
        ([mapping("::1", 80, "TCP"), mapping("::", 80, "TCP")], f"{CLASH}: :::80/TCP"),
        (
            [mapping("0.0.0.0", 80, "TCP"), mapping("127.0.0.1", 80, "TCP")],
            f"{CLASH}: 127.0.0.1:80/TCP",
        ),
        ([mapping("::", 80, "SCTP"), mapping("::1", 80, "SCTP")], f"{CLASH}: ::1:80/SCTP"),
        ([mapping("", 80, ""), mapping("127.0.0.1", 80, "")], f"{CLASH}: 127.0.0.1:80/"),
        ([mapping("", 80, ""), mapping("", 80, "TCP")], None),  # "" and TCP are not equal
        (
            [mapping("::ffff:127.0.0.1", 80, "TCP"), mapping("127.0.0.1", 80, "TCP")],
            f"{CLASH}: 127.0.0.1:80/TCP",
        ),
        (
            [mapping("0:0:0:0:0:0:0:1", 80, "TCP"), mapping("::1", 80, "TCP")],
            f"{CLASH}: ::1:80/TCP",
        ),
        ([mapping("", 0, ""), mapping("", 0, ""), mapping("", -1, ""), mapping("", -1, "")], None),
        ([mapping("not-an-ip", 0, "")], None),  # random ports are not checked at all
        ([mapping("not-an-ip", 80, "")], "invalid listen address: not-an-ip"),
        ([mapping("127.000.0.1", 80, "")], "invalid listen address: 127.000.0.1"),
        ([mapping("fe80::1%eth0", 80, "")], "invalid listen address: fe80::1%eth0"),
    ],
)
def test_port_mappings_within_a_node(mappings, expected):
    cluster = config.Cluster(
        nodes=[config.Node("control-plane", "img", extra_port_mappings=mappings)]
    )
    config.set_defaults(cluster)
    found = problems(cluster)
    assert found == (
        []
        if expected is None
        else [f"invalid configuration for node 0: invalid portMapping: {expected}"]
    )


def test_port_clash_is_per_node_only():
    same = [mapping("", 80, "TCP")]
    cluster = config.Cluster(
        nodes=[
            config.Node("control-plane", extra_port_mappings=same),
            config.Node("worker", extra_port_mappings=list(same)),
        ]
    )
    config.set_defaults(cluster)
    assert problems(cluster) == []


@pytest.mark.parametrize(
    ("port", "ok"), [(-1, True), (10, True), (65535, True), (-2, False), (65536, False)]
)
def test_port_range(port, ok):
    cluster = defaulted(api_server_port=port)
    expected = [] if ok else [f"invalid apiServerPort: invalid port number: {port}"]
    assert problems(cluster) == expected


def test_duplicate_problems_are_reported_once():
    bad = [mapping("", 80, "TCP", container=70000), mapping("", 81, "TCP", container=70000)]
    cluster = config.Cluster(nodes=[config.Node("control-plane", extra_port_mappings=bad)])
    config.set_defaults(cluster)
    assert problems(cluster) == [
        "invalid configuration for node 0: invalid containerPort: invalid port number: 70000"
    ]


def test_cluster_name_rules():
    for name in ("kind", "a.b-c", "0"):
        cluster = config.Cluster(name=name)
        config.set_defaults(cluster)
        assert problems(cluster) == []
    for name in ("", "Kind", "a_b", "kind\n"):
        cluster = config.Cluster(name=name, nodes=[config.Node("control-plane", "i")])
        config.set_defaults(cluster)
        cluster.name = name
        assert problems(cluster) == [
            f"'{name}' is not a valid cluster name, cluster names must match `^[a-z0-9.-]+$`"
        ]


def test_name_length_warning():
    assert config.name_length_warning("a" * 50) is None
    assert config.name_length_warning("a" * 51) == (
        f'cluster name "{"a" * 51}" is probably too long, this might not work properly on '
        "some systems"
    )
