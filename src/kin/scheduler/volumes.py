"""kube-scheduler's VolumeBinding plugin, for the claims a pod mounts.

Before the nodes are filtered: a claim that does not exist, or is unbound with a class
that binds at once (``Immediate``), makes the pod unschedulable. Per node: a bound claim's
volume must be reachable from the node (its ``nodeAffinity``). After a node is chosen, the
claims still unbound (``WaitForFirstConsumer``) are annotated
``volume.kubernetes.io/selected-node``; the pod is bound only once they are, which their
provisioner and the binder see to (kube's scheduler waits the same way in PreBind).
"""

from __future__ import annotations

from typing import Any

from kin.kube.informer import Informer
from kin.kube.matching import node_selector_matches

__all__ = ["SELECTED_NODE", "Claims", "claim_names"]

Obj = dict[str, Any]
SELECTED_NODE = "volume.kubernetes.io/selected-node"
WAIT = "WaitForFirstConsumer"
AFFINITY_CONFLICT = "node(s) had volume node affinity conflict"


def claim_names(pod: Obj) -> list[str]:
    return [
        str(v["persistentVolumeClaim"].get("claimName"))
        for v in (pod.get("spec") or {}).get("volumes") or [] if "persistentVolumeClaim" in v
    ]  # fmt: skip


class Claims:
    """The claims, volumes and classes the scheduler knows, read from its informers."""

    def __init__(self, claims: Informer, volumes: Informer, classes: Informer) -> None:
        self._informers = (claims, volumes, classes)

    @property
    def claims(self) -> dict[str, Obj]:
        return self._informers[0].objects

    @property
    def volumes(self) -> dict[str, Obj]:
        return self._informers[1].objects

    @property
    def classes(self) -> dict[str, Obj]:
        return self._informers[2].objects

    def problem(self, pod: Obj) -> str | None:
        """Why no node can take ``pod`` because of its claims, or None."""
        namespace = pod["metadata"].get("namespace")
        for name in claim_names(pod):
            pvc = self.claims.get(f"{namespace}/{name}")
            if pvc is None:
                return f'persistentvolumeclaim "{name}" not found'
            if pvc["metadata"].get("deletionTimestamp"):
                return f'persistentvolumeclaim "{name}" is being deleted'
            if not self._bound(pvc) and not self._waits(pvc):
                return "pod has unbound immediate PersistentVolumeClaims"
        return None

    def failure(self, pod: Obj, node: Obj) -> str | None:
        """The per-node filter: every bound claim's volume reachable from ``node``."""
        for pvc in self._pod_claims(pod):
            pv = self.volumes.get(str(pvc["spec"].get("volumeName"))) if self._bound(pvc) else None
            required = (((pv or {}).get("spec") or {}).get("nodeAffinity") or {}).get("required")
            if required is None:
                continue
            as_pod = {"spec": {"affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": required}}}}  # fmt: skip
            if not node_selector_matches(as_pod, node):
                return AFFINITY_CONFLICT
        return None

    def to_select(self, pod: Obj, node: str) -> list[Obj]:
        """The claims still waiting for ``node`` to be written on them."""
        return [
            pvc for pvc in self._pod_claims(pod)
            if not self._bound(pvc)
            and (pvc["metadata"].get("annotations") or {}).get(SELECTED_NODE) != node
        ]  # fmt: skip

    def unbound(self, pod: Obj) -> list[Obj]:
        return [pvc for pvc in self._pod_claims(pod) if not self._bound(pvc)]

    def _pod_claims(self, pod: Obj) -> list[Obj]:
        namespace = pod["metadata"].get("namespace")
        found = (self.claims.get(f"{namespace}/{name}") for name in claim_names(pod))
        return [pvc for pvc in found if pvc is not None]

    def _bound(self, pvc: Obj) -> bool:
        return bool((pvc.get("spec") or {}).get("volumeName")) and (
            (pvc.get("status") or {}).get("phase") == "Bound"
        )

    def _waits(self, pvc: Obj) -> bool:
        sc = self.classes.get(str((pvc.get("spec") or {}).get("storageClassName") or ""))
        return bool(sc) and (sc or {}).get("volumeBindingMode") == WAIT
