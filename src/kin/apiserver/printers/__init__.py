"""Per-kind Table printers, registered explicitly by qualified resource name.

One module per family (``pods``, ``cluster``, ``services``, ``workloads``, ``config``,
``events``), each a port of the matching handlers in kube-apiserver's
``pkg/printers/internalversion/printers.go``; ``tables`` looks printers up here and
falls back to kube's default (Name, Created At) for anything else.
"""

from __future__ import annotations

from kin.apiserver.printers import cluster, config, events, pods, services, storage, workloads
from kin.apiserver.printers.base import Printer

__all__ = ["PRINTERS", "Printer"]

PRINTERS: dict[str, Printer] = {
    "pods": pods.PRINTER,
    "nodes": cluster.NODES,
    "namespaces": cluster.NAMESPACES,
    "services": services.SERVICES,
    "endpoints": services.ENDPOINTS,
    "configmaps": config.CONFIG_MAPS,
    "secrets": config.SECRETS,
    "serviceaccounts": config.SERVICE_ACCOUNTS,
    "events": events.EVENTS,
    "events.events.k8s.io": events.EVENTS,
    "deployments.apps": workloads.DEPLOYMENTS,
    "replicasets.apps": workloads.REPLICA_SETS,
    "daemonsets.apps": workloads.DAEMON_SETS,
    "leases.coordination.k8s.io": cluster.LEASES,
    "endpointslices.discovery.k8s.io": services.ENDPOINT_SLICES,
    "persistentvolumes": storage.PERSISTENT_VOLUMES,
    "persistentvolumeclaims": storage.PERSISTENT_VOLUME_CLAIMS,
    "storageclasses.storage.k8s.io": storage.STORAGE_CLASSES,
}
