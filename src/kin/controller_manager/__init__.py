"""kin's kube-controller-manager: the loops that turn desired state into objects.

One process (``python -m kin.controller_manager``) runs every controller on one event loop
with shared informers, as kube-controller-manager does: node IPAM, ReplicaSet,
Deployment, DaemonSet, Endpoints and EndpointSlice, service accounts and node lifecycle.
Garbage collection through ownerReferences and namespace deletion are done by kin's API
server itself (``kin.apiserver.deletion``).
"""
