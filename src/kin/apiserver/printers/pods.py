"""The pod row: READY, STATUS and RESTARTS as kube-apiserver's ``printPod`` computes them.

STATUS is a small state machine over the pod's status, and users read meaning into
every word of it, so the order of the rules is kube's exactly:

1. ``status.phase``, replaced by ``status.reason`` when set, replaced by
   ``SchedulingGated`` when a PodScheduled condition carries that reason;
2. init containers in order: done ones (exit 0, or started restartable "sidecars") are
   skipped; the first other one gives ``Init:<reason>``, ``Init:Signal:N``,
   ``Init:ExitCode:N`` or ``Init:i/n`` and stops the walk;
3. unless initializing (or the Initialized condition is already True), app containers
   from last to first, so the first container wins: a waiting reason
   (``CrashLoopBackOff``), a terminated reason (``Completed``), ``Signal:N``/``ExitCode:N``;
   a ``Completed`` pod with a container still running is ``Running`` if Ready, else
   ``NotReady``;
4. a pod being deleted is ``Unknown`` when its node is lost (reason ``NodeLost``),
   otherwise ``Terminating`` unless it already Succeeded or Failed.

RESTARTS sums restart counts (init containers' only while initializing, then sidecars'
plus app containers') and adds ``(5m ago)`` from the latest ``lastState.terminated``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kin.apiserver.fields import pod_ip
from kin.apiserver.humanize import human_duration, parse_time
from kin.apiserver.printers.base import (
    AGE,
    NAME,
    Column,
    Obj,
    Printer,
    Row,
    age,
    get,
    integer,
    items,
    name,
    text,
)
from kin.apiserver.printers.descriptions import DOCS

__all__ = ["PRINTER", "PodSummary", "pod_row", "pod_status"]

COLUMNS = (
    NAME,
    Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", "The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the "
        "last container in this pod has restarted.",
    ),
    AGE,
    Column("IP", "string", DOCS["pod.podIP"], priority=1),
    Column("Node", "string", DOCS["pod.nodeName"], priority=1),
    Column("Nominated Node", "string", DOCS["pod.nominatedNodeName"], priority=1),
    Column("Readiness Gates", "string", DOCS["pod.readinessGates"], priority=1),
)
_FINISHED = {
    "Succeeded": "The pod has completed successfully.",
    "Failed": "The pod failed.",
}


@dataclass
class _Tally:
    reason: str
    ready: int = 0
    restarts: int = 0
    last_restart: datetime | None = None
    sidecar_restarts: int = 0
    sidecar_last_restart: datetime | None = None


@dataclass(frozen=True)
class PodSummary:
    ready: str
    status: str
    restarts: int
    last_restart: datetime | None


def pod_status(pod: Obj) -> PodSummary:
    """READY (``ready/total``), STATUS and the restart count with its latest time."""
    status = get(pod, "status") or {}
    tally = _Tally(_initial_reason(status))
    init_specs = items(pod, "spec", "initContainers")
    initializing = _walk_init(tally, status, init_specs)
    if not initializing or _condition_true(status, "Initialized"):
        _walk_containers(tally, status)
    total = len(items(pod, "spec", "containers")) + sum(map(_restartable, init_specs))
    reason = _deletion_reason(pod, tally.reason)
    return PodSummary(f"{tally.ready}/{total}", reason, tally.restarts, tally.last_restart)


def _initial_reason(status: Obj) -> str:
    reason = text(status, "reason") or text(status, "phase")
    gated = [c for c in items(status, "conditions") if _is_gated(c)]
    return "SchedulingGated" if gated else reason


def _is_gated(condition: Any) -> bool:
    return text(condition, "type") == "PodScheduled" and text(condition, "reason") == (
        "SchedulingGated"
    )


def _restartable(container: Any) -> bool:
    """A sidecar: an init container with ``restartPolicy: Always``."""
    return text(container, "restartPolicy") == "Always"


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    return candidate if candidate and (current is None or candidate > current) else current


def _finished_at(container_status: Obj) -> datetime | None:
    return parse_time(get(container_status, "lastState", "terminated", "finishedAt"))


def _walk_init(tally: _Tally, status: Obj, init_specs: list[Any]) -> bool:
    """Step 2; True when an init container is still (or failed) initializing."""
    sidecars = {text(c, "name") for c in init_specs if _restartable(c)}
    for index, cs in enumerate(items(status, "initContainerStatuses")):
        restarts, finished = integer(cs, "restartCount"), _finished_at(cs)
        tally.restarts += restarts
        tally.last_restart = _later(tally.last_restart, finished)
        sidecar = text(cs, "name") in sidecars
        if sidecar:
            tally.sidecar_restarts += restarts
            tally.sidecar_last_restart = _later(tally.sidecar_last_restart, finished)
        if _init_done(tally, cs, sidecar):
            continue
        tally.reason = _init_reason(get(cs, "state") or {}, index, len(init_specs))
        return True
    return False


def _init_done(tally: _Tally, cs: Obj, sidecar: bool) -> bool:
    terminated = get(cs, "state", "terminated")
    if terminated is not None and integer(terminated, "exitCode") == 0:
        return True
    if sidecar and get(cs, "started") is True:
        tally.ready += 1 if get(cs, "ready") is True else 0
        return True
    return False


def _init_reason(state: Obj, index: int, total: int) -> str:
    terminated, waiting = get(state, "terminated"), get(state, "waiting")
    if terminated is not None:
        return "Init:" + (text(terminated, "reason") or _exit(terminated))
    if waiting is not None and text(waiting, "reason") not in ("", "PodInitializing"):
        return "Init:" + text(waiting, "reason")
    return f"Init:{index}/{total}"


def _exit(terminated: Obj) -> str:
    signal = integer(terminated, "signal")
    return f"Signal:{signal}" if signal else f"ExitCode:{integer(terminated, 'exitCode')}"


def _walk_containers(tally: _Tally, status: Obj) -> None:
    """Step 3: app containers, last to first, after the sidecars' restarts."""
    tally.restarts, tally.last_restart = tally.sidecar_restarts, tally.sidecar_last_restart
    running = False
    for cs in reversed(items(status, "containerStatuses")):
        tally.restarts += integer(cs, "restartCount")
        tally.last_restart = _later(tally.last_restart, _finished_at(cs))
        reason = _container_reason(get(cs, "state") or {})
        if reason:
            tally.reason = reason
        elif get(cs, "ready") is True and get(cs, "state", "running") is not None:
            running = True
            tally.ready += 1
    if tally.reason == "Completed" and running:
        tally.reason = "Running" if _condition_true(status, "Ready") else "NotReady"


