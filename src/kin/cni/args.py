"""``CNI_ARGS``: ``K=V;K2=V2``, with libcni's ``IgnoreUnknown`` rule."""

from __future__ import annotations

from kin.cni.spec import ERR_INVALID_ENV
from kin.errors import CNIError

__all__ = ["format_args", "known_args", "parse_args"]


def parse_args(raw: str) -> list[tuple[str, str]]:
    """The pairs in order; a pair without exactly one ``=`` is an error (code 4)."""
    pairs: list[tuple[str, str]] = []
    for item in raw.split(";") if raw else []:
        key, sep, value = item.partition("=")
        if not sep or not key or "=" in value:
            raise CNIError(ERR_INVALID_ENV, f"ARGS: invalid pair {item!r}")
        pairs.append((key, value))
    return pairs


def format_args(pairs: list[tuple[str, str]]) -> str:
    return ";".join(f"{key}={value}" for key, value in pairs)


def known_args(raw: str, known: tuple[str, ...]) -> dict[str, str]:
    """The pairs a plugin understands; others are an error unless ``IgnoreUnknown`` is set."""
    pairs = parse_args(raw)
    ignore = any(k == "IgnoreUnknown" and v.lower() in ("1", "true") for k, v in pairs)
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in known:
            out[key] = value
        elif key != "IgnoreUnknown" and not ignore:
            raise CNIError(ERR_INVALID_ENV, f'ARGS: unknown args ["{key}"]')
    return out
