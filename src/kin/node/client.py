"""Talk to a node's supervisor over its control socket (one JSON request per connection)."""

from __future__ import annotations

import json
import socket
from typing import Any

from kin.errors import NodeError

__all__ = ["request"]


def request(path: str, op: str, timeout: float = 2.0, **fields: Any) -> dict[str, Any]:
    """Send ``{"op": op, **fields}`` and return the reply; NodeError if it cannot."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
            line = sock.makefile("rb").readline()
    except OSError as exc:
        raise NodeError(f"node supervisor at {path} did not answer {op!r}: {exc}") from exc
    try:
        reply: dict[str, Any] = json.loads(line)
    except ValueError as exc:
        raise NodeError(f"node supervisor at {path} sent a bad reply to {op!r}") from exc
    return reply
