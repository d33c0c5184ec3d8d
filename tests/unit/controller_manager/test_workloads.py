"""ReplicaSets and Deployments against kin's real API server: pods made, adopted, scaled
and rolled out as kube-controller-manager does it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kin.errors import APIError
from kin.kube.client import Client
from kin.testing.apiserver import InProcessServer
from kin.testing.controllers import (
    APPS,
    PODS,
    controllers,
    eventually,
    pods,
    run_pods,
    template,
)

pytestmark = pytest.mark.unit
Obj = dict[str, Any]


def replicaset(name: str, replicas: int, **labels: str) -> Obj:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": template(labels)},
    }  # fmt: skip


def deployment(name: str, replicas: int, image: str = "busybox", **strategy: Any) -> Obj:
    labels = {"app": name}
    spec: Obj = {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": template(labels, image)}  # fmt: skip
    if strategy:
        spec["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": spec}  # fmt: skip


def test_a_replicaset_makes_its_pods_counts_them_and_scales_down(server: InProcessServer) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["replicaset"]) as api:
            rs = await api.create(f"{APPS}/replicasets", replicaset("web", 3))
            made = await eventually(lambda: _exactly(api, "app=web", 3))
            for pod in made:
                assert pod["metadata"]["name"].startswith("web-")
                [ref] = pod["metadata"]["ownerReferences"]
                assert (ref["kind"], ref["uid"], ref["controller"]) == (
                    "ReplicaSet",
                    rs["metadata"]["uid"],
                    True,
                )
            await run_pods(api, "app=web")
            status = await eventually(lambda: _status(api, "replicasets/web", readyReplicas=3))
            assert status["availableReplicas"] == 3 and status["observedGeneration"] == 1
            await api.patch(f"{APPS}/replicasets/web", {"spec": {"replicas": 1}})
            await eventually(lambda: _exactly(api, "app=web", 1))
            await eventually(
                lambda: _status(api, "replicasets/web", replicas=1, observedGeneration=2)
            )

    asyncio.run(scenario())


def test_a_replicaset_adopts_a_matching_orphan_instead_of_making_one_more(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["replicaset"]) as api:
            orphan = {"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": "stray", "labels": {"app": "db"}},
                      **template({"app": "db"})}  # fmt: skip
            orphan["metadata"] = {"name": "stray", "labels": {"app": "db"}}
            await api.create(PODS, orphan)
            await api.create(f"{APPS}/replicasets", replicaset("db", 2))
            found = await eventually(lambda: _exactly(api, "app=db", 2))
            assert "stray" in {p["metadata"]["name"] for p in found}
            stray = await api.get(f"{PODS}/stray")
            await eventually(lambda: _owned(api, "stray"))
            assert stray["metadata"]["name"] == "stray"

    asyncio.run(scenario())


def test_a_replicaset_whose_pods_are_rejected_reports_it_and_the_others_go_on(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, client_type=RefusingBad, controllers=["replicaset"]) as api:
            await api.create(f"{APPS}/replicasets", replicaset("bad", 2))
            await api.create(f"{APPS}/replicasets", replicaset("good", 2))
            await eventually(lambda: _exactly(api, "app=good", 2))
            events = await eventually(lambda: _events(api, "FailedCreate"))
            assert "bad" in events[0]["involvedObject"]["name"]
            assert events[0]["message"] == "Error creating: pods are refused here"
            assert await pods(api, "app=bad") == []

    asyncio.run(scenario())


class RefusingBad(Client):
    """The API as the manager sees it, refusing pods of ReplicaSet "bad" (as a quota or an
    admission webhook would)."""

    async def create(self, path: str, body: Obj) -> Obj:
        if body.get("kind") == "Pod" and body["metadata"].get("generateName") == "bad-":
            raise APIError(403, "Forbidden", "pods are refused here")
        return await super().create(path, body)


def test_a_deployment_rolls_out_within_its_surge_and_unavailability_limits(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["deployment", "replicaset"]) as api:
            limits = {"maxSurge": 1, "maxUnavailable": 0}
            body = deployment("web", 3, type="RollingUpdate", rollingUpdate=limits)
            await api.create(f"{APPS}/deployments", body)
            first = await eventually(lambda: _sets(api, 1))
            assert first[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
            assert first[0]["metadata"]["name"].startswith("web-")
            digest = first[0]["metadata"]["labels"]["pod-template-hash"]
            assert first[0]["metadata"]["name"] == f"web-{digest}"
            await _settle(api, 3)
            await api.patch(f"{APPS}/deployments/web",
                            {"spec": {"template": {"spec": {"containers": [
                                {"name": "app", "image": "busybox:2"}]}}}},
                            "application/strategic-merge-patch+json")  # fmt: skip
            seen_total = await _settle(api, 3, image="busybox:2")
            assert max(seen_total) <= 4, seen_total  # replicas + maxSurge
            sets = await _sets(api, 2)
            assert sets is not None
            by_revision = {s["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: s
                           for s in sets}  # fmt: skip
            assert by_revision["2"]["spec"]["replicas"] == 3
            assert by_revision["1"]["spec"]["replicas"] == 0
            status = (await api.get(f"{APPS}/deployments/web"))["status"]
            assert (status["updatedReplicas"], status["availableReplicas"]) == (3, 3)
            reasons = {c["type"]: c["reason"] for c in status["conditions"]}
            assert reasons == {"Available": "MinimumReplicasAvailable",
                               "Progressing": "NewReplicaSetAvailable"}  # fmt: skip
            # Back to the first template: its ReplicaSet becomes revision 3.
            await api.patch(f"{APPS}/deployments/web",
                            {"spec": {"template": {"spec": {"containers": [
                                {"name": "app", "image": "busybox"}]}}}},
                            "application/strategic-merge-patch+json")  # fmt: skip
            await _settle(api, 3, image="busybox")
            again = await api.get(f"{APPS}/replicasets/{first[0]['metadata']['name']}")
            assert again["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
            assert again["spec"]["replicas"] == 3

    asyncio.run(scenario())


def test_a_recreate_deployment_removes_every_old_pod_before_starting_new_ones(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["deployment", "replicaset"]) as api:
            await api.create(f"{APPS}/deployments", deployment("db", 2, type="Recreate"))
            await _settle(api, 2)
            await api.patch(f"{APPS}/deployments/db",
                            {"spec": {"template": {"spec": {"containers": [
                                {"name": "app", "image": "busybox:2"}]}}}},
                            "application/strategic-merge-patch+json")  # fmt: skip
            mixed = False
            for _ in range(200):
                images = {p["spec"]["containers"][0]["image"] for p in await pods(api)}
                mixed = mixed or len(images) > 1
                if images == {"busybox:2"} and len(await pods(api)) == 2:
                    break
                await run_pods(api)
                await asyncio.sleep(0.02)
            assert not mixed, "old and new pods ran together"
            assert {p["spec"]["containers"][0]["image"] for p in await pods(api)} == {"busybox:2"}

    asyncio.run(scenario())


def test_scaling_a_deployment_scales_its_replicaset_and_deleting_it_removes_everything(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["deployment", "replicaset"]) as api:
            await api.create(f"{APPS}/deployments", deployment("web", 2))
            await _settle(api, 2)
            await api.patch(f"{APPS}/deployments/web", {"spec": {"replicas": 5}})
            await _settle(api, 5)
            [rs] = await _sets(api, 1) or []
            assert rs["spec"]["replicas"] == 5
            assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
            await api.delete(f"{APPS}/deployments/web")
            await eventually(lambda: _exactly(api, "app=web", 0))
            assert (await api.get(f"{APPS}/replicasets"))["items"] == []

    asyncio.run(scenario())


async def _settle(api: Client, replicas: int, image: str = "busybox") -> list[int]:
    """Play kubelet until ``replicas`` pods of ``image`` run and nothing else does; return
    the pod counts seen on the way."""
    seen = []
    for _ in range(400):
        await run_pods(api)
        current = await pods(api)
        seen.append(len(current))
        images = [p["spec"]["containers"][0]["image"] for p in current]
        status = (await api.get(f"{APPS}/deployments")).get("items") or []
        done = all(
            (d.get("status") or {}).get("updatedReplicas") == replicas
            and (d.get("status") or {}).get("availableReplicas") == replicas
            and (d.get("status") or {}).get("replicas") == replicas
            for d in status
        )
        if images == [image] * replicas and done:
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"never settled at {replicas} x {image}: {seen[-5:]}")


async def _exactly(api: Client, selector: str, count: int) -> list[Obj] | None:
    found = await pods(api, selector)
    return found if len(found) == count else None


async def _status(api: Client, path: str, **wanted: int) -> Obj | None:
    status = (await api.get(f"{APPS}/{path}")).get("status") or {}
    return status if all(status.get(k) == v for k, v in wanted.items()) else None


async def _sets(api: Client, count: int) -> list[Obj] | None:
    items = (await api.get(f"{APPS}/replicasets"))["items"]
    return items if len(items) == count else None


async def _owned(api: Client, name: str) -> bool:
    pod = await api.get(f"{PODS}/{name}")
    return bool(pod["metadata"].get("ownerReferences"))


async def _events(api: Client, reason: str) -> list[Obj] | None:
    items = (await api.get("/api/v1/namespaces/default/events"))["items"]
    found = [e for e in items if e.get("reason") == reason]
    return found or None


def test_a_deployment_adopts_an_orphan_replicaset_of_its_template(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["deployment", "replicaset"]) as api:
            spec = deployment("web", 2)
            orphan = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                      "metadata": {"name": "web-orphan", "labels": {"app": "web"}},
                      "spec": {**spec["spec"]}}  # fmt: skip
            await api.create(f"{APPS}/replicasets", orphan)
            await api.create(f"{APPS}/deployments", spec)
            await _settle(api, 2)
            [only] = await _sets(api, 1) or []
            assert only["metadata"]["name"] == "web-orphan"
            [owner] = only["metadata"]["ownerReferences"]
            assert (owner["kind"], owner["name"], owner["controller"]) == (
                "Deployment",
                "web",
                True,
            )

    asyncio.run(scenario())


def test_a_rollout_that_stops_moving_exceeds_its_progress_deadline_until_it_moves(
    server: InProcessServer,
) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=["deployment", "replicaset"]) as api:
            body = deployment("stuck", 1)
            body["spec"]["progressDeadlineSeconds"] = 1
            await api.create(f"{APPS}/deployments", body)
            # Nobody plays kubelet yet: its pod never becomes available.
            timed_out = await eventually(lambda: _progressing(api, "ProgressDeadlineExceeded"))
            assert timed_out["status"] == "False"
            assert timed_out["message"].endswith("has timed out progressing.")
            await _settle(api, 1)  # the kubelet comes: the rollout moves and completes
            done = await eventually(lambda: _progressing(api, "NewReplicaSetAvailable"))
            assert done["status"] == "True"

    asyncio.run(scenario())


async def _progressing(api: Client, reason: str) -> Obj | None:
    status = (await api.get(f"{APPS}/deployments/stuck")).get("status") or {}
    found = [c for c in status.get("conditions") or [] if c["type"] == "Progressing"]
    return found[0] if found and found[0]["reason"] == reason else None
