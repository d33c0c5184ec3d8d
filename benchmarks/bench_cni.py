"""100 ADD and DEL through kin's flannel -> bridge -> host-local chain vs the reference Go plugins.

Each implementation gets its own throwaway node namespace and 100 pod namespaces.
kin runs the flannel conflist entry (its meta plugin, delegating to kin's bridge
and host-local) twice: with the node's CNI server running (``kin.cni.server``,
as in a kin node) and without one (each call pays Python's start-up and
imports); the reference runs Debian's Go ``bridge`` (with Go ``host-local``) on
the delegate config kin's flannel generates, since Debian ships no Go flannel
plugin. Each plugin is exec'd directly by a driver process inside the node
namespace, as a runtime would, and timed with wall clock (fork/exec included).
Prints medians, p99 and the kin/reference ratios.

    make bench            # or: .venv/bin/python benchmarks/bench_cni.py [COUNT]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kin.cni.install import install_plugins
from kin.cni.plugins.flannel import build_delegate, load_subnet_env
from kin.linux import ns
from kin.testing.cni import REFERENCE_DIR
from kin.testing.names import random_name

SUBNET_ENV = (
    "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n"
    "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
)


def worker(request: dict[str, Any]) -> dict[str, list[float]]:
    """Inside the node namespace: ADD every pod, then DEL every pod; seconds per call."""
    stdin = json.dumps(request["config"]).encode()
    timings: dict[str, list[float]] = {"ADD": [], "DEL": []}
    for command in ("ADD", "DEL"):
        for i, pod in enumerate(request["pods"]):
            env = {
                **request["env"],
                "CNI_COMMAND": command,
                "CNI_CONTAINERID": f"bench{i}",
                "CNI_NETNS": pod,
                "CNI_IFNAME": "eth0",
            }
            started = time.perf_counter()
            done = subprocess.run([request["plugin"]], input=stdin, env=env, capture_output=True)
            timings[command].append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"{command} {pod} failed: {done.stdout!r} {done.stderr[-500:]!r}")
    return timings


def in_node(node: str, *argv: str) -> list[str]:
    return ["nsenter", f"--net={ns.netns_path(node)}", "--", *argv]


def run_in_node(node: str, request: dict[str, Any]) -> dict[str, list[float]]:
    argv = in_node(node, sys.executable, __file__, "--worker")
    done = subprocess.run(argv, input=json.dumps(request), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    timings: dict[str, list[float]] = json.loads(done.stdout)
    return timings


@contextmanager
def cni_server(node: str, socket_path: str) -> Iterator[None]:
    argv = in_node(node, sys.executable, "-m", "kin.cni.server", "--socket", socket_path)
    with subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None and "serving" in proc.stderr.readline()
            yield
        finally:
            proc.kill()


def measure(
    plugin: str, config: dict[str, Any], env: dict[str, str], count: int, server: str = ""
) -> dict[str, list[float]]:
    node = random_name("kbench")
    pods = [f"{node}-p{i}" for i in range(count)]  # unique by construction
    ns.create_netns(node)
    try:
        for pod in pods:
            ns.create_netns(pod)
        request = {
            "plugin": plugin,
            "config": config,
            "env": env,
            "pods": [ns.netns_path(p) for p in pods],
        }
        if not server:
            return run_in_node(node, request)
        with cni_server(node, server):
            return run_in_node(node, {**request, "env": {**env, "KIN_CNI_SOCKET": server}})
    finally:
        for pod in pods:
            ns.delete_netns(pod)
        ns.delete_netns(node)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> int:
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(worker(json.load(sys.stdin))))
        return 0
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory(prefix="kin-bench-cni-") as tmp:
        base = Path(tmp)
        (base / "subnet.env").write_text(SUBNET_ENV)
        install_plugins(str(base / "bin"))
        flannel = {
            "cniVersion": "1.0.0", "name": "cbr0", "type": "flannel",
            "subnetFile": str(base / "subnet.env"), "dataDir": str(base / "flannel"),
            "ipam": {"dataDir": str(base / "ipam-kin")},
            "delegate": {"hairpinMode": True, "isDefaultGateway": True},
        }  # fmt: skip
        reference = build_delegate(flannel, load_subnet_env(str(base / "subnet.env")))
        reference["ipam"]["dataDir"] = str(base / "ipam-ref")
        kin_env = {"PATH": os.environ["PATH"], "CNI_PATH": str(base / "bin")}
        plugin = str(base / "bin" / "flannel")
        rows = {
            "kin, node CNI server": measure(
                plugin, flannel, kin_env, count, str(base / "cni.sock")
            ),
            "kin, no server": measure(plugin, flannel, {**kin_env, "KIN_CNI_SERVER": "0"}, count),
            "reference (Go)": measure(
                f"{REFERENCE_DIR}/bridge",
                reference,
                {"PATH": os.environ["PATH"], "CNI_PATH": REFERENCE_DIR},
                count,
            ),
        }
    report(rows, count)
    return 0


def report(rows: dict[str, dict[str, list[float]]], count: int) -> None:
    print(f"CNI ADD and DEL of {count} pods: kin's flannel > bridge > host-local chain and the")
    print("reference Go bridge > host-local; wall time per exec'd call, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'':8}{'':24}{'median':>10}{'p99':>10}{'vs reference':>14}")
    for command in ("ADD", "DEL"):
        reference = statistics.median(rows["reference (Go)"][command])
        for label, timings in rows.items():
            median = statistics.median(timings[command])
            tail = p99(timings[command]) * 1000
            print(
                f"{command:<8}{label:<24}{median * 1000:>8.1f}ms{tail:>8.1f}ms"
                f"{median / reference:>13.2f}x"
            )


if __name__ == "__main__":
    sys.exit(main())
