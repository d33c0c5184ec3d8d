"""The memory backend, the watch fan-out it shares with SQLite, the URL factory and the
compaction policy, without root. The full semantics suite, which runs the same tests
against memory, SQLite and a real etcd, is ``tests/netns/test_storage_backends.py``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kin.apiserver.storage import (
    Event,
    MemoryStorage,
    SqliteStorage,
    compact_periodically,
    hub,
    open_storage,
)
from kin.errors import APIError

T = TypeVar("T")


def run(scenario: Callable[[MemoryStorage], Awaitable[T]]) -> T:
    async def main() -> T:
        store = MemoryStorage()
        try:
            async with asyncio.timeout(20):
                return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def next_event(stream: AsyncIterator[Event]) -> Event:
    return await anext(stream)


def pod(name: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default"}, **extra}


def key(name: str) -> str:
    return f"/registry/pods/default/{name}"


def test_memory_keeps_only_what_reads_after_the_compaction_can_see() -> None:
    async def scenario(store: MemoryStorage) -> None:
        await store.create(key("a"), pod("a"))
        await store.update(key("a"), pod("a", v=2))
        await store.create(key("b"), pod("b"))
        deleted_at = (await store.delete(key("b")))["metadata"]["resourceVersion"]
        await store.create(key("c"), pod("c"))
        await store.compact(int(deleted_at))
        assert store._versions[key("a")] == [(2, store._versions[key("a")][0][1])]
        assert [v[1] is None for v in store._versions[key("b")]] == [True]  # deleted at 4
        assert len(store._log) == 2  # revisions 4 and 5
        await store.compact(5)
        assert key("b") not in store._versions and key("b") not in store._keys
        assert [k for k in store._keys] == [key("a"), key("c")]

    run(scenario)


def test_a_watcher_that_overflows_its_buffer_replays_from_the_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hub, "BUFFER_LIMIT", 5)

    async def scenario(store: MemoryStorage) -> None:
        stream = store.watch("/registry/pods/", 0)
        waiting = asyncio.create_task(next_event(stream))
        await asyncio.sleep(0)
        for i in range(20):
            await store.create(key(f"p{i:02}"), pod(f"p{i:02}"))
        (subscription,) = store._hub._subscriptions
        assert subscription.overflowed and not subscription.pending
        events = [await waiting] + [await anext(stream) for _ in range(19)]
        assert [e.revision for e in events] == list(range(1, 21))
        await stream.aclose()  # type: ignore[attr-defined]
        assert len(store._hub) == 0

    run(scenario)


def test_each_watcher_gets_its_own_copy_of_every_object() -> None:
    async def scenario(store: MemoryStorage) -> None:
        one, two = store.watch("/registry/", 0), store.watch("/registry/", 0)
        await store.create(key("a"), pod("a", spec={"x": 1}))
        first, second = await anext(one), await anext(two)
        first.object["spec"]["x"] = 99
        assert second.object["spec"] == {"x": 1}

    run(scenario)


def test_writes_after_close_are_503() -> None:
    async def scenario(store: MemoryStorage) -> None:
        await store.close()
        with pytest.raises(APIError) as caught:
            await store.create(key("a"), pod("a"))
        assert caught.value.code == 503 and "memory" in caught.value.message

    run(scenario)


def test_open_storage_by_url(tmp_path: Path) -> None:
    async def scenario() -> None:
        memory = await open_storage("memory://")
        assert isinstance(memory, MemoryStorage)
        sqlite = await open_storage(f"sqlite://{tmp_path}/s.db?synchronous=normal")
        assert isinstance(sqlite, SqliteStorage) and sqlite.path == f"{tmp_path}/s.db"
        for store in (memory, sqlite):
            await store.create(key("a"), pod("a"))
            await store.close()
        assert (tmp_path / "s.db").exists()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "url",
    [
        "",
        "memory",
        "memory://x",
        "sqlite://",
        "sqlite:///x.db?mode=fast",
        "sqlite:///x.db?synchronous=sometimes",
        "etcd://",
        "etcd://127.0.0.1:2379/path",
        "postgres://localhost",
    ],
)
def test_bad_storage_urls_are_400(url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        with pytest.raises(APIError) as caught:
            await open_storage(url.replace("x.db", f"{tmp_path}/x.db"))
        assert caught.value.code == 400

    asyncio.run(scenario())


def test_compaction_policy_compacts_to_what_it_saw_one_interval_ago() -> None:
    async def scenario(store: MemoryStorage) -> None:
        compacted: list[int] = []
        real_compact = store.compact

        async def compact(revision: int) -> None:
            compacted.append(revision)
            await real_compact(revision)

        store.compact = compact  # type: ignore[method-assign]
        await store.create(key("a"), pod("a"))
        policy = asyncio.create_task(compact_periodically(store, interval=0.2))
        await asyncio.sleep(0.1)
        await store.update(key("a"), pod("a"))  # revision 2 during the first interval
        await asyncio.sleep(0.2)
        await store.update(key("a"), pod("a"))  # revision 3 during the second
        await asyncio.sleep(0.2)
        policy.cancel()
        with pytest.raises(asyncio.CancelledError):
            await policy
        assert compacted[:2] == [1, 2]
        assert store._compacted == compacted[-1]

    run(scenario)
