"""Server-side apply, and the managedFields that every write records.

``kubectl apply --server-side`` sends the whole intended object (``application/
apply-patch+yaml``). The server merges it into the live object, records in
``metadata.managedFields`` which manager owns which fields, answers 409 when the apply
would change a field another manager owns (unless forced, which takes the field over),
and removes fields a manager stopped applying that no other manager owns. Ordinary
writes record their manager too (``kubectl-client-side-apply``, ``kubectl-label``, the
kubelet): those entries are what a later apply conflicts with.

The semantics are those of structured-merge-diff's ``merge.Updater`` inside kube-apiserver's
field manager; the typed walks it needs (field sets, comparison, merge, pruning) are in
``fieldpath.py``.

Managers are keyed by (manager, operation, apiVersion for updates, subresource). The
object's identity (apiVersion, kind, metadata.name/namespace/uid ...) is never owned;
``status`` is owned through the status subresource only, everything else through others.

Gaps: no conversion of managed sets between API versions (kin serves one per kind), no
"ancient-changes" cap on update entries, no handover from the last-applied annotation of
client-side apply, and an update that creates an object owns nested structs as such
where Go's zero values hide them (``f:spec: {".": {}}``; cosmetic).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kin.apiserver.errors import cause
from kin.apiserver.objectmeta import now_rfc3339
from kin.apiserver.patch.created import Plan, created_node, remembered_node, root_plan
from kin.apiserver.patch.fieldpath import (
    Diff,
    Path,
    TypedWalker,
    decode_fields,
    encode_fields,
    path_order,
    path_text,
)
from kin.apiserver.patch.merge import PatchError, json_equal, prune_nulls
from kin.apiserver.patch.strategic import Lookup, Schema
from kin.apiserver.schema.model import TypeDef

__all__ = ["apply", "update_managed_fields"]

Key = tuple[str, str, str, str]
_IDENTITY = ("name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName")
_STRIPPED = {("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", f"f:{name}")
    for name in (*_IDENTITY, "generation", "managedFields", "resourceVersion")
}
_SKIPPED: dict[str, list[str]] = {}
for _path in _STRIPPED:
    if len(_path) == 2:
        _SKIPPED.setdefault(_path[0], []).append(_path[1])


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    force: bool,
    typedef: TypeDef | None,
    lookup: Lookup,
    *,
    subresource: str = "",
    now: str | None = None,
) -> dict[str, Any]:
    """Apply the configuration ``applied`` of ``manager`` to ``live`` (None: create).

    Returns the new object with its ``metadata.managedFields``; raises a 409
    ``PatchError`` naming every conflict unless ``force``. Inputs are not modified.
    """
    _check_applied(applied, typedef)
    walker = TypedWalker(Schema(typedef, lookup))
    current = _without_managed_fields(live) if live is not None else {}
    config = copy.deepcopy(applied)
    managers = _managers_of(live, current, walker, subresource)
    previous = managers.pop((manager, "Apply", "", subresource), None)
    version = str(applied.get("apiVersion", ""))
    me = _Manager(manager, "Apply", version, subresource, time=previous.time if previous else None)
    applied_paths = walker.fieldset(config)
    me.fields = _owned(applied_paths, subresource)
    managers[me.key] = me
    merged = walker.merge(current, config)
    if previous is not None:
        kept = applied_paths.union(_STRIPPED, *(m.fields for m in managers.values()))
        merged = walker.prune(merged, previous.fields, kept)
    _settle(managers, _owned_diff(walker, current, merged, subresource), me.key, force)
    result = prune_nulls(merged)
    if not json_equal(result, current) or previous is None or previous.fields != me.fields:
        me.time = now or now_rfc3339()
    return _with_managed_fields(result, managers)


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    operation: str = "Update",
    *,
    typedef: TypeDef | None = None,
    lookup: Lookup | None = None,
    subresource: str = "",
    now: str | None = None,
) -> dict[str, Any]:
    """``new`` with the managedFields a write of ``old`` (None: create) into it records.

    ``manager`` takes every field the write added or changed, from whoever owned it;
    fields the write removed leave every manager. A client may replace the entries by
    sending its own, or clear them with ``[{}]``, as kube-apiserver allows.
    """
    current = _unmanaged_view(old) if old is not None else {}
    target = _unmanaged_view(new)  # the result shares new's values; neither is modified
    managers = _decode_managers(_incoming_entries(old, new))
    version = str(new.get("apiVersion", ""))
    me = _Manager(manager, operation, version, subresource, set())
    if old is None and not managers:  # a create: everything is the writer's, in one walk
        me.tree = _created_fields(root_plan(typedef, lookup or _no_types), target, subresource)
        me.time = now or now_rfc3339()
        return _with_managed_fields(target, {me.key: me} if me.tree else {})
    walker = TypedWalker(Schema(typedef, lookup or _no_types))
    diff = _owned_diff(walker, current, target, subresource)
    _settle(managers, diff, me.key, force=True)
    if diff.added or diff.modified:
        me = managers.setdefault(me.key, me)
        me.fields |= diff.added | diff.modified
        me.time = now or now_rfc3339()
    return _with_managed_fields(target, managers)


def _created_fields(plan: Plan, obj: dict[str, Any], subresource: str) -> dict[str, Any]:
    """``encode_fields(_owned(every path of obj))``: the identity fields and the part of
    the object the subresource cannot own are left out, the rest is owned whole."""
    out: dict[str, Any] = {}
    for key in sorted(obj):
        element = "f:" + key
        if (element == "f:status") != (subresource == "status"):
            continue
        if (element,) not in _STRIPPED:
            out[element] = remembered_node(obj[key], plan.member(key))
            continue
        node = created_node(obj[key], plan.member(key))  # new names: nothing to remember
        for skipped in (".", *_SKIPPED.get(element, ())):
            node.pop(skipped, None)
        if node:
            out[element] = node
    return out


def _no_types(name: str) -> TypeDef | None:
    return None


def _check_applied(applied: object, typedef: TypeDef | None) -> None:
    if not isinstance(applied, dict):
        raise PatchError.bad_request("the apply configuration is not an object")
    metadata = applied.get("metadata")
    if isinstance(metadata, dict) and metadata.get("managedFields") is not None:
        raise PatchError.bad_request("metadata.managedFields must be nil")
    if typedef is not None and typedef.gvk is not None:
        group, version, _ = typedef.gvk
        expected = f"{group}/{version}" if group else version
        if applied.get("apiVersion") != expected:
            raise PatchError.bad_request(
                "Incorrect version specified in apply patch. Specified patch version: "
                f"{applied.get('apiVersion', '')}, expected: {expected}"
            )


# --- managers --------------------------------------------------------------------------


@dataclass
class _Manager:
    manager: str
    operation: str
    api_version: str
    subresource: str
    fields: set[Path] = field(default_factory=set)
    time: str | None = None
    tree: dict[str, Any] | None = None  # FieldsV1 already built (a create's), for entry()

    @property
    def key(self) -> Key:
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        """How a conflict names this manager (kube's ``printManager``)."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        return text + (f" using {self.api_version}" if self.operation == "Update" else "")

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time:
            entry["time"] = self.time
        fields = self.tree if self.tree is not None else encode_fields(self.fields)
        entry.update(fieldsType="FieldsV1", fieldsV1=fields)
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _managers_of(
    live: dict[str, Any] | None, current: dict[str, Any], walker: TypedWalker, subresource: str
) -> dict[Key, _Manager]:
    """The live object's managers; an object nobody manages yet is owned, field by
    field, by ``before-first-apply``, which a first apply then conflicts with."""
    if live is None:
        return {}
    managers = _decode_managers(live.get("metadata", {}).get("managedFields"))
    if not managers:
        diff = _owned_diff(walker, {}, current, subresource)
        version = str(live.get("apiVersion", ""))
        first = _Manager("before-first-apply", "Update", version, "", diff.added | diff.modified)
        managers[first.key] = first
    return managers


def _settle(managers: dict[Key, _Manager], diff: Diff, me: Key, force: bool) -> None:
    """Take changed fields from other managers (409 unless ``force``); drop removed ones."""
    changed = diff.added | diff.modified
    conflicts = {k: m.fields & changed for k, m in managers.items() if k != me}
    conflicts = {k: paths for k, paths in conflicts.items() if paths}
    if conflicts and not force:
        raise _conflict_error({managers[k].describe(): paths for k, paths in conflicts.items()})
    for key, paths in conflicts.items():
        managers[key].fields -= paths
    for manager in managers.values():
        manager.fields -= diff.removed


def _conflict_error(conflicts: dict[str, set[Path]]) -> PatchError:
    listed = [(who, p) for who in sorted(conflicts) for p in sorted(conflicts[who], key=path_order)]
    causes = [
        cause(path_text(p), f"conflict with {who}", "FieldManagerConflict") for who, p in listed
    ]
    if len(listed) == 1:
        who, path = listed[0]
        message = f"Apply failed with 1 conflict: conflict with {who}: {path_text(path)}"
    else:
        lines = []
        for who in sorted(conflicts):
            lines.append(f"conflicts with {who}:")
            lines += [f"- {path_text(p)}" for p in sorted(conflicts[who], key=path_order)]
        message = f"Apply failed with {len(listed)} conflicts: " + "\n".join(lines)
    return PatchError(409, "Conflict", message, details={"causes": causes})


def _owned(paths: Iterable[Path], subresource: str) -> set[Path]:
    """What a write through ``subresource`` can own: never the object's identity, and
    ``status`` exactly when writing the status subresource."""
    status = subresource == "status"
    return {p for p in paths if p and p not in _STRIPPED and (p[:1] == ("f:status",)) == status}


def _owned_diff(walker: TypedWalker, old: Any, new: Any, subresource: str) -> Diff:
    found = walker.diff(old, new)
    return Diff(*(_owned(s, subresource) for s in (found.added, found.removed, found.modified)))


def _incoming_entries(old: dict[str, Any] | None, new: dict[str, Any]) -> Any:
    sent = (new.get("metadata") or {}).get("managedFields")
    if sent == [{}]:
        return []
    valid = isinstance(sent, list) and all(
        isinstance(e, dict) and isinstance(e.get("fieldsV1"), dict) for e in sent
    )
    if valid and sent:
        return sent
    return (old.get("metadata") or {}).get("managedFields") if old is not None else []


def _decode_managers(entries: Any) -> dict[Key, _Manager]:
    managers: dict[Key, _Manager] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("fieldsV1"), dict):
            continue
        found = _Manager(
            str(entry.get("manager", "")),
            str(entry.get("operation", "Update")),
            str(entry.get("apiVersion", "")),
            str(entry.get("subresource", "")),
            decode_fields(entry["fieldsV1"]),
            entry.get("time"),
        )
        managers.setdefault(found.key, found).fields |= found.fields
    return managers


def _with_managed_fields(obj: dict[str, Any], managers: dict[Key, _Manager]) -> dict[str, Any]:
    entries = [m.entry() for m in managers.values() if m.fields or m.tree]
    entries.sort(key=_entry_order)
    metadata = dict(obj.get("metadata") or {})
    metadata.pop("managedFields", None)
    if entries:
        metadata["managedFields"] = entries
    return {**obj, "metadata": metadata}


def _entry_order(entry: dict[str, Any]) -> tuple[str, ...]:
    """kube's order: operation (Apply first), time, manager, apiVersion, subresource."""
    keys = ("operation", "time", "manager", "apiVersion", "subresource")
    return tuple(str(entry.get(k, "")) for k in keys)


def _unmanaged_view(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without managedFields, sharing everything else (for reading only)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    if isinstance(out.get("metadata"), dict):
        out["metadata"].pop("managedFields", None)
    return out
