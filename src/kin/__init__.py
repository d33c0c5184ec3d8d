"""kin: Kubernetes IN Namespaces.

kind-compatible, multi-node Kubernetes clusters whose nodes are Linux
namespaces. Importing ``kin`` is cheap on purpose: node processes and CNI
plugins start from it, so sub-packages are imported only where used.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
