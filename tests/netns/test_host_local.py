"""kin's host-local against the reference binary, run as a runtime runs them.

Both plugins are exec'd inside a throwaway "node" namespace (``run_plugin``), with a
second throwaway namespace as the pod's CNI_NETNS, and a fresh ``dataDir`` per test. The
reference is Debian's ``/usr/lib/cni/host-local`` (containernetworking-plugins 1.1.1,
spec versions up to 1.0.0). What is compared:

- the result JSON and the state files for the same config and calls, per spec version;
- shared state: addresses reserved by one are seen, checked and released by the other,
  and round-robin continues where the other stopped;
- 50 concurrent ADDs, kin and reference mixed, on one directory: 50 distinct addresses
  (the shared ``lock`` flock is what makes that true);
- the errors: exhaustion, configuration errors, an unknown cniVersion.

``KIN_CNI_SERVER=0``: the executable runs host-local itself rather than asking a node's
CNI server, so this tests the plugin, whatever server may be listening on this host.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kin.cni.install import install_plugins
from kin.linux import ns
from kin.testing.cni import REFERENCE_DIR, PluginRun, cni_env, run_plugin

REFERENCE = os.path.join(REFERENCE_DIR, "host-local")
REFERENCE_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"]
RESOLV = (
    "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5\n"
)

Run = Callable[..., PluginRun]


@pytest.fixture(scope="module")
def kin(tmp_path_factory: pytest.TempPathFactory) -> str:
    assert os.access(REFERENCE, os.X_OK), f"{REFERENCE} missing: run scripts/setup-system.sh"
    (path,) = install_plugins(str(tmp_path_factory.mktemp("cni-bin")), ("host-local",))
    return path


@pytest.fixture
def run(netns_factory: Callable[[], str]) -> Run:
    """``run(plugin, command, config, cid=..., ifname=..., args=...)`` in a node namespace."""
    node, pod = netns_factory(), ns.netns_path(netns_factory())

    def call(
        plugin: str, command: str, config: dict[str, Any], cid: str = "c1", **kw: str
    ) -> PluginRun:
        env = cni_env(
            command,
            container_id=cid,
            netns=pod,
            ifname=kw.get("ifname", "eth0"),
            cni_path=REFERENCE_DIR,
            args=kw.get("args", ""),
            extra={"KIN_CNI_SERVER": "0"},
        )
        return run_plugin(plugin, node, env, config)

    return call


def network(data_dir: Path, version: str = "1.0.0", **ipam: Any) -> dict[str, Any]:
    ipam.setdefault("ranges", [[{"subnet": "10.244.1.0/24"}], [{"subnet": "fd00:244:1::/120"}]])
    ipam = {"type": "host-local", "dataDir": str(data_dir), **ipam}
    return {"cniVersion": version, "name": "cbr0", "type": "bridge", "ipam": ipam}


def state(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((data_dir / "cbr0").iterdir())}


@pytest.mark.parametrize("version", REFERENCE_VERSIONS)
def test_same_results_and_state_as_the_reference(
    kin: str, run: Run, tmp_path: Path, version: str
) -> None:
    (tmp_path / "resolv.conf").write_text(RESOLV)
    routes = [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd00:244:1::1"}]
    outputs: dict[str, list[Any]] = {}
    for who, plugin in (("kin", kin), ("ref", REFERENCE)):
        config = network(
            tmp_path / who, version, routes=routes, resolvConf=str(tmp_path / "resolv.conf")
        )
        outs = [run(plugin, "ADD", config, cid=f"c{i}").ok() for i in range(3)]
        run(plugin, "DEL", config, cid="c1").ok()
        outs.append(run(plugin, "ADD", config, cid="c3").ok())
        outputs[who] = outs
    assert outputs["kin"] == outputs["ref"]
    assert outputs["kin"][3]["cniVersion"] == version
    assert state(tmp_path / "kin") == state(tmp_path / "ref")


def test_version_1_1_0_is_kin_only(kin: str, run: Run, tmp_path: Path) -> None:
    config = network(tmp_path, "1.1.0")
    out = run(kin, "ADD", config).ok()
    assert out["ips"][0] == {"address": "10.244.1.2/24", "gateway": "10.244.1.1"}
    refused = run(REFERENCE, "ADD", config, cid="c2")
    assert (refused.code, refused.out["code"]) == (1, 1)


def test_state_is_shared_both_ways(kin: str, run: Run, tmp_path: Path) -> None:
    config = network(tmp_path, ranges=[[{"subnet": "10.244.1.0/24"}]])
    order = [(REFERENCE, "a"), (kin, "b"), (REFERENCE, "c"), (kin, "d")]
    got = [run(p, "ADD", config, cid=cid).ok()["ips"][0]["address"] for p, cid in order]
    assert got == [f"10.244.1.{i}/24" for i in (2, 3, 4, 5)]
    run(kin, "CHECK", config, cid="a").ok()
    run(REFERENCE, "CHECK", config, cid="b").ok()
    run(kin, "DEL", config, cid="a").ok()
    run(REFERENCE, "DEL", config, cid="b").ok()
    assert sorted(state(tmp_path)) == ["10.244.1.4", "10.244.1.5", "last_reserved_ip.0", "lock"]
    assert run(REFERENCE, "ADD", config, cid="e").ok()["ips"][0]["address"] == "10.244.1.6/24"
    duplicate = run(REFERENCE, "ADD", config, cid="d")
    expected = "failed to allocate for range 0: 10.244.1.5 has been allocated to d, duplicate allocation is not allowed"
    assert (duplicate.code, duplicate.out["msg"]) == (1, expected)


def test_50_concurrent_adds_of_both_plugins_get_distinct_addresses(
    kin: str, run: Run, tmp_path: Path
) -> None:
    config = network(tmp_path)
    plugins = [kin if i % 2 else REFERENCE for i in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        adds = list(pool.map(lambda i: run(plugins[i], "ADD", config, cid=f"p{i}"), range(50)))
    v4 = [r.ok()["ips"][0]["address"] for r in adds]
    v6 = [r.ok()["ips"][1]["address"] for r in adds]
    assert len(set(v4)) == len(set(v6)) == 50
    files = state(tmp_path)
    assert len(files) == 100 + 3
    assert {files[a.split("/")[0]] for a in v4} == {f"p{i}\r\neth0".encode() for i in range(50)}
    with ThreadPoolExecutor(max_workers=50) as pool:
        dels = list(pool.map(lambda i: run(plugins[-1 - i], "DEL", config, cid=f"p{i}"), range(50)))
    assert all(r.code == 0 for r in dels)
    assert sorted(state(tmp_path)) == ["last_reserved_ip.0", "last_reserved_ip.1", "lock"]


@pytest.mark.parametrize("plugin", ["kin", "ref"])
def test_del_twice_and_del_of_nothing_succeed(
    kin: str, run: Run, tmp_path: Path, plugin: str
) -> None:
    exe = kin if plugin == "kin" else REFERENCE
    config = network(tmp_path)
    run(exe, "ADD", config).ok()
    for cid in ("c1", "c1", "never"):
        assert run(exe, "DEL", config, cid=cid).code == 0


def test_legacy_reservations_are_released_by_both(kin: str, run: Run, tmp_path: Path) -> None:
    config = network(tmp_path, ranges=[[{"subnet": "10.244.1.0/24"}]])
    run(kin, "ADD", config, cid="seed").ok()
    for exe, cid, ip in ((kin, "old1", "10.244.1.50"), (REFERENCE, "old2", "10.244.1.51")):
        (tmp_path / "cbr0" / ip).write_text(cid)
        run(exe, "CHECK", config, cid=cid).ok()
        run(exe, "DEL", config, cid=cid).ok()
        assert not (tmp_path / "cbr0" / ip).exists()


def test_exhaustion_gives_the_reference_error(kin: str, run: Run, tmp_path: Path) -> None:
    config = network(tmp_path, ranges=[[{"subnet": "10.244.1.0/30"}]])
    run(kin, "ADD", config, cid="a").ok()
    errors = [run(exe, "ADD", config, cid="b") for exe in (kin, REFERENCE)]
    expected = "failed to allocate for range 0: no IP addresses available in range set: 10.244.1.1-10.244.1.2"
    assert [(e.code, e.out["code"], e.out["msg"]) for e in errors] == [(1, 999, expected)] * 2


def test_gc_releases_what_the_reference_reserved_for_gone_pods(
    kin: str, run: Run, tmp_path: Path
) -> None:
    config = network(tmp_path)
    for cid in ("keep", "gone"):
        run(REFERENCE, "ADD", config, cid=cid).ok()
    valid = [{"containerID": "keep", "ifname": "eth0"}]
    gc = {**network(tmp_path, "1.1.0"), "cni.dev/valid-attachments": valid}
    assert run(kin, "GC", gc).ok() is None
    run(REFERENCE, "CHECK", config, cid="keep").ok()
    assert run(REFERENCE, "CHECK", config, cid="gone").code == 1
    assert run(REFERENCE, "ADD", config, cid="new").ok()["ips"][0]["address"] == "10.244.1.4/24"


def test_unknown_version_is_code_1_listing_the_supported_ones(
    kin: str, run: Run, tmp_path: Path
) -> None:
    config = network(tmp_path, "0.9.9")
    mine, theirs = run(kin, "ADD", config), run(REFERENCE, "ADD", config)
    assert (mine.code, mine.out["code"], theirs.out["code"]) == (1, 1, 1)
    assert mine.out["msg"] == theirs.out["msg"] == "incompatible CNI versions"
    supported = '"0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"'
    assert mine.out["details"] == f'config is "0.9.9", plugin supports [{supported}]'


BAD_CONFIGS = [
    {"ranges": [[{"subnet": "10.244.1.0/31"}]]},
    {"ranges": [[{"subnet": "10.244.1.1/24"}]]},
    {"ranges": [[{"subnet": "10.244.1.0/24", "rangeStart": "10.244.2.1"}]]},
    {"ranges": [[{"subnet": "10.244.1.0/24"}, {"subnet": "fd00::/64"}]]},
    {"ranges": [[{"subnet": "10.244.1.0/24"}], [{"subnet": "10.244.1.0/25"}]]},
    {"ranges": []},
]


@pytest.mark.parametrize("ipam", BAD_CONFIGS)
def test_config_errors_read_as_the_reference_but_are_code_7(
    kin: str, run: Run, tmp_path: Path, ipam: dict[str, Any]
) -> None:
    config = network(tmp_path, **ipam)
    mine, theirs = run(kin, "ADD", config), run(REFERENCE, "ADD", config)
    assert (mine.code, mine.out["code"], theirs.out["code"]) == (1, 7, 999)
    assert mine.out["msg"] == theirs.out["msg"]
