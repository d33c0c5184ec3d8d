"""Pod start latency, sandbox latency and memory, on a real 2-node kin cluster.

1. Pods created through the API server at a steady rate (10 per second by default),
   bound to the worker: the time from the create call returning to the watch showing
   the pod Running, p50/p99 over N pods, and the worker's CPU per pod meanwhile (its
   processes and the cluster's zygote); then a burst of N at once.
2. Sandboxes through the worker's CRI socket: RunPodSandbox and StopPodSandbox (with
   RemovePodSandbox), median and p99.
3. Memory: PSS of each pod's pause process, of a pod's shim, and of an idle worker
   (every process in the node's PID namespace, plus its half of the cluster's zygote,
   the host-side fork server its daemons share pages with), measured once the daemons
   have handed back what the pods left free.

The worker's pods use kin's bridge and host-local plugins (through the node's CNI
server). Goals from the issue: p99 < 1 s at 10 pods/s, pause < 1 MiB, an idle
worker < 80 MiB.

    .venv/bin/python -m benchmarks.bench_pods [PODS] [RATE]      (make bench: 100 10)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.procmem import node_processes, pss_kib, supervisor_pid

from kin.cluster.state import node_dir
from kin.cluster.zygote import zygote_record
from kin.kube import kubeconfig
from kin.kube.client import Client
from kin.runtime.client import CRIClient
from kin.runtime.cri import api_pb2 as cri
from kin.testing.clusters import BARE_TWO_NODES, kin, temporary_cluster
from kin.testing.runtime import bridge_conflist, pod_config

BRIDGE = bridge_conflist()
SANDBOXES = 20
NODES = 2  # the seed's: the cluster's zygote serves both
IDLE_AFTER = 35.0  # seconds: the daemons hand freed memory back every 30


def pod(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "pods"}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [
            {"name": "app", "image": "busybox", "command": ["sleep", "3600"]}]},
    }  # fmt: skip


async def start_latencies(
    api: Client, node: str, prefix: str, count: int, rate: float
) -> list[float]:
    """Seconds from each create to its pod being Running; ``rate`` 0 means all at once."""
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    listed = await api.get("/api/v1/namespaces/default/pods")
    version = listed["metadata"]["resourceVersion"]

    async def watch() -> None:
        async for _, obj in api.watch("/api/v1/namespaces/default/pods", version):
            name = obj.get("metadata", {}).get("name", "")
            if name.startswith(prefix) and obj.get("status", {}).get("phase") == "Running":
                running.setdefault(name, time.monotonic())
                if len(running) == count:
                    return

    watcher = asyncio.create_task(watch())

    async def create(i: int) -> None:
        name = f"{prefix}-{i}"
        await api.create("/api/v1/namespaces/default/pods", pod(name, node))
        created[name] = time.monotonic()

    if rate:
        creating = []
        for i in range(count):
            started = time.monotonic()
            creating.append(asyncio.create_task(create(i)))
            await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
        await asyncio.gather(*creating)
    else:
        await asyncio.gather(*(create(i) for i in range(count)))
    await asyncio.wait_for(watcher, timeout=120)
    return [running[n] - created[n] for n in created]


async def delete_all(api: Client) -> None:
    await api.request(
        "DELETE", "/api/v1/namespaces/default/pods", params={"labelSelector": "bench=pods"}
    )
    for _ in range(600):
        listed = await api.get("/api/v1/namespaces/default/pods")
        if not listed["items"]:
            return
        await asyncio.sleep(0.1)
    raise SystemExit("pods were not deleted within a minute")


def sandbox_latencies(socket: str, workdir: Path) -> tuple[list[float], list[float]]:
    runs, stops = [], []
    with CRIClient(socket) as client:
        for i in range(SANDBOXES):
            config = pod_config(workdir, f"sandbox-bench-{i}")
            del config.labels["io.kubernetes.pod.uid"]  # not the kubelet's: it leaves them alone
            config.log_directory = "/var/log/pods/bench"
            started = time.perf_counter()
            sandbox_id = client.runtime.RunPodSandbox(
                cri.RunPodSandboxRequest(config=config)
            ).pod_sandbox_id
            runs.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sandbox_id))
            client.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))
            stops.append(time.perf_counter() - started)
    return runs, stops


def memory_report(state: Path) -> dict[str, Any]:
    processes = node_processes(supervisor_pid(state))
    by_kind: dict[str, list[int]] = {}
    for pid, cmdline in processes:
        kind = cmdline.split()[0] if cmdline else "?"
        by_kind.setdefault(kind, []).append(pss_kib(pid))
    return {"total_kib": sum(sum(v) for v in by_kind.values()), "by_kind": by_kind}


def print_pod_memory(state: Path) -> None:
    kinds = memory_report(state)["by_kind"]
    pauses, shims = kinds.get("pause", []), kinds.get("kin.runtime.shim", [])
    if pauses and shims:
        pause, shim = statistics.mean(pauses), statistics.mean(shims) / 1024
        print(
            f"per pod: pause {pause:.0f} KiB PSS, shim {shim:.1f} MiB PSS (mean of {len(pauses)})"
        )
    else:
        print(f"per pod: no pause or shim found among {sorted(kinds)}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    p50, p99 = statistics.median(ms), percentile(ms, 99)
    return f"{label:<44} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   (n={len(ms)})"


def worker_cpu(state: Path, zygote: int) -> dict[str, int]:
    """CPU milliseconds (user + system, with reaped children) of the worker's processes by
    kind, and of the cluster's zygote, which forks for both nodes."""
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    spent: dict[str, int] = {}
    processes = [*node_processes(supervisor_pid(state)), (zygote, "kin.zygote")]
    for pid, cmdline in processes:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        kind = cmdline.split()[0] if cmdline else "?"
        ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        spent[kind] = spent.get(kind, 0) + int(ticks * tick_ms)
    return spent


