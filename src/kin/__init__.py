"""kin: Kubernetes IN Namespaces.

kind-compatible, multi-node Kubernetes clusters whose nodes are Linux
namespaces. Importing ``kin`` is cheap on purpose: node processes and CNI
plugins start from it, so sub-packages are imported only where used.
"""

__version__ = "0.1.0"
KUBERNETES_VERSION = "v1.32.0"
"""The Kubernetes release kin's API server and kubelet speak for (kubectl dispatches on it)."""
__all__ = ["KUBERNETES_VERSION", "__version__"]
