"""flanneld's flags as Go's flag package reads them, and FLANNELD_* for what they omit."""

from __future__ import annotations

import pytest

from kin.errors import ConfigError
from kin.flannel.options import Options, parse_args


def test_defaults_are_flannels() -> None:
    options = parse_args([])
    assert options.etcd_endpoint_list == ["http://127.0.0.1:4001", "http://127.0.0.1:2379"]
    assert (options.subnet_file, options.net_config_path) == (
        "/run/flannel/subnet.env", "/etc/kube-flannel/net-conf.json"
    )  # fmt: skip
    assert options.iptables_forward_rules and options.set_node_network_unavailable
    assert not options.ip_masq and options.healthz_port == 0


def test_the_manifests_arguments() -> None:
    options = parse_args(["--ip-masq", "--kube-subnet-mgr", "--healthz-port=8081"])
    assert options.ip_masq and options.kube_subnet_mgr and options.healthz_port == 8081


def test_go_spellings_one_dash_separate_values_and_explicit_booleans() -> None:
    options = parse_args(["-iface", "eth0", "--iface=eth1", "-ip-masq=false", "-public-ip",
                          "172.18.0.2", "--iptables-forward-rules=0", "rest", "--ip-masq"])  # fmt: skip
    assert options.iface == ("eth0", "eth1")  # repeatable, in order
    assert not options.ip_masq and not options.iptables_forward_rules
    assert options.public_ip == "172.18.0.2"
    assert options.extra == ("rest", "--ip-masq")  # Go stops at the first argument


def test_an_empty_variable_is_not_set_as_in_flannel() -> None:
    environ = {"FLANNELD_IP_MASQ": "", "FLANNELD_ETCD_ENDPOINTS": ""}
    assert parse_args([], environ) == Options()


def test_environment_twins_fill_what_the_command_line_left_out() -> None:
    environ = {"FLANNELD_IP_MASQ": "true", "FLANNELD_ETCD_PREFIX": "/kin/network",
               "FLANNELD_IFACE": "eth0", "FLANNELD_SUBNET_FILE": "/tmp/x.env",
               "FLANNELD_HEALTHZ_PORT": "0x1f91"}  # fmt: skip
    options = parse_args(["--subnet-file", "/run/kin.env"], environ)
    assert options.ip_masq and options.etcd_prefix == "/kin/network"
    assert options.iface == ("eth0",) and options.healthz_port == 8081
    assert options.subnet_file == "/run/kin.env"  # the command line wins


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--ipmasq"], {}, "flag provided but not defined: -ipmasq"),
        (["--iface"], {}, "flag needs an argument: -iface"),
        (["--ip-masq=yes"], {}, 'invalid boolean value "yes" for flag --ip-masq'),
        (["--healthz-port=http"], {}, 'invalid value "http" for flag --healthz-port'),
        ([], {"FLANNELD_IP_MASQ": "on"}, "environment variable FLANNELD_IP_MASQ"),
        (["--subnet-lease-renew-margin=1440"], {}, "out of acceptable range: 1440"),
        (["--healthz-port=70000"], {}, "want 0 to 65535"),
        (["--iptables-resync=0"], {}, "want seconds >= 1"),
        (["--public-ip=10.0.0.300"], {}, "invalid --public-ip '10.0.0.300'"),
        (["--public-ip=fd00::1"], {}, "invalid --public-ip 'fd00::1'"),  # pod networks are IPv4
        (["--iface-regex=eth.*"], {}, "--iface-regex: not in kin yet"),
        ([], {"FLANNELD_ETCD_CAFILE": "/ca.crt"}, "--etcd-cafile: not in kin yet"),
        (["--etcd-endpoints="], {}, "no subnet manager"),
    ],
)
def test_bad_flags_and_variables_say_which(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_args(argv, environ)
    assert message in str(caught.value)
