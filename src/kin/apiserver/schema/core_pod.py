"""core/v1 pods: Pod, PodSpec, scheduling (affinity, tolerations, spread) and PodStatus.

PodSpec's lists carry the strategic-merge keys kubectl relies on: containers,
initContainers, ephemeralContainers, volumes and imagePullSecrets by name, hostAliases by
ip, topology spread constraints by (topologyKey, whenUnsatisfiable). Status types are
here too, since the kubelet writes them through the same validation.
"""

from __future__ import annotations

from kin.apiserver.schema.dsl import Group

__all__ = ["TYPES"]

CORE = Group("core")

CORE.kind(
    "Pod",
    "metadata meta.ObjectMeta 1, spec PodSpec 2, status PodStatus 3",
    description="Pod is a group of containers sharing a network namespace and volumes.",
)

CORE.add("PodTemplateSpec", "metadata meta.ObjectMeta 1, spec PodSpec 2")

CORE.kind(
    "Binding",
    "metadata meta.ObjectMeta 1, target ObjectReference 2 req",
    description="Binding assigns a pod to a node; the scheduler creates it through pods/binding.",
)

CORE.add(
    "PodSpec",
    "volumes [Volume] 1 merge=name retainkeys, initContainers [Container] 20 merge=name, "
    "containers [Container] 2 req merge=name, "
    "ephemeralContainers [EphemeralContainer] 34 merge=name, restartPolicy str 3, "
    "terminationGracePeriodSeconds *int64 4, activeDeadlineSeconds *int64 5, "
    "dnsPolicy str 6, nodeSelector {str} 7, serviceAccountName str 8, serviceAccount str 9, "
    "automountServiceAccountToken *bool 21, nodeName str 10, hostNetwork bool 11, "
    "hostPID bool 12, hostIPC bool 13, shareProcessNamespace *bool 27, "
    "securityContext PodSecurityContext 14, "
    "imagePullSecrets [LocalObjectReference] 15 merge=name, hostname str 16, "
    "subdomain str 17, affinity Affinity 18, schedulerName str 19, "
    "tolerations [Toleration] 22, hostAliases [HostAlias] 23 merge=ip, "
    "priorityClassName str 24, priority *int32 25, dnsConfig PodDNSConfig 26, "
    "readinessGates [PodReadinessGate] 28, runtimeClassName *str 29, "
    "enableServiceLinks *bool 30, preemptionPolicy *str 31, overhead {quantity} 32, "
    "topologySpreadConstraints [TopologySpreadConstraint] 33 merge=topologyKey "
    "keys=topologyKey/whenUnsatisfiable, "
    "setHostnameAsFQDN *bool 35, os PodOS 36, hostUsers *bool 37, "
    "schedulingGates [PodSchedulingGate] 38 merge=name, "
    "resourceClaims [PodResourceClaim] 39 merge=name retainkeys, "
    "resources ResourceRequirements 40",
)

CORE.add(
    "PodSecurityContext",
    "seLinuxOptions SELinuxOptions 1, windowsOptions WindowsSecurityContextOptions 8, "
    "runAsUser *int64 2, runAsGroup *int64 6, runAsNonRoot *bool 3, "
    "supplementalGroups [int64] 4, supplementalGroupsPolicy *str 12, fsGroup *int64 5, "
    "sysctls [Sysctl] 7, fsGroupChangePolicy *str 9, seccompProfile SeccompProfile 10, "
    "appArmorProfile AppArmorProfile 11, seLinuxChangePolicy *str 13",
)

CORE.add("Sysctl", "name str 1 req, value str 2 req")

CORE.add(
    "Affinity",
    "nodeAffinity NodeAffinity 1, podAffinity PodAffinity 2, podAntiAffinity PodAntiAffinity 3",
)

CORE.add(
    "NodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution NodeSelector 1, "
    "preferredDuringSchedulingIgnoredDuringExecution [PreferredSchedulingTerm] 2",
)

CORE.add(
    "NodeSelector",
    "nodeSelectorTerms [NodeSelectorTerm] 1 req",
    atomic=True,
)

CORE.add(
    "NodeSelectorTerm",
    "matchExpressions [NodeSelectorRequirement] 1, matchFields [NodeSelectorRequirement] 2",
    atomic=True,
)

CORE.add("NodeSelectorRequirement", "key str 1 req, operator str 2 req, values [str] 3")

CORE.add("PreferredSchedulingTerm", "weight int32 1 req, preference NodeSelectorTerm 2 req")

