"""The host-local plugin through skel, in-process: results per spec version, DEL, CHECK,
STATUS, GC and errors. The expected results are what Debian's host-local 1.1.1 prints for
the same config (tests/netns/test_host_local.py compares with the binary itself).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kin.cni import skel
from kin.cni.plugins.host_local import PLUGIN, parse_resolv_conf
from kin.testing.cni import cni_env

DNS = {
    "nameservers": ["1.1.1.1", "8.8.8.8"],
    "domain": "x.y",
    "search": ["a", "b", "c"],
    "options": ["ndots:5", "edns0"],
}
RESOLV = "nameserver 1.1.1.1\n# c\n; c\nsearch a b\nsearch c\ndomain x.y\noptions ndots:5 edns0\nnameserver 8.8.8.8\nnameserver\n"


@pytest.fixture
def conf(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "resolv.conf").write_text(RESOLV)
    routes = [
        {"dst": "0.0.0.0/0"},
        {"dst": "::/0", "gw": "fd00::1"},
        {"dst": "10.9.0.0/16", "gw": "10.1.2.1", "mtu": 1400},
    ]
    ipam = {
        "type": "host-local",
        "dataDir": str(tmp_path / "ipam"),
        "resolvConf": str(tmp_path / "resolv.conf"),
        "ranges": [[{"subnet": "10.1.2.0/24"}], [{"subnet": "fd00::/120"}]],
        "routes": routes,
    }
    return {"cniVersion": "1.0.0", "name": "net1", "type": "bridge", "ipam": ipam}


def run(command: str, config: dict[str, Any], cid: str = "c1", **extra: str) -> tuple[int, Any]:
    env = cni_env(
        command,
        container_id=cid,
        netns="/run/netns/kin-no-such-pod",
        ifname="eth0",
        cni_path="/nowhere",
        extra=extra,
    )
    code, out = skel.dispatch(PLUGIN, env, json.dumps(config).encode())
    return code, json.loads(out) if out.strip() else None


V4, V6 = ("10.1.2.2/24", "10.1.2.1"), ("fd00::2/120", "fd00::1")
ROUTES_0_X = [
    {"dst": "0.0.0.0/0"},
    {"dst": "::/0", "gw": "fd00::1"},
    {"dst": "10.9.0.0/16", "gw": "10.1.2.1"},
]
EXPECTED: dict[str, dict[str, Any]] = {
    "0.1.0": {
        "ip4": {"ip": V4[0], "gateway": V4[1], "routes": [ROUTES_0_X[0], ROUTES_0_X[2]]},
        "ip6": {"ip": V6[0], "gateway": V6[1], "routes": [ROUTES_0_X[1]]},
    },
    "0.3.1": {
        "ips": [
            {"version": "4", "address": V4[0], "gateway": V4[1]},
            {"version": "6", "address": V6[0], "gateway": V6[1]},
        ],
        "routes": ROUTES_0_X,
    },
    "1.0.0": {
        "ips": [{"address": V4[0], "gateway": V4[1]}, {"address": V6[0], "gateway": V6[1]}],
        "routes": ROUTES_0_X,
    },
    "1.1.0": {
        "ips": [{"address": V4[0], "gateway": V4[1]}, {"address": V6[0], "gateway": V6[1]}],
        "routes": [*ROUTES_0_X[:2], {**ROUTES_0_X[2], "mtu": 1400}],
    },
}
EXPECTED["0.2.0"] = EXPECTED["0.1.0"]
EXPECTED["0.3.0"] = EXPECTED["0.4.0"] = EXPECTED["0.3.1"]


@pytest.mark.parametrize("version", sorted(EXPECTED))
def test_add_result_per_spec_version(conf: dict[str, Any], version: str) -> None:
    code, out = run("ADD", {**conf, "cniVersion": version})
    assert code == 0, out
    assert out == {"cniVersion": version, **EXPECTED[version], "dns": DNS}
    assert list(out) == ["cniVersion", *EXPECTED[version], "dns"]


def test_an_ipam_result_has_no_interfaces(conf: dict[str, Any]) -> None:
    out = run("ADD", conf)[1]
    assert "interfaces" not in out
    assert all("interface" not in ip for ip in out["ips"])


def test_del_releases_and_twice_is_fine(conf: dict[str, Any]) -> None:
    run("ADD", conf)
    directory = Path(conf["ipam"]["dataDir"], "net1")
    assert (directory / "10.1.2.2").exists()
    assert run("DEL", conf) == (0, None)
    assert run("DEL", conf) == (0, None)
    assert sorted(p.name for p in directory.iterdir()) == [
        "last_reserved_ip.0",
        "last_reserved_ip.1",
        "lock",
    ]


def test_del_of_a_never_added_container_succeeds(conf: dict[str, Any]) -> None:
    assert run("DEL", conf, cid="never") == (0, None)


def test_check_finds_the_attachment_or_says_so(conf: dict[str, Any]) -> None:
    run("ADD", conf)
    assert run("CHECK", conf) == (0, None)
    code, out = run("CHECK", conf, cid="other")
    assert (code, out["code"]) == (1, 999)
    assert out["msg"] == "host-local: Failed to find address added by container other"


def test_status_is_ready(conf: dict[str, Any]) -> None:
    assert run("STATUS", {**conf, "cniVersion": "1.1.0"}) == (0, None)


def test_gc_frees_attachments_not_in_the_valid_list(conf: dict[str, Any]) -> None:
    for cid in ("keep", "gone"):
        run("ADD", conf, cid=cid)
    valid = [{"containerID": "keep", "ifname": "eth0"}]
    gc = {**conf, "cniVersion": "1.1.0", "cni.dev/valid-attachments": valid}
    assert run("GC", gc) == (0, None)
    names = sorted(p.name for p in Path(conf["ipam"]["dataDir"], "net1").iterdir())
    assert [n for n in names if n[0].isdigit() or ":" in n] == ["10.1.2.2", "fd00::2"]


def test_gc_with_null_attachments_frees_everything(conf: dict[str, Any]) -> None:
    run("ADD", conf)
    gc = {**conf, "cniVersion": "1.1.0", "cni.dev/valid-attachments": None}
    assert run("GC", gc) == (0, None)
    assert run("CHECK", conf)[0] == 1


def test_gc_refuses_a_malformed_list(conf: dict[str, Any]) -> None:
    gc = {**conf, "cniVersion": "1.1.0", "cni.dev/valid-attachments": [{"ifname": "eth0"}]}
    code, out = run("GC", gc)
    assert (code, out["code"]) == (1, 7)
    assert out["msg"].startswith("cni.dev/valid-attachments[0]: expected an object")


def test_unknown_version_lists_the_supported_ones(conf: dict[str, Any]) -> None:
    code, out = run("ADD", {**conf, "cniVersion": "9.9.9"})
    assert (code, out["code"], out["msg"]) == (1, 1, "incompatible CNI versions")
    supported = '["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]'
    assert out["details"] == f'config is "9.9.9", plugin supports {supported}'


def test_config_errors_are_code_7_on_every_command(conf: dict[str, Any]) -> None:
    bad = {**conf, "ipam": {**conf["ipam"], "ranges": [[{"subnet": "10.1.2.0/31"}]]}}
    for command in ("ADD", "DEL", "CHECK"):
        code, out = run(command, bad)
        assert (code, out["code"]) == (1, 7)
        assert out["msg"] == "invalid range set 0: Network 10.1.2.0/31 too small to allocate from"


def test_exhaustion_is_the_reference_error(conf: dict[str, Any]) -> None:
    small = {**conf, "ipam": {**conf["ipam"], "ranges": [[{"subnet": "10.1.2.0/30"}]]}}
    assert run("ADD", small, cid="a")[0] == 0
    code, out = run("ADD", small, cid="b")
    assert (code, out["code"]) == (1, 999)
    expected = (
        "failed to allocate for range 0: no IP addresses available in range set: 10.1.2.1-10.1.2.2"
    )
    assert out["msg"] == expected


def test_missing_resolv_conf_reads_like_go(conf: dict[str, Any]) -> None:
    missing = {**conf, "ipam": {**conf["ipam"], "resolvConf": "/nonexistent/resolv"}}
    code, out = run("ADD", missing)
    assert (code, out["code"], out["msg"]) == (
        1,
        5,
        "open /nonexistent/resolv: no such file or directory",
    )


def test_resolv_conf_without_settings_is_empty_dns(tmp_path: Path) -> None:
    (tmp_path / "r").write_text("# nothing\n\n")
    assert parse_resolv_conf(str(tmp_path / "r")) == {}
