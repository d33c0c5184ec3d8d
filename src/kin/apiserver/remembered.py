"""A small, bounded memory of recent values, for work a create repeats.

Creates of one template (a controller's pods) repeat the same spec: its managed fields
and its validation need not be worked out again. Creates of distinct objects repeat
nothing, and must not pay for a memory they never use: ``Remembered`` keeps what it is
given in least-recently-used order, bounded by count, so a stream of one-off values
passes through without pushing out the template that every other create hits.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["LARGEST", "Remembered"]

LARGEST = 16 * 1024  # bytes of JSON: a larger value is worked out every time, not kept

V = TypeVar("V")
_ABSENT = object()


class Remembered(Generic[V]):
    """At most ``size`` values by key, the least recently used forgotten first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: dict[Hashable, V] = {}
        self._lock = threading.Lock()  # an in-process test server runs on its own thread

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._values.pop(key, _ABSENT)
            if value is _ABSENT:
                return None
            self._values[key] = value  # type: ignore[assignment]  # now the most recent
            return value  # type: ignore[return-value]

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._values.pop(key, None)
            if len(self._values) >= self.size:
                del self._values[next(iter(self._values))]
            self._values[key] = value

    def __len__(self) -> int:
        return len(self._values)
