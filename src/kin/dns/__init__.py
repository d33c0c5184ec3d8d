"""Cluster DNS: Kubernetes' DNS-based service discovery, in the place CoreDNS takes.

``wire`` reads and writes DNS messages, ``records`` turns Services and EndpointSlices into
the cluster zone, ``server`` answers on UDP and TCP, ``__main__`` is the daemon the
``coredns`` Deployment runs behind the ``kube-dns`` Service.
"""
