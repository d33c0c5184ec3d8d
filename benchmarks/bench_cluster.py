"""Create, ready and delete times of 1-, 2- and 10-node clusters (and, once, of one with 20
workers) through the real ``kin`` CLI, and the memory a running cluster takes.

* create: ``kin create cluster`` returns (kind's steps: the API server answers and
  kubeadm's addons are applied, flannel is applied, the workers have joined).
* ready: from the start of the create until every node is Ready and every pod in the
  cluster (kube-apiserver, kube-controller-manager, kube-scheduler, one kube-flannel-ds and
  one kube-proxy per node, two coredns) is Running and Ready, polled through the API every
  50 ms.
* memory: five seconds after ready, the PSS of every process of the cluster (each node's
  PID 1 and everything below it, the zygote, the port publisher), so shared pages count once.

Medians, with min-max, over RUNS runs. Goals (issue 7): 2 nodes ready within 3 s and in
400 MiB, 10 nodes within 10 s, 20 workers fit.

    make bench                     # or: .venv/bin/python -m benchmarks.bench_cluster [RUNS [SIZES]]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.procmem import node_processes, pss_kib, supervisor_pid

from kin.cluster import apiclient, query
from kin.cluster.state import cluster_dir, node_dir
from kin.cluster.zygote import zygote_record
from kin.errors import APIError
from kin.kube.restclient import RestClient
from kin.linux.proc import ProcessRecord
from kin.testing.names import random_name

SIZES = (1, 2, 10)
LARGE = 21  # a control plane and 20 workers, measured once: it shows they fit
KIN = [sys.executable, "-m", "kin"]
READY_TIMEOUT = 60.0
SETTLE = 5.0


def config(nodes: int) -> str:
    lines = ["kind: Cluster", "apiVersion: kind.x-k8s.io/v1alpha4", "nodes:"]
    lines += ["- role: control-plane"] + ["- role: worker"] * (nodes - 1)
    return "\n".join(lines) + "\n"


def _ready(obj: dict[str, object]) -> bool:
    status = obj.get("status") or {}
    assert isinstance(status, dict)
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def wait_ready(api: RestClient, nodes: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            listed_nodes = api.get("/api/v1/nodes")["items"]
            pods = api.get("/api/v1/pods")["items"]
        except APIError:
            listed_nodes, pods = [], []
        flannel = [p for p in pods if p["metadata"]["namespace"] == "kube-flannel"]
        if (len(listed_nodes) == nodes and all(_ready(n) for n in listed_nodes)
                and len(flannel) == nodes and all(_ready(p) for p in pods)):  # fmt: skip
            return
        time.sleep(0.05)
    raise SystemExit(f"the cluster was not ready within {READY_TIMEOUT:.0f} s")


def cluster_pss_mib(name: str) -> float:
    plan = query.cluster_plan(name)
    total = 0
    for node in plan.nodes:
        total += sum(
            pss_kib(pid)
            for pid, _ in node_processes(supervisor_pid(Path(node_dir(name, node.name))))
        )
    zygote = zygote_record(name)
    publisher = ProcessRecord.load(os.path.join(cluster_dir(name), "publisher.pid"))
    total += sum(pss_kib(r.pid) for r in (zygote, publisher) if r is not None and r.alive())
    return total / 1024


def measure(nodes: int, runs: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"create": [], "ready": [], "memory": [], "delete": []}
    for _ in range(runs):
        name = random_name("bench")
        try:
            started = time.perf_counter()
            create = [*KIN, "create", "cluster", "--name", name, "--config", "-"]
            subprocess.run(create, input=config(nodes), text=True, check=True, capture_output=True)
            found["create"].append(time.perf_counter() - started)
            plan = query.cluster_plan(name)
            with apiclient.admin_client(plan) as api:
                wait_ready(api, nodes)
            found["ready"].append(time.perf_counter() - started)
            time.sleep(SETTLE)
            found["memory"].append(cluster_pss_mib(name))
        finally:
            started = time.perf_counter()
            subprocess.run([*KIN, "delete", "cluster", "--name", name], check=True,
                           capture_output=True)  # fmt: skip
            found["delete"].append(time.perf_counter() - started)
    return found


def summary(values: list[float], unit: str = "s") -> str:
    return f"{statistics.median(values):6.2f} {unit} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    if os.geteuid() != 0:
        raise SystemExit("the benchmark creates clusters: run it as root")
    print(f"kin clusters, {runs} runs each, median (min-max), {os.cpu_count()} CPUs")
    print(
        f"{'nodes':>5}  {'create returns':<22}{'all Ready':<22}{'memory (PSS)':<26}{'delete':<22}"
    )
    plan = [*((n, runs) for n in SIZES), (LARGE, 1)]
    if len(sys.argv) > 2:  # e.g. "1,2": only these sizes, each ``runs`` times
        plan = [(int(n), runs) for n in sys.argv[2].split(",")]
    for nodes, times in plan:
        found = measure(nodes, times)
        columns = [summary(found["create"]), summary(found["ready"]),
                   summary(found["memory"], "MiB"), summary(found["delete"])]  # fmt: skip
        print(f"{nodes:>5}  {columns[0]:<22}{columns[1]:<22}{columns[2]:<26}{columns[3]:<22}",
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
