"""Create and delete times of 1-, 2- and 10-node clusters, through the real ``kin`` CLI.

A create counts as done when ``kin create cluster`` returns, which it does only
after every node's PID 1 has built its node and answered on its control socket.
After each create, and outside the timing, the benchmark checks that readiness:
every supervisor answers ``ping`` and ``kin exec NODE -- true`` works in every
node; a failed check fails the benchmark. Medians, with min-max, over RUNS runs.

    make bench                     # or: .venv/bin/python benchmarks/bench_cluster.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from kin.cluster import query
from kin.testing.names import random_name

SIZES = (1, 2, 10)
KIN = [sys.executable, "-m", "kin"]


def config(nodes: int) -> str:
    lines = ["kind: Cluster", "apiVersion: kind.x-k8s.io/v1alpha4", "nodes:"]
    lines += ["- role: control-plane"] + ["- role: worker"] * (nodes - 1)
    return "\n".join(lines) + "\n"


def timed(argv: list[str], stdin: str | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, input=stdin, text=True, check=True, capture_output=True)
    return time.perf_counter() - started


def check_ready(name: str) -> None:
    for node in query.list_nodes(name):
        if not node.ping():
            raise SystemExit(f"node {node.name} did not answer after create")
        subprocess.run([*KIN, "exec", node.name, "--", "true"], check=True)


def measure(nodes: int, runs: int) -> tuple[list[float], list[float]]:
    creates, deletes = [], []
    for _ in range(runs):
        name = random_name("bench")
        try:
            creates.append(
                timed([*KIN, "create", "cluster", "--name", name, "--config", "-"], config(nodes))
            )
            check_ready(name)
        finally:
            deletes.append(timed([*KIN, "delete", "cluster", "--name", name]))
    return creates, deletes


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} s ({min(values):.3f}-{max(values):.3f})"


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if os.geteuid() != 0:
        raise SystemExit("the benchmark creates clusters: run it as root")
    print(f"kin cluster create/delete, {runs} runs each, median (min-max), {os.cpu_count()} CPUs")
    print(f"{'nodes':>5}  {'create (ready)':<26}{'delete':<26}")
    for nodes in SIZES:
        creates, deletes = measure(nodes, runs)
        print(f"{nodes:>5}  {summary(creates):<26}{summary(deletes):<26}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
