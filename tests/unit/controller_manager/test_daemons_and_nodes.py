"""DaemonSets, node IPAM, node lifecycle and per-namespace defaults against kin's real API
server, with nodes the test registers and keeps (or stops keeping) alive as kubelets do."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from kin.controller_manager import nodelifecycle
from kin.kube.client import STRATEGIC_PATCH, Client
from kin.kube.events import now
from kin.testing.apiserver import InProcessServer
from kin.testing.controllers import (
    APPS,
    PODS,
    client,
    controllers,
    eventually,
    get_or_none,
    pods,
    run_pods,
    template,
)

pytestmark = pytest.mark.unit
Obj = dict[str, Any]
NODES = "/api/v1/nodes"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


async def add_node(api: Client, name: str, ready: str = "True", labels: Obj | None = None,
                   taints: list[Obj] | None = None) -> None:  # fmt: skip
    body: Obj = {"apiVersion": "v1", "kind": "Node",
                 "metadata": {"name": name, "labels": labels or {}}, "spec": {}}  # fmt: skip
    if taints:
        body["spec"]["taints"] = taints
    await api.create(NODES, body)
    await set_ready(api, name, ready)


async def set_ready(api: Client, name: str, ready: str, heartbeat: str = "") -> None:
    stamp = heartbeat or now()
    condition = {"type": "Ready", "status": ready, "reason": "KubeletReady",
                 "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}  # fmt: skip
    await api.patch(f"{NODES}/{name}/status", {"status": {"conditions": [condition]}},
                    STRATEGIC_PATCH)  # fmt: skip


def daemonset(name: str, **spec: Any) -> Obj:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": labels},
                     "template": template(labels, **spec)}}  # fmt: skip


def test_node_ipam_gives_each_node_a_24_control_plane_first_and_keeps_it(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        config: dict[str, Any] = {"controllers": ["nodeipam"], "allocate_node_cidrs": True,
                  "cluster_cidr": "10.244.0.0/16"}  # fmt: skip
        async with client(server) as api:  # both registered before the manager starts
            await add_node(api, "kin-a-worker")
            await add_node(api, "kin-a-control-plane", labels={CONTROL_PLANE: ""})
        async with controllers(server, **config) as api:
            cidrs = await eventually(lambda: _cidrs(api, 2))
            assert cidrs == {
                "kin-a-control-plane": "10.244.0.0/24",
                "kin-a-worker": "10.244.1.0/24",
            }
            await add_node(api, "kin-a-worker2")
            cidrs = await eventually(lambda: _cidrs(api, 3))
            assert cidrs["kin-a-worker2"] == "10.244.2.0/24"
            node = await api.get(f"{NODES}/kin-a-worker2")
            assert node["spec"]["podCIDRs"] == ["10.244.2.0/24"]
        async with controllers(server, **config) as api:  # a restart changes nothing
            await asyncio.sleep(0.3)
            assert await _cidrs(api, 3) == cidrs

    asyncio.run(scenario())


def test_node_ipam_says_when_the_cluster_cidr_is_full_and_keeps_serving(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        config: dict[str, Any] = {"controllers": ["nodeipam"], "allocate_node_cidrs": True,
                  "cluster_cidr": "10.244.0.0/24"}  # fmt: skip
        async with controllers(server, **config) as api:
            await add_node(api, "kin-b-1")
            await eventually(lambda: _cidrs(api, 1))
            await add_node(api, "kin-b-2")
            events = await eventually(lambda: _events(api, "CIDRNotAvailable"))
            assert events[0]["involvedObject"]["name"] == "kin-b-2"
            assert "podCIDR" not in (await api.get(f"{NODES}/kin-b-2"))["spec"]

    asyncio.run(scenario())


def test_a_daemonset_runs_one_pod_on_each_node_it_tolerates_and_follows_nodes(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["daemonset"]) as api:
            taint = {"key": CONTROL_PLANE, "effect": "NoSchedule"}
            await add_node(api, "kin-c-control-plane", taints=[taint])
            await add_node(api, "kin-c-worker", ready="False")
            await api.create(f"{APPS}/daemonsets", daemonset("agent"))
            [pod] = await eventually(lambda: _count(api, "app=agent", 1))
            assert _target(pod) == "kin-c-worker"  # a not-ready node is tolerated
            keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
            assert ("node.kubernetes.io/not-ready", "NoExecute") in keys
            assert pod["metadata"]["labels"]["controller-revision-hash"]
            # Tolerating the control plane's taint puts a pod there too.
            tolerate = {"tolerations": [{"operator": "Exists", "effect": "NoSchedule"}]}
            await api.patch(f"{APPS}/daemonsets/agent", {"spec": {"template": {"spec": tolerate}}},
                            STRATEGIC_PATCH)  # fmt: skip
            await add_node(api, "kin-c-worker2")
            found = await eventually(lambda: _on_nodes(api, 3))
            assert set(found) == {"kin-c-control-plane", "kin-c-worker", "kin-c-worker2"}
            await api.delete(f"{NODES}/kin-c-worker2")
            await eventually(lambda: _on_nodes(api, 2))
            await run_pods(api, "app=agent")
            status = await eventually(lambda: _ds_status(api, "agent", numberAvailable=2))
            assert status["desiredNumberScheduled"] == 2 and status["updatedNumberScheduled"] == 2

    asyncio.run(scenario())


def test_a_daemonset_update_replaces_pods_one_node_at_a_time(server: InProcessServer) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["daemonset"]) as api:
            for name in ("kin-d-1", "kin-d-2", "kin-d-3"):
                await add_node(api, name)
            await api.create(f"{APPS}/daemonsets", daemonset("agent"))
            await eventually(lambda: _count(api, "app=agent", 3))
            await run_pods(api, "app=agent")
            await eventually(lambda: _ds_status(api, "agent", numberAvailable=3))
            await api.patch(
                f"{APPS}/daemonsets/agent",
                {"spec": {"template": {"metadata": {"annotations": {"v": "2"}}}}},
            )
            most_gone = 0
            for _ in range(300):
                current = await pods(api, "app=agent")
                running = [p for p in current if (p.get("status") or {}).get("phase") == "Running"]
                most_gone = max(most_gone, 3 - len(running))
                done = {"updatedNumberScheduled": 3, "numberAvailable": 3, "observedGeneration": 2}
                if await _ds_status(api, "agent", **done):
                    break
                await run_pods(api, "app=agent")
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the update never finished")
            assert most_gone == 1  # maxUnavailable 1: never two nodes without an agent
            assert {p["metadata"]["annotations"]["v"] for p in await pods(api, "app=agent")} == {
                "2"
            }

    asyncio.run(scenario())


def test_a_silent_node_becomes_unknown_is_tainted_and_its_intolerant_pods_evicted(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        config: dict[str, Any] = {
            "controllers": ["nodelifecycle"],
            "node_monitor_grace_period": 1.0,
        }
        async with controllers(server, **config) as api:
            await add_node(api, "kin-e-1")
            await add_node(api, "kin-e-2", ready="False")
            stays = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stays"},
                     "spec": {"nodeName": "kin-e-1", "containers": [{"name": "a", "image": "x"}],
                              "tolerations": [{"operator": "Exists"}]}}  # fmt: skip
            goes = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "goes"},
                    "spec": {"nodeName": "kin-e-1", "containers": [{"name": "a", "image": "x"}],
                             "tolerations": [{"key": "node.kubernetes.io/unreachable",
                                              "operator": "Exists", "effect": "NoExecute",
                                              "tolerationSeconds": 1}]}}  # fmt: skip
            for body in (stays, goes):
                await api.create(PODS, body)
            taints = await eventually(lambda: _taints(api, "kin-e-2"))
            assert taints == {("node.kubernetes.io/not-ready", "NoSchedule"),
                              ("node.kubernetes.io/not-ready", "NoExecute")}  # fmt: skip
            # kin-e-1 stops reporting: after the grace period it is Unknown and unreachable.
            taints = await eventually(lambda: _taints(api, "kin-e-1"), timeout=15)
            assert ("node.kubernetes.io/unreachable", "NoExecute") in taints
            node = await api.get(f"{NODES}/kin-e-1")
            [ready] = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
            assert (ready["status"], ready["message"]) == (
                "Unknown",
                "Kubelet stopped posting node status.",
            )
            # "goes" tolerates unreachable for 1 s only; "stays" tolerates everything.
            await eventually(lambda: _pod_gone_or_deleting(api, "goes"), timeout=15)
            stays_now = await api.get(f"{PODS}/stays")
            assert not stays_now["metadata"].get("deletionTimestamp")
            # The kubelet comes back: the taints go.
            await set_ready(api, "kin-e-1", "True")
            await eventually(lambda: _no_taints(api, "kin-e-1"))

    asyncio.run(scenario())


def test_a_node_silent_while_the_cluster_was_stopped_gets_a_full_grace_after_a_start(
    server: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kin start`` an hour after ``kin stop``: every heartbeat is an hour old, but the
    kubelets are starting; the controller counts silence from when it started."""

    real_time, monotonic = time.time, time.monotonic

    class AnHourLater:
        @staticmethod
        def time() -> float:
            return real_time() + 3600

        @staticmethod
        def monotonic() -> float:
            return monotonic()

    monkeypatch.setattr(nodelifecycle, "time", AnHourLater)

    async def scenario() -> None:
        config: dict[str, Any] = {
            "controllers": ["nodelifecycle"],
            "node_monitor_grace_period": 2.0,
        }
        async with client(server) as api:
            await add_node(api, "kin-f-1")
        async with controllers(server, **config) as api:
            await asyncio.sleep(1.0)
            assert _ready_status(await api.get(f"{NODES}/kin-f-1")) == "True"
            await eventually(lambda: _unknown(api, "kin-f-1"), timeout=10)

    asyncio.run(scenario())


