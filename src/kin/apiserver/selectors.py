"""Label selectors as kube-apiserver parses them, and the one ``matches`` the registry calls.

``labelSelector=`` is a small language (``k=v``, ``k!=v``, ``k in (a,b)``, ``!k``,
``k>1`` ...) whose grammar, quirks and error wording come from apimachinery's
``labels/selector.go``: a lexer that splits on whitespace and operator characters,
``in``/``notin`` that are keywords only where an operator may stand, ``()`` meaning
the empty value, and parse errors that kubectl shows verbatim (``unable to parse
requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt``). The same requirements
come from ``LabelSelector`` objects (``matchLabels`` + ``matchExpressions``) in
Deployments, ReplicaSets and DaemonSets, and print back in their string form.

Field selectors, and ``matches``/``matcher`` that apply both to a resource's objects,
live in ``fields``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kin.apiserver.errors import bad_request

__all__ = [
    "Requirement",
    "Selector",
    "label_value_errors",
    "parse_label_selector",
    "qualified_name_errors",
    "selector_from_object",
]

IN, NOT_IN, EXISTS, DOES_NOT_EXIST = "in", "notin", "exists", "!"
EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GT, LT = "=", "==", "!=", "gt", "lt"
BINARY = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GT, LT)
_SPELLING = {EQUALS: "=", DOUBLE_EQUALS: "==", NOT_EQUALS: "!=", IN: " in ", NOT_IN: " notin "}
_SPELLING |= {GT: ">", LT: "<"}
_EXPRESSION_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS}
_EXPRESSION_OPERATORS["DoesNotExist"] = DOES_NOT_EXIST

_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_VALUE = f"({_NAME})?"
_NAME_EXAMPLES = ("MyName", "my.name", "123-abc")
_DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = f"{_DNS_LABEL}(\\.{_DNS_LABEL})*"
_IS_NAME, _IS_VALUE, _IS_SUBDOMAIN = (re.compile(p).fullmatch for p in (_NAME, _VALUE, _SUBDOMAIN))
_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, "
_VALUE_MSG += "'-', '_' or '.', and must start and end with an alphanumeric character"
_SUBDOMAIN_MSG = "a DNS-1123 subdomain must consist of lower case alphanumeric characters, "
_SUBDOMAIN_MSG += "'-' or '.', and must start and end with an alphanumeric character"
_INT64 = re.compile(r"[+-]?[0-9]+")


def _is_int64(text: str) -> bool:
    """``strconv.ParseInt(text, 10, 64)`` succeeds."""
    return bool(_INT64.fullmatch(text)) and -(2**63) <= int(text) < 2**63


class _ParseError(Exception):
    """Raised inside the parser; ``parse_label_selector`` turns it into a 400."""


# --- validation: apimachinery util/validation, with its exact wording ---------------------


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def qualified_name_errors(value: str) -> list[str]:
    parts = value.split("/")
    if len(parts) > 2:
        example = " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        return ["a qualified name " + _regex_error(_NAME_MSG, _NAME, *_NAME_EXAMPLES) + example]
    errors = _prefix_errors(parts[0]) if len(parts) == 2 else []
    name = parts[-1]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if not _IS_NAME(name):
        errors.append("name part " + _regex_error(_NAME_MSG, _NAME, *_NAME_EXAMPLES))
    return errors


def _prefix_errors(prefix: str) -> list[str]:
    if not prefix:
        return ["prefix part must be non-empty"]
    errors = ["must be no more than 253 characters"] if len(prefix) > 253 else []
    if not _IS_SUBDOMAIN(prefix):
        errors.append(_regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN, "example.com"))
    return ["prefix part " + e for e in errors]


def label_value_errors(value: str) -> list[str]:
    errors = ["must be no more than 63 characters"] if len(value) > 63 else []
    if not _IS_VALUE(value):
        errors.append(_regex_error(_VALUE_MSG, _VALUE, "MyValue", "my_value", "12345"))
    return errors


def _go_value(value: str | Sequence[str] | None) -> str:
    """Go's ``%q`` for a string, ``%#v`` for a []string (``[]string(nil)`` when nil)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "}"


def _invalid(path: str, value: str | Sequence[str] | None, detail: str) -> str:
    return f"{path}: Invalid value: {_go_value(value)}: {detail}"


