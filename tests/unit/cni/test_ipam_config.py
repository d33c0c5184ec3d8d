"""host-local's config: defaults, order of range sets, requested IPs, and every error.

Messages are the reference's (checked against Debian's host-local 1.1.1 by
tests/netns/test_host_local.py); where Go's decoder says nothing useful, kin names the field.
"""

from __future__ import annotations

from typing import Any

import pytest

from kin.cni.ipam import format_ip, parse_ip
from kin.cni.ipam.config import load
from kin.errors import CNIError


def net(ipam: dict[str, Any] | None = None, version: str = "1.0.0", **top: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"cniVersion": version, "name": "net1", **top}
    if ipam is not None:
        config["ipam"] = {"type": "host-local", **ipam}
    return config


def one(**fields: str) -> dict[str, Any]:
    return {"ranges": [[{"subnet": "10.1.2.0/24", **fields}]]}


def ranges_of(config: dict[str, Any], args: str = "") -> list[list[str]]:
    conf = load(config, args)
    return [[f"{r} gw {format_ip(r.gateway)}" for r in s.ranges] for s in conf.range_sets]


def test_defaults_are_network_plus_one_to_last_but_broadcast() -> None:
    assert ranges_of(net(one())) == [["10.1.2.1-10.1.2.254 gw 10.1.2.1"]]
    v6 = {"ranges": [[{"subnet": "fd00::/120"}]]}
    assert ranges_of(net(v6)) == [["fd00::1-fd00::ff gw fd00::1"]]


def test_given_bounds_and_gateway_are_kept() -> None:
    fields = {"rangeStart": "10.1.2.10", "rangeEnd": "10.1.2.20", "gateway": "10.1.2.254"}
    assert ranges_of(net(one(**fields))) == [["10.1.2.10-10.1.2.20 gw 10.1.2.254"]]


def test_runtime_ranges_then_legacy_subnet_then_ranges() -> None:
    config = net(
        {"subnet": "10.1.5.0/24", "gateway": "10.1.5.9", **one()},
        runtimeConfig={"ipRanges": [[{"subnet": "10.1.9.0/24"}]]},
    )
    assert ranges_of(config) == [
        ["10.1.9.1-10.1.9.254 gw 10.1.9.1"],
        ["10.1.5.1-10.1.5.254 gw 10.1.5.9"],
        ["10.1.2.1-10.1.2.254 gw 10.1.2.1"],
    ]


def test_keys_match_case_insensitively_as_go_json_does() -> None:
    config = net({"Ranges": [[{"SUBNET": "10.1.2.0/24", "rangestart": "10.1.2.10"}]]})
    assert ranges_of(config) == [["10.1.2.10-10.1.2.254 gw 10.1.2.1"]]


def test_requested_ips_in_order_cni_args_args_runtime_config_without_repeats() -> None:
    config = net(
        one(),
        args={"cni": {"ips": ["10.1.2.5", "10.1.2.3"]}},
        runtimeConfig={"ips": ["10.1.2.7/24", "::ffff:10.1.2.8"]},
    )
    conf = load(config, "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.1.2.3")
    assert [format_ip(ip) for ip in conf.requested] == [
        "10.1.2.3",
        "10.1.2.5",
        "10.1.2.7",
        "10.1.2.8",
    ]


def test_other_fields_and_routes_per_version() -> None:
    ipam = {
        **one(),
        "dataDir": "/run/x",
        "resolvConf": "/etc/r",
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "FD00:0::/64", "gw": "fd00::1", "mtu": 1400}],
    }
    conf = load(net(ipam))
    assert (conf.name, conf.data_dir, conf.resolv_conf) == ("net1", "/run/x", "/etc/r")
    assert conf.routes_for("1.0.0") == [{"dst": "0.0.0.0/0"}, {"dst": "fd00::/64", "gw": "fd00::1"}]
    assert conf.routes_for("1.1.0")[1] == {"dst": "fd00::/64", "gw": "fd00::1", "mtu": 1400}


TWO_V4 = {"ranges": [[{"subnet": "10.1.2.0/24"}], [{"subnet": "10.1.3.0/24"}]]}

