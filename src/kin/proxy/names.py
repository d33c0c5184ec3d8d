"""Chain names as kube-proxy spells them, so a node's rules read like a real node's.

iptables chains are ``KUBE-SVC-``/``KUBE-EXT-``/``KUBE-SVL-``/``KUBE-SEP-`` and the
first 16 characters of base32(sha256(...)) of the service port (and endpoint), as
``iptables-save`` shows on any cluster. nftables chains keep the readable name after an
8-character hash: ``service-ULMVA6XW-ns1/svc1/tcp/p80`` and
``endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80``.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from kin.proxy.model import Endpoint, ServicePort

__all__ = ["iptables_chain", "nft_endpoint_base", "nft_service_base"]

NFT_BASE_MAX = 230  # chain names are at most 256 bytes, with a prefix before the base


@functools.lru_cache(maxsize=1 << 16)  # a sync names the same chains as the last one
def _hash(text: str, length: int) -> str:
    """The first ``length`` characters of base32(sha256(text)): ``length`` * 5 bits, so
    only the digest's first bytes are encoded (base32 in Python is slow)."""
    digest = hashlib.sha256(text.encode()).digest()
    return base64.b32encode(digest[: length * 5 // 8]).decode()


def iptables_chain(prefix: str, sp: ServicePort, endpoint: Endpoint | None = None) -> str:
    """``KUBE-SVC-…`` etc. for the service port, or ``KUBE-SEP-…`` with ``endpoint``."""
    text = sp.key + sp.protocol + (endpoint.address if endpoint else "")
    return f"{prefix}{_hash(text, 16)}"


def nft_service_base(sp: ServicePort) -> str:
    return _hash_and_truncate(f"{sp.namespace}/{sp.name}/{sp.protocol}/{sp.port_name}")


def nft_endpoint_base(sp: ServicePort, endpoint: Endpoint) -> str:
    base = f"{sp.namespace}/{sp.name}/{sp.protocol}/{sp.port_name}"
    return _hash_and_truncate(f"{base}__{endpoint.ip}/{endpoint.port}")


def _hash_and_truncate(name: str) -> str:
    name = f"{_hash(name, 8)}-{name}"
    return name if len(name) <= NFT_BASE_MAX else name[: NFT_BASE_MAX - 3] + "..."