CORE.add(
    "PodAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution [PodAffinityTerm] 1, "
    "preferredDuringSchedulingIgnoredDuringExecution [WeightedPodAffinityTerm] 2",
)

CORE.add(
    "PodAntiAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution [PodAffinityTerm] 1, "
    "preferredDuringSchedulingIgnoredDuringExecution [WeightedPodAffinityTerm] 2",
)

CORE.add(
    "PodAffinityTerm",
    "labelSelector meta.LabelSelector 1, namespaces [str] 2, topologyKey str 3 req, "
    "namespaceSelector meta.LabelSelector 4, matchLabelKeys [str] 5, "
    "mismatchLabelKeys [str] 6",
)

CORE.add("WeightedPodAffinityTerm", "weight int32 1 req, podAffinityTerm PodAffinityTerm 2 req")

CORE.add(
    "Toleration", "key str 1, operator str 2, value str 3, effect str 4, tolerationSeconds *int64 5"
)

CORE.add("HostAlias", "ip str 1 req, hostnames [str] 2")

CORE.add("PodDNSConfig", "nameservers [str] 1, searches [str] 2, options [PodDNSConfigOption] 3")

CORE.add("PodDNSConfigOption", "name str 1, value *str 2")

CORE.add("PodReadinessGate", "conditionType str 1 req")

CORE.add(
    "TopologySpreadConstraint",
    "maxSkew int32 1 req, topologyKey str 2 req, whenUnsatisfiable str 3 req, "
    "labelSelector meta.LabelSelector 4, minDomains *int32 5, nodeAffinityPolicy *str 6, "
    "nodeTaintsPolicy *str 7, matchLabelKeys [str] 8",
)

CORE.add("PodOS", "name str 1 req")

CORE.add("PodSchedulingGate", "name str 1 req")

CORE.add(
    "PodResourceClaim", "name str 1 req, resourceClaimName *str 3, resourceClaimTemplateName *str 4"
)

CORE.add(
    "PodStatus",
    "phase str 1, conditions [PodCondition] 2 merge=type, message str 3, reason str 4, "
    "nominatedNodeName str 11, hostIP str 5, hostIPs [HostIP] 16 merge=ip list=atomic, "
    "podIP str 6, podIPs [PodIP] 12 merge=ip, startTime time 7, "
    "initContainerStatuses [ContainerStatus] 10, containerStatuses [ContainerStatus] 8, "
    "qosClass str 9, ephemeralContainerStatuses [ContainerStatus] 13, resize str 14, "
    "resourceClaimStatuses [PodResourceClaimStatus] 15 merge=name retainkeys",
)

CORE.add(
    "PodCondition",
    "type str 1 req, status str 2 req, lastProbeTime time 3, lastTransitionTime time 4, "
    "reason str 5, message str 6",
)

CORE.add("HostIP", "ip str 1 req")

CORE.add("PodIP", "ip str 1 req")

CORE.add(
    "ContainerStatus",
    "name str 1 req, state ContainerState 2, lastState ContainerState 3, ready bool 4 req, "
    "restartCount int32 5 req, image str 6 req, imageID str 7 req, containerID str 8, "
    "started *bool 9, allocatedResources {quantity} 10, resources ResourceRequirements 11, "
    "volumeMounts [VolumeMountStatus] 12 merge=mountPath, user ContainerUser 13, "
    "allocatedResourcesStatus [ResourceStatus] 14 merge=name",
)

CORE.add(
    "ContainerState",
    "waiting ContainerStateWaiting 1, running ContainerStateRunning 2, "
    "terminated ContainerStateTerminated 3",
)

CORE.add("ContainerStateWaiting", "reason str 1, message str 2")

CORE.add("ContainerStateRunning", "startedAt time 1")

CORE.add(
    "ContainerStateTerminated",
    "exitCode int32 1 req, signal int32 2, reason str 3, message str 4, startedAt time 5, "
    "finishedAt time 6, containerID str 7",
)

CORE.add(
    "VolumeMountStatus",
    "name str 1 req, mountPath str 2 req, readOnly bool 3, recursiveReadOnly *str 4",
)

CORE.add("ContainerUser", "linux LinuxContainerUser 1")

CORE.add("LinuxContainerUser", "uid int64 1 req, gid int64 2 req, supplementalGroups [int64] 3")

CORE.add("ResourceStatus", "name str 1 req, resources [ResourceHealth] 2")

CORE.add("ResourceHealth", "resourceID str 1 req, health str 2")

CORE.add("PodResourceClaimStatus", "name str 1 req, resourceClaimName *str 2")

TYPES = CORE.types
