"""Typed field sets: the structured-merge-diff half of server-side apply.

Server-side apply reasons about *which fields* an object sets, not about values alone.
This module gives kin the pieces structured-merge-diff gives kube-apiserver, over kin's
TypeDefs: paths (tuples of path elements: ``f:name`` a field, ``k:{"name":"c"}`` a keyed
list element, ``v:"x"`` a set member), their FieldsV1 encoding, and the typed walks
``fieldset`` (``ToFieldSet``), ``diff`` (``Compare``), ``merge`` (``Merge``) and
``prune`` (``RemoveItems`` of what a manager stopped applying). ``apply.py`` builds
managers and conflicts on top.

Lists take ``list_type``/``map_keys`` from the Field; otherwise a ``merge`` strategy with
a merge key makes a keyed list, one without a key a set, and every other list is atomic
(owned and replaced whole), as are TypeDefs marked ``atomic`` (label selectors). A keyed
element missing a key field uses the field's default (``protocol: TCP``) or, with none,
makes its list atomic. Types kin has no TypeDef for are deduced: objects merge member by
member, lists are atomic.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from kin.apiserver.patch.merge import json_equal
from kin.apiserver.patch.strategic import Schema, strategies
from kin.apiserver.schema.model import Field, T

__all__ = [
    "MISSING",
    "Diff",
    "Path",
    "TypedWalker",
    "decode_fields",
    "encode_fields",
    "item_element",
    "keys_of",
    "path_order",
    "path_text",
]

Path = tuple[str, ...]
MISSING: Any = object()  # an absent member, as opposed to one set to null
KEY_DEFAULTS = {"protocol": "TCP"}  # defaults of list map keys (ports)


@dataclass
class Diff:
    """What changed between two objects: paths added, removed and modified."""

    added: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)


def encode_fields(paths: Iterable[Path]) -> dict[str, Any]:
    """FieldsV1: nested path elements, ``"."`` where a node with children is owned too."""
    owned = set(paths)
    tree: dict[str, Any] = {}
    for path in owned:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    return _sorted_tree(tree, (), owned)


def _sorted_tree(node: dict[str, Any], prefix: Path, owned: set[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for element in sorted(node, key=element_order):
        path = (*prefix, element)
        inner = _sorted_tree(node[element], path, owned) if node[element] else {}
        out[element] = {".": {}, **inner} if inner and path in owned else inner
    return out


def decode_fields(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for element, inner in tree.items():
        if element == ".":
            continue
        path = (*prefix, element)
        if not isinstance(inner, dict) or not inner or "." in inner:
            paths.add(path)
        if isinstance(inner, dict):
            paths |= decode_fields(inner, path)
    return paths


def path_text(path: Path) -> str:
    """``.spec.containers[name="c"].image``, as conflicts name a field."""
    return "".join(_element_text(e) for e in path)


def path_order(path: Path) -> tuple[tuple[int, str], ...]:
    """structured-merge-diff's order: fields, then keys, values, indices."""
    return tuple(element_order(e) for e in path)


def _element_text(element: str) -> str:
    kind, body = element[0], element[2:]
    if kind == "f":
        return "." + body
    if kind == "k":
        fields = json.loads(body)
        return "[" + ",".join(f"{k}={_json(fields[k])}" for k in sorted(fields)) + "]"
    return f"[={body}]" if kind == "v" else f"[{body}]"


def element_order(element: str) -> tuple[int, str]:
    return ("fkvi".find(element[0]), element)


def _json(value: Any) -> str:
    """Compact JSON with sorted keys, escaped as Go's encoder does."""
    text = _scalar_json(value)
    if text is not None:
        return text
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _go_escaped(text)


