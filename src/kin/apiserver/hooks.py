"""The registry's points of contact with the rest of the server: selectors, managed
fields, field validation, Service allocation, and finishing finalized deletions.

Unknown fields never reach storage: kube-apiserver decodes a body into Go structs, so
what the type does not have is gone whatever ``fieldValidation`` says (``Strict``
refuses the request, ``Warn`` says so in a ``Warning`` header, ``Ignore`` says nothing).

Keeping them here lets ``registry`` stay a generic CRUD engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kin.apiserver import errors, fields
from kin.apiserver.allocators import ServiceAllocator
from kin.apiserver.objectmeta import meta
from kin.apiserver.patch.apply import update_managed_fields
from kin.apiserver.resources import Resource
from kin.apiserver.schema import catalog, validate
from kin.apiserver.schema.model import T, TypeDef
from kin.apiserver.storage.base import ADDED, DELETED, MODIFIED, Event

if TYPE_CHECKING:
    from kin.apiserver.registry import Registry, WriteOptions

__all__ = ["Hooks", "Selection", "matcher"]

Obj = dict[str, Any]


def matcher(res: Resource, label_selector: str, field_selector: str) -> Callable[[Obj], bool]:
    """A predicate for ``labelSelector``/``fieldSelector`` (parsed once; 400 when malformed)."""
    if not label_selector and not field_selector:
        return _everything
    return fields.matcher(errors.qualified(res.plural, res.group), label_selector, field_selector)


def _everything(obj: Obj) -> bool:
    return True


def _prune(obj: Obj, typedef: TypeDef) -> None:
    """Drop the fields ``typedef`` does not have, at every depth (free-form values stay)."""
    for key in [k for k in obj if k not in typedef.fields]:
        del obj[key]
    for key, value in obj.items():
        _prune_value(value, typedef.fields[key].t)


def _prune_value(value: object, t: T) -> None:
    if t.kind == "object" and isinstance(value, dict):
        _prune(value, catalog.resolve(t))
    elif t.kind == "array" and isinstance(value, list) and t.item is not None:
        for item in value:
            _prune_value(item, t.item)
    elif t.kind == "map" and isinstance(value, dict) and t.item is not None:
        for item in value.values():
            _prune_value(item, t.item)


class Selection:
    """What a filtered watch has told its client, so that changes in and out of the
    selection are ADDED and DELETED events, as kube's watch cache sends them.

    An object that stops matching is DELETED in the state the client last saw, with the
    event's resourceVersion. Without selectors everything matches and nothing is kept.
    """

    def __init__(self, match: Callable[[Obj], bool], tracking: bool) -> None:
        self.match = match
        self.tracking = tracking
        self.shown: dict[tuple[str, str], Obj] = {}

    def start(self, objects: list[Obj]) -> list[Obj]:
        """The matching ``objects``, remembered as known to the client."""
        matching = [obj for obj in objects if self.match(obj)]
        if self.tracking:
            self.shown = {_identity(obj): obj for obj in matching}
        return matching

    def see(self, event: Event) -> tuple[str, Obj] | None:
        """The event to send for a storage event, if any."""
        obj = event.object
        if not self.tracking:
            return (event.type, obj) if self.match(obj) else None
        identity = _identity(obj)
        before = self.shown.pop(identity, None)
        if event.type != DELETED and self.match(obj):
            self.shown[identity] = obj
            return (MODIFIED if before is not None else ADDED), obj
        if before is None:
            return None
        if event.type == DELETED:
            return DELETED, obj
        meta(before)["resourceVersion"] = str(event.revision)
        return DELETED, before


def _identity(obj: Obj) -> tuple[str, str]:
    metadata = meta(obj)
    return str(metadata.get("namespace", "")), str(metadata.get("name", ""))


class Hooks:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.allocator: ServiceAllocator | None = None

    def check_fields(self, res: Resource, obj: Obj, opts: WriteOptions) -> None:
        """Values of the wrong type are a 400, as kube's decoder refuses them; unknown
        fields are a 400 with ``fieldValidation=Strict``, a warning header with ``Warn``,
        and are removed from ``obj`` unless refused."""
        typedef = catalog.for_gvk(res.group, res.version, res.kind)
        if typedef is None:
            return
        problems = validate.check(obj, typedef)
        if problems.types:
            detail = "; ".join(problems.types)
            raise errors.bad_request(validate.decode_error(res.kind, res.version, detail))
        if not problems.unknown:
            return
        if opts.validation == "Strict":
            raise errors.bad_request(validate.strict_error(res.kind, res.version, problems.unknown))
        if opts.validation == "Warn":
            opts.warnings += problems.unknown
        _prune(obj, typedef)

    def allocates(self, res: Resource) -> bool:
        """Whether writes of ``res`` take addresses or ports that others may want too."""
        return res.group == "" and res.plural == "services" and self.allocator is not None

    async def before_write(self, res: Resource, new: Obj, old: Obj | None) -> None:
        if self.allocates(res):
            assert self.allocator is not None
            existing = await self._all_services()
            self.allocator.assign(new, existing, old)

    async def _all_services(self) -> list[Obj]:
        from kin.apiserver.registry import ListOptions

        items, _, _ = await self.registry.list(self.registry.services, "", ListOptions())
        return items

    def manage(
        self, res: Resource, new: Obj, old: Obj | None, opts: WriteOptions, sub: str = ""
    ) -> Obj:
        """``new`` with ``metadata.managedFields`` recording what ``fieldManager`` changed."""
        if not opts.manager or opts.applying:
            return new
        typedef = catalog.for_gvk(res.group, res.version, res.kind)
        return update_managed_fields(
            old, new, opts.manager, typedef=typedef, lookup=catalog.lookup, subresource=sub
        )

    async def finish_deletion_if_done(self, res: Resource, namespace: str, obj: Obj) -> bool:
        """An object marked for deletion goes when its last finalizer does (graceful pods
        instead wait for their kubelet)."""
        metadata = meta(obj)
        if not metadata.get("deletionTimestamp") or metadata.get("finalizers"):
            return False
        if metadata.get("deletionGracePeriodSeconds"):
            return False
        if res.plural == "namespaces" and (obj.get("spec") or {}).get("finalizers"):
            return False
        await self.registry.remove(res, namespace, str(metadata["name"]))
        return True