async def measure_pods(
    config_path: str, node: str, state: Path, count: int, rate: float, zygote: int
) -> None:
    async with Client(kubeconfig.load(config_path), "kin-bench") as api:
        for _ in range(300):  # the worker is Ready once its kubelet reported a CNI config
            try:
                status = (await api.get(f"/api/v1/nodes/{node}"))["status"]
                if any(
                    c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"]
                ):
                    break
            except Exception:
                pass
            await asyncio.sleep(0.1)
        before = worker_cpu(state, zygote)
        steady = await start_latencies(api, node, "steady", count, rate)
        print(line(f"pod start, {rate:g} pods/s ({count} pods)", steady))
        spent = {kind: ms - before.get(kind, 0) for kind, ms in worker_cpu(state, zygote).items()}
        shown = ", ".join(f"{kind} {ms / count:.0f}" for kind, ms in sorted(spent.items()) if ms)
        print(f"CPU per pod on the worker: {sum(spent.values()) / count:.0f} ms ({shown})")
        print_pod_memory(state)
        await delete_all(api)
        burst = await start_latencies(api, node, "burst", count, 0)
        print(line(f"pod start, burst of {count}", burst))
        await delete_all(api)


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 100
    rate = float(argv[1]) if len(argv) > 1 else 10.0
    with temporary_cluster(BARE_TWO_NODES) as name, tempfile.TemporaryDirectory() as tmp:
        node = f"{name}-worker"
        state = Path(node_dir(name, node))
        (state / "fs/etc/cni/net.d/10-bridge.conflist").write_text(json.dumps(BRIDGE))
        config_path = os.path.join(tmp, "kubeconfig")
        Path(config_path).write_text(kin("get", "kubeconfig", "--name", name).stdout)
        record = zygote_record(name)
        zygote = record.pid if record is not None else 0
        asyncio.run(measure_pods(config_path, node, state, count, rate, zygote))

        runs, stops = sandbox_latencies(str(state / "fs/run/containerd/containerd.sock"), Path(tmp))
        print(line("RunPodSandbox (CRI, kin bridge + host-local)", runs))
        print(line("StopPodSandbox + RemovePodSandbox", stops))

        time.sleep(IDLE_AFTER)
        idle = memory_report(state)
        share = pss_kib(zygote) / NODES if zygote else 0.0
        total = (idle["total_kib"] + share) / 1024
        print(
            f"idle worker: {total:.1f} MiB PSS ({idle['total_kib'] / 1024:.1f} in its PID "
            f"namespace, {share / 1024:.1f} its share of the cluster's zygote)"
        )
        for kind, values in sorted(idle["by_kind"].items()):
            print(f"    {kind:<40} {sum(values) / 1024:6.1f} MiB  ({len(values)} processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
