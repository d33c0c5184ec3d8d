"""apps/v1: Deployment, ReplicaSet and DaemonSet with their specs, strategies and statuses.

``kubectl create deployment`` sends a Deployment as protobuf, so these field numbers are
load-bearing. A Deployment's strategy is patched with retainKeys: switching it to
Recreate drops rollingUpdate rather than leaving an invalid mix.
"""

from __future__ import annotations

from kin.apiserver.schema.dsl import Group

__all__ = ["TYPES"]

APPS = Group("apps")

APPS.kind(
    "Deployment",
    "metadata meta.ObjectMeta 1, spec DeploymentSpec 2, status DeploymentStatus 3",
    description="Deployment declares pods and replica sets and rolls changes out.",
)

APPS.add(
    "DeploymentSpec",
    "replicas *int32 1, selector meta.LabelSelector 2 req, "
    "template core.PodTemplateSpec 3 req, strategy DeploymentStrategy 4 retainkeys, "
    "minReadySeconds int32 5, revisionHistoryLimit *int32 6, paused bool 7, "
    "progressDeadlineSeconds *int32 9",
)

APPS.add("DeploymentStrategy", "type str 1, rollingUpdate RollingUpdateDeployment 2")

APPS.add("RollingUpdateDeployment", "maxUnavailable intstr 1, maxSurge intstr 2")

APPS.add(
    "DeploymentStatus",
    "observedGeneration int64 1, replicas int32 2, updatedReplicas int32 3, "
    "readyReplicas int32 7, availableReplicas int32 4, unavailableReplicas int32 5, "
    "conditions [DeploymentCondition] 6 merge=type, collisionCount *int32 8",
)

APPS.add(
    "DeploymentCondition",
    "type str 1 req, status str 2 req, lastUpdateTime time 6, lastTransitionTime time 7, "
    "reason str 4, message str 5",
)

APPS.kind(
    "ReplicaSet",
    "metadata meta.ObjectMeta 1, spec ReplicaSetSpec 2, status ReplicaSetStatus 3",
    description="ReplicaSet keeps a given number of identical pods running.",
)

APPS.add(
    "ReplicaSetSpec",
    "replicas *int32 1, minReadySeconds int32 4, selector meta.LabelSelector 2 req, "
    "template core.PodTemplateSpec 3",
)

APPS.add(
    "ReplicaSetStatus",
    "replicas int32 1 req, fullyLabeledReplicas int32 2, readyReplicas int32 4, "
    "availableReplicas int32 5, observedGeneration int64 3, "
    "conditions [ReplicaSetCondition] 6 merge=type",
)

APPS.add(
    "ReplicaSetCondition",
    "type str 1 req, status str 2 req, lastTransitionTime time 3, reason str 4, message str 5",
)

APPS.kind(
    "DaemonSet",
    "metadata meta.ObjectMeta 1, spec DaemonSetSpec 2, status DaemonSetStatus 3",
    description="DaemonSet runs a copy of a pod on every eligible node.",
)

APPS.add(
    "DaemonSetSpec",
    "selector meta.LabelSelector 1 req, template core.PodTemplateSpec 2 req, "
    "updateStrategy DaemonSetUpdateStrategy 3, minReadySeconds int32 4, "
    "revisionHistoryLimit *int32 6",
)

APPS.add("DaemonSetUpdateStrategy", "type str 1, rollingUpdate RollingUpdateDaemonSet 2")

APPS.add("RollingUpdateDaemonSet", "maxUnavailable intstr 1, maxSurge intstr 2")

APPS.add(
    "DaemonSetStatus",
    "currentNumberScheduled int32 1 req, numberMisscheduled int32 2 req, "
    "desiredNumberScheduled int32 3 req, numberReady int32 4 req, "
    "observedGeneration int64 5, updatedNumberScheduled int32 6, numberAvailable int32 7, "
    "numberUnavailable int32 8, collisionCount *int32 9, "
    "conditions [DaemonSetCondition] 10 merge=type",
)

APPS.add(
    "DaemonSetCondition",
    "type str 1 req, status str 2 req, lastTransitionTime time 3, reason str 4, message str 5",
)

TYPES = APPS.types
