"""The ``pod-template-hash`` and ``controller-revision-hash`` labels: a short, stable name
for a pod template, as Kubernetes derives it (FNV-1a 32 of the template and the collision
count, its decimal digits mapped onto the alphabet that never spells words)."""

from __future__ import annotations

import json
from typing import Any, cast

__all__ = ["safe_encode", "template_hash", "without_hash"]

ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
HASH_LABELS = ("pod-template-hash", "controller-revision-hash", "pod-template-generation")


def template_hash(template: dict[str, Any], collision_count: int = 0) -> str:
    text = json.dumps(without_hash(template), sort_keys=True, separators=(",", ":"))
    if collision_count:
        text += str(collision_count)
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return safe_encode(str(value))


def safe_encode(text: str) -> str:
    return "".join(ALPHANUMS[ord(char) % len(ALPHANUMS)] for char in text)


def without_hash(template: dict[str, Any]) -> dict[str, Any]:
    """The template as Kubernetes compares templates: the labels a controller adds
    removed, and nulls dropped (a typed Go object cannot tell ``creationTimestamp: null``,
    which ``kubectl rollout undo`` sends, from no field at all)."""
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in HASH_LABELS}
    meta["labels"] = labels
    if not labels:
        del meta["labels"]
    return cast(dict[str, Any], _without_nulls({**template, "metadata": meta}))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
