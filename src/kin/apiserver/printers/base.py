"""What every printer shares: columns, the Name and Age cells, and small readers of JSON.

A printer is the Python twin of one ``TableHandler`` registration in kube's
``pkg/printers/internalversion/printers.go``: its column definitions (name, type, format,
description, priority) and a row function over the v1 JSON object. The API server
always prints wide (kube calls its printers with ``Wide: true``); kubectl drops the
priority-1 columns itself unless ``-o wide``. Readers here never raise on a missing or
mistyped field: a printer shows what is there, as Go's zero values would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kin.apiserver.errors import APIError
from kin.apiserver.humanize import since
from kin.apiserver.printers.descriptions import DOCS
from kin.apiserver.selectors import selector_from_object

__all__ = [
    "AGE",
    "NAME",
    "Cell",
    "Column",
    "Obj",
    "Printer",
    "Row",
    "age",
    "containers",
    "count",
    "format_label_selector",
    "format_labels",
    "get",
    "integer",
    "items",
    "name",
    "text",
]

Obj = Mapping[str, Any]
Cell = str | int | bool
Row = dict[str, Any]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        """``metav1.TableColumnDefinition`` as JSON (no field is omitempty)."""
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Printer:
    """Columns plus a row function ``(object, now) -> {"cells": [...], "conditions"?: ...}``."""

    columns: tuple[Column, ...]
    row: Callable[[Obj, datetime], Row]


NAME = Column("Name", "string", DOCS["meta.name"], format="name")
AGE = Column("Age", "string", DOCS["meta.creationTimestamp"])


def get(obj: Any, *path: str) -> Any:
    """The value at ``path`` or None, whatever is missing or not an object on the way."""
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def text(obj: Any, *path: str) -> str:
    value = get(obj, *path)
    return value if isinstance(value, str) else "" if value is None else str(value)


def integer(obj: Any, *path: str, default: int = 0) -> int:
    value = get(obj, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def items(obj: Any, *path: str) -> list[Any]:
    value = get(obj, *path)
    return value if isinstance(value, list) else []


def count(obj: Any, *path: str) -> int:
    """How many entries a list or map field has (0 when absent)."""
    value = get(obj, *path)
    return len(value) if isinstance(value, list | Mapping) else 0


def name(obj: Obj) -> str:
    return text(obj, "metadata", "name")


def age(obj: Obj, now: datetime) -> str:
    return since(get(obj, "metadata", "creationTimestamp"), now)


def containers(obj: Obj, *path: str) -> tuple[str, str]:
    """``layoutContainerCells``: container names and images, each comma-joined."""
    specs: Sequence[Any] = items(obj, *path)
    names = ",".join(text(c, "name") for c in specs)
    return names, ",".join(text(c, "image") for c in specs)


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """``labels.FormatLabels``: ``k=v`` pairs sorted by key, or ``<none>``."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: the string form, ``<none>`` if empty, ``<error>``."""
    try:
        shown = str(selector_from_object(selector))
    except APIError:
        return "<error>"
    return shown or "<none>"
