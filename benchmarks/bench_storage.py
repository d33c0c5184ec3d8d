"""Storage backends head to head: memory, SQLite (WAL, synchronous=FULL) and a real etcd.

With a realistic pod (about 2 KB of JSON), for each backend: create latency with 1, 8
and 32 concurrent clients (and the throughput that gives), get latency with 8
clients, listing 5,000 pods, and watch delivery (from the start of a write to its
event reaching a watcher, 8 writers). These are storage-only numbers, the floor under
the API server's end-to-end goals (p99 create < 25 ms at 8 clients, p50 of a 5,000-pod
list < 1 s). The etcd is a throwaway one on loopback (``kin.testing.etcd``).

    .venv/bin/python benchmarks/bench_storage.py [memory,sqlite,etcd] [CREATES_PER_CLIENT]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from typing import Any

from kin.apiserver.storage import Storage, open_storage
from kin.testing.etcd import running_etcd

LIST_SIZE = 5000


def realistic_pod(name: str) -> dict[str, Any]:
    """A pod as the API server stores one after defaulting and a kubelet status update."""
    container = {
        "name": "app",
        "image": "registry.k8s.io/e2e-test-images/agnhost:2.47",
        "args": ["netexec", "--http-port=8080", "--udp-port=8081"],
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": f"VAR_{i}", "value": f"value-{i}"} for i in range(6)],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
        "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/x"}],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "bench",
            "uid": "0b6c4a8e-6f1e-4c6b-9b1e-3b8f0f6a1c2d",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "bench", "pod-template-hash": "7d9c8b6f5"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "bench-7d9c8b6f5",
                 "uid": "5f0e2a3c-1d4b-4e6f-8a9b-0c1d2e3f4a5b", "controller": True}
            ],
        },
        "spec": {
            "containers": [container],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "nodeName": "kin-worker",
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 300}
            ],
        },
        "status": {
            "phase": "Running",
            "hostIP": "172.18.0.3",
            "podIP": "10.244.1.17",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": "2026-01-01T00:00:01Z"}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
        },
    }  # fmt: skip


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1e3:7.2f} ms  p99 {p99 * 1e3:7.2f} ms  (n={len(ordered)})"


async def timed(call: Callable[..., Awaitable[Any]], *args: Any) -> float:
    started = time.perf_counter()
    await call(*args)
    return time.perf_counter() - started


def key(name: str) -> str:
    return f"/registry/pods/bench/{name}"


async def bench_creates(store: Storage, clients: int, per_client: int, tag: str) -> None:
    async def client(c: int) -> list[float]:
        names = [f"{tag}-{c}-{i}" for i in range(per_client)]
        return [await timed(store.create, key(n), realistic_pod(n)) for n in names]

    started = time.perf_counter()
    samples = [s for r in await asyncio.gather(*(client(c) for c in range(clients))) for s in r]
    rate = len(samples) / (time.perf_counter() - started)
    print(f"  create  {clients:2} clients  {percentiles(samples)}  {rate:7.0f}/s")


async def bench_gets(store: Storage, clients: int, per_client: int) -> None:
    async def client(c: int) -> list[float]:
        return [await timed(store.get, key(f"c1-0-{i}")) for i in range(per_client)]

    samples = [s for r in await asyncio.gather(*(client(c) for c in range(clients))) for s in r]
    print(f"  get     {clients:2} clients  {percentiles(samples)}")


async def bench_list(store: Storage) -> None:
    prefix = "/registry/pods/list/"
    for start in range(0, LIST_SIZE, 500):
        names = [f"list-{i}" for i in range(start, min(start + 500, LIST_SIZE))]
        await asyncio.gather(*(store.create(prefix + n, realistic_pod(n)) for n in names))
    items, _, _ = await store.list(prefix)
    size = len(json.dumps(items)) / len(items)
    samples = [await timed(store.list, prefix) for _ in range(10)]
    print(f"  list    {len(items)} pods of {size:.0f} B  {percentiles(samples)}")


async def bench_watch(store: Storage, writers: int, per_writer: int) -> None:
    started: dict[str, float] = {}
    latencies: list[float] = []
    stream = store.watch("/registry/pods/watch/", await store.revision())

    async def watcher() -> None:
        async for event in stream:
            latencies.append(time.perf_counter() - started[event.key])
            if len(latencies) == writers * per_writer:
                return

    async def writer(w: int) -> None:
        for i in range(per_writer):
            name = f"/registry/pods/watch/w{w}-{i}"
            started[name] = time.perf_counter()
            await store.create(name, realistic_pod(f"w{w}-{i}"))

    watching = asyncio.create_task(watcher())
    await asyncio.sleep(0.1)
    await asyncio.gather(*(writer(w) for w in range(writers)))
    await watching
    print(f"  watch   {writers:2} writers  {percentiles(latencies)}  (write start -> event)")


async def bench(url: str, per_client: int) -> None:
    store = await open_storage(url)
    try:
        for clients in (1, 8, 32):
            await bench_creates(store, clients, per_client, f"c{clients}")
        await bench_gets(store, 8, per_client)
        await bench_list(store)
        await bench_watch(store, 8, per_client // 2)
    finally:
        await store.close()


def urls(stack: ExitStack, names: list[str]) -> Iterator[tuple[str, str]]:
    for name in names:
        if name == "memory":
            yield name, "memory://"
        elif name == "sqlite":
            directory = stack.enter_context(tempfile.TemporaryDirectory())
            yield name, f"sqlite://{directory}/bench.db"
        elif name == "etcd":
            server = stack.enter_context(running_etcd())
            yield name, f"etcd://127.0.0.1:{server.client_port}"


def main() -> None:
    names = sys.argv[1].split(",") if len(sys.argv) > 1 else ["memory", "sqlite", "etcd"]
    per_client = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    print(f"pod JSON: {len(json.dumps(realistic_pod('x')))} bytes")
    with ExitStack() as stack:
        for name, url in urls(stack, names):
            print(f"{name} ({url})")
            asyncio.run(bench(url, per_client))


if __name__ == "__main__":
    main()
