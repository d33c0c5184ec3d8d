"""Object metadata rules every kind shares: names, generateName, uid, timestamps, immutability.

The name rules and messages are Kubernetes' (``IsDNS1123Subdomain``, ``IsDNS1123Label``),
so ``kubectl apply`` of a bad name fails with the causes kubectl prints for a real cluster.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from typing import Any

from kin.apiserver.errors import cause
from kin.apiserver.selectors import label_value_errors, qualified_name_errors

__all__ = [
    "DNS1123_LABEL",
    "DNS1123_SUBDOMAIN",
    "finalizer_causes",
    "generate_name",
    "meta",
    "metadata_causes",
    "name_causes",
    "new_uid",
    "now_rfc3339",
    "set_create_metadata",
]

DNS1123_LABEL = "label"
DNS1123_SUBDOMAIN = "subdomain"
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
TOTAL_ANNOTATION_SIZE = 256 * 1024
# Kubernetes' generateName suffix alphabet: no vowels (no words), no confusable characters.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj["metadata"]``, created if absent."""
    value = obj.get("metadata")
    if not isinstance(value, dict):
        value = obj["metadata"] = {}
    return value


def now_rfc3339() -> str:
    """Now, to the second, as Kubernetes writes timestamps. A create stamps two (its
    creationTimestamp, its managedFields entry): formatted once per second, not per call."""
    global _last_stamp
    second = int(time.time())
    if second != _last_stamp[0]:
        _last_stamp = second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
    return _last_stamp[1]


_last_stamp = (-1, "")


def new_uid() -> str:
    """A random (version 4) UUID, as ``str(uuid.uuid4())`` writes it in half the time."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def generate_name(prefix: str) -> str:
    """``generateName`` + 5 random characters, as the API server names ``web-`` objects."""
    return prefix + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))


def name_causes(name: str, rule: str, field: str = "metadata.name") -> list[dict[str, str]]:
    """Validation causes for ``name`` under ``rule`` (DNS1123_LABEL or DNS1123_SUBDOMAIN)."""
    if not name:
        return [
            cause(field, "Required value: name or generateName is required", "FieldValueRequired")
        ]
    limit, pattern, message = (
        (63, _LABEL, _LABEL_MESSAGE)
        if rule == DNS1123_LABEL
        else (253, _SUBDOMAIN, _SUBDOMAIN_MESSAGE)
    )
    causes = []
    if len(name) > limit:
        causes.append(
            cause(field, f'Invalid value: "{name}": must be no more than {limit} characters')
        )
    if not pattern.fullmatch(name):  # match() would let a trailing newline through
        causes.append(cause(field, f'Invalid value: "{name}": {message}'))
    return causes


def metadata_causes(obj: dict[str, Any]) -> list[dict[str, str]]:
    """``ValidateObjectMeta`` beyond the name: label keys and values, annotation keys and
    size, and the four fields every owner reference needs (the garbage collector finds
    dependents by uid)."""
    metadata = meta(obj)
    causes = []
    labels = metadata.get("labels") or {}
    for key, value in labels.items() if isinstance(labels, dict) else ():
        causes += _invalid("metadata.labels", key, qualified_name_errors(str(key)))
        causes += _invalid("metadata.labels", value, label_value_errors(str(value)))
    annotations = metadata.get("annotations") or {}
    if isinstance(annotations, dict):
        for key in annotations:
            causes += _invalid("metadata.annotations", key, qualified_name_errors(key.lower()))
        size = sum(len(k) + len(str(v)) for k, v in annotations.items())
        if size > TOTAL_ANNOTATION_SIZE:
            too_long = f"Too long: must have at most {TOTAL_ANNOTATION_SIZE} bytes"
            causes.append(cause("metadata.annotations", too_long, "FieldValueTooLong"))
    for ref in metadata.get("ownerReferences") or []:
        causes += _owner_reference_causes(ref if isinstance(ref, dict) else {})
    return causes


def _owner_reference_causes(ref: dict[str, Any]) -> list[dict[str, str]]:
    version = str(ref.get("apiVersion") or "").rsplit("/", 1)[-1]
    checks = (
        ("apiVersion", version, "version must not be empty"),
        ("kind", ref.get("kind"), "kind must not be empty"),
        ("name", ref.get("name"), "name must not be empty"),
        ("uid", ref.get("uid"), "uid must not be empty"),
    )
    return [
        cause(
            f"metadata.ownerReferences.{field}", f'Invalid value: "{ref.get(field) or ""}": {why}'
        )
        for field, value, why in checks
        if not value
    ]


def _invalid(field: str, value: str, problems: list[str]) -> list[dict[str, str]]:
    if not problems:  # the common case, called for every label and annotation
        return []
    shown = json.dumps(value, ensure_ascii=False)
    return [cause(field, f"Invalid value: {shown}: {problem}") for problem in problems]


def set_create_metadata(obj: dict[str, Any], namespace: str) -> None:
    """What the server assigns on create: name from generateName, namespace, uid, timestamp;
    and what a client may not set: resourceVersion, deletion fields, selfLink."""
    metadata = meta(obj)
    if not metadata.get("name") and metadata.get("generateName"):
        metadata["name"] = generate_name(str(metadata["generateName"]))
    if namespace:
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    metadata["uid"] = new_uid()
    metadata["creationTimestamp"] = now_rfc3339()
    for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        metadata.pop(key, None)


def finalizer_causes(new: dict[str, Any], old: dict[str, Any]) -> list[dict[str, str]]:
    """``ValidateObjectMetaUpdate``'s rule: no new finalizers once deletion has begun."""
    if not meta(old).get("deletionTimestamp"):
        return []
    before = set(meta(old).get("finalizers") or [])
    added = [f for f in meta(new).get("finalizers") or [] if f not in before]
    if not added:
        return []
    found = "[]string{" + ", ".join(f'"{f}"' for f in added) + "}"
    message = (
        "Forbidden: no new finalizers can be added if the object is being deleted, "
        f"found new finalizers {found}"
    )
    return [cause("metadata.finalizers", message, "FieldValueForbidden")]
