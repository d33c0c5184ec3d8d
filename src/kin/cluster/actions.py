"""Create-cluster steps after the nodes exist: an ordered list of named actions (kind's actions).

Each later part of kin (API server, kubelets, CNI, ...) adds an ``Action`` here;
``create`` runs them in order with one status line each and deletes the
cluster if one fails (unless ``--retain``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from kin.cluster.nodes import Node
from kin.cluster.plan import ClusterPlan
from kin.cluster.reporter import Reporter

__all__ = ["Action", "ActionContext", "WaitForNodes", "default_actions"]


@dataclass
class ActionContext:
    plan: ClusterPlan
    reporter: Reporter
    wait: float = 0.0
    """--wait in seconds; 0 means do not wait."""
    notes: list[str] = field(default_factory=list)


class Action(Protocol):
    @property
    def name(self) -> str:
        """The status line, kind style (``Starting control-plane 🕹️``)."""

    def execute(self, ctx: ActionContext) -> None: ...


class WaitForNodes:
    """``--wait``: every node's PID 1 answers. The control-plane Ready check replaces it later."""

    def __init__(self, wait: float) -> None:
        self.wait = wait

    @property
    def name(self) -> str:
        return f"Waiting ≤ {format_duration(self.wait)} for nodes = Ready ⏳"

    def execute(self, ctx: ActionContext) -> None:
        started = time.monotonic()
        deadline = started + self.wait
        pending = [Node(ctx.plan.name, node) for node in ctx.plan.nodes]
        while pending and time.monotonic() < deadline:
            pending = [node for node in pending if not (node.running() and node.ping())]
            if pending:
                time.sleep(0.05)
        if pending:
            ctx.notes.append(" • WARNING: Timed out waiting for Ready ⚠️")
        else:
            ctx.notes.append(f" • Ready after {format_duration(time.monotonic() - started)} 💚")


def format_duration(seconds: float) -> str:
    """Go's Duration.String() for whole seconds and above: ``5m0s``, ``30s``, ``1h0m0s``."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def default_actions(wait: float) -> list[Action]:
    actions: list[Action] = []
    if wait > 0:
        actions.append(WaitForNodes(wait))
    return actions
