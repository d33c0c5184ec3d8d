"""core/v1 containers: Container and all it holds (ports, env, probes, lifecycle, security).

This is where manifests are most detailed and where typos hide (``imagePullPolicy``,
``readinessProbe.httpGet.port``), so every field of kubectl 1.32's Container is listed.
Ports merge by containerPort but are keyed by (containerPort, protocol) for apply; env
merges by name; volumeMounts by mountPath.
"""

from __future__ import annotations

from kin.apiserver.schema.core_volume import LOCAL_OBJECT_REFERENCE
from kin.apiserver.schema.dsl import Group

__all__ = ["TYPES"]

CORE = Group("core")

CORE.add(
    "ContainerPort",
    "name str 1, hostPort int32 2, containerPort int32 3 req, protocol str 4, hostIP str 5",
)

CORE.add(
    "ConfigMapEnvSource",
    "optional *bool 2",
    embeds=((1, LOCAL_OBJECT_REFERENCE),),
)

CORE.add(
    "SecretEnvSource",
    "optional *bool 2",
    embeds=((1, LOCAL_OBJECT_REFERENCE),),
)

CORE.add(
    "EnvFromSource", "prefix str 1, configMapRef ConfigMapEnvSource 2, secretRef SecretEnvSource 3"
)

CORE.add(
    "ConfigMapKeySelector",
    "key str 2 req, optional *bool 3",
    atomic=True,
    embeds=((1, LOCAL_OBJECT_REFERENCE),),
)

CORE.add(
    "SecretKeySelector",
    "key str 2 req, optional *bool 3",
    atomic=True,
    embeds=((1, LOCAL_OBJECT_REFERENCE),),
)

CORE.add(
    "EnvVarSource",
    "fieldRef ObjectFieldSelector 1, resourceFieldRef ResourceFieldSelector 2, "
    "configMapKeyRef ConfigMapKeySelector 3, secretKeyRef SecretKeySelector 4",
)

CORE.add("EnvVar", "name str 1 req, value str 2, valueFrom EnvVarSource 3")

CORE.add("ResourceClaim", "name str 1 req, request str 2")

CORE.add(
    "ResourceRequirements",
    "limits {quantity} 1, requests {quantity} 2, claims [ResourceClaim] 3 list=map keys=name",
)

CORE.add("ContainerResizePolicy", "resourceName str 1 req, restartPolicy str 2 req")

CORE.add(
    "VolumeMount",
    "name str 1 req, readOnly bool 2, recursiveReadOnly *str 7, mountPath str 3 req, "
    "subPath str 4, mountPropagation *str 5, subPathExpr str 6",
)

CORE.add("VolumeDevice", "name str 1 req, devicePath str 2 req")

CORE.add("ExecAction", "command [str] 1")

CORE.add("HTTPHeader", "name str 1 req, value str 2 req")

CORE.add(
    "HTTPGetAction",
    "path str 1, port intstr 2 req, host str 3, scheme str 4, httpHeaders [HTTPHeader] 5",
)

CORE.add("TCPSocketAction", "port intstr 1 req, host str 2")

CORE.add("GRPCAction", "port int32 1 req, service *str 2")

PROBE_HANDLER = CORE.add(
    "ProbeHandler",
    "exec ExecAction 1, httpGet HTTPGetAction 2, tcpSocket TCPSocketAction 3, grpc GRPCAction 4",
)

CORE.add(
    "Probe",
    "initialDelaySeconds int32 2, timeoutSeconds int32 3, periodSeconds int32 4, "
    "successThreshold int32 5, failureThreshold int32 6, "
    "terminationGracePeriodSeconds *int64 7",
    embeds=((1, PROBE_HANDLER),),
)

CORE.add("SleepAction", "seconds int64 1 req")

CORE.add(
    "LifecycleHandler",
    "exec ExecAction 1, httpGet HTTPGetAction 2, tcpSocket TCPSocketAction 3, sleep SleepAction 4",
)

CORE.add("Lifecycle", "postStart LifecycleHandler 1, preStop LifecycleHandler 2")

CORE.add("Capabilities", "add [str] 1, drop [str] 2")

CORE.add("SELinuxOptions", "user str 1, role str 2, type str 3, level str 4")

CORE.add(
    "WindowsSecurityContextOptions",
    "gmsaCredentialSpecName *str 1, gmsaCredentialSpec *str 2, runAsUserName *str 3, "
    "hostProcess *bool 4",
)

CORE.add("SeccompProfile", "type str 1 req, localhostProfile *str 2")

CORE.add("AppArmorProfile", "type str 1 req, localhostProfile *str 2")

CORE.add(
    "SecurityContext",
    "capabilities Capabilities 1, privileged *bool 2, seLinuxOptions SELinuxOptions 3, "
    "windowsOptions WindowsSecurityContextOptions 10, runAsUser *int64 4, "
    "runAsGroup *int64 8, runAsNonRoot *bool 5, readOnlyRootFilesystem *bool 6, "
    "allowPrivilegeEscalation *bool 7, procMount *str 9, seccompProfile SeccompProfile 11, "
    "appArmorProfile AppArmorProfile 12",
)

CORE.add(
    "Container",
    "name str 1 req, image str 2, command [str] 3, args [str] 4, workingDir str 5, "
    "ports [ContainerPort] 6 merge=containerPort keys=containerPort/protocol, "
    "envFrom [EnvFromSource] 19, env [EnvVar] 7 merge=name, "
    "resources ResourceRequirements 8, resizePolicy [ContainerResizePolicy] 23, "
    "restartPolicy *str 24, volumeMounts [VolumeMount] 9 merge=mountPath, "
    "volumeDevices [VolumeDevice] 21 merge=devicePath, livenessProbe Probe 10, "
    "readinessProbe Probe 11, startupProbe Probe 22, lifecycle Lifecycle 12, "
    "terminationMessagePath str 13, terminationMessagePolicy str 20, imagePullPolicy str 14, "
    "securityContext SecurityContext 15, stdin bool 16, stdinOnce bool 17, tty bool 18",
)

EPHEMERAL_CONTAINER_COMMON = CORE.add(
    "EphemeralContainerCommon",
    "name str 1 req, image str 2, command [str] 3, args [str] 4, workingDir str 5, "
    "ports [ContainerPort] 6 merge=containerPort keys=containerPort/protocol, "
    "envFrom [EnvFromSource] 19, env [EnvVar] 7 merge=name, "
    "resources ResourceRequirements 8, resizePolicy [ContainerResizePolicy] 23, "
    "restartPolicy *str 24, volumeMounts [VolumeMount] 9 merge=mountPath, "
    "volumeDevices [VolumeDevice] 21 merge=devicePath, livenessProbe Probe 10, "
    "readinessProbe Probe 11, startupProbe Probe 22, lifecycle Lifecycle 12, "
    "terminationMessagePath str 13, terminationMessagePolicy str 20, imagePullPolicy str 14, "
    "securityContext SecurityContext 15, stdin bool 16, stdinOnce bool 17, tty bool 18",
)

CORE.add(
    "EphemeralContainer",
    "targetContainerName str 2",
    embeds=((1, EPHEMERAL_CONTAINER_COMMON),),
)

TYPES = CORE.types
