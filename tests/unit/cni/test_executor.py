"""The libcni-style executor with recording fake plugins: order, injection, cache, versions.

The fakes touch no kernel state: each appends what it received to a log and answers with a
result naming itself, so the executor's own logic is what is under test here.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from kin.cni.executor import Executor, RuntimeConf
from kin.cni.netconf import find_network, parse_conflist
from kin.errors import CNIError

FAKE = """#!{python}
import json, os, sys
conf = json.load(sys.stdin)
with open({log!r}, "a") as f:
    f.write(json.dumps({{"plugin": {name!r}, "command": os.environ["CNI_COMMAND"],
                        "args": os.environ.get("CNI_ARGS", ""), "conf": conf}}) + "\\n")
if conf.get("fail"):
    print(json.dumps({{"code": 7, "msg": "bad config", "details": "fail was set"}}))
    sys.exit(1)
if os.environ["CNI_COMMAND"] == "ADD":
    prev = conf.get("prevResult") or {{"cniVersion": conf["cniVersion"], "dns": {{}}}}
    ips = list(prev.get("ips", [])) + [{{"address": {address!r}}}]
    print(json.dumps({{**prev, "cniVersion": conf["cniVersion"], "ips": ips}}))
"""


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, address in (("first", "10.0.0.2/24"), ("second", "10.0.1.2/24")):
        path = bin_dir / name
        log = str(tmp_path / "calls.log")
        path.write_text(FAKE.format(python=sys.executable, log=log, name=name, address=address))
        path.chmod(0o755)
    return tmp_path


def calls(tmp: Path) -> list[dict[str, Any]]:
    log = tmp / "calls.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def network(version: str = "1.1.0", **extra: Any) -> Any:
    body = {
        "name": "net1",
        "cniVersion": version,
        "plugins": [
            {"type": "first", "capabilities": {"portMappings": True}},
            {"type": "second", "keep": "me"},
        ],
        **extra,
    }
    return parse_conflist(json.dumps(body).encode(), "test.conflist")


def executor(tmp: Path) -> Executor:
    return Executor([str(tmp / "nothing-here"), str(tmp / "bin")], str(tmp / "cache"))


POD = RuntimeConf.for_pod(
    "cid1", "/run/netns/x", "default", "web-0", "uid-9", capability_args={"portMappings": [1]}
)


def test_add_chains_in_order_with_prev_result_and_injected_fields(fakes: Path) -> None:
    result = executor(fakes).add(network(), POD)
    assert result["ips"] == [{"address": "10.0.0.2/24"}, {"address": "10.0.1.2/24"}]
    first, second = calls(fakes)
    assert (first["plugin"], first["command"], second["plugin"]) == ("first", "ADD", "second")
    assert first["conf"]["name"] == "net1" and first["conf"]["cniVersion"] == "1.1.0"
    assert first["conf"]["runtimeConfig"] == {"portMappings": [1]}
    assert "runtimeConfig" not in second["conf"]  # it declared no capability
    assert second["conf"]["prevResult"]["ips"] == [{"address": "10.0.0.2/24"}]
    assert second["conf"]["keep"] == "me"
    assert first["args"] == (
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
        "K8S_POD_INFRA_CONTAINER_ID=cid1;K8S_POD_UID=uid-9"
    )


def test_the_result_is_cached_as_libcni_does(fakes: Path) -> None:
    net = network()
    result = executor(fakes).add(net, POD)
    path = fakes / "cache" / "results" / "net1-cid1-eth0"
    entry = json.loads(path.read_text())
    assert entry["kind"] == "cniCacheV1" and entry["result"] == result
    assert entry["containerId"] == "cid1" and entry["ifName"] == "eth0"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert base64.b64decode(entry["config"]) == net.source


def test_del_runs_in_reverse_with_the_cached_result_and_forgets_it(fakes: Path) -> None:
    ex = executor(fakes)
    ex.add(network(), POD)
    ex.delete(network(), POD)
    dels = [c for c in calls(fakes) if c["command"] == "DEL"]
    assert [c["plugin"] for c in dels] == ["second", "first"]
    assert dels[0]["conf"]["prevResult"]["ips"][1] == {"address": "10.0.1.2/24"}
    assert not (fakes / "cache" / "results" / "net1-cid1-eth0").exists()
    ex.delete(network(), POD)  # again: no cache, still fine


def test_check_is_skipped_before_0_4_0_and_with_disable_check(fakes: Path) -> None:
    ex = executor(fakes)
    for net in (network("0.3.1"), network(disableCheck=True)):
        ex.add(net, POD)
        ex.check(net, POD)
    assert [c for c in calls(fakes) if c["command"] == "CHECK"] == []
    ex.check(network(), POD)
    assert [c["plugin"] for c in calls(fakes) if c["command"] == "CHECK"] == ["first", "second"]


def test_status_and_gc_only_from_1_1_0(fakes: Path) -> None:
    ex = executor(fakes)
    ex.status(network("1.0.0"))
    ex.gc(network("1.0.0"), [])
    assert calls(fakes) == []
    ex.status(network())
    assert [c["command"] for c in calls(fakes)] == ["STATUS", "STATUS"]


def test_gc_deletes_stale_cached_attachments_and_sends_the_valid_list(fakes: Path) -> None:
    ex = executor(fakes)
    ex.add(network(), POD)
    ex.add(network(), RuntimeConf("cid2", "/run/netns/y"))
    ex.gc(network(), [("cid2", "eth0")])
    log = calls(fakes)
    assert [(c["plugin"], c["command"]) for c in log if c["command"] == "DEL"] == [
        ("second", "DEL"),
        ("first", "DEL"),
    ]
    gcs = [c for c in log if c["command"] == "GC"]
    assert [c["conf"]["cni.dev/valid-attachments"] for c in gcs] == [
        [{"containerID": "cid2", "ifname": "eth0"}]
    ] * 2
    assert os.listdir(fakes / "cache" / "results") == ["net1-cid2-eth0"]


def test_a_plugin_error_is_worded_as_containerd_words_it(fakes: Path) -> None:
    body = {"name": "net1", "cniVersion": "1.0.0", "plugins": [{"type": "first", "fail": True}]}
    with pytest.raises(CNIError) as err:
        executor(fakes).add(parse_conflist(json.dumps(body).encode()), POD)
    assert (err.value.code, err.value.msg) == (
        7,
        'plugin type="first" failed (add): bad config: fail was set',
    )


def test_a_missing_plugin_names_the_path(fakes: Path) -> None:
    body = {"name": "net1", "cniVersion": "1.0.0", "plugins": [{"type": "absent"}]}
    with pytest.raises(CNIError) as err:
        executor(fakes).add(parse_conflist(json.dumps(body).encode()), POD)
    assert f'failed to find plugin "absent" in path [{fakes}/nothing-here {fakes}/bin]' in str(
        err.value
    )


def test_cni_versions_picks_the_highest_supported(fakes: Path) -> None:
    net = network("0.3.1", cniVersions=["0.4.0", "1.0.0", "9.9.9"])
    assert net.cni_version == "1.0.0"


def test_a_single_plugin_conf_is_up_converted_and_first_valid_file_wins(tmp_path: Path) -> None:
    (tmp_path / "00-bad.conf").write_text("{")
    (tmp_path / "10-single.conf").write_text('{"name": "one", "cniVersion": "0.4.0", "type": "x"}')
    (tmp_path / "20-list.conflist").write_text('{"name": "two", "plugins": [{"type": "y"}]}')
    net = find_network(str(tmp_path))
    assert (net.name, net.cni_version, [p["type"] for p in net.plugins]) == ("one", "0.4.0", ["x"])


def test_no_valid_file_says_why(tmp_path: Path) -> None:
    (tmp_path / "10-x.conflist").write_text('{"name": "x", "plugins": []}')
    with pytest.raises(CNIError) as err:
        find_network(str(tmp_path))
    assert str(err.value) == (
        f"no valid networks found in {tmp_path}: {tmp_path}/10-x.conflist: no plugins in list"
    )
