"""JSON merge patch (RFC 7386) and what every patch in this package shares.

kubectl sends ``application/merge-patch+json`` for ``label``, ``annotate`` and ``scale``,
and strategic merge patch falls back to the same rules wherever kin has no schema. Kubernetes
applies merge patches with evanphx/json-patch, which differs from the RFC in one way kept
here: nulls are pruned from every object nested in an added value, inside arrays too.

This module also defines ``PatchError``, the one exception the patch functions raise. It is
already the ``APIError`` the server sends: 400 for a patch document that is malformed, 422
(``Invalid``) for one that is well formed but does not apply, with Kubernetes' messages.
"""

from __future__ import annotations

from typing import Any

from kin.errors import APIError

__all__ = [
    "REJECTED",
    "PatchError",
    "go_kind",
    "json_equal",
    "merge_patch",
    "prune_nulls",
    "scalar_key",
]

# What kube-apiserver says when a JSON patch does not apply; kubectl prints
# "The request is invalid: " before it.
REJECTED = "the server rejected our request due to an error in our request"


class PatchError(APIError):
    """A patch that cannot be applied. ``detail`` says why even when the Status
    message, as Kubernetes', does not (a failed JSON patch ``test``, for instance)."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        detail: str = "",
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(code, reason, message, details)
        self.detail = detail or message

    @classmethod
    def bad_request(cls, message: str) -> PatchError:
        """400: the patch document itself is malformed."""
        return cls(400, "BadRequest", message)

    @classmethod
    def invalid(cls, message: str) -> PatchError:
        """422 with the reason in the message: ``The request is invalid: <message>``."""
        return cls(422, "Invalid", message)

    @classmethod
    def rejected(cls, detail: str) -> PatchError:
        """422 with kube-apiserver's generic message; ``detail`` keeps the cause."""
        return cls(422, "Invalid", REJECTED, detail)


def merge_patch(original: dict[str, Any], patch: object) -> dict[str, Any]:
    """Apply an RFC 7386 merge patch to an object; neither input is modified.

    The patch must be an object (Kubernetes answers ``Invalid JSON Patch`` otherwise):
    members set to null are removed, objects merge recursively, anything else replaces.
    """
    if not isinstance(patch, dict):
        raise PatchError.bad_request("Invalid JSON Patch")
    return _merge_object(original, patch)


def _merge_object(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    result = dict(target)
    for key, value in patch.items():
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(current, dict):
            result[key] = _merge_object(current, value)
        else:
            result[key] = prune_nulls(value)
    return result


def prune_nulls(value: Any) -> Any:
    """A copy of ``value`` without null object members, at any depth (array elements stay)."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


def scalar_key(value: Any) -> tuple[str, Any]:
    """A hashable key under which JSON scalars are equal as Go compares decoded JSON:
    ``1`` equals ``1.0``, but ``true`` never equals ``1``."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    return ("j", repr(value))


def go_kind(value: object) -> str:
    """How Go's JSON decoder names a value in ``cannot unmarshal <kind> into ...``."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else "string"


def json_equal(a: Any, b: Any) -> bool:
    """Structural JSON equality (``DeepEqual`` on decoded JSON)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return scalar_key(a) == scalar_key(b)
