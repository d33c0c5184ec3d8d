"""The CNI core without the kernel: spec rules, results across versions, CNI_ARGS, skel dispatch."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kin.cni import args as cni_args
from kin.cni import result as results
from kin.cni import skel, spec
from kin.errors import CNIError

RESULT_1 = {
    "interfaces": [
        {"name": "cni0", "mac": "aa:aa:aa:aa:aa:aa"},
        {"name": "eth0", "mac": "bb:bb:bb:bb:bb:bb", "sandbox": "/run/netns/x", "mtu": 1450},
    ],
    "ips": [
        {"address": "10.244.1.2/24", "gateway": "10.244.1.1", "interface": 1},
        {"address": "fd00::2/64", "interface": 1},
    ],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.1.1", "mtu": 1400}, {"dst": "::/0"}],
    "dns": {"nameservers": ["10.96.0.10"]},
}


def test_render_1_x_keeps_new_fields() -> None:
    assert results.render(RESULT_1, "1.1.0") == {"cniVersion": "1.1.0", **RESULT_1}


def test_render_0_4_adds_ip_versions_and_drops_1_x_only_fields() -> None:
    out = results.render(RESULT_1, "0.4.0")
    assert out["ips"] == [
        {"version": "4", "address": "10.244.1.2/24", "gateway": "10.244.1.1", "interface": 1},
        {"version": "6", "address": "fd00::2/64", "interface": 1},
    ]
    assert out["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}, {"dst": "::/0"}]
    assert out["interfaces"][1] == {
        "name": "eth0",
        "mac": "bb:bb:bb:bb:bb:bb",
        "sandbox": "/run/netns/x",
    }


def test_render_0_2_folds_into_ip4_and_ip6() -> None:
    assert results.render(RESULT_1, "0.2.0") == {
        "cniVersion": "0.2.0",
        "ip4": {
            "ip": "10.244.1.2/24",
            "gateway": "10.244.1.1",
            "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}],
        },
        "ip6": {"ip": "fd00::2/64", "routes": [{"dst": "::/0"}]},
        "dns": {"nameservers": ["10.96.0.10"]},
    }


@pytest.mark.parametrize("version", spec.SUPPORTED_VERSIONS)
def test_parse_reads_back_what_render_wrote(version: str) -> None:
    parsed = results.parse(results.render(RESULT_1, version))
    assert [ip["address"] for ip in parsed["ips"]] == ["10.244.1.2/24", "fd00::2/64"]
    assert [r["dst"] for r in parsed["routes"]] == ["0.0.0.0/0", "::/0"]
    assert all("version" not in ip for ip in parsed["ips"])


def test_parse_refuses_what_is_not_a_result() -> None:
    with pytest.raises(CNIError) as err:
        results.parse([1, 2])
    assert err.value.code == 6


@pytest.mark.parametrize(
    ("raw", "pairs"),
    [
        ("", []),
        ("IgnoreUnknown=1;K8S_POD_NAME=web-0", [("IgnoreUnknown", "1"), ("K8S_POD_NAME", "web-0")]),
        ("IP=10.0.0.5", [("IP", "10.0.0.5")]),
    ],
)
def test_cni_args_parse(raw: str, pairs: list[tuple[str, str]]) -> None:
    assert cni_args.parse_args(raw) == pairs
    assert cni_args.format_args(pairs) == raw


@pytest.mark.parametrize("raw", ["novalue", "=x", "a=b=c"])
def test_cni_args_bad_pairs_are_code_4(raw: str) -> None:
    with pytest.raises(CNIError) as err:
        cni_args.parse_args(raw)
    assert err.value.code == 4


def test_unknown_args_need_ignore_unknown() -> None:
    assert cni_args.known_args("IgnoreUnknown=1;FOO=1;MAC=x", ("MAC",)) == {"MAC": "x"}
    with pytest.raises(CNIError, match='unknown args \\["FOO"\\]'):
        cni_args.known_args("FOO=1", ("MAC",))


@pytest.mark.parametrize(
    ("ifname", "message"),
    [
        ("", "interface name is empty"),
        ("a" * 16, "interface name is too long"),
        ("..", "interface name is . or .."),
        ("eth0:1", "interface name contains / or : or whitespace characters"),
        ("a b", "interface name contains / or : or whitespace characters"),
    ],
)
def test_interface_name_rules(ifname: str, message: str) -> None:
    with pytest.raises(CNIError) as err:
        spec.validate_ifname(ifname)
    assert (err.value.code, err.value.msg) == (4, message)


def test_container_id_and_network_name_rules() -> None:
    spec.validate_container_id("a1_b.c-d")
    for bad, code in (("", 3), ("-x", 6), ("a/b", 6)):
        with pytest.raises(CNIError) as err:
            spec.validate_container_id(bad)
        assert err.value.code == code
    with pytest.raises(CNIError, match="invalid characters found in network name"):
        spec.validate_network_name("bad name")


# -- skel dispatch with a fake plugin ------------------------------------------------------

CALLS: list[str] = []


def fake_add(args: skel.CmdArgs) -> dict[str, Any]:
    CALLS.append(f"ADD {args.container_id} {args.ifname} {args.version}")
    return {"interfaces": [], "ips": [{"address": "10.0.0.2/24"}], "routes": [], "dns": {}}


def fake_del(args: skel.CmdArgs) -> None:
    CALLS.append("DEL")


FAKE = skel.Plugin("fake", fake_add, fake_del, check=lambda a: None)
ENV = {
    "CNI_CONTAINERID": "c1",
    "CNI_NETNS": "/nonexistent/ns",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/x",
}


def run(command: str, config: dict[str, Any] | bytes, **env: str) -> tuple[int, Any]:
    stdin = config if isinstance(config, bytes) else json.dumps(config).encode()
    code, out = skel.dispatch(FAKE, {**ENV, "CNI_COMMAND": command, **env}, stdin)
    return code, json.loads(out) if out.strip() else None


def test_version_lists_every_supported_version() -> None:
    assert run("VERSION", b"") == (
        0,
        {"cniVersion": "1.1.0", "supportedVersions": list(spec.SUPPORTED_VERSIONS)},
    )


def test_add_renders_in_the_config_version() -> None:
    code, out = run("ADD", {"cniVersion": "0.3.1", "name": "n"})
    assert code == 0
    assert out == {
        "cniVersion": "0.3.1",
        "ips": [{"version": "4", "address": "10.0.0.2/24"}],
        "dns": {},
    }


def test_missing_variables_are_listed_in_the_references_order() -> None:
    code, out = skel.dispatch(FAKE, {"CNI_COMMAND": "ADD"}, b"{}")
    assert code == 1
    assert json.loads(out) == {
        "cniVersion": "1.1.0",
        "code": 4,
        "msg": "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing",
    }


def test_unknown_version_lists_the_supported_ones() -> None:
    code, out = run("ADD", {"cniVersion": "9.9.9", "name": "n"})
    assert (code, out["code"], out["msg"]) == (1, 1, "incompatible CNI versions")
    assert out["details"] == (
        'config is "9.9.9", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]'
    )


@pytest.mark.parametrize(
    ("command", "version", "message"),
    [
        ("CHECK", "0.3.1", "config version does not allow CHECK"),
        ("STATUS", "1.0.0", "config version does not allow STATUS"),
        ("GC", "1.0.0", "config version does not allow GC"),
    ],
)
def test_commands_need_their_minimum_version(command: str, version: str, message: str) -> None:
    code, out = run(command, {"cniVersion": version, "name": "n"})
    assert (code, out["code"], out["msg"]) == (1, 1, message)


def test_bad_stdin_and_bad_names() -> None:
    assert run("ADD", b"{not json")[1]["code"] == 6
    assert run("ADD", {"cniVersion": "1.0.0"})[1]["msg"] == "missing network name"
    assert run("ADD", {"cniVersion": "1.0.0", "name": "n"}, CNI_IFNAME="a b")[1]["code"] == 4


def test_unknown_command() -> None:
    assert run("FROB", {"name": "n"})[1]["msg"] == "unknown CNI_COMMAND: FROB"


def test_missing_cni_version_means_0_1_0() -> None:
    CALLS.clear()
    code, out = run("ADD", {"name": "n"})
    assert code == 0 and CALLS == ["ADD c1 eth0 0.1.0"]
    assert out == {"cniVersion": "0.1.0", "ip4": {"ip": "10.0.0.2/24"}, "dns": {}}


def test_a_plugin_bug_is_still_an_error_json() -> None:
    def broken(args: skel.CmdArgs) -> dict[str, Any]:
        raise KeyError("oops")

    code, out = skel.dispatch(
        skel.Plugin("broken", broken, fake_del), {**ENV, "CNI_COMMAND": "ADD"}, b'{"name":"n"}'
    )
    assert code == 1 and json.loads(out)["code"] == 999
