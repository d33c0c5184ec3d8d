"""Strict YAML decoding that fails the way kind's go-yaml v3 decoder fails.

Why this exists: kin promises that a kind config is accepted or refused exactly as kind
would, with the same words. PyYAML alone cannot give that: it resolves plain scalars by
YAML 1.1 rules (``yes`` is a bool, ``0o17`` a string) and keeps duplicate keys. So we use
PyYAML (libyaml when present) only to compose the first document into nodes, with every
plain scalar left unresolved, and decode those nodes here with go-yaml v3's rules:

* plain scalars resolve as go-yaml resolves them (``resolve_scalar``);
* type mismatches are collected as ``line N: cannot unmarshal !!tag `v` into T`` and decoding
  goes on, as ``yaml.TypeError`` does; unknown fields (``KnownFields(true)``) and duplicate
  keys are collected the same way;
* syntax errors read ``yaml: line N: <problem>``, with go-yaml's line arithmetic;
* ``Abort`` stops decoding at once, as a custom ``UnmarshalYAML`` error or go-yaml's
  ``failf`` does, and discards the collected errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

import yaml
import yaml.composer
import yaml.reader
import yaml.scanner

__all__ = [
    "Abort",
    "DecodeErrors",
    "Decoder",
    "Handler",
    "SyntaxProblem",
    "compose_first",
    "go_quote",
    "resolve_scalar",
]

T = TypeVar("T")
Handler = Callable[[yaml.Node], None]

_PLAIN = "?plain"
_PREFIX = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = "!!str", "!!int", "!!float", "!!bool", "!!null"
TIMESTAMP, MERGE, SEQ, MAP = "!!timestamp", "!!merge", "!!seq", "!!map"

_LOADER_BASE: type[yaml.BaseLoader] = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


class SyntaxProblem(Exception):
    """The text is not YAML; ``str()`` is go-yaml's ``yaml: line N: <problem>``."""


class DecodeErrors(Exception):
    """Collected type errors; ``str()`` is go-yaml's ``yaml: unmarshal errors:`` block."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("yaml: unmarshal errors:\n  " + "\n  ".join(errors))


class Abort(Exception):
    """Decoding stopped at once; ``str()`` is the whole message."""


class _Loader(_LOADER_BASE):  # type: ignore[valid-type,misc]
    """Composes nodes and marks untagged plain scalars so we resolve them go's way."""

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return str(super().resolve(kind, value, implicit))


def compose_first(raw: str | bytes) -> yaml.Node | None:
    """The first document's root node, or None for an empty stream."""
    loader = _Loader(raw)
    try:
        if not loader.check_node():
            return None
        node: yaml.Node = loader.get_node()
        return node
    except yaml.MarkedYAMLError as exc:
        raise SyntaxProblem(_syntax_message(exc, raw)) from exc
    except yaml.reader.ReaderError as exc:
        raise SyntaxProblem(f"yaml: {exc.reason}") from exc
    finally:
        loader.dispose()


def _syntax_message(exc: yaml.MarkedYAMLError, raw: str | bytes) -> str:
    if isinstance(exc, yaml.composer.ComposerError):
        return f"yaml: {_composer_problem(exc, raw)}"
    scanner = isinstance(exc, yaml.scanner.ScannerError)
    line = _error_line(exc.context_mark, exc.problem_mark, scanner)
    where = f"line {line}: " if line else ""
    return f"yaml: {where}{exc.problem or 'unknown problem parsing YAML content'}"


def _error_line(context: yaml.Mark | None, problem: yaml.Mark | None, scanner: bool) -> int:
    # go-yaml reports the context mark's 0-based line, else the problem mark's; only scanner
    # errors get the +1, and line 0 prints no "line" at all.
    for mark in (context, problem):
        if mark is not None and mark.line != 0:
            return mark.line + 1 if scanner else mark.line
    return 0


def _composer_problem(exc: yaml.MarkedYAMLError, raw: str | bytes) -> str:
    problem = exc.problem or ""
    if problem.startswith("found undefined alias"):
        return f"unknown anchor '{_name_at(exc.problem_mark, raw, '*')}' referenced"
    if "duplicate anchor" in (exc.context or ""):
        # go-yaml lets a later anchor replace an earlier one; libyaml's composer refuses.
        return f"found duplicate anchor '{_name_at(exc.problem_mark, raw, '&')}'"
    return problem


