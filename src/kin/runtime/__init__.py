"""kin's container runtime: the node's containerd, serving CRI v1 on a unix socket."""

DEFAULT_SOCKET = "/run/containerd/containerd.sock"
"""Where the kubelet and crictl look for a runtime by default (containerd's path)."""
DEFAULT_ROOT = "/var/lib/containerd/kin"
"""The runtime's persistent root (images) inside a node."""
