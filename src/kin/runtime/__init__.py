"""kin's container runtime: the node's containerd, serving CRI v1 on a unix socket."""