def _name_at(mark: yaml.Mark | None, raw: str | bytes, sigil: str) -> str:
    """The anchor or alias name written at ``mark`` (libyaml's errors do not carry it)."""
    if mark is None:
        return ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    match = re.search(re.escape(sigil) + r"([^\s,\[\]{}]+)", text[mark.index :])
    return match.group(1) if match else ""


def go_quote(text: str) -> str:
    """Go's ``%q`` / ``strconv.Quote`` for a string."""
    out = ['"']
    for char in text:
        out.append(_quote_char(char))
    out.append('"')
    return "".join(out)


_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t"}
_ESCAPES |= {"\v": r"\v", '"': r"\"", "\\": r"\\"}


def _quote_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


# -- scalar resolution (go-yaml v3 resolve.go) -------------------------------------------

_WORDS: dict[str, tuple[str, object]] = {
    **dict.fromkeys(("true", "True", "TRUE"), (BOOL, True)),
    **dict.fromkeys(("false", "False", "FALSE"), (BOOL, False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (NULL, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (FLOAT, float("nan"))),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (FLOAT, float("inf"))),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (FLOAT, float("-inf"))),
    "<<": (MERGE, "<<"),
}
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]*)?(Z|[-+][0-9]{1,2}(:[0-9]{2})?)?)?"
)
_INT_BASES = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
_INT64 = range(-(2**63), 2**64)  # int64, then uint64 for positive values


def resolve_scalar(node: yaml.Node) -> tuple[str, object]:
    """(short tag, value) of a scalar node, as go-yaml's decoder sees it."""
    tag = _short_tag(node.tag)
    if tag == STR:
        return STR, node.value
    if tag == _PLAIN:
        return _resolve_plain(node.value)
    if tag not in (BOOL, INT, FLOAT, TIMESTAMP, NULL):
        return tag, node.value
    return _resolve_explicit(tag, node.value)


def _resolve_explicit(tag: str, value: str) -> tuple[str, object]:
    rtag, resolved = _resolve_plain(value)
    if rtag == tag:
        return rtag, resolved
    if tag == FLOAT and rtag == INT and isinstance(resolved, int):
        return FLOAT, float(resolved)
    raise Abort(f"yaml: cannot decode {rtag} `{value}` as a {tag}")


def _resolve_plain(value: str) -> tuple[str, object]:
    if value in _WORDS:
        return _WORDS[value]
    if not value or value[0] not in "0123456789+-.":
        return STR, value
    if value[0] == ".":
        return (FLOAT, float(value)) if _FLOAT_RE.fullmatch(value) else (STR, value)
    if _TIMESTAMP_RE.fullmatch(value):
        return TIMESTAMP, value
    return _resolve_number(value.replace("_", ""), value)


def _resolve_number(plain: str, value: str) -> tuple[str, object]:
    number = _go_parse_int(plain)
    if number is not None:
        return INT, number
    if _FLOAT_RE.fullmatch(plain):
        return FLOAT, float(plain)
    return STR, value


def _go_parse_int(text: str) -> int | None:
    """strconv.ParseInt/ParseUint with base 0 (a leading 0 means octal), 64-bit range."""
    sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    base = _INT_BASES.get(digits[:2], 0)
    if base:
        digits = digits[2:]
    elif len(digits) > 1 and digits[0] == "0":
        base, digits = 8, digits[1:]
    if not digits or not digits.isascii() or not digits.isalnum():
        return None
    try:
        number = int(sign + digits, base or 10)
    except ValueError:
        return None
    return number if number in _INT64 else None


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_PREFIX) :] if tag.startswith(_PREFIX) else tag


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and resolve_scalar(node)[0] == NULL


# -- the decoder ---------------------------------------------------------------------------


