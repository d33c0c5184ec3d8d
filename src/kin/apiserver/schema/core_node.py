"""core/v1 cluster-scoped kinds: Node (spec, taints, status, system info) and Namespace.

Node conditions and addresses merge by type, so a kubelet's status patch updates its own
entries and keeps the others; ``podCIDRs`` is a set. ``DaemonEndpoint.Port`` really is
capitalised in the API.
"""

from __future__ import annotations

from kin.apiserver.schema.dsl import Group

__all__ = ["TYPES"]

CORE = Group("core")

CORE.kind(
    "Node",
    "metadata meta.ObjectMeta 1, spec NodeSpec 2, status NodeStatus 3",
    description="Node is a worker in the cluster, registered and kept up to date by its kubelet.",
)

CORE.add(
    "NodeSpec",
    "podCIDR str 1, podCIDRs [str] 7 set, providerID str 3, unschedulable bool 4, "
    "taints [Taint] 5, configSource NodeConfigSource 6, externalID str 2",
)

CORE.add("Taint", "key str 1 req, value str 2, effect str 3 req, timeAdded time 4")

CORE.add("NodeConfigSource", "configMap ConfigMapNodeConfigSource 2")

CORE.add(
    "ConfigMapNodeConfigSource",
    "namespace str 1 req, name str 2 req, uid str 3, resourceVersion str 4, "
    "kubeletConfigKey str 5 req",
)

CORE.add(
    "NodeStatus",
    "capacity {quantity} 1, allocatable {quantity} 2, phase str 3, "
    "conditions [NodeCondition] 4 merge=type, addresses [NodeAddress] 5 merge=type, "
    "daemonEndpoints NodeDaemonEndpoints 6, nodeInfo NodeSystemInfo 7, "
    "images [ContainerImage] 8, volumesInUse [str] 9, volumesAttached [AttachedVolume] 10, "
    "config NodeConfigStatus 11, runtimeHandlers [NodeRuntimeHandler] 12, "
    "features NodeFeatures 13",
)

CORE.add(
    "NodeCondition",
    "type str 1 req, status str 2 req, lastHeartbeatTime time 3, lastTransitionTime time 4, "
    "reason str 5, message str 6",
)

CORE.add("NodeAddress", "type str 1 req, address str 2 req")

CORE.add("NodeDaemonEndpoints", "kubeletEndpoint DaemonEndpoint 1")

CORE.add("DaemonEndpoint", "Port int32 1 req")

CORE.add(
    "NodeSystemInfo",
    "machineID str 1 req, systemUUID str 2 req, bootID str 3 req, kernelVersion str 4 req, "
    "osImage str 5 req, containerRuntimeVersion str 6 req, kubeletVersion str 7 req, "
    "kubeProxyVersion str 8 req, operatingSystem str 9 req, architecture str 10 req",
)

CORE.add("ContainerImage", "names [str] 1 req, sizeBytes int64 2")

CORE.add("AttachedVolume", "name str 1 req, devicePath str 2 req")

CORE.add(
    "NodeConfigStatus",
    "assigned NodeConfigSource 1, active NodeConfigSource 2, "
    "lastKnownGood NodeConfigSource 3, error str 4",
)

CORE.add("NodeRuntimeHandler", "name str 1 req, features NodeRuntimeHandlerFeatures 2")

CORE.add("NodeRuntimeHandlerFeatures", "recursiveReadOnlyMounts *bool 1, userNamespaces *bool 2")

CORE.add("NodeFeatures", "supplementalGroupsPolicy *bool 1")

CORE.kind(
    "Namespace",
    "metadata meta.ObjectMeta 1, spec NamespaceSpec 2, status NamespaceStatus 3",
    description="Namespace scopes the names of namespaced objects.",
)

CORE.add("NamespaceSpec", "finalizers [str] 1")

CORE.add("NamespaceStatus", "phase str 1, conditions [NamespaceCondition] 2 merge=type")

CORE.add(
    "NamespaceCondition",
    "type str 1 req, status str 2 req, lastTransitionTime time 4, reason str 5, message str 6",
)

TYPES = CORE.types
