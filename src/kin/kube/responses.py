"""Reading the API server's answers: a JSON body, or the ``metav1.Status`` of a failure.

Shared by the asynchronous client (``kin.kube.client``, aiohttp) and the synchronous one
(``kin.kube.restclient``, the standard library), so both say the same about the same
answer.
"""

from __future__ import annotations

import json
from typing import Any

from kin.errors import APIError

__all__ = ["api_error", "parse_json"]

Obj = dict[str, Any]


def parse_json(payload: bytes) -> Obj:
    """The body as an object: ``{}`` when empty, ``{"message": ...}`` when not JSON, a
    list as ``{"items": ...}``."""
    try:
        value = json.loads(payload) if payload.strip() else {}
    except ValueError:
        return {"message": payload[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {"items": value}


def api_error(status: int, answer: Obj, what: str) -> APIError:
    """The APIError a failed answer (its Status, when it has one) means."""
    message = str(answer.get("message") or f"{what}: HTTP {status}")
    details = answer.get("details") if isinstance(answer.get("details"), dict) else None
    return APIError(status, str(answer.get("reason") or ""), message, details)
