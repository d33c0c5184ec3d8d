"""What every backend stores, checked and shaped the same way: keys, key ranges, values.

Keys look like Kubernetes' own (``/registry/pods/<namespace>/<name>``,
``/registry/minions/<name>``); list and watch prefixes start with ``/registry`` and
match as plain string prefixes, so callers end them with ``/``. Keys order by their
UTF-8 bytes, as etcd orders them (Python's code-point order is the same order).

Values are JSON text without ``metadata.resourceVersion``: as in Kubernetes' etcd3
store, the revision of the write *is* the resourceVersion, added back on every read.
Checking input here lets the three backends answer bad input with the same 400
rather than three different crashes, and derive the same Kubernetes-like messages
(``pods "web" not found``) from a key.

``decode_many`` pauses Python's cyclic garbage collector while it builds a large list:
decoding 5,000 pods allocates some 300,000 dicts and lists, and the collections they
trigger (which traverse everything alive) made such a list two to four times slower
(measured: 290-470 ms against 120-160 ms). JSON trees have no cycles, so nothing is
lost by collecting later; the pause is process-wide, counted across threads, and
ends when the last overlapping decode does.
"""

from __future__ import annotations

import contextlib
import gc
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from kin.apiserver import errors, jsontext
from kin.errors import APIError

__all__ = [
    "MAX_KEY_BYTES",
    "ROOT",
    "already_exists",
    "check_continue",
    "check_expected",
    "check_key",
    "check_limit",
    "check_prefix",
    "check_revision",
    "conflict",
    "decode",
    "decode_many",
    "encode",
    "expired",
    "future_revision",
    "identify",
    "not_found",
    "prefix_end",
    "unavailable",
]

ROOT = "/registry"
MAX_KEY_BYTES = 4096
GC_PAUSE_AT = 256
# Resources whose key segment differs from their plural, or whose group the key omits.
ALIASES = {"minions": "nodes"}
GROUPS = {
    "deployments": "apps",
    "replicasets": "apps",
    "daemonsets": "apps",
    "statefulsets": "apps",
    "leases": "coordination.k8s.io",
    "endpointslices": "discovery.k8s.io",
}

HEAD = ("apiVersion", "kind", "metadata")
METADATA = '"metadata":{'
_TYPE_FIELDS = re.compile(r'("apiVersion":"[^"\\]*",)?("kind":"[^"\\]*",)?')


def check_key(key: object) -> str:
    """``key`` if it names one object under ``/registry/``; 400 otherwise."""
    text = _check_path(key, "key")
    if not text.startswith(ROOT + "/") or text.endswith("/") or "//" in text:
        raise errors.bad_request(f"invalid storage key {text!r}: want {ROOT}/<resource>/.../<name>")
    return text


def check_prefix(prefix: object) -> str:
    """``prefix`` if it lies under ``/registry``; 400 otherwise."""
    text = _check_path(prefix, "prefix")
    if not (text == ROOT or text.startswith(ROOT + "/")):
        raise errors.bad_request(f"invalid storage prefix {text!r}: want {ROOT}/...")
    return text


