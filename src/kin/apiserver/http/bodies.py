"""Request bodies in, responses out: JSON, YAML, protobuf, and Tables when kubectl asks.

kubectl sends JSON for most writes, YAML-or-JSON for server-side apply, and protobuf
(``k8s\\0`` envelope) for its ``create <kind>`` generators; it asks for Tables with
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` when it prints for people.
Bodies are limited to 3 MiB, as kube-apiserver limits them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kin.apiserver import errors, jsontext
from kin.apiserver.schema import validate

__all__ = [
    "MAX_BODY",
    "dump",
    "json_response",
    "read_body",
    "wants_table",
    "warning_header",
]

MAX_BODY = 3 * 1024 * 1024
JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"


def dump(value: Any) -> bytes:
    return jsontext.dumps(value)


def json_response(value: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(body=dump(value), status=status, content_type=JSON)
    for warning in warnings or []:
        response.headers.add("Warning", warning_header(warning))
    return response


def warning_header(text: str) -> str:
    """``299 - "<text>"`` with ``"`` and ``\\`` escaped, as kube-apiserver quotes it (an
    unescaped quote would end the quoted-string, and kubectl would drop the warning)."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'


def wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "as=Table" in accept


async def read_body(request: web.Request) -> tuple[str, Any]:
    """(media type, decoded body). 413 when too large, 415 for unknown media types, 400 when
    the body does not parse."""
    raw = await _raw(request)
    # no Content-Type is JSON, the first type kube-apiserver serves (aiohttp would say
    # application/octet-stream); the Python client sends some bodies without one
    media = request.content_type if request.headers.get("Content-Type", "").strip() else JSON
    if media.startswith(PROTOBUF):
        return media, _protobuf(raw)
    if media in ("application/yaml", "application/apply-patch+yaml"):
        return media, _yaml(raw)
    if media.endswith("json"):
        return media, _json(raw)
    raise errors.unsupported_media_type(media)


async def _raw(request: web.Request) -> bytes:
    """The whole body (``read(n)`` returns what has arrived so far, not n bytes)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise errors.too_large()
    data = bytearray()
    while chunk := await request.content.read(MAX_BODY + 1 - len(data)):
        data += chunk
        if len(data) > MAX_BODY:
            raise errors.too_large()
    return bytes(data)


def _json(raw: bytes) -> Any:
    try:
        return validate.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise errors.bad_request(
            f"the body of the request could not be decoded as JSON: {exc}"
        ) from None


def _yaml(raw: bytes) -> Any:
    import yaml

    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from None
    try:
        return jsontext.json_compatible(value)
    except ValueError as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from None


def _protobuf(raw: bytes) -> Any:
    from kin.apiserver.schema import protobuf

    try:
        return jsontext.json_compatible(protobuf.decode(raw))
    except (protobuf.ProtobufError, ValueError) as exc:
        raise errors.bad_request(f"unable to decode protobuf body: {exc}") from None
