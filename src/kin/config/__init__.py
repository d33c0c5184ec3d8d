"""kind-compatible cluster configuration: load ``kind.x-k8s.io/v1alpha4`` files as kind does.

``load_config`` reads and decodes a file (strictly, with kind's messages) into the internal
``Cluster``; the caller applies ``--name`` (``resolve_cluster_name``) and ``--image``, runs
``set_defaults`` again, then ``validate``. ``unsupported_warnings`` and ``check_supported``
say what kin ignores or cannot do. Every problem is a ``kin.errors.ConfigError``.
"""

from kin.config.internal import (
    CONTROL_PLANE,
    DEFAULT_CLUSTER_NAME,
    WORKER,
    Cluster,
    Mount,
    Networking,
    Node,
    PatchJSON6902,
    PortMapping,
    set_defaults,
)
from kin.config.load import load_config, parse_config, resolve_cluster_name
from kin.config.v1alpha4 import API_VERSION, DEFAULT_NODE_IMAGE
from kin.config.validate import (
    check_supported,
    name_length_warning,
    unsupported_warnings,
    validate,
)

__all__ = [
    "API_VERSION",
    "CONTROL_PLANE",
    "DEFAULT_CLUSTER_NAME",
    "DEFAULT_NODE_IMAGE",
    "WORKER",
    "Cluster",
    "Mount",
    "Networking",
    "Node",
    "PatchJSON6902",
    "PortMapping",
    "check_supported",
    "load_config",
    "name_length_warning",
    "parse_config",
    "resolve_cluster_name",
    "set_defaults",
    "unsupported_warnings",
    "validate",
]