def _scalar_json(value: Any) -> str | None:
    """``_json`` of a string, integer or boolean without the general encoder (list keys
    are these, and a create computes one per keyed list item); None for anything else."""
    if isinstance(value, str):
        return _go_escaped(encode_basestring(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return None


def _go_escaped(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def item_element(keys: tuple[str, ...], item: Any) -> str | None:
    """The path element of a list item: by its key fields, or (sets) by its value."""
    if not keys:
        return None if isinstance(item, dict | list) else "v:" + _json(_plain(item))
    if not isinstance(item, dict):
        return None
    if len(keys) == 1 and type(value := item.get(keys[0])) is str:  # by name, mostly
        return f'k:{{"{keys[0]}":{_go_escaped(encode_basestring(value))}}}'
    values = {k: item.get(k, KEY_DEFAULTS.get(k)) for k in sorted(keys)}
    if any(v is None for v in values.values()):
        return None
    parts = [(k, _scalar_json(_plain(v))) for k, v in values.items()]
    if any(text is None for _, text in parts):
        return "k:" + _json({k: _plain(v) for k, v in values.items()})
    return "k:{" + ",".join(f"{_scalar_json(k)}:{text}" for k, text in parts) + "}"


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def keys_of(t: T | None, f: Field | None) -> tuple[str, ...] | None:
    """``_list_keys`` of a field holding a list; None (atomic) for anything else."""
    return _list_keys(f) if f is not None and t is not None and t.kind == "array" else None


def _list_keys(f: Field) -> tuple[str, ...] | None:
    """The key fields of a keyed list, () for a set, None for an atomic list."""
    if f.list_type == "map":
        return f.map_keys or ((f.merge_key,) if f.merge_key else None)
    if f.list_type in ("set", "atomic"):
        return () if f.list_type == "set" else None
    if "merge" in strategies(f):
        return (f.merge_key,) if f.merge_key else ()
    return None


@dataclass(frozen=True)
class _Shape:
    kind: str  # "leaf" (scalar or atomic), "struct", "map" or "list" (keyed or set)
    t: T | None = None  # struct: its type; map and list: their elements' type
    keys: tuple[str, ...] = ()


_LEAF = _Shape("leaf")
Children = dict[str, tuple[Any, T | None, Field | None]]
Index = list[tuple[str, Any]]


class TypedWalker:
    """The typed operations of structured-merge-diff over kin's TypeDefs."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.root = schema.root()
        self._indexes: dict[int, tuple[list[Any], tuple[str, ...], Index | None]] = {}
        self._shapes: dict[T | None, _Shape] = {}

    def shape(self, t: T | None, f: Field | None, *values: Any) -> _Shape:
        present = [v for v in values if v is not MISSING and v is not None]
        if present and all(isinstance(v, dict) for v in present):
            if t is not None and t.kind == "map":
                return _Shape("map", t.item)
            typedef = self.schema.struct(t)
            if typedef is None:
                return _Shape("map")
            return _LEAF if typedef.atomic else _Shape("struct", t)
        if not present or not all(isinstance(v, list) for v in present):
            return _LEAF
        keys = keys_of(t, f)
        if keys is None or t is None:
            return _LEAF
        shape = _Shape("list", t.item, keys)
        return shape if all(self.index(shape, v) is not None for v in present) else _LEAF

    def shape_of(self, t: T | None, f: Field | None, value: Any) -> _Shape:
        """``shape`` of one present value, with the shapes of types remembered: the walks
        over a whole object (an apply configuration, a diff) call this per field."""
        if isinstance(value, dict):
            known = self._shapes.get(t)
            if known is None:
                known = self._shapes[t] = self.shape(t, f, value)
            return known
        if isinstance(value, list) and f is not None:
            return self.shape(t, f, value)
        return _LEAF

    def _pair_shape(self, t: T | None, f: Field | None, lhs: Any, rhs: Any) -> _Shape:
        """``shape(t, f, lhs, rhs)``, through ``shape_of`` when both are objects (or one is)."""
        if isinstance(rhs, dict) and (lhs is MISSING or lhs is None or isinstance(lhs, dict)):
            return self.shape_of(t, f, rhs)
        if isinstance(lhs, dict) and (rhs is MISSING or rhs is None):
            return self.shape_of(t, f, lhs)
        if not isinstance(lhs, dict | list) and not isinstance(rhs, dict | list):
            return _LEAF
        return self.shape(t, f, lhs, rhs)

    def index(self, shape: _Shape, items: list[Any]) -> list[tuple[str, Any]] | None:
        """(path element, item) per item; None if an item has no element (atomic list).
        Remembered per list: ``shape`` asks first, ``children`` again."""
        known = self._indexes.get(id(items))
        if known is not None and known[0] is items and known[1] == shape.keys:
            return known[2]
        found = self._index(shape.keys, items)
        self._indexes[id(items)] = (items, shape.keys, found)  # holding items pins the id
        return found

    def _index(self, keys: tuple[str, ...], items: list[Any]) -> list[tuple[str, Any]] | None:
        elements = [item_element(keys, item) for item in items]
        if any(e is None for e in elements):
            return None
        return [(e, item) for e, item in zip(elements, items, strict=True) if e is not None]

    def children(self, shape: _Shape, value: Any) -> Children:
        if shape.kind == "list" and isinstance(value, list):
            return {e: (item, shape.t, None) for e, item in self.index(shape, value) or ()}
        if not isinstance(value, dict):
            return {}
        return {f"f:{k}": (v, *self.member(shape, k)) for k, v in value.items()}

    def member(self, shape: _Shape, key: str) -> tuple[T | None, Field | None]:
        if shape.kind != "struct":
            return shape.t, None
        f = self.schema.field(shape.t, key)
        return (f.t, f) if f is not None else (None, None)

    def fieldset(self, value: Any) -> set[Path]:
        """The fields an apply configuration sets (typed ``ToFieldSet``)."""
        out: set[Path] = set()
        self._fieldset(value, self.root, None, (), out)
        return out

    def _fieldset(
        self, value: Any, t: T | None, f: Field | None, path: Path, out: set[Path]
    ) -> None:
        shape = self.shape_of(t, f, value)
        if shape.kind == "leaf":
            if path:
                out.add(path)
            return
        for element, (item, t2, f2) in self.children(shape, value).items():
            sub = (*path, element)
            self._fieldset(item, t2, f2, sub, out)
            undeclared = shape.kind != "struct" or f2 is None
            if shape.kind == "list" or item is None or item == {} or undeclared:
                out.add(sub)

    def diff(self, lhs: Any, rhs: Any) -> Diff:
        """What changed from ``lhs`` to ``rhs`` (typed ``Compare``)."""
        found = Diff()
        self._compare(lhs, rhs, self.root, None, (), found)
        return found

    def _compare(
        self, lhs: Any, rhs: Any, t: T | None, f: Field | None, path: Path, out: Diff
    ) -> None:
        if lhs is MISSING and path:  # all of it is new (a create is this, everywhere)
            self._every_path(rhs, t, f, path, out.added)
            return
        shape = self._pair_shape(t, f, lhs, rhs)
        if shape.kind == "leaf" or (_empty(lhs) and _empty(rhs)):
            _compare_leaf(lhs, rhs, path, out)
            return
        left, right = self.children(shape, lhs), self.children(shape, rhs)
        for element in {**left, **right}:
            a, b = left.get(element), right.get(element)
            _, t2, f2 = a or b or (None, None, None)
            sub = (*path, element)
            self._compare(a[0] if a else MISSING, b[0] if b else MISSING, t2, f2, sub, out)
        if path and (lhs is MISSING or rhs is MISSING):
            (out.added if lhs is MISSING else out.removed).add(path)

    def _every_path(
        self, value: Any, t: T | None, f: Field | None, path: Path, out: set[Path]
    ) -> None:
        """``path`` and every path below it: what ``_compare`` finds against nothing."""
        out.add(path)
        shape = self.shape_of(t, f, value)
        if shape.kind == "leaf" or _empty(value):
            return
        for element, (item, t2, f2) in self.children(shape, value).items():
            self._every_path(item, t2, f2, (*path, element), out)

    def merge(self, lhs: Any, rhs: Any) -> Any:
        """``rhs`` (an apply configuration) merged into ``lhs`` (the live object)."""
        return self._merge(lhs, rhs, self.root, None)

    def _merge(self, lhs: Any, rhs: Any, t: T | None, f: Field | None) -> Any:
        shape = self.shape(t, f, lhs, rhs)
        if lhs is MISSING or lhs is None or shape.kind == "leaf" or (_empty(rhs) and _empty(lhs)):
            return rhs
        if shape.kind == "list":
            return self._merge_list(shape, lhs, rhs or [])
        out = dict(lhs)
        for element, (value, t2, f2) in self.children(shape, rhs).items():
            out[element[2:]] = self._merge(lhs.get(element[2:], MISSING), value, t2, f2)
        return out

    def _merge_list(self, shape: _Shape, lhs: list[Any], rhs: list[Any]) -> list[Any]:
        """structured-merge-diff's order: the configuration's order for its elements,
        live-only elements where they were relative to the elements both have."""
        left, right = self.index(shape, lhs) or [], self.index(shape, rhs) or []
        lmap, rmap = dict(left), dict(right)
        shared = deque(e for e, _ in right if e in lmap)
        upcoming = shared.popleft() if shared else None
        out: list[Any] = []
        done: set[str] = set()
        i = j = 0
        while i < len(left) or j < len(right):
            here = left[i][0] if i < len(left) else None
            there = right[j][0] if j < len(right) else ""
            later = there and here != there and upcoming is not None and upcoming != here
            if here is not None and (here not in rmap or here in done or later):
                out.extend([left[i][1]] if here not in rmap else [])
                i += 1
                continue
            out.append(self._merge(lmap.get(there, MISSING), rmap[there], shape.t, None))
            done.add(there)
            i, j = i + (here == there), j + 1
            if there in (upcoming, here):
                upcoming = shared.popleft() if shared else None
        return out

    def prune(self, merged: Any, last: set[Path], kept: set[Path]) -> Any:
        """Remove from ``merged`` what is in ``last`` but not ``kept``: a whole struct
        field goes when nothing under it is kept (``EnsureNamedFieldsAreMembers``)."""
        drop = self.named(last) - self.named(kept)
        return self._remove(merged, encode_fields(drop), self.root, None) if drop else merged

    def named(self, paths: set[Path]) -> set[Path]:
        """``paths`` plus the struct fields on the way to them."""
        out = set(paths)
        for path in paths:
            t = self.root
            for i, element in enumerate(path[:-1]):
                declared = self.schema.field(t, element[2:]) if element[0] == "f" else None
                if declared is not None:
                    out.add(path[: i + 1])
                t = declared.t if declared else (t.item if t is not None else None)
        return out

    def _remove(self, value: Any, tree: dict[str, Any], t: T | None, f: Field | None) -> Any:
        shape = self.shape(t, f, value)
        if shape.kind == "leaf":
            return value
        kept = []
        for element, (item, t2, f2) in self.children(shape, value).items():
            node = tree.get(element)
            if node is None:
                kept.append((element, item))
            elif node and "." not in node:
                kept.append((element, self._remove(item, node, t2, f2)))
        if shape.kind == "list":
            return [item for _, item in kept]
        return {element[2:]: item for element, item in kept}


def _compare_leaf(lhs: Any, rhs: Any, path: Path, out: Diff) -> None:
    if lhs is MISSING:
        out.added.add(path)
    elif rhs is MISSING:
        out.removed.add(path)
    elif not json_equal(lhs, rhs):
        out.modified.add(path)


def _empty(value: Any) -> bool:
    return value is MISSING or value is None or value == {} or value == []
