"""What every API-client daemon's ``main`` shares: run until SIGTERM or SIGINT.

``until_signalled(work)`` runs the coroutine as a task and returns when it ends (its
exception raised) or when a stop signal arrives (the task cancelled), so a daemon stops
cleanly when its kubelet or the node's supervisor stops it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

__all__ = ["until_signalled"]


async def until_signalled(work: Coroutine[Any, Any, None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    running = asyncio.create_task(work)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if running.done():
        running.result()
    running.cancel()
