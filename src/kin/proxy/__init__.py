"""kube-proxy: Services made real in each node's own kernel rules.

``model`` turns Services and EndpointSlices into service ports with their endpoints;
``nftables`` and ``iptables`` render them in upstream kube-proxy's layouts and apply each
sync in one transaction; ``proxier`` is the informer-driven sync loop; ``__main__`` the
daemon that the ``kube-proxy`` DaemonSet runs on every node.
"""
