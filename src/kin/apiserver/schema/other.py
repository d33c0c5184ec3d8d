"""The small groups: Scale, Lease, EndpointSlice and events.k8s.io Event.

Scale is what ``kubectl scale`` must get back from ``deployments/scale``; Leases are
node heartbeats; EndpointSlices and events.k8s.io Events are what the controllers and
kubelet write. Each group keeps its own namespace of names (discovery's EndpointPort is
not core's), so they are defined with their own ``Group``.
"""

from __future__ import annotations

from kin.apiserver.schema.dsl import Group

__all__ = ["TYPES"]

AUTOSCALING = Group("autoscaling")
COORDINATION = Group("coordination")
DISCOVERY = Group("discovery")
EVENTS = Group("events")

AUTOSCALING.kind(
    "Scale",
    "metadata meta.ObjectMeta 1, spec ScaleSpec 2, status ScaleStatus 3",
    description="Scale is the scale subresource of a scalable resource.",
)

AUTOSCALING.add("ScaleSpec", "replicas int32 1")

AUTOSCALING.add("ScaleStatus", "replicas int32 1 req, selector str 2")

COORDINATION.kind(
    "Lease",
    "metadata meta.ObjectMeta 1, spec LeaseSpec 2",
    description="Lease is a lease held by one holder at a time (node heartbeats, leader election).",
)

COORDINATION.add(
    "LeaseSpec",
    "holderIdentity *str 1, leaseDurationSeconds *int32 2, acquireTime microtime 3, "
    "renewTime microtime 4, leaseTransitions *int32 5, strategy *str 6, "
    "preferredHolder *str 7",
)

DISCOVERY.kind(
    "EndpointSlice",
    "metadata meta.ObjectMeta 1, addressType str 4 req, endpoints [Endpoint] 2 req, "
    "ports [EndpointPort] 3",
    description="EndpointSlice is a subset of the endpoints that implement a service.",
)

DISCOVERY.add(
    "Endpoint",
    "addresses [str] 1 req list=set, conditions EndpointConditions 2, hostname *str 3, "
    "targetRef core.ObjectReference 4, deprecatedTopology {str} 5, nodeName *str 6, "
    "zone *str 7, hints EndpointHints 8",
)

DISCOVERY.add("EndpointConditions", "ready *bool 1, serving *bool 2, terminating *bool 3")

DISCOVERY.add("EndpointHints", "forZones [ForZone] 1")

DISCOVERY.add("ForZone", "name str 1 req")

DISCOVERY.add(
    "EndpointPort",
    "name *str 1, protocol *str 2, port *int32 3, appProtocol *str 4",
    atomic=True,
)

EVENTS.kind(
    "Event",
    "metadata meta.ObjectMeta 1, eventTime microtime 2 req, series EventSeries 3, "
    "reportingController str 4, reportingInstance str 5, action str 6, reason str 7, "
    "regarding core.ObjectReference 8, related core.ObjectReference 9, note str 10, "
    "type str 11, deprecatedSource core.EventSource 12, deprecatedFirstTimestamp time 13, "
    "deprecatedLastTimestamp time 14, deprecatedCount int32 15",
    description="Event reports something that happened to an object (events.k8s.io form).",
)

EVENTS.add("EventSeries", "count int32 1 req, lastObservedTime microtime 2 req")

TYPES = AUTOSCALING.types + COORDINATION.types + DISCOVERY.types + EVENTS.types
