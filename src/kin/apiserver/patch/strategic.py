"""Strategic merge patch: what kubectl apply, patch, taint, cordon and set image send.

Client-side ``kubectl apply`` diffs against the last applied configuration and sends the
result as ``application/strategic-merge-patch+json``; so does ``kubectl patch`` by default.
The semantics are those of k8s.io/apimachinery/pkg/util/strategicpatch as kube-apiserver
runs it (``StrategicMergeMapPatch``), with Go's struct tags read from kin's ``TypeDef``s:

* a list whose field has strategy ``merge`` and a ``merge_key`` merges element by element on
  that key (containers, env and volumes by name, ports by containerPort, conditions by
  type); strategy ``merge`` without a key merges scalars as a set; every other list
  (taints, tolerations, args) is replaced whole;
* objects merge recursively unless the field's strategy is ``replace``; null deletes;
* directives: ``$patch: replace|delete`` on an object or a list element (``merge`` is taken
  as the explicit default where the reference refuses it), ``$retainKeys``,
  ``$deleteFromPrimitiveList/<field>`` and ``$setElementOrder/<field>``;
* the order of a merged list is the reference's: ``$setElementOrder`` wins, then the
  patch's own order, and elements only the server has keep their place relative to the
  others. A new element in a patch without ``$setElementOrder`` therefore comes first, as
  it does against kube-apiserver.

Where the reference stores raw patch content (a list the original lacks, an object under
``$patch: replace``), kin merges it into an empty value, so no directive or null is stored.
Without a TypeDef (custom resources) every object merges and every list is replaced: JSON
merge patch plus the directives. Errors the reference answers with a 500 are 422 here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kin.apiserver.patch.merge import PatchError, go_kind, prune_nulls, scalar_key
from kin.apiserver.schema.model import Field, T, TypeDef, ref

__all__ = ["Lookup", "Schema", "strategic_merge_patch", "strategies"]

Lookup = Callable[[str], "TypeDef | None"]
JSONObject = dict[str, Any]

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM = "$deleteFromPrimitiveList/"
SET_ORDER = "$setElementOrder/"


class Schema:
    """Navigates kin's TypeDefs: the fields of an object type and the type of a member."""

    def __init__(self, typedef: TypeDef | None, lookup: Lookup) -> None:
        self.typedef = typedef
        self._lookup = lookup

    def root(self) -> T | None:
        return ref(self.typedef.name) if self.typedef is not None else None

    def struct(self, t: T | None) -> TypeDef | None:
        """The TypeDef an object type expression names, if kin knows it."""
        if t is None or t.kind != "object" or not t.ref:
            return None
        if self.typedef is not None and t.ref == self.typedef.name:
            return self.typedef
        return self._lookup(t.ref)

    def field(self, t: T | None, key: str) -> Field | None:
        typedef = self.struct(t)
        return typedef.fields.get(key) if typedef is not None else None

    def child(self, t: T | None, key: str) -> T | None:
        """The type of member ``key`` of a value of type ``t`` (None when unknown)."""
        if t is not None and t.kind == "map":
            return t.item
        field = self.field(t, key)
        return field.t if field is not None else None


def strategies(field: Field | None) -> set[str]:
    """``merge,retainKeys`` -> {"merge", "retainKeys"}."""
    return set(field.strategy.split(",")) if field is not None and field.strategy else set()


def strategic_merge_patch(
    original: JSONObject, patch: object, typedef: TypeDef | None, lookup: Lookup
) -> JSONObject:
    """Apply a strategic merge patch to ``original`` (neither input is modified).

    ``typedef`` is the object's type (None for types kin has no schema for) and ``lookup``
    resolves the names of nested types.
    """
    if patch is None:
        return copy.deepcopy(original)
    if not isinstance(patch, dict):
        kind = go_kind(patch)
        raise PatchError.bad_request(
            f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
        )
    schema = Schema(typedef, lookup)
    merger = _Merger(schema)
    return merger.merge_object(copy.deepcopy(original), copy.deepcopy(patch), schema.root())