def _aggregate(errors: list[str]) -> str:
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# --- requirements and selectors -----------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator in (EXISTS, DOES_NOT_EXIST):
            return (self.key in labels) == (self.operator == EXISTS)
        return self._compare(labels.get(self.key))

    def _compare(self, label: str | None) -> bool:
        if label is None or len(self.values) != 1:
            return False
        if not _is_int64(label) or not _is_int64(self.values[0]):
            return False
        ours, theirs = int(self.values[0]), int(label)
        return theirs > ours if self.operator == GT else theirs < ours

    def __str__(self) -> str:
        text = ("!" if self.operator == DOES_NOT_EXIST else "") + self.key
        if self.operator in (EXISTS, DOES_NOT_EXIST):
            return text
        shown = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            shown = f"({shown})"
        return text + _SPELLING[self.operator] + shown


def new_requirement(key: str, operator: str, values: Sequence[str] | None) -> Requirement:
    """``labels.NewRequirement``: validates and raises ``_ParseError`` with kube's wording."""
    key_errors = qualified_name_errors(key)
    problems = [_invalid("key", key, "; ".join(key_errors))] if key_errors else []
    problems += _operator_errors(operator, values)
    for index, value in enumerate(values or ()):
        if errors := label_value_errors(value):
            problems.append(_invalid(f"values[{index}][{key}]", value, "; ".join(errors)))
    if problems:
        raise _ParseError(_aggregate(problems))
    return Requirement(key, operator, tuple(values or ()))


def _operator_errors(operator: str, values: Sequence[str] | None) -> list[str]:
    count = len(values or ())
    if operator in (IN, NOT_IN) and count == 0:
        detail = "for 'in', 'notin' operators, values set can't be empty"
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and count != 1:
        detail = "exact-match compatibility requires one single value"
    elif operator in (EXISTS, DOES_NOT_EXIST) and count != 0:
        detail = "values set must be empty for exists and does not exist"
    elif operator in (GT, LT):
        return _integer_errors(values or ())
    else:
        return []
    return [_invalid("values", values, detail)]


def _integer_errors(values: Sequence[str]) -> list[str]:
    errors = []
    if len(values) != 1:
        detail = "for 'Gt', 'Lt' operators, exactly one value is required"
        errors.append(_invalid("values", values, detail))
    detail = "for 'Gt', 'Lt' operators, the value must be an integer"
    bad = [(i, v) for i, v in enumerate(values) if not _is_int64(v)]
    return errors + [_invalid(f"values[{i}]", v, detail) for i, v in bad]


