"""The storage seam: what the API server needs from a datastore, as etcd v3 provides it.

Objects are JSON dicts stored under keys shaped like Kubernetes' own
(``/registry/pods/<namespace>/<name>``, ``/registry/nodes/<name>``). Every write
gets the next value of one store-wide, strictly increasing revision; that revision
is the object's ``metadata.resourceVersion`` (a decimal string in the object, an
``int`` here), exactly as etcd's ``mod_revision`` is in Kubernetes.

Watches deliver every change under a prefix after a given revision, in revision
order, with nothing lost, as long as that revision is not older than what the store
has compacted away (then ``expired`` / 410). Implementations: ``memory`` (tests),
``sqlite`` (the embedded default), ``etcd`` (etcd v3). One test suite runs against all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

__all__ = [
    "ADDED",
    "DELETED",
    "MODIFIED",
    "Event",
    "Storage",
    "Texts",
]

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


Texts = list[str]
"""JSON texts of objects, as ``list_json`` returns them."""


class Event:
    """One change: ``type`` is ADDED, MODIFIED or DELETED; ``object`` is the object after
    the change (for DELETED, its last state) with ``metadata.resourceVersion`` =
    ``revision``."""

    __slots__ = ("key", "object", "revision", "type")

    def __init__(self, type: str, key: str, object: dict[str, Any], revision: int) -> None:
        self.type = type
        self.key = key
        self.object = object
        self.revision = revision

    def __repr__(self) -> str:
        return f"Event({self.type} {self.key} @{self.revision})"


class Storage(Protocol):
    """All methods are coroutines; all raise ``kin.errors.APIError`` for API-level failures
    (``not_found``, ``already_exists``, ``conflict``, ``expired``) and keep going after them."""

    async def create(self, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object; return it with its resourceVersion. AlreadyExists if taken.
        The store takes ``obj`` over: what it returns may share values with it."""
        ...

    async def get(self, key: str) -> dict[str, Any]:
        """The object at ``key``; NotFound if there is none."""
        ...

    async def update(
        self, key: str, obj: dict[str, Any], expected_revision: int | None = None
    ) -> dict[str, Any]:
        """Replace the object. With ``expected_revision`` the write succeeds only if the stored
        object still has that revision (Conflict otherwise). NotFound if it is gone."""
        ...

    async def delete(self, key: str, expected_revision: int | None = None) -> dict[str, Any]:
        """Remove the object; return its last state with the deletion's revision as its
        resourceVersion (as watchers see it in the DELETED event). NotFound if absent."""
        ...

    async def list(
        self, prefix: str, limit: int = 0, continue_after: str = "", revision: int = 0
    ) -> tuple[list[dict[str, Any]], int, str]:
        """Objects under ``prefix`` in key order: (items, list revision, the last key returned
        if more remain, else ""). ``limit`` 0 means all; ``continue_after`` resumes after that
        key at the same consistent ``revision`` (0: now). Expired if that revision is compacted."""
        ...

    async def list_json(
        self, prefix: str, limit: int = 0, continue_after: str = "", revision: int = 0
    ) -> tuple[Texts, int, str]:
        """``list``, but each object as the JSON text of a list item (resourceVersion set,
        no apiVersion or kind): an unfiltered list is spliced from these without decoding
        5,000 objects."""
        ...

    def watch(self, prefix: str, after: int) -> AsyncIterator[Event]:
        """Every change under ``prefix`` with revision > ``after``, in order, until the caller
        stops iterating. Raises Expired (before the first event) if ``after`` is compacted."""
        ...

    async def revision(self) -> int:
        """The store's current revision (the latest write's)."""
        ...

    async def compact(self, revision: int) -> None:
        """Forget history up to ``revision``; watches and lists from before it then expire."""
        ...

    async def close(self) -> None: ...
