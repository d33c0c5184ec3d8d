"""Subnet managers: where leases come from (the Kubernetes API; etcd comes next)."""
