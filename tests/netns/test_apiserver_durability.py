"""The API server as kin runs it (``python -m kin.apiserver`` over TLS) loses nothing it
acknowledged when it is killed mid-write, on SQLite and on a real etcd.

Writers on several threads create ConfigMaps and record every 201; the server is
SIGKILLed while they are still writing, then started again on the same storage. Every
acknowledged object must be there with its content, resourceVersions must keep
increasing, and a watch resumed from a resourceVersion seen before the crash must
deliver everything after it, in order. The etcd is Debian's, started once for the
module (``kin.testing.etcd``), each test under its own key prefix.
"""

from __future__ import annotations

import secrets
import signal
import threading
import urllib.parse
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from kin.testing.apiserver import Client, ServerProcess
from kin.testing.etcd import EtcdServer, running_etcd
from kin.testing.names import random_name

WRITERS = 4
KILL_AFTER = 150
"""Acknowledged creates before the kill; the writers are still going when it lands."""
NAMESPACE = "durable"


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdServer]:
    with running_etcd() as server:
        yield server


@pytest.fixture(params=["sqlite", "etcd"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'store.db'}"
    server: EtcdServer = request.getfixturevalue("etcd")
    return f"etcd://127.0.0.1:{server.client_port}?prefix=/{random_name()}/registry"


@pytest.fixture
def apiserver(storage: str, tmp_path: Path) -> Iterator[ServerProcess]:
    directory = tmp_path / "apiserver"
    directory.mkdir()
    server = ServerProcess(storage, str(directory))
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


class Writers:
    """Threads creating ConfigMaps until told to stop or the server goes away."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.acked: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.enough = threading.Event()
        self.cut_off = 0  # writers whose connection the kill broke
        self.threads = [threading.Thread(target=self._write, args=(w,)) for w in range(WRITERS)]

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self.threads:
            thread.join(30)

    def _write(self, writer: int) -> None:
        client = self.server.client()
        path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
        try:
            for seq in range(100_000):
                name = f"w{writer}-{seq}"
                data = {"writer": str(writer), "seq": str(seq), "payload": secrets.token_hex(64)}
                try:
                    answer = client.post(path, {"metadata": {"name": name}, "data": data})
                except OSError:  # the server is gone: this write is unacknowledged
                    with self.lock:
                        self.cut_off += 1
                    return
                if answer.status != 201:
                    return
                with self.lock:
                    self.acked[name] = answer.json()
                    if len(self.acked) >= KILL_AFTER:
                        self.enough.set()
        finally:
            client.close()


def rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


# The server dies mid-request by design: http.client then drops a response object whose
# socket the garbage collector closes later, with a ResourceWarning that is not ours.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_crash_mid_write_loses_nothing_acknowledged(apiserver: ServerProcess) -> None:
    apiserver.start()
    setup = apiserver.client()
    assert setup.post("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}}).status == 201
    setup.close()
    with Writers(apiserver) as writers:
        assert writers.enough.wait(60), "the writers did not get going"
        apiserver.stop(signal.SIGKILL)
    acked = writers.acked
    assert len(acked) >= KILL_AFTER
    assert writers.cut_off == WRITERS, "every writer was still writing when the kill landed"
    before = sorted(rv(obj) for obj in acked.values())
    middle = before[len(before) // 2]

    apiserver.start()
    client = apiserver.client()
    try:
        listing = client.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps").json()
        stored = {item["metadata"]["name"]: item for item in listing["items"]}
        missing = sorted(set(acked) - set(stored))
        assert not missing, f"{len(missing)} acknowledged objects lost: {missing[:5]}"
        for name, obj in acked.items():
            assert stored[name]["data"] == obj["data"], name
            assert stored[name]["metadata"]["uid"] == obj["metadata"]["uid"], name
            assert rv(stored[name]) == rv(obj), name
        highest = max(rv(obj) for obj in stored.values())
        assert int(listing["metadata"]["resourceVersion"]) >= highest

        later = client.post(
            f"/api/v1/namespaces/{NAMESPACE}/configmaps",
            {"metadata": {"name": "after-restart"}, "data": {"a": "b"}},
        )
        assert later.status == 201, later
        assert rv(later.json()) > highest

        expected = sorted((rv(o), o["metadata"]["name"]) for o in stored.values() if rv(o) > middle)
        expected.append((rv(later.json()), "after-restart"))
        assert _watch_from(client, middle, len(expected)) == expected
    finally:
        client.close()


def _watch_from(client: Client, after: int, count: int) -> list[tuple[int, str]]:
    query = urllib.parse.urlencode({"watch": "1", "resourceVersion": str(after)})
    events = client.watch(f"/api/v1/namespaces/{NAMESPACE}/configmaps?{query}", timeout=30)
    seen = []
    for event in events:
        assert event["type"] == "ADDED", event
        seen.append((rv(event["object"]), event["object"]["metadata"]["name"]))
        if len(seen) == count:
            break
    cast(Generator[dict[str, Any], None, None], events).close()
    return seen
