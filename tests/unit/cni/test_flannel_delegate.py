"""The flannel plugin's delegate config and subnet.env parsing, as the reference builds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kin.cni.plugins.flannel import build_delegate, load_subnet_env
from kin.errors import CNIError

SUBNET_ENV = """FLANNEL_NETWORK=10.244.0.0/16
FLANNEL_SUBNET=10.244.1.1/24
FLANNEL_MTU=1450
FLANNEL_IPMASQ=true
"""


def env_file(tmp_path: Path, text: str = SUBNET_ENV) -> str:
    path = tmp_path / "subnet.env"
    path.write_text(text)
    return str(path)


def test_the_manifest_conflist_gives_the_documented_delegate(tmp_path: Path) -> None:
    conf = {
        "cniVersion": "0.3.1",
        "name": "cbr0",
        "type": "flannel",
        "delegate": {"hairpinMode": True, "isDefaultGateway": True},
    }
    delegate = build_delegate(conf, load_subnet_env(env_file(tmp_path)))
    assert delegate == {
        "cniVersion": "0.3.1",
        "name": "cbr0",
        "type": "bridge",
        "hairpinMode": True,
        "isDefaultGateway": True,
        "isGateway": True,
        "ipMasq": False,
        "mtu": 1450,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": "10.244.1.0/24"}]],
            "routes": [{"dst": "10.244.0.0/16"}],
        },
    }


def test_user_keys_win_and_ipam_routes_are_kept(tmp_path: Path) -> None:
    conf = {
        "cniVersion": "1.0.0",
        "name": "n",
        "type": "flannel",
        "delegate": {"ipMasq": True, "mtu": 1400, "isGateway": False},
        "ipam": {"routes": [{"dst": "192.168.0.0/16"}], "dataDir": "/x"},
        "runtimeConfig": {"portMappings": []},
    }
    no_masq = SUBNET_ENV.replace("FLANNEL_IPMASQ=true", "FLANNEL_IPMASQ=false")
    delegate = build_delegate(conf, load_subnet_env(env_file(tmp_path, no_masq)))
    assert (delegate["ipMasq"], delegate["mtu"], delegate["isGateway"]) == (True, 1400, False)
    assert delegate["runtimeConfig"] == {"portMappings": []}
    assert delegate["ipam"] == {
        "type": "host-local",
        "dataDir": "/x",
        "ranges": [[{"subnet": "10.244.1.0/24"}]],
        "routes": [{"dst": "192.168.0.0/16"}, {"dst": "10.244.0.0/16"}],
    }


def test_ipmasq_is_the_inverse_and_only_exactly_true_counts(tmp_path: Path) -> None:
    for value, masq in (("true", False), ("True", True), ("false", True), ("1", True)):
        text = SUBNET_ENV.replace("FLANNEL_IPMASQ=true", f"FLANNEL_IPMASQ={value}")
        env = load_subnet_env(env_file(tmp_path, text))
        assert build_delegate({"name": "n"}, env)["ipMasq"] is masq, value


def test_dual_stack_and_several_networks(tmp_path: Path) -> None:
    text = (
        "FLANNEL_NETWORK=10.244.0.0/16,10.245.0.0/16,10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n"
        "FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\n"
        "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
    )
    delegate = build_delegate({"name": "n"}, load_subnet_env(env_file(tmp_path, text)))
    assert delegate["ipam"]["ranges"] == [
        [{"subnet": "10.244.1.0/24"}],
        [{"subnet": "fd00:10:244:1::/64"}],
    ]
    assert delegate["ipam"]["routes"] == [
        {"dst": "10.244.0.0/16"},
        {"dst": "10.245.0.0/16"},
        {"dst": "fd00:10:244::/56"},
    ]


def test_missing_file_is_the_message_users_know_and_retriable(tmp_path: Path) -> None:
    path = tmp_path / "absent.env"
    with pytest.raises(CNIError) as err:
        load_subnet_env(str(path))
    assert err.value.code == 11
    assert err.value.msg == (
        f"failed to load flannel 'subnet.env' file: open {path}: no such file or directory. "
        "Check the flannel pod log for this node."
    )


def test_missing_keys_are_listed(tmp_path: Path) -> None:
    path = env_file(tmp_path, "FLANNEL_MTU=1450\n")
    with pytest.raises(CNIError) as err:
        load_subnet_env(path)
    assert err.value.msg == (
        f"{path} is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, "
        "FLANNEL_IPV6_SUBNET, FLANNEL_IPMASQ"
    )


@pytest.mark.parametrize(
    ("delegate", "message"),
    [
        (
            {"name": "x"},
            "'delegate' dictionary must not have 'name' field, it'll be set by flannel",
        ),
        ({"ipam": {}}, "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel"),
        ({"type": 5}, "'delegate' dictionary, if present, must have (string) 'type' field"),
    ],
)
def test_forbidden_delegate_keys(tmp_path: Path, delegate: dict[str, object], message: str) -> None:
    with pytest.raises(CNIError) as err:
        build_delegate({"name": "n", "delegate": delegate}, load_subnet_env(env_file(tmp_path)))
    assert (err.value.code, err.value.msg) == (7, message)
