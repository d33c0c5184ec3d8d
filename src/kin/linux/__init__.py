"""Linux primitives with no Kubernetes knowledge: namespaces, netlink, mounts, processes."""
