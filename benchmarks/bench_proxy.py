"""kube-proxy's sync time, both modes: 100 and 1,000 services of 10 endpoints each.

Each scenario runs kube-proxy's own backend (``kin.testing.proxyrules``) in a fresh,
throwaway network namespace and times what a sync costs the daemon, from the service
ports to the kernel holding the rules (``nft -f`` / ``iptables-restore`` returned):

- ``first``: the first sync, which writes the whole rule set (the daemon's start);
- ``one change``: one endpoint of one service replaced (a pod rescheduled), the sync a
  running cluster does most.

Also the time to compute the service ports and render them (no kernel), and the
rule count. Goal (issue 8): 1,000 services x 10 endpoints in under 2 s, applied.

    .venv/bin/python -m benchmarks.bench_proxy [ROUNDS]       # as root, repo root
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

from kin.linux import ns
from kin.proxy import iptables, nftables
from kin.proxy.model import service_ports
from kin.proxy.options import Settings
from kin.testing.names import random_name
from kin.testing.underlay import in_ns

GOAL_SECONDS = 2.0
ENDPOINTS = 10
SETTINGS = Settings(node="bench", cluster_cidr="10.244.0.0/16")


def objects(count: int, moved: int = -1) -> tuple[list[Any], list[Any]]:
    """``count`` NodePort services with ENDPOINTS endpoints each; service ``moved`` has its
    first endpoint at a new address."""
    services, slices = [], []
    for i in range(count):
        name = f"svc-{i}"
        services.append({
            "metadata": {"namespace": "bench", "name": name},
            "spec": {"type": "NodePort", "clusterIP": f"10.96.{i // 250}.{i % 250 + 2}",
                     "ports": [{"name": "http", "protocol": "TCP", "port": 80,
                                "nodePort": 30000 + i}]},
        })  # fmt: skip
        addresses = [f"10.244.{(i * ENDPOINTS + j) // 250}.{(i * ENDPOINTS + j) % 250 + 2}"
                     for j in range(ENDPOINTS)]  # fmt: skip
        if i == moved:
            addresses[0] = "10.244.250.250"
        slices.append({
            "metadata": {"namespace": "bench", "name": f"{name}-x",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
            "endpoints": [{"addresses": [a], "nodeName": "bench"} for a in addresses],
        })  # fmt: skip
    return services, slices


def render_seconds(count: int, mode: str) -> tuple[float, int]:
    services, slices = objects(count)
    started = time.monotonic()
    ports = service_ports(services, slices, SETTINGS.node)
    if mode == "nftables":
        rs = nftables.ruleset(ports, SETTINGS)
        rules = sum(len(r) for r in rs.chains.values())
    else:
        tables = iptables.render(ports, SETTINGS)
        rules = sum(len(r) for t in (tables.nat, tables.filter) for r in t.values())
    return time.monotonic() - started, rules


def applied_seconds(count: int, mode: str) -> tuple[float, float]:
    """(first sync, one-change sync) seconds, in a fresh namespace."""
    syncs = []
    for moved in (-1, 0):
        services, slices = objects(count, moved)
        syncs.append({"services": services, "slices": slices})
    request = {"mode": mode, "node": SETTINGS.node, "cluster_cidr": SETTINGS.cluster_cidr,
               "syncs": syncs}  # fmt: skip
    name = random_name("kinbench")
    ns.create_netns(name)
    try:
        done = in_ns(name, sys.executable, "-m", "kin.testing.proxyrules", timeout=600,
                     stdin=json.dumps(request))  # fmt: skip
    finally:
        ns.delete_netns(name)
    if done.returncode != 0:
        raise SystemExit(f"{mode} sync failed: {done.stderr[-2000:]}")
    first, change = json.loads(done.stdout)["seconds"]
    return first, change


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"kube-proxy sync, {ENDPOINTS} endpoints per service, median of {rounds} runs")
    print(f"{'mode':<9} {'services':>8} {'rules':>7} {'render':>8} {'first sync':>11} "
          f"{'one change':>11}")  # fmt: skip
    worst = 0.0
    for mode in ("iptables", "nftables"):
        for count in (100, 1000):
            render, rules = render_seconds(count, mode)
            runs = [applied_seconds(count, mode) for _ in range(rounds)]
            first = statistics.median(r[0] for r in runs)
            change = statistics.median(r[1] for r in runs)
            if count == 1000:
                worst = max(worst, first, change)
            print(f"{mode:<9} {count:>8} {rules:>7} {render:>7.3f}s {first:>10.3f}s "
                  f"{change:>10.3f}s")  # fmt: skip
    verdict = "met" if worst < GOAL_SECONDS else "NOT met"
    print(f"goal: 1,000 services applied in < {GOAL_SECONDS:.0f} s: {verdict} "
          f"(slowest {worst:.2f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
