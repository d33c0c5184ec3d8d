"""The controllers' pure parts: rollout limits, template hashes, CIDR blocks, taints and
evictions, deletion order, and the work queue's promises."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest

from kin.controller_manager.deployment import rolling_limits
from kin.controller_manager.nodeipam import next_free
from kin.controller_manager.nodelifecycle import eviction_time, wanted_taints
from kin.controller_manager.pods import deletion_order
from kin.controller_manager.templatehash import ALPHANUMS, template_hash
from kin.controller_manager.workqueue import WorkQueue
from kin.kube.events import parse_time

pytestmark = pytest.mark.unit


def deployment(
    replicas: int, surge: object = None, unavailable: object = None
) -> dict[str, object]:
    rolling = {
        k: v for k, v in (("maxSurge", surge), ("maxUnavailable", unavailable)) if v is not None
    }
    return {"spec": {"replicas": replicas,
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}}  # fmt: skip


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (4, None, None, (1, 1)),  # 25% each
        (3, None, None, (1, 0)),  # surge rounds up, unavailable down
        (10, "30%", "30%", (3, 3)),
        (1, 0, 0, (0, 1)),  # both zero cannot progress: one may be unavailable
        (5, 2, 1, (2, 1)),
    ],
)
def test_rolling_limits_round_as_kubernetes(
    replicas: int, surge: object, unavailable: object, expected: tuple[int, int]
) -> None:
    assert rolling_limits(deployment(replicas, surge, unavailable)) == expected


def test_a_template_hash_is_stable_safe_and_ignores_its_own_label() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a"}]}}
    digest = template_hash(template)
    assert digest == template_hash({**template})
    assert set(digest) <= set(ALPHANUMS) and 1 <= len(digest) <= 10
    labelled = {"metadata": {"labels": {"app": "web", "pod-template-hash": digest}},
                "spec": template["spec"]}  # fmt: skip
    assert template_hash(labelled) == digest
    assert template_hash(template, collision_count=1) != digest
    changed = {**template, "spec": {"containers": [{"name": "b"}]}}
    assert template_hash(changed) != digest


def test_next_free_skips_taken_and_overlapping_blocks() -> None:
    network = ipaddress.ip_network("10.244.0.0/16")
    assert next_free(network, 24, set()) == "10.244.0.0/24"
    assert next_free(network, 24, {"10.244.0.0/24", "10.244.1.0/25"}) == "10.244.2.0/24"
    assert next_free(network, 24, {"10.244.0.0/23", "garbage"}) == "10.244.2.0/24"
    assert next_free(ipaddress.ip_network("10.0.0.0/24"), 24, {"10.0.0.0/24"}) is None


def test_taints_follow_the_ready_condition_and_keep_their_time() -> None:
    node: dict[str, Any] = {
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": "False"}]},
    }
    taints = wanted_taints(node, [{"key": "custom", "effect": "NoSchedule"}], "T1")
    assert [(t["key"], t["effect"]) for t in taints] == [
        ("custom", "NoSchedule"),
        ("node.kubernetes.io/not-ready", "NoSchedule"),
        ("node.kubernetes.io/not-ready", "NoExecute"),
    ]
    assert taints[2]["timeAdded"] == "T1"
    assert wanted_taints(node, taints, "T2")[2]["timeAdded"] == "T1"
    node["status"]["conditions"][0]["status"] = "Unknown"
    keys = {t["key"] for t in wanted_taints(node, taints, "T3")}
    assert keys == {"custom", "node.kubernetes.io/unreachable"}
    node["status"]["conditions"][0]["status"] = "True"
    node["spec"]["unschedulable"] = True
    assert [t["key"] for t in wanted_taints(node, taints, "T4")] == [
        "custom", "node.kubernetes.io/unschedulable",
    ]  # fmt: skip


def test_eviction_time_honours_toleration_seconds() -> None:
    taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
             "timeAdded": "2026-11-27T10:00:00Z"}  # fmt: skip
    added = parse_time("2026-11-27T10:00:00Z")
    intolerant: dict[str, Any] = {"spec": {}}
    forever = {"spec": {"tolerations": [{"operator": "Exists"}]}}
    five_minutes = {"spec": {"tolerations": [{"key": taint["key"], "operator": "Exists",
                                              "effect": "NoExecute", "tolerationSeconds": 300}]}}  # fmt: skip
    assert eviction_time(intolerant, [taint]) == 0.0
    assert eviction_time(forever, [taint]) is None
    assert eviction_time(five_minutes, [taint]) == added + 300


def test_parse_time_reads_times_and_micro_times() -> None:
    assert parse_time("2026-11-27T10:00:00Z") == parse_time("2026-11-27T10:00:00.000000Z")
    assert parse_time("2026-11-27T10:00:00.500000Z") - parse_time("2026-11-27T10:00:00Z") == 0.5
    assert parse_time("") == 0.0 and parse_time("yesterday") == 0.0


def test_pods_a_controller_deletes_first_are_unscheduled_then_pending_then_unready() -> None:
    def pod(
        name: str, node: str = "", phase: str = "Running", ready: bool = True
    ) -> dict[str, object]:
        conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
        return {"metadata": {"name": name, "creationTimestamp": "2026-11-27T10:00:00Z"},
                "spec": {"nodeName": node} if node else {},
                "status": {"phase": phase, "conditions": conditions}}  # fmt: skip

    pods = [pod("ready", "n"), pod("unready", "n", ready=False), pod("pending", "n", "Pending"),
            pod("unscheduled", phase="Pending")]  # fmt: skip
    order = [p["metadata"]["name"] for p in sorted(pods, key=deletion_order)]  # type: ignore[index]
    assert order == ["unscheduled", "pending", "unready", "ready"]


def test_the_work_queue_hands_a_key_out_once_and_again_after_done() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        queue.add("a")
        queue.add("a")
        queue.add("b")
        assert len(queue) == 2
        first = await queue.get()
        queue.add(first)  # added while being worked on: not handed out twice at once
        second = await queue.get()
        assert {first, second} == {"a", "b"}
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(queue.get(), 0.05)
        queue.done(first)
        assert await asyncio.wait_for(queue.get(), 1) == first
        queue.add_after("c", 0.05)
        queue.add_after("c", 10)  # a later add does not postpone the earlier one
        assert await asyncio.wait_for(queue.get(), 1) == "c"

    asyncio.run(scenario())


def test_a_template_with_a_null_creation_timestamp_is_the_same_template() -> None:
    """``kubectl rollout undo`` sends the old template with ``creationTimestamp: null``."""
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a"}]}}
    undone = {"metadata": {"labels": {"app": "web"}, "creationTimestamp": None},
              "spec": template["spec"]}  # fmt: skip
    assert template_hash(undone) == template_hash(template)
