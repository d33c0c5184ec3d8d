"""A create's managed fields (FieldsV1) in one walk over plans compiled once per type.

Every path of a created object is new and its writer's, so its FieldsV1 is the object's
own shape, read through the schema: which dicts are structs, maps or atomic, which lists
are keyed, sets or atomic. ``TypedWalker`` asks the schema at every member of every
write; a create (the API server's most frequent write) does not need its generality. Here
each (type, field) becomes a ``Plan`` the first time a value meets it, kept for the
process (kin's TypeDefs never change while it runs), and the walk is plain recursion over
dicts and lists. ``tests/unit/apiserver/test_patch_created_fields.py`` holds it to the
general path.

A create whose member repeats one seen before (the spec of a controller's pods, stamped
from one template; a manifest created again) gets that member's node from
``remembered_node`` without a walk: its compact JSON is the key, exact by construction
(a value is kept from its second sighting on: distinct objects pay one orjson call).
The node is shared by every object that gets it, so it is a ``SharedNode``: read-only
(a change raises TypeError instead of reaching the other objects), a plain dict again
when copied. Nothing changes a created object's FieldsV1 in place: it is written to
storage and into the response, and later writes read the stored text.
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn

import orjson

from kin.apiserver.patch.fieldpath import item_element, keys_of
from kin.apiserver.patch.strategic import Lookup, Schema
from kin.apiserver.remembered import LARGEST, Remembered
from kin.apiserver.schema.model import Field, T, TypeDef

__all__ = ["Plan", "SharedNode", "created_node", "remembered_node", "root_plan"]

_STRUCT, _MAP, _ATOMIC = "struct", "map", "atomic"
REMEMBERED = 64  # values: a few templates in use at once; a pod's spec node is ~40 KB


class Plan:
    """How values at one place of a type are read: a dict as struct, map or atomic; a
    list keyed by ``keys``, as a set (``()``) or atomic (None). Only what the schema
    names is remembered (struct members, item types), so the plans stay as many as the
    schema's places however many distinct map keys objects bring."""

    __slots__ = ("_items", "_members", "_values", "as_dict", "keys", "schema", "t")

    def __init__(self, schema: Schema, t: T | None, f: Field | None) -> None:
        self.schema, self.t = schema, t
        self.keys = keys_of(t, f)
        if t is not None and t.kind == "map":
            self.as_dict = _MAP
        else:
            typedef = schema.struct(t)
            self.as_dict = _MAP if typedef is None else _ATOMIC if typedef.atomic else _STRUCT
        self._members: dict[str, Plan] = {}
        self._items: Plan | None = None  # a list's items
        self._values: Plan | None = None  # a map's values

    def item(self) -> Plan:
        """The plan of a list's items (no field: lists inside them are atomic)."""
        if self._items is None:
            self._items = self._plan(self.t.item if self.t is not None else None)
        return self._items

    def member(self, key: str) -> Plan:
        """The plan of member ``key`` of a dict here: a struct's field, else a map's value
        (of the map's item type; of no type when the schema did not expect a map)."""
        if self.as_dict != _STRUCT:
            if self._values is None:
                typed = self.t is not None and self.t.kind == "map"
                self._values = self._plan(self.t.item if typed and self.t else None)
            return self._values
        known = self._members.get(key)
        if known is None:
            f = self.schema.field(self.t, key)
            if f is None:
                return self._plan(None)  # an unknown field: not remembered
            known = self._members[key] = Plan(self.schema, f.t, f)
        return known

    def _plan(self, t: T | None) -> Plan:
        return (
            self
            if t is None and self.t is None and self.keys is None
            else Plan(self.schema, t, None)
        )


_ROOTS: dict[tuple[int, int], tuple[TypeDef | None, Lookup, Plan]] = {}


def root_plan(typedef: TypeDef | None, lookup: Lookup) -> Plan:
    """The plan of a whole object of ``typedef``, compiled once per (typedef, lookup)."""
    key = (id(typedef), id(lookup))
    known = _ROOTS.get(key)
    if known is None or known[0] is not typedef or known[1] is not lookup:
        schema = Schema(typedef, lookup)
        known = _ROOTS[key] = (typedef, lookup, Plan(schema, schema.root(), None))
    return known[2]


def created_node(value: Any, plan: Plan) -> dict[str, Any]:
    """The FieldsV1 node of a value whose every path is new and owned: ``{}`` for a leaf
    (or an empty value), else ``"."`` (the value itself) and a node per child."""
    if isinstance(value, dict):
        if not value or plan.as_dict == _ATOMIC:
            return {}
        member = plan.member
        out: dict[str, Any] = {".": {}}
        for key in sorted(value):
            out["f:" + key] = created_node(value[key], member(key))
        return out
    if isinstance(value, list) and value and plan.keys is not None:
        elements = [item_element(plan.keys, item) for item in value]
        if None in elements:
            return {}
        # a repeated key keeps the last item, as the general path's children do
        items = {e: item for e, item in zip(elements, value, strict=True) if e is not None}
        item_plan = plan.item()
        out = {".": {}}
        for element in sorted(items):
            out[element] = created_node(items[element], item_plan)
        return out
    return {}


class SharedNode(dict[str, Any]):
    """A remembered FieldsV1 node, held by many objects at once: it refuses changes,
    and copies (``copy.copy``, ``copy.deepcopy``, ``dict(node)``) are plain dicts."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a remembered FieldsV1 node is shared by several objects: copy it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    pop = popitem = clear = update = setdefault = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (dict(self),)


def remembered_node(value: Any, plan: Plan) -> dict[str, Any]:
    """``created_node``, remembered for values that repeat (see the module docstring):
    the first time a value is met it is only noted (a one-off spec costs one orjson
    call), the second time its node is kept, and from then on it is not walked again."""
    if not isinstance(value, dict) or not value:
        return created_node(value, plan)
    try:
        text = orjson.dumps(value)
    except TypeError:  # nothing the store could hold either: the walk decides
        return created_node(value, plan)
    if len(text) > LARGEST:
        return created_node(value, plan)
    key = (plan, text)
    shared = _NODES.get(key)
    if shared is not None:
        return shared
    node = created_node(value, plan)
    _NODES.put(key, _frozen(node) if key in _NODES else None)
    return node


_NODES: Remembered[SharedNode | None] = Remembered(REMEMBERED)


def _frozen(node: dict[str, Any]) -> SharedNode:
    return SharedNode((key, _frozen(child)) for key, child in node.items())
