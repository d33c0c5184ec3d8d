"""Kubeconfig files as kind writes them: one cluster, one user, one context named
``kind-<cluster>`` (kin keeps kind's naming so that scripts written for kind work).

Credentials are embedded (``*-data``), so the file alone is enough for kubectl.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import yaml

__all__ = ["render", "write"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def render(
    name: str, server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes, user: str = ""
) -> dict[str, Any]:
    """A kubeconfig for ``server`` with a client certificate; ``name`` is the context."""
    user = user or name
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": name,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(cert_pem),
                    "client-key-data": _b64(key_pem),
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }


def write(config: dict[str, Any], path: str) -> None:
    """Readable by its owner only: it holds a private key."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