def _container_reason(state: Obj) -> str:
    waiting, terminated = get(state, "waiting"), get(state, "terminated")
    if waiting is not None and text(waiting, "reason"):
        return text(waiting, "reason")
    if terminated is not None:
        return text(terminated, "reason") or _exit(terminated)
    return ""


def _condition_true(status: Obj, kind: str) -> bool:
    return any(
        text(c, "type") == kind and text(c, "status") == "True" for c in items(status, "conditions")
    )


def _deletion_reason(pod: Obj, reason: str) -> str:
    """Step 4."""
    if get(pod, "metadata", "deletionTimestamp") is None:
        return reason
    if text(pod, "status", "reason") == "NodeLost":
        return "Unknown"
    if text(pod, "status", "phase") in ("Succeeded", "Failed"):
        return reason
    return "Terminating"


def _restarts_cell(summary: PodSummary, now: datetime) -> str:
    if summary.restarts == 0 or summary.last_restart is None:
        return str(summary.restarts)
    ago = human_duration((now - summary.last_restart).total_seconds())
    return f"{summary.restarts} ({ago} ago)"


def _readiness_gates(pod: Obj) -> str:
    gates = items(pod, "spec", "readinessGates")
    if not gates:
        return "<none>"
    conditions = items(pod, "status", "conditions")
    true = sum(_gate_true(text(gate, "conditionType"), conditions) for gate in gates)
    return f"{true}/{len(gates)}"


def _gate_true(kind: str, conditions: list[Any]) -> bool:
    first = next((c for c in conditions if text(c, "type") == kind), None)
    return text(first, "status") == "True"


def pod_row(pod: Obj, now: datetime) -> Row:
    summary = pod_status(pod)
    cells = [name(pod), summary.ready, summary.status, _restarts_cell(summary, now), age(pod, now)]
    cells += [
        pod_ip(pod) or "<none>",
        text(pod, "spec", "nodeName") or "<none>",
        text(pod, "status", "nominatedNodeName") or "<none>",
        _readiness_gates(pod),
    ]
    row: Row = {"cells": cells}
    phase = text(pod, "status", "phase")
    if phase in _FINISHED:
        condition = {"type": "Completed", "status": "True", "reason": phase}
        row["conditions"] = [condition | {"message": _FINISHED[phase]}]
    return row


PRINTER = Printer(COLUMNS, pod_row)
