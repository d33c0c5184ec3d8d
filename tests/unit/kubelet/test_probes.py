"""Readiness probes: a container that starts listening just after its first probe is
Ready within a fraction of a second, not a whole ``periodSeconds`` later; once Ready,
the period holds."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from kin.kubelet.probes import Prober


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pod(port: int, **probe: Any) -> dict[str, Any]:
    readiness = {"tcpSocket": {"port": port}, "periodSeconds": 10, **probe}
    return {"metadata": {"uid": "u1", "name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "readinessProbe": readiness}]}}  # fmt: skip


async def _time_to_ready(pod: dict[str, Any], port: int, listen_after: float) -> float | None:
    changes: list[tuple[float, bool]] = []
    prober = Prober(None, lambda uid, name, ready: changes.append((time.monotonic(), ready)),
                    lambda *args: None)  # fmt: skip
    started = time.monotonic()
    prober.update(pod, {"c": "cid"}, "127.0.0.1")
    await asyncio.sleep(listen_after)
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not any(ready for _, ready in changes):
            await asyncio.sleep(0.01)
    finally:
        prober.forget("u1")
        server.close()
        await server.wait_closed()
    return next((at - started for at, ready in changes if ready), None)


def test_a_container_is_ready_soon_after_it_listens_not_a_period_later() -> None:
    port = _free_port()
    took = asyncio.run(_time_to_ready(_pod(port), port, listen_after=0.1))
    assert took is not None and took < 1.0, took  # periodSeconds is 10


def test_a_success_threshold_above_one_keeps_the_period() -> None:
    port = _free_port()
    took = asyncio.run(_time_to_ready(_pod(port, successThreshold=2), port, listen_after=0.1))
    assert took is None  # two successes 10 s apart: not within the 2 s watched