def _check_path(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise errors.bad_request(f"invalid storage {what} {value!r}: want a non-empty string")
    try:
        size = len(value.encode())
    except UnicodeEncodeError as exc:
        raise errors.bad_request(f"invalid storage {what} {value!r}: not UTF-8") from exc
    if "\x00" in value or size > MAX_KEY_BYTES:
        raise errors.bad_request(f"invalid storage {what} {value[:80]!r}: NUL or too long")
    return value


def check_revision(value: object, what: str = "revision") -> int:
    """A revision argument: an int >= 0 (``bool`` is not one)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise errors.bad_request(f"invalid {what} {value!r}: want an integer >= 0")
    return value


def check_expected(value: object) -> int | None:
    """An ``expected_revision`` argument: None (any) or a revision."""
    return None if value is None else check_revision(value, "expected revision")


def check_continue(value: object) -> str:
    """A ``continue_after`` argument: "" (from the start) or a key."""
    return "" if value == "" else check_key(value)


def check_limit(limit: object) -> int:
    return check_revision(limit, "limit")


def prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (etcd's
    ``range_end``); "" when there is none (everything after the prefix)."""
    chars = list(prefix)
    while chars:
        if ord(chars[-1]) < 0x10FFFF:
            chars[-1] = chr(ord(chars[-1]) + 1)
            return "".join(chars)
        chars.pop()
    return ""


def encode(obj: object) -> str:
    """The stored JSON text of ``obj``: compact, without ``metadata.resourceVersion``, and
    with ``apiVersion``, ``kind`` and ``metadata`` first, so ``list_item`` finds where
    the resourceVersion goes without parsing."""
    return prepare(obj)[1]


def prepare(obj: object) -> tuple[dict[str, Any], str]:
    """``obj`` in its stored form (new top level and metadata; the values below are
    shared with ``obj``) and its stored text. A create returns the form with its revision
    (``revised``) instead of decoding the text again: the same data, though not a fresh
    copy (the store takes ``obj`` over). NaN and Infinity are refused where request bodies
    are decoded, not here (``jsontext``)."""
    if not isinstance(obj, dict):
        raise errors.bad_request(f"cannot store {type(obj).__name__}: want a JSON object")
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        raise errors.bad_request("cannot store an object whose metadata is not a JSON object")
    stored = {k: obj[k] for k in HEAD if k in obj and k != "metadata"}
    stored["metadata"] = {k: v for k, v in metadata.items() if k != "resourceVersion"}
    stored.update((k, v) for k, v in obj.items() if k not in HEAD)
    try:
        return stored, jsontext.dumps_text(stored)
    except (TypeError, ValueError, RecursionError) as exc:
        raise errors.bad_request(f"cannot store object: not JSON-serialisable: {exc}") from exc


def list_item(text: str | bytes, revision: int, key: str) -> str:
    """Stored ``text`` as an item of a list: ``"resourceVersion"`` first in its metadata,
    and no ``apiVersion`` or ``kind`` (list items carry neither, as kube sends them).

    ``encode`` writes the two string fields apiVersion and kind, then metadata, so when
    the text starts that way the item is cut and spliced without parsing; text stored
    otherwise (by another writer) is decoded and encoded again."""
    if isinstance(text, bytes):
        text = text.decode()
    at = text.find(METADATA)
    if at < 0 or not _TYPE_FIELDS.fullmatch(text, 1, at):
        item = decode(text, revision, key)
        item.pop("apiVersion", None)
        item.pop("kind", None)
        return jsontext.dumps_text(item)
    start = at + len(METADATA)
    field = f'"resourceVersion":"{revision}"'
    joiner = "" if text.startswith("}", start) else ","
    return f"{{{METADATA}{field}{joiner}{text[start:]}"


def list_items(rows: Sequence[tuple[str, int, str | bytes]]) -> list[str]:
    return [list_item(text, revision, key) for key, revision, text in rows]


def revised(stored: dict[str, Any], revision: int) -> dict[str, Any]:
    """``prepare``'s stored form at ``revision``: the data ``decode`` of its text gives."""
    stored["metadata"]["resourceVersion"] = str(revision)
    return stored


def decode(text: str | bytes, revision: int, key: str) -> dict[str, Any]:
    """A fresh dict from stored ``text`` with ``metadata.resourceVersion`` = ``revision``;
    500 naming ``key`` if what is stored there is not an object (written by someone else)."""
    try:
        obj: dict[str, Any] = jsontext.loads(text)
        metadata = obj.setdefault("metadata", {})
        metadata["resourceVersion"] = str(revision)
    except (ValueError, TypeError, AttributeError) as exc:
        raise errors.internal(f"stored value at {key} is not a JSON object: {exc}") from exc
    return obj


def decode_many(rows: Sequence[tuple[str, int, str | bytes]]) -> list[dict[str, Any]]:
    """``decode`` for each (key, revision, text), with the collector paused if many."""
    if len(rows) < GC_PAUSE_AT:
        return [decode(text, revision, key) for key, revision, text in rows]
    with _gc_paused():
        return [decode(text, revision, key) for key, revision, text in rows]


class _Pauses:
    lock = threading.Lock()
    count = 0
    was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    with _Pauses.lock:
        if _Pauses.count == 0:
            _Pauses.was_enabled = gc.isenabled()
            gc.disable()
        _Pauses.count += 1
    try:
        yield
    finally:
        with _Pauses.lock:
            _Pauses.count -= 1
            if _Pauses.count == 0 and _Pauses.was_enabled:
                gc.enable()


def identify(key: str) -> tuple[str, str, str]:
    """(resource, name, group) for messages: ``/registry/pods/ns/web`` -> pods, web, "";
    ``/registry/apiextensions.k8s.io/customresourcedefinitions/x`` -> its group."""
    parts = key[len(ROOT) + 1 :].split("/")
    group = ""
    if len(parts) > 2 and "." in parts[0]:
        group = parts.pop(0)
    resource = ALIASES.get(parts[0], parts[0])
    return resource, parts[-1] if len(parts) > 1 else "", group or GROUPS.get(resource, "")


def not_found(key: str) -> APIError:
    return errors.not_found(*identify(key))


def already_exists(key: str) -> APIError:
    return errors.already_exists(*identify(key))


def conflict(key: str) -> APIError:
    return errors.conflict(*identify(key))


def expired(revision: int, compacted: int) -> APIError:
    """410, as Kubernetes' etcd3 store words it."""
    return errors.expired(f"too old resource version: {revision} ({compacted})")


def future_revision(revision: int, current: int) -> APIError:
    """504, as Kubernetes answers a resourceVersion the store has not reached yet."""
    message = f"Too large resource version: {revision}, current: {current}"
    return APIError(504, "Timeout", message, {"retryAfterSeconds": 1})


def unavailable(backend: str, why: str) -> APIError:
    """503 for a datastore that cannot be reached or is closed; names the backend."""
    return APIError(503, "ServiceUnavailable", f"storage backend {backend} unavailable: {why}")
