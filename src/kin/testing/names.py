"""Random, recognisable names for throwaway test objects."""

from __future__ import annotations

import secrets

__all__ = ["random_name"]


def random_name(prefix: str = "kintest", length: int = 6) -> str:
    """``<prefix>-<hex>``: unique per call, short enough for interface names (<= 15)."""
    return f"{prefix}-{secrets.token_hex(length // 2 + length % 2)[:length]}"
