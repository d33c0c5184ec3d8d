"""core/v1 namespaced kinds besides pods: Services, Endpoints, ConfigMaps, Secrets, Events.

Service ports merge by port and are keyed by (port, protocol) for apply. Secret and
ConfigMap binary data are ``bytes``: base64 strings in JSON, raw bytes in protobuf, which
is how ``kubectl create secret`` sends them.
"""

from __future__ import annotations

from kin.apiserver.schema.dsl import Group

__all__ = ["TYPES"]

CORE = Group("core")

CORE.kind(
    "Service",
    "metadata meta.ObjectMeta 1, spec ServiceSpec 2, status ServiceStatus 3",
    description="Service gives a set of pods, chosen by a label selector, one stable address.",
)

CORE.add(
    "ServiceSpec",
    "ports [ServicePort] 1 merge=port keys=port/protocol, selector {str} 2, clusterIP str 3, "
    "clusterIPs [str] 18, type str 4, externalIPs [str] 5, sessionAffinity str 7, "
    "loadBalancerIP str 8, loadBalancerSourceRanges [str] 9, externalName str 10, "
    "externalTrafficPolicy str 11, healthCheckNodePort int32 12, "
    "publishNotReadyAddresses bool 13, sessionAffinityConfig SessionAffinityConfig 14, "
    "ipFamilies [str] 19, ipFamilyPolicy *str 17, allocateLoadBalancerNodePorts *bool 20, "
    "loadBalancerClass *str 21, internalTrafficPolicy *str 22, trafficDistribution *str 23",
)

CORE.add(
    "ServicePort",
    "name str 1, protocol str 2, appProtocol *str 6, port int32 3 req, targetPort intstr 4, "
    "nodePort int32 5",
)

CORE.add("SessionAffinityConfig", "clientIP ClientIPConfig 1")

CORE.add("ClientIPConfig", "timeoutSeconds *int32 1")

CORE.add(
    "ServiceStatus", "loadBalancer LoadBalancerStatus 1, conditions [meta.Condition] 2 merge=type"
)

CORE.add("LoadBalancerStatus", "ingress [LoadBalancerIngress] 1")

CORE.add("LoadBalancerIngress", "ip str 1, hostname str 2, ipMode *str 3, ports [PortStatus] 4")

CORE.add("PortStatus", "port int32 1 req, protocol str 2 req, error *str 3")

CORE.kind(
    "Endpoints",
    "metadata meta.ObjectMeta 1, subsets [EndpointSubset] 2",
    description="Endpoints lists the addresses and ports that implement a service.",
)

CORE.add(
    "EndpointSubset",
    "addresses [EndpointAddress] 1, notReadyAddresses [EndpointAddress] 2, ports [EndpointPort] 3",
)

CORE.add(
    "EndpointAddress",
    "ip str 1 req, hostname str 3, nodeName *str 4, targetRef ObjectReference 2",
    atomic=True,
)

CORE.add(
    "EndpointPort",
    "name str 1, port int32 2 req, protocol str 3, appProtocol *str 4",
    atomic=True,
)

CORE.kind(
    "ConfigMap",
    "metadata meta.ObjectMeta 1, immutable *bool 4, data {str} 2, binaryData {bytes} 3",
    description="ConfigMap holds configuration data for pods to consume.",
)

CORE.kind(
    "Secret",
    "metadata meta.ObjectMeta 1, immutable *bool 5, data {bytes} 2, stringData {str} 4, type str 3",
    description="Secret holds sensitive data such as passwords, tokens and keys.",
)

CORE.kind(
    "ServiceAccount",
    "metadata meta.ObjectMeta 1, secrets [ObjectReference] 2 merge=name, "
    "imagePullSecrets [LocalObjectReference] 3, automountServiceAccountToken *bool 4",
    description="ServiceAccount is an identity for processes that run in a pod.",
)

CORE.kind(
    "Event",
    "metadata meta.ObjectMeta 1 req, involvedObject ObjectReference 2 req, reason str 3, "
    "message str 4, source EventSource 5, firstTimestamp time 6, lastTimestamp time 7, "
    "count int32 8, type str 9, eventTime microtime 10, series EventSeries 11, "
    "action str 12, related ObjectReference 13, reportingComponent str 14, "
    "reportingInstance str 15",
    description="Event reports something that happened to an object (core/v1 form).",
)

CORE.add("EventSource", "component str 1, host str 2")

CORE.add("EventSeries", "count int32 1, lastObservedTime microtime 2")

TYPES = CORE.types
