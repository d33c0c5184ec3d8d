"""kin's kubelet: static pods, pods bound to the node, their status, over CRI."""
