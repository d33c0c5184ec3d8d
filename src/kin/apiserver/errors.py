"""The API errors kubectl understands, with the reasons and messages real servers send.

Messages use the plural resource name, with ``.group`` for non-core groups
(``deployments.apps "x" not found``). ``invalid`` carries ``details.causes``, from
which kubectl rebuilds ``The Pod "x" is invalid: spec.containers[0].image: Required
value``.
"""

from __future__ import annotations

from kin.errors import APIError

ACCEPTED_MEDIA_TYPES = (
    "application/json, application/yaml, application/vnd.kubernetes.protobuf, "
    "application/merge-patch+json, application/strategic-merge-patch+json, "
    "application/json-patch+json, application/apply-patch+yaml"
)
MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)

__all__ = [
    "APIError",
    "already_exists",
    "bad_request",
    "cause",
    "conflict",
    "expired",
    "forbidden",
    "internal",
    "invalid",
    "method_not_supported",
    "not_acceptable",
    "not_found",
    "qualified",
    "too_large",
    "unauthorized",
    "unsupported_media_type",
]


def qualified(resource: str, group: str) -> str:
    """``pods`` or ``deployments.apps``: how messages name a resource."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, resource: str, group: str) -> dict[str, object]:
    details: dict[str, object] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return details


def not_found(resource: str, name: str, group: str = "") -> APIError:
    message = f'{qualified(resource, group)} "{name}" not found'
    return APIError(404, "NotFound", message, _details(name, resource, group))


def already_exists(resource: str, name: str, group: str = "") -> APIError:
    message = f'{qualified(resource, group)} "{name}" already exists'
    return APIError(409, "AlreadyExists", message, _details(name, resource, group))


def conflict(resource: str, name: str, group: str = "", why: str = "") -> APIError:
    why = why or MODIFIED
    message = f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}'
    return APIError(409, "Conflict", message, _details(name, resource, group))


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    """One ``details.causes`` entry (reasons: FieldValueRequired, FieldValueInvalid,
    FieldValueNotSupported, FieldValueDuplicate, FieldValueForbidden, FieldValueTooLong)."""
    return {"reason": reason, "message": message, "field": field}


def invalid(kind: str, name: str, causes: list[dict[str, str]], group: str = "") -> APIError:
    """422: kubectl prints ``The <kind> "<name>" is invalid: <field>: <message>``."""
    listed = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
    message = f'{kind}{"." + group if group else ""} "{name}" is invalid: {listed}'
    details: dict[str, object] = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return APIError(422, "Invalid", message, details)


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def unauthorized(message: str = "Unauthorized") -> APIError:
    return APIError(401, "Unauthorized", message)


def forbidden(message: str) -> APIError:
    return APIError(403, "Forbidden", message)


def method_not_supported(resource: str, verb: str) -> APIError:
    return APIError(
        405, "MethodNotAllowed", f"{verb} is not supported on resources of kind {resource!r}"
    )


def not_acceptable(message: str) -> APIError:
    return APIError(406, "NotAcceptable", message)


def expired(message: str) -> APIError:
    """410 Gone: a resourceVersion older than what storage still keeps."""
    return APIError(410, "Expired", message)


def too_large(message: str = "the request entity is too large") -> APIError:
    return APIError(413, "RequestEntityTooLarge", message)


def unsupported_media_type(content_type: str) -> APIError:
    return APIError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        f"{ACCEPTED_MEDIA_TYPES} (got {content_type!r})",
    )


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", message)