class Decoder:
    """Decodes nodes into Python values, collecting go-yaml's type errors in ``errors``.

    Every ``decode`` style method returns None when the node is null or could not be
    decoded (its error is then recorded); callers keep their default in that case.
    """

    def __init__(self, known_fields: bool) -> None:
        self.known_fields = known_fields
        self.errors: list[str] = []

    def check(self) -> None:
        if self.errors:
            raise DecodeErrors(self.errors)

    def type_error(self, node: yaml.Node, type_name: str) -> None:
        tag = _node_tag(node)
        value = "" if tag in (SEQ, MAP) else f" `{_truncate(str(node.value))}`"
        line = node.start_mark.line + 1 if node.start_mark else 0
        self.errors.append(f"line {line}: cannot unmarshal {tag}{value} into {type_name}")

    def string(self, node: yaml.Node, type_name: str = "string") -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.type_error(node, type_name)
            return None
        tag, _ = resolve_scalar(node)
        return None if tag == NULL else str(node.value)

    def int32(self, node: yaml.Node) -> int | None:
        resolved = self._scalar(node)
        if isinstance(resolved, float) and resolved == resolved and abs(resolved) != float("inf"):
            resolved = int(resolved)  # go-yaml truncates floats into integers
        if type(resolved) is int and -(2**31) <= resolved < 2**31:
            return resolved
        self._mismatch(node, "int32")
        return None

    def boolean(self, node: yaml.Node) -> bool | None:
        resolved = self._scalar(node)
        if isinstance(resolved, bool):
            return resolved
        if resolved in ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"):
            return True
        if resolved in ("n", "N", "no", "No", "NO", "off", "Off", "OFF"):
            return False
        self._mismatch(node, "bool")
        return None

    def _scalar(self, node: yaml.Node) -> object:
        return resolve_scalar(node)[1] if isinstance(node, yaml.ScalarNode) else None

    def _mismatch(self, node: yaml.Node, type_name: str) -> None:
        if not _is_null(node):
            self.type_error(node, type_name)

    def sequence(
        self, node: yaml.Node, type_name: str, item: Callable[[yaml.Node], T | None]
    ) -> list[T] | None:
        """A list; null items and items that failed to decode are dropped, as go-yaml does."""
        if not isinstance(node, yaml.SequenceNode):
            self._mismatch(node, type_name)
            return None
        values = (item(child) for child in node.value if not _is_null(child))
        return [value for value in values if value is not None]

    def mapping(
        self, node: yaml.Node, type_name: str, item: Callable[[yaml.Node], T | None], zero: T
    ) -> dict[str, T] | None:
        """A map with string keys; a null value stores ``zero``."""
        if not isinstance(node, yaml.MappingNode):
            self._mismatch(node, type_name)
            return None
        result: dict[str, T] = {}
        for key, _, value_node in self._entries(node, set()):
            value = item(value_node)
            if value is not None or _is_null(value_node):
                result[key] = zero if value is None else value
        return result

    def struct(self, node: yaml.Node, type_name: str, fields: Mapping[str, Handler]) -> bool:
        """Feed each known field to its handler, in document order; report unknown ones."""
        if not isinstance(node, yaml.MappingNode):
            self._mismatch(node, type_name)
            return False
        before = len(self.errors)
        for key, key_node, value_node in self._entries(node, set()):
            handler = fields.get(key)
            if handler is not None:
                handler(value_node)
            elif self.known_fields:
                line = key_node.start_mark.line + 1
                self.errors.append(f"line {line}: field {key} not found in type {type_name}")
        return len(self.errors) == before

    def _entries(
        self, node: yaml.Node, seen: set[str]
    ) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) of a mapping, then of the mappings merged in by ``<<``."""
        if self._duplicates(node):
            return
        merge: yaml.Node | None = None
        for key_node, value_node in node.value:
            if _is_merge(key_node):
                merge = value_node
                continue
            key = self.string(key_node)
            if key is not None and key not in seen:
                seen.add(key)
                yield key, key_node, value_node
        for source in _merge_sources(merge):
            yield from self._entries(source, seen)

    def _duplicates(self, node: yaml.Node) -> bool:
        found = False
        keys: list[yaml.Node] = [key for key, _ in node.value]
        for i, first in enumerate(keys):
            for later in keys[i + 1 :]:
                if type(first) is type(later) and _key_text(first) == _key_text(later):
                    key = go_quote(_key_text(later))
                    self.errors.append(
                        f"line {later.start_mark.line + 1}: mapping key {key}"
                        f" already defined at line {first.start_mark.line + 1}"
                    )
                    found = True
        return found


def _key_text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


def _is_merge(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and resolve_scalar(node)[0] == MERGE


def _merge_sources(merge: yaml.Node | None) -> list[yaml.Node]:
    if merge is None:
        return []
    sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
    if not all(isinstance(source, yaml.MappingNode) for source in sources):
        raise Abort("yaml: map merge requires map or sequence of maps as the value")
    return list(sources)


def _node_tag(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return resolve_scalar(node)[0]
    return _short_tag(node.tag)


def _truncate(value: str) -> str:
    raw = value.encode()
    return raw[:7].decode("utf-8", "replace") + "..." if len(raw) > 10 else value
