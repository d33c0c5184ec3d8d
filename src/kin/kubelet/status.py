"""A pod's API status from what the runtime reports: phase, conditions, container states.

The rules are the kubelet's (``getPhase``, ``generateAPIPodStatus``): Pending until every
container started, Running while one runs or will restart, Succeeded when all ended with 0
and none restarts, Failed when one failed and none restarts; conditions
PodReadyToStartContainers, Initialized, ContainersReady, Ready and PodScheduled.
"""

from __future__ import annotations

from typing import Any

from kin.kubelet import pods
from kin.kubelet.podstate import ContainerView, PodState
from kin.kubelet.sync import Waiting
from kin.runtime.cri import api_pb2 as cri

__all__ = ["pod_status", "rfc3339"]

Pod = dict[str, Any]
RUNTIME = "kin"


def rfc3339(ns: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9)) if ns else ""


def container_state(
    view: ContainerView | None, waiting: Waiting | None, pod_initializing: bool
) -> dict[str, Any]:
    if view is not None and view.running:
        return {"running": {"startedAt": rfc3339(view.status.started_at)}}
    if view is not None and view.exited and waiting is None:
        return {"terminated": _terminated(view)}
    if waiting is not None:
        return {"waiting": {"reason": waiting.reason, "message": waiting.message}}
    return {"waiting": {"reason": "PodInitializing" if pod_initializing else "ContainerCreating"}}


def _terminated(view: ContainerView) -> dict[str, Any]:
    status = view.status
    terminated: dict[str, Any] = {
        "exitCode": int(status.exit_code),
        "reason": status.reason or ("Completed" if status.exit_code == 0 else "Error"),
        "startedAt": rfc3339(status.started_at),
        "finishedAt": rfc3339(status.finished_at),
        "containerID": f"{RUNTIME}://{view.id}",
    }
    if status.exit_code > 128:
        terminated["signal"] = int(status.exit_code) - 128
    if status.message:
        terminated["message"] = status.message
    return terminated


def _container_status(
    pod: Pod,
    state: PodState,
    container: dict[str, Any],
    waiting: dict[tuple[str, str], Waiting],
    ready: dict[str, bool],
    pod_initializing: bool,
) -> dict[str, Any]:
    name = container["name"]
    view = state.latest(name)
    reason = waiting.get((pods.uid(pod), name))
    current = container_state(view, reason, pod_initializing)
    status: dict[str, Any] = {
        "name": name,
        "state": current,
        "lastState": {},
        "ready": bool(
            view is not None and view.running and ready.get(name, "readinessProbe" not in container)
        ),
        "restartCount": state.restart_count(name),
        "image": container["image"],
        "imageID": str(view.status.image_id or view.status.image_ref) if view is not None else "",
        "started": bool(view is not None and view.running),
    }
    if view is not None:
        status["containerID"] = f"{RUNTIME}://{view.id}"
    if view is not None and "terminated" not in current and view.exited:
        status["lastState"] = {"terminated": _terminated(view)}
    else:
        previous = state.previous(name)
        if previous is not None and previous.exited:
            status["lastState"] = {"terminated": _terminated(previous)}
    return status


def phase(pod: Pod, state: PodState, statuses: list[dict[str, Any]], init_done: bool) -> str:
    policy = pod["spec"].get("restartPolicy", "Always")
    if not init_done:
        failed_init = any(
            "terminated" in s["state"] and s["state"]["terminated"]["exitCode"] != 0
            for s in statuses if s.get("init")
        )  # fmt: skip
        return "Failed" if failed_init and policy == "Never" else "Pending"
    regular = [s for s in statuses if not s.get("init")]
    running = sum(1 for s in regular if "running" in s["state"])
    terminated = [s["state"]["terminated"] for s in regular if "terminated" in s["state"]]
    waiting = [s for s in regular if "waiting" in s["state"]]
    # A waiting container that ran before counts as stopped, not as not-yet-started.
    stopped = len(terminated) + sum(1 for s in waiting if s["lastState"].get("terminated"))
    if len(waiting) > sum(1 for s in waiting if s["lastState"].get("terminated")):
        return "Pending"
    if running:
        return "Running"
    if stopped == len(regular) and regular:
        if policy == "Always":
            return "Running"
        codes = [t["exitCode"] for t in terminated] + [
            s["lastState"]["terminated"]["exitCode"] for s in waiting
        ]
        if all(code == 0 for code in codes):
            return "Succeeded"
        return "Running" if policy == "OnFailure" else "Failed"
    return "Pending"


def pod_status(
    pod: Pod,
    state: PodState,
    waiting: dict[tuple[str, str], Waiting],
    ready: dict[str, bool],
    host_ip: str,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """The whole ``status`` of ``pod``; conditions keep their transition times from ``previous``."""
    init_statuses = []
    init_done = True
    for container in pods.containers(pod, "initContainers"):
        init = _container_status(pod, state, container, waiting, ready, False)
        ended = init["state"].get("terminated")
        init["ready"] = ended is not None and ended["exitCode"] == 0
        init_done = init_done and init["ready"]
        init_statuses.append(init)
    statuses = [
        _container_status(pod, state, c, waiting, ready, not init_done)
        for c in pods.containers(pod)
    ]
    current = phase(
        pod, state, [*({**s, "init": True} for s in init_statuses), *statuses], init_done
    )
    all_ready = bool(statuses) and all(s["ready"] for s in statuses)
    sandbox_ready = state.sandbox is not None and state.sandbox.state == cri.SANDBOX_READY
    conditions = {
        "PodReadyToStartContainers": sandbox_ready,
        "Initialized": init_done,
        "Ready": all_ready and current == "Running",
        "ContainersReady": all_ready,
        "PodScheduled": True,
    }
    status: dict[str, Any] = {
        "phase": current,
        "conditions": _conditions(
            conditions, (previous or {}).get("conditions") or [], statuses, init_done
        ),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "containerStatuses": statuses,
        "qosClass": _qos(pod),
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    ip = host_ip if pod["spec"].get("hostNetwork") else state.ip
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    start = (previous or {}).get("startTime") or (
        rfc3339(state.sandbox.created_at) if state.sandbox else ""
    )
    if start:
        status["startTime"] = start
    return status


def _conditions(
    wanted: dict[str, bool],
    previous: list[dict[str, Any]],
    statuses: list[dict[str, Any]],
    init_done: bool,
) -> list[dict[str, Any]]:
    before = {c["type"]: c for c in previous}
    now = pods.now_rfc3339(nano=False)
    conditions = []
    for kind, ok in wanted.items():
        text = "True" if ok else "False"
        old = before.get(kind)
        kept = old is not None and old["status"] == text
        condition: dict[str, Any] = {
            "type": kind, "status": text, "lastProbeTime": None,
            "lastTransitionTime": old["lastTransitionTime"] if old and kept else now,
        }  # fmt: skip
        if not ok and kind in ("Ready", "ContainersReady"):
            unready = [s["name"] for s in statuses if not s["ready"]]
            condition["reason"] = "ContainersNotReady"
            condition["message"] = f"containers with unready status: [{' '.join(unready)}]"
        if not ok and kind == "Initialized":
            condition["reason"] = "ContainersNotInitialized"
        conditions.append(condition)
    return conditions


def _qos(pod: Pod) -> str:
    resources = [c.get("resources") or {} for c in pods.containers(pod)]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        r.get("limits")
        and all(
            r.get("limits", {}).get(k) == v for k, v in (r.get("requests") or r["limits"]).items()
        )
        for r in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"