class Selector:
    """Requirements ANDed together, sorted by key; ``nothing`` selects no object at all."""

    def __init__(self, requirements: Iterable[Requirement] = (), nothing: bool = False) -> None:
        self.requirements = tuple(sorted(requirements, key=lambda r: r.key))
        self.nothing = nothing

    @property
    def empty(self) -> bool:
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        return all(r.matches(labels or {}) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


# --- the lexer and parser of labels/selector.go -------------------------------------------

ID, EOS, ERROR = "identifier", "end of string", "error"
_KEYWORDS = frozenset({")", ",", "!", "==", "=", ">", "in", "<", "!=", "notin", "("})
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_OPERATOR_TOKENS = {IN: IN, "=": EQUALS, "==": DOUBLE_EQUALS, ">": GT, "<": LT, NOT_IN: NOT_IN}
_OPERATOR_TOKENS |= {"!=": NOT_EQUALS}


def _lex(text: str) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        if pos == len(text):
            return [*items, (EOS, "")]
        scan = _scan_special if text[pos] in _SPECIAL else _scan_word
        token, literal, pos = scan(text, pos)
        items.append((token, literal))


def _scan_word(text: str, pos: int) -> tuple[str, str, int]:
    start = pos
    while pos < len(text) and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
        pos += 1
    word = text[start:pos]
    return (word if word in _KEYWORDS else ID), word, pos


def _scan_special(text: str, pos: int) -> tuple[str, str, int]:
    buffer, last = "", ""
    while pos < len(text) and text[pos] in _SPECIAL:
        if buffer + text[pos] not in _KEYWORDS and last:
            break
        buffer += text[pos]
        pos += 1
        last = buffer if buffer in _KEYWORDS else last
    if not last:
        return ERROR, f"error expected: keyword found '{buffer}'", pos
    return last, last, pos


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.position = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        token, literal = self.items[self.position]
        return (ID if values and token in (IN, NOT_IN) else token), literal

    def take(self, values: bool = True) -> tuple[str, str]:
        item = self.peek(values)
        self.position += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self.peek()
            if token == EOS:
                return requirements
            if token not in (ID, "!"):
                raise _ParseError(f"found '{literal}', expected: !, identifier, or 'end of string'")
            requirements.append(self.requirement())
            token, literal = self.take()
            if token == EOS:
                return requirements
            if token != ",":
                raise _ParseError(f"found '{literal}', expected: ',' or 'end of string'")
            if (after := self.peek())[0] not in (ID, "!"):
                raise _ParseError(f"found '{after[1]}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        try:
            key, operator = self.key_and_operator()
            if operator in (EXISTS, DOES_NOT_EXIST):
                return new_requirement(key, operator, [])
            operator = self.operator()
            values = self.value_set() if operator in (IN, NOT_IN) else self.exact_value()
            return new_requirement(key, operator, sorted(values))
        except _ParseError as exc:
            raise _ParseError(f"unable to parse requirement: {exc}") from exc

    def key_and_operator(self) -> tuple[str, str]:
        token, literal = self.take()
        operator = DOES_NOT_EXIST if token == "!" else ""
        if operator:
            token, literal = self.take()
        if token != ID:
            raise _ParseError(f"found '{literal}', expected: identifier")
        if errors := qualified_name_errors(literal):
            raise _ParseError(_invalid("<nil>", literal, "; ".join(errors)))
        if self.peek()[0] in (EOS, ","):
            operator = operator or EXISTS
        return literal, operator

    def operator(self) -> str:
        token, literal = self.take(values=False)
        if token not in _OPERATOR_TOKENS:
            raise _ParseError(f"found '{literal}', expected: {', '.join(BINARY)}")
        return _OPERATOR_TOKENS[token]

    def value_set(self) -> set[str]:
        token, literal = self.take()
        if token != "(":
            raise _ParseError(f"found '{literal}' expected: '('")
        token, literal = self.peek()
        if token == ")":
            self.take()
            return {""}
        if token not in (ID, ","):
            raise _ParseError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self.identifiers()
        self.take()  # the ')' that ended the list
        return values

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            token, literal = self.take()
            if token == ID:
                values.add(literal)
                after, shown = self.peek()
                if after == ")":
                    return values
                if after != ",":
                    raise _ParseError(f"found '{shown}', expected: ',' or ')'")
            elif token == ",":
                if self._comma(values):
                    return values
            else:
                raise _ParseError(f"found '{literal}', expected: ',', or identifier")

    def _comma(self, values: set[str]) -> bool:
        """A comma in a value list: ``(,``, ``,)`` and ``,,`` all stand for the empty value."""
        if not values:
            values.add("")
        after = self.peek()[0]
        if after in (")", ","):
            values.add("")
            if after == ",":
                self.take()
        return after == ")"

    def exact_value(self) -> set[str]:
        if self.peek()[0] in (EOS, ","):
            return {""}
        token, literal = self.take()
        if token != ID:
            raise _ParseError(f"found '{literal}', expected: identifier")
        return {literal}


# --- public API ---------------------------------------------------------------------------


def parse_label_selector(text: str) -> Selector:
    """Parse ``labelSelector=``; a syntax or validation error is a 400 worded as kube's."""
    try:
        return Selector(_Parser(text).parse())
    except _ParseError as exc:
        raise bad_request(str(exc)) from exc


def selector_from_object(selector: Mapping[str, Any] | None) -> Selector:
    """``metav1.LabelSelectorAsSelector``: None selects nothing, ``{}`` selects everything."""
    if selector is None:
        return Selector(nothing=True)
    labels = sorted((selector.get("matchLabels") or {}).items())
    try:
        requirements = [new_requirement(k, EQUALS, [str(v)]) for k, v in labels]
        requirements += [_expression(e) for e in selector.get("matchExpressions") or ()]
    except _ParseError as exc:
        raise bad_request(str(exc)) from exc
    return Selector(requirements)


def _expression(expression: Mapping[str, Any]) -> Requirement:
    operator = str(expression.get("operator", ""))
    if operator not in _EXPRESSION_OPERATORS:
        raise _ParseError(f"{json.dumps(operator)} is not a valid label selector operator")
    values = expression.get("values")
    values = [str(v) for v in values] if values else None
    return new_requirement(str(expression.get("key", "")), _EXPRESSION_OPERATORS[operator], values)
