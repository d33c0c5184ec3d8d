"""Waiting for something a server does in the background (a watch, a garbage collection)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["eventually"]

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 10.0, every: float = 0.02) -> T:
    """``check()``'s first truthy value, polled until ``timeout``; AssertionError after."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {check}")
        time.sleep(every)
