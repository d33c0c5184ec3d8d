"""Twenty worker nodes fit on this machine and work: every node Ready, a DaemonSet's pod
Running on each of the 21 nodes, and one pod reaches every other across the flannel
network (VXLAN between 21 nodes' namespaces)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kin.cluster.state import cluster_dir
from kin.testing.clusters import kin, kubeconfig_for, kubectl, temporary_cluster
from kin.testing.waiting import eventually

WORKERS = 20
CONFIG = (
    "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n"
    + "- role: worker\n" * WORKERS
)
EVERYWHERE = {
    "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "everywhere"},
    "spec": {"selector": {"matchLabels": {"app": "everywhere"}}, "template": {
        "metadata": {"labels": {"app": "everywhere"}},
        "spec": {"terminationGracePeriodSeconds": 0, "tolerations": [{"operator": "Exists"}],
                 "containers": [{"name": "app", "image": "busybox",
                                 "command": [sys.executable, "-c", "import time; time.sleep(3600)"]}]}}},
}  # fmt: skip
PING_ALL = 'for ip in "$@"; do ping -c1 -W2 "$ip" >/dev/null || { echo "no answer from $ip"; exit 1; }; done'


def test_twenty_workers_fit_and_every_pod_reaches_every_other(tmp_path: Path) -> None:
    with temporary_cluster(CONFIG) as name:
        config = kubeconfig_for(name, str(tmp_path))
        kubectl(config, "wait", "--for=condition=Ready", "node", "--all", "--timeout=90s")
        assert len(kin("get", "nodes", "--name", name).stdout.split()) == WORKERS + 1
        # Every node's daemons come from the cluster's one zygote, none from a fallback exec.
        log = Path(cluster_dir(name), "zygote.log").read_text()
        assert f"serving {WORKERS + 1} sockets" in log
        kubectl(config, "apply", "-f", "-", stdin=json.dumps(EVERYWHERE))
        kubectl(config, "rollout", "status", "daemonset/everywhere", "--timeout=90s", timeout=100)

        def placed() -> dict[str, str] | None:
            listed = kubectl(config, "get", "pod", "-l", "app=everywhere", "-o", "json").stdout
            pods = json.loads(listed)["items"]
            ips = {p["spec"]["nodeName"]: p["status"].get("podIP", "") for p in pods}
            return ips if len(ips) == WORKERS + 1 and all(ips.values()) else None

        ips = eventually(placed, timeout=30)
        assert len(set(ips.values())) == WORKERS + 1
        assert len({ip.rsplit(".", 2)[1] for ip in ips.values()}) == WORKERS + 1  # a /24 each
        first = json.loads(
            kubectl(config, "get", "pod", "-l", "app=everywhere", "-o", "json").stdout
        )["items"][0]["metadata"]["name"]
        pinged = kubectl(
            config, "exec", first, "--", "sh", "-c", PING_ALL, "sh", *ips.values(), check=False
        )
        assert pinged.returncode == 0, pinged.stdout + pinged.stderr