async def _unknown(api: Client, name: str) -> bool | None:
    return True if _ready_status(await api.get(f"{NODES}/{name}")) == "Unknown" else None


def _ready_status(node: Obj) -> str:
    return str(next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"))


def test_every_namespace_gets_a_default_service_account_and_the_root_ca(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        config: dict[str, Any] = {
            "controllers": ["serviceaccount"],
            "root_ca": "-----BEGIN CERTIFICATE-----\n",
        }
        async with controllers(server, **config) as api:
            await api.create(
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
            )
            account = await eventually(
                lambda: get_or_none(api, "/api/v1/namespaces/team/serviceaccounts/default")
            )
            assert account["metadata"]["namespace"] == "team"
            ca = await eventually(
                lambda: get_or_none(api, "/api/v1/namespaces/team/configmaps/kube-root-ca.crt")
            )
            assert ca["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
            await eventually(
                lambda: get_or_none(api, "/api/v1/namespaces/kube-system/serviceaccounts/default")
            )
            await api.delete("/api/v1/namespaces/team/serviceaccounts/default")
            await eventually(
                lambda: get_or_none(api, "/api/v1/namespaces/team/serviceaccounts/default")
            )

    asyncio.run(scenario())


async def _cidrs(api: Client, count: int) -> dict[str, str] | None:
    items = (await api.get(NODES))["items"]
    found = {n["metadata"]["name"]: n["spec"]["podCIDR"] for n in items if n["spec"].get("podCIDR")}
    return found if len(found) == count else None


async def _events(api: Client, reason: str) -> list[Obj] | None:
    items = (await api.get("/api/v1/events"))["items"]
    return [e for e in items if e.get("reason") == reason] or None


async def _count(api: Client, selector: str, count: int) -> list[Obj] | None:
    found = await pods(api, selector)
    return found if len(found) == count else None


def _target(pod: Obj) -> str:
    terms = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    [term] = terms["nodeSelectorTerms"]
    [field] = term["matchFields"]
    assert (field["key"], field["operator"]) == ("metadata.name", "In")
    return str(field["values"][0])


async def _on_nodes(api: Client, count: int) -> list[str] | None:
    found = [_target(p) for p in await pods(api, "app=agent")]
    return found if len(found) == count and len(set(found)) == count else None


async def _ds_status(api: Client, name: str, **wanted: int) -> Obj | None:
    status = (await api.get(f"{APPS}/daemonsets/{name}")).get("status") or {}
    return status if all(status.get(k) == v for k, v in wanted.items()) else None


async def _taints(api: Client, node: str) -> set[tuple[str, str]] | None:
    taints = (await api.get(f"{NODES}/{node}"))["spec"].get("taints") or []
    return {(t["key"], t["effect"]) for t in taints} or None


async def _no_taints(api: Client, node: str) -> bool:
    return not (await api.get(f"{NODES}/{node}"))["spec"].get("taints")


async def _pod_gone_or_deleting(api: Client, name: str) -> bool:
    pod = await get_or_none(api, f"{PODS}/{name}")
    return pod is None or bool(pod["metadata"].get("deletionTimestamp"))


def test_a_daemon_pod_that_keeps_failing_is_replaced_ever_more_slowly(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["daemonset"]) as api:
            await add_node(api, "kin-f-1")
            await api.create(f"{APPS}/daemonsets", daemonset("agent"))
            names = []
            for _ in range(3):  # the pod fails at once, every time
                [pod] = await eventually(lambda: _count(api, "app=agent", 1))
                assert pod["metadata"]["name"] not in names
                names.append(pod["metadata"]["name"])
                await api.patch(f"{PODS}/{names[-1]}/status", {"status": {"phase": "Failed"}})
                started = asyncio.get_running_loop().time()
                await eventually(lambda: _replaced(api, names[-1]), timeout=10)
                waited = asyncio.get_running_loop().time() - started
            assert waited >= 0.9  # the second replacement waited for its back-off

    asyncio.run(scenario())


async def _replaced(api: Client, failed: str) -> bool:
    current = await pods(api, "app=agent")
    return bool(current) and all(p["metadata"]["name"] != failed for p in current)
