"""Every node carries kin's CNI plugins in /opt/cni/bin, and its runtime serves them."""

from __future__ import annotations

import json
import time
from pathlib import Path

from kin.cluster.state import node_dir
from kin.testing.clusters import kin


def wait_for_file(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_pod_network_made_inside_a_node_by_its_own_plugins(two_nodes: str) -> None:
    node = f"{two_nodes}-worker"
    state = Path(node_dir(two_nodes, node))
    assert sorted(p.name for p in (state / "fs/opt/cni/bin").iterdir()) == [
        "bridge", "flannel", "host-local", "loopback", "portmap",
    ]  # fmt: skip
    wait_for_file(state / "fs/run/kin/cni.sock")
    kin("exec", node, "--", "ip", "netns", "add", "pod1")
    conf = {
        "cniVersion": "1.0.0", "name": "cbr0", "type": "bridge", "isGateway": True,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}]]},
    }  # fmt: skip
    add = kin(
        "exec", node, "--", "env", "CNI_COMMAND=ADD", "CNI_CONTAINERID=pod1", "CNI_IFNAME=eth0",
        "CNI_NETNS=/run/netns/pod1", "CNI_PATH=/opt/cni/bin", "/opt/cni/bin/bridge",
        stdin=json.dumps(conf),
    )  # fmt: skip
    assert json.loads(add.stdout)["ips"][0]["address"] == "10.244.1.2/24"
    ping = kin(
        "exec", node, "--", "ip", "netns", "exec", "pod1", "ping", "-c1", "-W2", "10.244.1.1"
    )
    assert "1 received" in ping.stdout
    assert (state / "fs/var/lib/cni/networks/cbr0/10.244.1.2").read_bytes() == b"pod1\r\neth0"
    log = (state / "fs/var/log/kin/kin-runtime.log").read_text()
    assert "ADD bridge pod1/eth0: exit 0" in log  # served by the CNI server in the runtime
