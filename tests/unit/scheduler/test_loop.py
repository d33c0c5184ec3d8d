"""The scheduler's loop against a recording stand-in for the API: bindings, events, and a
bad pod that must not stop the others (the API server is tested for real elsewhere)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kin.scheduler.scheduler import Scheduler

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


class RecordingAPI:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    async def create(self, path: str, body: Obj) -> Obj:
        self.calls.append(("create", path, body))
        return body

    async def patch(self, path: str, body: Obj, content_type: str = "") -> Obj:
        self.calls.append(("patch", path, body))
        return body


def pod(name: str, cpu: str = "100m") -> Obj:
    container = {"name": "app", "resources": {"requests": {"cpu": cpu}}}
    meta = {"name": name, "namespace": "default", "uid": f"uid-{name}",
            "creationTimestamp": f"2026-11-27T00:00:0{len(name)}Z"}  # fmt: skip
    return {"metadata": meta, "spec": {"containers": [container]}}


def node(name: str) -> Obj:
    return {
        "metadata": {"name": name, "labels": {}},
        "spec": {},
        "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }  # fmt: skip


def test_a_pod_the_scheduler_cannot_read_is_reported_and_the_others_are_bound() -> None:
    api = RecordingAPI()
    scheduler = Scheduler(api)  # type: ignore[arg-type]
    scheduler.nodes.objects = {"w": node("w")}
    scheduler.pods.objects = {"default/bad": pod("bad", cpu="1.2.3"), "default/ok": pod("ok")}
    asyncio.run(scheduler.schedule_pending())
    bindings = [c for c in api.calls if c[1].endswith("/binding")]
    assert [(path, body["target"]["name"]) for _, path, body in bindings] == [
        ("/api/v1/namespaces/default/pods/ok/binding", "w")
    ]
    reasons = [body["reason"] for _, path, body in api.calls if path.endswith("/events")]
    assert sorted(reasons) == ["FailedScheduling", "Scheduled"]
    asyncio.run(scheduler.schedule_pending())  # backed off: not tried again at once
    assert len([c for c in api.calls if c[1].endswith("/events")]) == 2
