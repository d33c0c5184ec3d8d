"""100 ADD and DEL through kin's flannel -> bridge -> host-local chain vs the reference Go plugins.

Each implementation gets its own throwaway node namespace and 100 pod namespaces.
kin runs the flannel conflist entry (its meta plugin, delegating to kin's bridge
and host-local); the reference runs Debian's Go ``bridge`` (with Go
``host-local``) on the delegate config kin's flannel generates, since Debian
ships no Go flannel plugin. Each plugin is exec'd directly by a driver process
inside the node namespace, as a runtime would, and timed with wall clock
(fork/exec included). Prints medians, p99 and the kin/reference ratios.

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
from pathlib import Path
from typing import Any

from kin.cni.install import install_plugins
from kin.cni.plugins.flannel import build_delegate, load_subnet_env
from kin.linux import ns
from kin.testing.cni import REFERENCE_DIR
from kin.testing.names import random_name

SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"


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


def run_in_node(node: str, request: dict[str, Any]) -> dict[str, list[float]]:
    argv = ["nsenter", f"--net={ns.netns_path(node)}", "--", sys.executable, __file__, "--worker"]
    done = subprocess.run(argv, input=json.dumps(request), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    timings: dict[str, list[float]] = json.loads(done.stdout)
    return timings


def measure(label: str, plugin: str, config: dict[str, Any], cni_path: str, count: int) -> dict[str, list[float]]:
    node = random_name("kbench")
    pods = [random_name("kbpod") for _ in range(count)]
    ns.create_netns(node)
    try:
        for pod in pods:
            ns.create_netns(pod)
        env = {"PATH": os.environ["PATH"], "CNI_PATH": cni_path}
        request = {"plugin": plugin, "config": config, "env": env, "pods": [ns.netns_path(p) for p in pods]}
        return run_in_node(node, request)
    finally:
        for pod in pods:
            ns.delete_netns(pod)
        ns.delete_netns(node)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


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
        kin = measure("kin", str(base / "bin" / "flannel"), flannel, str(base / "bin"), count)
        ref = measure("ref", f"{REFERENCE_DIR}/bridge", reference, REFERENCE_DIR, count)
    print(f"CNI ADD/DEL, {count} pods each, wall time per call incl. fork/exec, {os.cpu_count()} CPUs")
    print(f"{'':28}{'median':>10}{'p99':>10}")
    for command in ("ADD", "DEL"):
        for label, timings in (("kin flannel>bridge>host-local", kin), ("reference bridge>host-local", ref)):
            values = timings[command]
            print(f"{command} {label:<24}{statistics.median(values) * 1000:>8.1f}ms{p99(values) * 1000:>8.1f}ms")
        ratio = statistics.median(kin[command]) / statistics.median(ref[command])
        print(f"{command} kin / reference median: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