class _Merger:
    """The recursive merge; works in place on private copies of the inputs."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def merge_object(self, original: JSONObject, patch: JSONObject, t: T | None) -> JSONObject:
        directive = patch.pop(DIRECTIVE, None)
        if directive == "delete":
            return {}
        if directive == "replace":
            original = {}
        elif directive not in (None, "merge"):
            shown = _go({**patch, DIRECTIVE: directive})
            raise PatchError.invalid(f"unknown patch type: {_go(directive)} in map: {shown}")
        _retain_keys(original, patch)
        for key in [k for k in patch if k.startswith(SET_ORDER)]:
            self.ordered(original, key, patch, t)
        for key, value in patch.items():
            self.member(original, key, value, t)
        return original

    def member(self, original: JSONObject, key: str, value: Any, t: T | None) -> None:
        if key.startswith(DELETE_FROM):
            _delete_from_list(original, key[len(DELETE_FROM) :], value)
            return
        if value is None:
            original.pop(key, None)
            return
        field, child = self.schema.field(t, key), self.schema.child(t, key)
        current: Any = original.get(key)
        if isinstance(value, dict):
            keep = isinstance(current, dict) and "replace" not in strategies(field)
            original[key] = self.merge_object(current if keep else {}, value, child)
        elif isinstance(value, list):
            base = current if isinstance(current, list) else []
            original[key] = self.merge_field_list(base, value, field, child)
        else:
            original[key] = value

    def merge_field_list(
        self, current: list[Any], patch: list[Any], field: Field | None, t: T | None
    ) -> Any:
        return self.merge_and_view(current, patch, field, t)[0]

    def merge_and_view(
        self, current: list[Any], patch: list[Any], field: Field | None, t: T | None
    ) -> tuple[Any, list[Any]]:
        """The merged list, and the server order a ``$setElementOrder`` then sees."""
        if field is None or "merge" not in strategies(field):
            return prune_nulls(patch), current
        item = t.item if t is not None and t.kind == "array" else None
        return self.merge_list(current, patch, field.merge_key, item)

    def merge_list(
        self, original: list[Any], patch: list[Any], key: str, item: T | None
    ) -> tuple[list[Any], list[Any]]:
        if not original and not patch:
            return original, original
        if _element_kind(original + patch) == "scalar":
            return _arrange(_unique(original + patch), patch, original, key), original
        if not key:
            raise PatchError.invalid("cannot merge lists without merge key for type struct")
        kept, plain = self.special_elements(original, patch, key, item)
        merged, added = self.merge_by_key(kept, plain, key, item)
        # The reference deletes and appends in place in the original's array, so where
        # elements were deleted, the first appended ones take the freed positions in the
        # server order that $setElementOrder later consults.
        freed = max(0, len(original) - len(kept))
        view = kept + added[:freed] if kept is not original else original
        return _arrange(merged, plain, kept, key), view

    def special_elements(
        self, original: list[Any], patch: list[Any], key: str, item: T | None
    ) -> tuple[list[Any], list[Any]]:
        """Apply ``$patch`` elements: returns the original left and the plain elements."""
        kept, plain = original, []
        replace = False
        for element in patch:
            directive = element.get(DIRECTIVE)
            if directive is None:
                plain.append(element)
            elif directive == "delete":
                _require_key(element, key)
                kept = [x for x in kept if not _same(x, element, key)]
            elif directive == "replace":
                replace = True
            elif directive == "merge":
                plain.append({k: v for k, v in element.items() if k != DIRECTIVE})
            else:
                message = f"unknown patch type: {_go(directive)} in map: {_go(element)}"
                raise PatchError.invalid(message)
        if replace:
            return [self.merge_object({}, x, item) for x in plain], []
        return kept, plain

    def merge_by_key(
        self, original: list[Any], patch: list[Any], key: str, item: T | None
    ) -> tuple[list[Any], list[Any]]:
        """Merge elements with the same key; returns the result and the elements added."""
        merged, added = list(original), []
        for element in patch:
            _require_key(element, key)
            at = next((i for i, x in enumerate(merged) if _same(x, element, key)), None)
            if at is None:
                added.append(self.merge_object({}, element, item))
                merged.append(added[-1])
            else:
                merged[at] = self.merge_object(merged[at], element, item)
        return merged, added

    def ordered(self, original: JSONObject, directive: str, patch: JSONObject, t: T | None) -> None:
        """``$setElementOrder/<name>``: merge the list ``name`` now, then order it."""
        order = patch.pop(directive)
        name = directive[len(SET_ORDER) :]
        if not isinstance(order, list):
            raise PatchError.bad_request("invalid patch format of setElementOrder list")
        field = self.schema.field(t, name)
        key = field.merge_key if field is not None else ""
        current = original.get(name)
        current = current if isinstance(current, list) else None
        if isinstance(patch.get(name), list):
            value = patch.pop(name)
            _check_order(value, order, key)
            child = self.schema.child(t, name)
            merged, view = self.merge_and_view(current or [], value, field, child)
        elif current is None or name in patch:
            return
        else:
            merged, view = current, current
        original[name] = _arrange(merged, order, view, key)


def _retain_keys(original: JSONObject, patch: JSONObject) -> None:
    if RETAIN_KEYS not in patch:
        return
    keys = patch.pop(RETAIN_KEYS)
    if not isinstance(keys, list):
        raise PatchError.bad_request("invalid patch format of retainKeys")
    allowed = {k for k in keys if isinstance(k, str)}
    for key, value in patch.items():
        directive = key.startswith((DELETE_FROM, SET_ORDER))
        if value is not None and not directive and key not in allowed:
            raise PatchError.bad_request("invalid patch format of retainKeys")
    for key in [k for k in original if k not in allowed]:
        del original[key]


def _delete_from_list(original: JSONObject, name: str, values: Any) -> None:
    if not isinstance(values, list):
        raise PatchError.bad_request("invalid patch format of primitive list")
    current = original.get(name)
    if isinstance(current, list):
        drop = {scalar_key(v) for v in values}
        original[name] = [x for x in current if scalar_key(x) not in drop]


def _check_order(patch: list[Any], order: list[Any], key: str) -> None:
    """The patch list must follow ``$setElementOrder`` (deletions aside), as the reference says."""
    if not order or not patch:
        return
    items = [x for x in patch if not (key and _is_map(x) and x.get(DIRECTIVE) == "delete")]
    at = seen = 0
    while at < len(items) and seen < len(order):
        if _is_map(items[at]) and DIRECTIVE in items[at]:
            at += 1
            continue
        if key:
            _require_key(items[at], key)
            _require_key(order[seen], key)
        if _identity(items[at], key) == _identity(order[seen], key):
            at += 1
        seen += 1
    if at < len(items):
        raise PatchError.invalid(
            f"The order in patch list:\n{_go(patch)}\n doesn't match $setElementOrder list:\n"
            f"{_go(order)}\n"
        )


def _arrange(merged: list[Any], order: list[Any], server: list[Any], key: str) -> list[Any]:
    """The reference's ordering: elements named in ``order`` follow it, the others keep
    the order they have in ``server``, and the two runs interleave by server position."""
    wanted = {_identity(x, key) for x in order}
    mine = _sorted_by([x for x in merged if _identity(x, key) in wanted], order, key)
    theirs = _sorted_by([x for x in merged if _identity(x, key) not in wanted], server, key)
    position = _positions(server, key)
    out: list[Any] = []
    i = j = 0
    while i < len(theirs) and j < len(mine):
        a, b = position.get(_identity(theirs[i], key)), position.get(_identity(mine[j], key))
        if a is not None and b is not None and a < b:
            out.append(theirs[i])
            i += 1
        else:
            out.append(mine[j])
            j += 1
    return out + theirs[i:] + mine[j:]


def _sorted_by(items: list[Any], order: list[Any], key: str) -> list[Any]:
    position = _positions(order, key)
    return sorted(items, key=lambda x: position.get(_identity(x, key), len(order)))


def _positions(items: list[Any], key: str) -> dict[tuple[str, Any], int]:
    position: dict[tuple[str, Any], int] = {}
    for i, x in enumerate(items):
        position.setdefault(_identity(x, key), i)
    return position


def _identity(value: Any, key: str) -> tuple[str, Any]:
    """What identifies a list element: its merge key's value, or the scalar itself."""
    if key and isinstance(value, dict):
        return scalar_key(value.get(key))
    return scalar_key(value)


def _same(a: Any, b: JSONObject, key: str) -> bool:
    return _is_map(a) and key in a and _identity(a, key) == _identity(b, key)


def _is_map(value: Any) -> bool:
    return isinstance(value, dict)


def _require_key(element: Any, key: str) -> None:
    if not _is_map(element):
        raise PatchError.invalid(f"expected a map, but received a {go_kind(element)}")
    if key not in element:
        raise PatchError.invalid(f"map: {_go(element)} does not contain declared merge key: {key}")


def _element_kind(items: list[Any]) -> str:
    kinds = {"map" if _is_map(x) else "list" if isinstance(x, list) else "scalar" for x in items}
    if "list" in kinds:
        raise PatchError.rejected("lists of lists are not supported")
    if len(kinds) > 1:
        raise PatchError.invalid(f"list element types are not identical: {_go(items)}")
    return kinds.pop()


def _unique(items: list[Any]) -> list[Any]:
    seen: set[tuple[str, Any]] = set()
    out = []
    for x in items:
        if scalar_key(x) not in seen:
            seen.add(scalar_key(x))
            out.append(x)
    return out


def _go(value: Any) -> str:
    """Go's ``%v`` of decoded JSON, as the reference's error messages print it."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
