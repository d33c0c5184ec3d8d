"""What every API-client daemon's ``main`` shares: run until SIGTERM or SIGINT.

``until_signalled(work)`` runs the coroutine as a task and returns when it ends (its
exception raised) or when a stop signal arrives (the task cancelled), so a daemon stops
cleanly when its kubelet or the node's supervisor stops it. ``run_main`` is a whole
``main``: logging, a process title with the flags, and a KinError as one log line and
exit code 1.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from kin.errors import KinError
from kin.proctitle import set_process_title

__all__ = ["run_main", "until_signalled"]


def run_main(
    name: str, argv: list[str] | None, start: Callable[[list[str]], Coroutine[Any, Any, None]]
) -> int:
    """Run ``start(args)`` (``argv``, or the command line's) to its end as daemon ``name``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = sys.argv[1:] if argv is None else argv
    set_process_title(" ".join([name, *args]))
    try:
        asyncio.run(start(args))
    except KinError as exc:
        logging.getLogger(name).error("%s", exc)
        return 1
    return 0


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
