"""Crash-loop back-off, as the kubelet counts it: 10 s after a crash, doubling to 5 minutes,
forgotten once a container has run cleanly for twice the maximum.

The first restart is immediate (there is no back-off yet); each later one waits until
``delay`` has passed since the container last finished.
"""

from __future__ import annotations

import time

__all__ = ["Backoff"]


class Backoff:
    def __init__(self, initial: float = 10.0, maximum: float = 300.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.entries: dict[str, tuple[float, float]] = {}
        """key -> (current delay, when it was last set)."""

    def delay(self, key: str) -> float:
        return self.entries.get(key, (0.0, 0.0))[0]

    def in_backoff(self, key: str, since: float, now: float | None = None) -> bool:
        """True while ``delay`` has not passed since ``since`` (when it last finished)."""
        now = time.time() if now is None else now
        entry = self.entries.get(key)
        if entry is None:
            return False
        delay, updated = entry
        if now - updated > 2 * self.maximum:  # ran cleanly long enough: start over
            del self.entries[key]
            return False
        return now - since < delay

    def next(self, key: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        delay = self.entries.get(key, (0.0, 0.0))[0]
        delay = self.initial if delay == 0 else min(delay * 2, self.maximum)
        self.entries[key] = (delay, now)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self.entries if k.startswith(prefix)]:
            del self.entries[key]
