"""net-conf.json as flanneld reads it: Go's case-insensitive keys, Flannel's defaults
(udp when there is no Backend, VNI 1, port 8285 for udp), CheckNetworkConfig's subnet
ranges, and an error that names the file for everything else."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from kin.errors import ConfigError
from kin.flannel.netconf import lease_ranges, parse

SEED = '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'  # kube-flannel.yml's


def conf(**fields: Any) -> str:
    return json.dumps({"Network": "10.244.0.0/16", **fields})


def test_the_manifests_config_is_vxlan_vni_1_on_the_kernels_port() -> None:
    config = parse(SEED)
    assert config.network == ipaddress.IPv4Network("10.244.0.0/16")
    assert config.enable_ipv4 and not config.enable_ipv6 and not config.enable_nftables
    assert config.backend.type == "vxlan"
    assert config.backend.options == {
        "VNI": 1, "Port": 0, "GBP": False, "Learning": False, "DirectRouting": False, "MTU": 0
    }  # fmt: skip


def test_keys_match_case_insensitively_as_in_go() -> None:
    config = parse('{"network": "10.1.0.0/16", "backend": {"type": "VXLAN", "vni": 4, "PORT": 4789,'
                   ' "directrouting": true}, "subnetlen": 26}')  # fmt: skip
    assert config.network == ipaddress.IPv4Network("10.1.0.0/16")
    assert (config.backend.type, config.subnet_len) == ("vxlan", 26)
    assert config.backend.options["VNI"] == 4 and config.backend.options["Port"] == 4789
    assert config.backend.options["DirectRouting"] is True


def test_an_exact_key_wins_over_one_that_differs_in_case() -> None:
    assert parse('{"network": "10.9.0.0/16", "Network": "10.1.0.0/16"}').network == (
        ipaddress.IPv4Network("10.1.0.0/16")
    )


def test_no_backend_is_udp_on_8285_as_flannels_code_says() -> None:
    backend = parse(conf()).backend
    assert (backend.type, backend.options) == ("udp", {"Port": 8285})


def test_host_gw_and_unknown_keys_that_go_would_ignore() -> None:
    config = parse(conf(Backend={"Type": "host-gw"}, Comment="ignored", EnableNFTables=True))
    assert config.backend.type == "host-gw" and config.enable_nftables


def test_the_network_is_masked_as_go_parses_a_cidr() -> None:
    assert parse(conf(Network="10.244.7.9/16")).network == ipaddress.IPv4Network("10.244.0.0/16")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[1]", "cannot unmarshal array into Go value of type struct"),
        (conf(Network="10.244.0.0/33"), "invalid CIDR address: 10.244.0.0/33"),
        (conf(Network="fd00::/48"), "not an IPv4 network"),
        (conf(SubnetLen="24"), "cannot unmarshal string into Go struct field Config.SubnetLen of type int"),
        (conf(SubnetLen=-1), "of type uint"),
        (conf(EnableIPv4="yes"), "cannot unmarshal string into Go struct field Config.EnableIPv4 of type bool"),
        (conf(SubnetMin="10.244.300.0"), "invalid IP address format: 10.244.300.0"),
        (conf(Backend="vxlan"), "error decoding Backend property of config"),
        (conf(Backend={"Type": "vxlen"}), "unknown backend type: vxlen"),
        (conf(Backend={"Type": "wireguard"}), "'wireguard' is not supported by kin"),
        (conf(Backend={"Type": "vxlan", "VNI": "1"}), "Go struct field Backend.VNI of type int"),
        (conf(Backend={"Type": "vxlan", "VNI": 1 << 24}), "does not fit in 24 bits"),
        (conf(Backend={"Type": "vxlan", "Port": 70000}), "is not a UDP port"),
        (conf(Backend={"Type": "udp", "Port": -1}), "is not a UDP port"),
        (conf(Backend={"Type": "vxlan", "MTU": 100}), "no room for VXLAN"),
        (conf(EnableIPv6=True, IPv6Network="fd00::/48"), "EnableIPv6 is not supported by kin"),
        ('{"Network": NaN}', "not valid JSON"),
    ],
)  # fmt: skip
def test_bad_configs_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text, "/etc/kube-flannel/net-conf.json")
    assert str(caught.value).startswith("/etc/kube-flannel/net-conf.json: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("network", "length", "low", "high"),
    [
        ("10.244.0.0/16", 24, "10.244.1.0", "10.244.255.0"),  # the first /24 is skipped
        ("10.0.0.0/8", 24, "10.0.1.0", "10.255.255.0"),
        ("10.5.0.0/22", 24, "10.5.1.0", "10.5.3.0"),
        ("10.5.0.0/24", 26, "10.5.0.64", "10.5.0.192"),  # smaller than /22: a quarter each
        ("10.5.0.0/28", 30, "10.5.0.4", "10.5.0.12"),
    ],
)
def test_lease_ranges_default_as_check_network_config_does(
    network: str, length: int, low: str, high: str
) -> None:
    ranges = lease_ranges(parse(conf(Network=network)))
    assert (ranges.subnet_len, str(ranges.subnet_min), str(ranges.subnet_max)) == (
        length,
        low,
        high,
    )


def test_lease_ranges_honour_the_configured_length_and_bounds() -> None:
    config = parse(conf(SubnetLen=25, SubnetMin="10.244.10.0", SubnetMax="10.244.20.128"))
    ranges = lease_ranges(config)
    assert (ranges.subnet_len, str(ranges.subnet_min), str(ranges.subnet_max)) == (
        25, "10.244.10.0", "10.244.20.128"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Network": None}, "please define a correct Network parameter in the flannel config"),
        ({"EnableIPv4": False}, "please define a correct Network parameter"),
        ({"SubnetLen": 31}, "SubnetLen must be less than /31"),
        ({"SubnetLen": 17}, "network must be able to accommodate at least four subnets"),
        ({"Network": "10.5.0.0/29"}, "network is too small. Minimum useful network prefix is /28"),
        ({"SubnetMin": "10.245.0.0"}, "SubnetMin is not in the range of the Network"),
        ({"SubnetMax": "10.0.0.0"}, "SubnetMax is not in the range of the Network"),
        ({"SubnetMin": "10.244.1.1"}, "SubnetMin is not on a SubnetLen boundary: 10.244.1.1"),
        ({"SubnetMax": "10.244.9.128"}, "SubnetMax is not on a SubnetLen boundary: 10.244.9.128"),
    ],
)
def test_lease_ranges_refuse_what_flannel_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        lease_ranges(parse(conf(**fields)), "etcd:/coreos.com/network/config")
    assert str(caught.value).startswith("etcd:/coreos.com/network/config: ")
    assert message in str(caught.value)


def test_every_backend_net_conf_accepts_is_one_kin_has() -> None:
    from kin.flannel.backends import REGISTRY
    from kin.flannel.netconf import BACKENDS

    assert set(BACKENDS) == set(REGISTRY)