INVALID: list[tuple[str, dict[str, Any], str, int, str]] = [
    ("no ipam", net(), "", 7, "IPAM config missing 'ipam' key"),
    ("no ranges", net({}), "", 7, "no IP ranges specified"),
    ("empty ranges", net({"ranges": []}), "", 7, "no IP ranges specified"),
    ("empty set", net({"ranges": [[]]}), "", 7, "invalid range set 0: empty range set"),
    ("no subnet", net({"ranges": [[{}]]}), "", 7, "invalid range set 0: IP <nil> not v4 nor v6"),
    (
        "/31",
        net({"ranges": [[{"subnet": "10.1.2.0/31"}]]}),
        "",
        7,
        "invalid range set 0: Network 10.1.2.0/31 too small to allocate from",
    ),
    (
        "/127",
        net({"ranges": [[{"subnet": "fd00::/127"}]]}),
        "",
        7,
        "invalid range set 0: Network fd00::/127 too small to allocate from",
    ),
    (
        "host bits",
        net({"ranges": [[{"subnet": "10.1.2.1/24"}]]}),
        "",
        7,
        "invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 10.1.2.0",
    ),
    (
        "mapped subnet",
        net({"ranges": [[{"subnet": "::ffff:10.1.2.0/120"}]]}),
        "",
        7,
        "invalid range set 0: IPNet IP and Mask version mismatch",
    ),
    (
        "start outside",
        net(one(rangeStart="10.1.3.1")),
        "",
        7,
        "invalid range set 0: RangeStart 10.1.3.1 not in network 10.1.2.0/24",
    ),
    (
        "end outside",
        net(one(rangeEnd="10.1.3.1")),
        "",
        7,
        "invalid range set 0: RangeEnd 10.1.3.1 not in network 10.1.2.0/24",
    ),
    (
        "start after end",
        net(one(rangeStart="10.1.2.9", rangeEnd="10.1.2.5")),
        "",
        7,
        "invalid range set 0: RangeStart 10.1.2.9 not in network 10.1.2.0/24",
    ),
    (
        "family",
        net(one(rangeStart="fd00::1")),
        "",
        7,
        "invalid range set 0: RangeStart fd00::1 not in network 10.1.2.0/24",
    ),
    (
        "mixed",
        net({"ranges": [[{"subnet": "10.1.2.0/24"}, {"subnet": "fd00::/64"}]]}),
        "",
        7,
        "invalid range set 0: mixed address families",
    ),
    (
        "overlap in set",
        net({"ranges": [[{"subnet": "10.1.2.0/24"}, {"subnet": "10.1.2.0/25"}]]}),
        "",
        7,
        "invalid range set 0: subnets 10.1.2.1-10.1.2.254 and 10.1.2.1-10.1.2.126 overlap",
    ),
    (
        "overlap of sets",
        net({"subnet": "10.1.2.0/24", **one()}),
        "",
        7,
        "range set 0 overlaps with 1",
    ),
    (
        "second set bad",
        net({"ranges": [[{"subnet": "10.1.2.0/24"}], [{"subnet": "10.1.3.0/32"}]]}),
        "",
        7,
        "invalid range set 1: Network 10.1.3.0/32 too small to allocate from",
    ),
    (
        "0.2.0 two v4",
        net(TWO_V4, version="0.2.0"),
        "",
        7,
        "CNI version 0.2.0 does not support more than 1 address per family",
    ),
    (
        "no version two v4",
        net(TWO_V4, version=""),
        "",
        7,
        "CNI version  does not support more than 1 address per family",
    ),
    (
        "bad subnet",
        net({"ranges": [[{"subnet": "foo"}]]}),
        "",
        7,
        "ipam.ranges[0][0].subnet: invalid CIDR address: foo",
    ),
    (
        "bad legacy start",
        net({"subnet": "10.1.2.0/24", "rangeStart": "bar"}),
        "",
        7,
        "ipam.rangeStart: invalid IP address: bar",
    ),
    (
        "bad runtime range",
        net(one(), runtimeConfig={"ipRanges": [[{"subnet": "10.0.0.0/8", "gateway": 5}]]}),
        "",
        7,
        "runtimeConfig.ipRanges[0][0].gateway: expected a string",
    ),
    ("ranges not a list", net({"ranges": "x"}), "", 7, "ipam.ranges: expected a list"),
    ("set not a list", net({"ranges": ["x"]}), "", 7, "ipam.ranges[0]: expected a list"),
    (
        "range not an object",
        net({"ranges": [["x"]]}),
        "",
        7,
        "ipam.ranges[0][0]: expected an object",
    ),
    ("ipam not an object", net({}) | {"ipam": 3}, "", 7, "ipam: expected an object"),
    (
        "bad route",
        net({**one(), "routes": [{"dst": "10.0.0.0/8"}, {"dst": "x"}]}),
        "",
        7,
        "ipam.routes[1].dst: invalid CIDR address: x",
    ),
    ("route without dst", net({**one(), "routes": [{}]}), "", 7, "ipam.routes[0].dst: missing"),
    (
        "route mtu",
        net({**one(), "routes": [{"dst": "0.0.0.0/0", "mtu": "9000"}]}),
        "",
        7,
        "ipam.routes[0].mtu: expected an integer",
    ),
    ("dataDir", net({**one(), "dataDir": 1}), "", 7, "ipam.dataDir: expected a string"),
    (
        "CNI_ARGS IP",
        net(one()),
        "IP=foo",
        4,
        'ARGS: error parsing value of pair "IP=foo": invalid IP address foo',
    ),
    ("CNI_ARGS unknown", net(one()), "FOO=1", 4, 'ARGS: unknown args ["FOO"]'),
    (
        "args ips",
        net(one(), args={"cni": {"ips": ["zz"]}}),
        "",
        7,
        "args.cni.ips[0]: invalid IP address zz",
    ),
    (
        "args ips not a cidr",
        net(one(), args={"cni": {"ips": ["10.1.2.3/24"]}}),
        "",
        7,
        "args.cni.ips[0]: invalid IP address 10.1.2.3/24",
    ),
    (
        "runtime ips",
        net(one(), runtimeConfig={"ips": ["10.1.2.3/99"]}),
        "",
        7,
        "runtimeConfig.ips[0]: invalid IP address 10.1.2.3/99",
    ),
]


@pytest.mark.parametrize(
    ("config", "args", "code", "message"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_configs_name_the_problem(
    config: dict[str, Any], args: str, code: int, message: str
) -> None:
    with pytest.raises(CNIError) as caught:
        load(config, args)
    assert (caught.value.code, caught.value.msg) == (code, message)


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_several_sets_of_one_family_from_0_3_0(version: str) -> None:
    assert len(load(net(TWO_V4, version=version)).range_sets) == 2


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0"])
def test_one_set_per_family_is_fine_before_0_3_0(version: str) -> None:
    both = {"ranges": [[{"subnet": "10.1.2.0/24"}], [{"subnet": "fd00::/64"}]]}
    assert len(load(net(both, version=version)).range_sets) == 2


def test_gateway_outside_the_subnet_is_accepted_as_the_reference_does() -> None:
    conf = load(net(one(gateway="10.1.3.1")))
    assert conf.range_sets[0].ranges[0].gateway == parse_ip("10.1.3.1")
