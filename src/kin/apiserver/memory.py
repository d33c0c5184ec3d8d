"""Handing freed memory back to the system after a large response.

glibc keeps what Python frees in its heaps (one per thread that allocated, and the
storage's reader threads allocate); after a 30 MB list the server held about 65 MB more
than before, until something asked for it back. ``malloc_trim`` is that ask: a few
milliseconds, so it is made only after responses this large.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

__all__ = ["LARGE", "release_freed_memory"]

LARGE = 4 * 1024 * 1024  # bytes of response after which freed memory is handed back


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc: nothing to ask
        return None
    return trim


def release_freed_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
