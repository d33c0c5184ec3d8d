"""One storage suite, three backends: memory, SQLite (a file per test) and a real etcd.

The etcd is Debian's ``/usr/bin/etcd``, started once for this module on loopback with
random ports and a temporary directory, and stopped at the end; each test works under
its own etcd key prefix, so tests do not see each other's keys (they do share etcd's
store-wide revision, which is why no test assumes absolute revisions). Every scenario
runs in a fresh event loop under a deadline, so a lost event fails rather than hangs.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kin.apiserver.storage import DELETED, MODIFIED, Event, Storage, hub, open_storage
from kin.errors import APIError
from kin.testing.etcd import EtcdServer, running_etcd
from kin.testing.names import random_name

T = TypeVar("T")
DEADLINE = 120.0
PODS = "/registry/pods/"


def pod(name: str, namespace: str = "default", **extra: Any) -> dict[str, Any]:
    metadata = {"name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, **extra}


def key(name: str, namespace: str = "default") -> str:
    return f"{PODS}{namespace}/{name}"


def rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


class Backend:
    """Opens the store under test inside a scenario's event loop."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url

    def run(self, scenario: Callable[[Storage], Awaitable[T]]) -> T:
        return asyncio.run(self._run(scenario))

    async def _run(self, scenario: Callable[[Storage], Awaitable[T]]) -> T:
        store = await open_storage(self.url)
        try:
            async with asyncio.timeout(DEADLINE):
                return await scenario(store)
        finally:
            await store.close()


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdServer]:
    with running_etcd() as server:
        yield server


@pytest.fixture(params=["memory", "sqlite", "etcd"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "memory":
        return Backend("memory", "memory://")
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite://{tmp_path / 'store.db'}")
    server: EtcdServer = request.getfixturevalue("etcd")
    prefix = f"/{random_name()}/registry"
    return Backend("etcd", f"etcd://127.0.0.1:{server.client_port}?prefix={prefix}")


async def expect_error(code: int, awaitable: Awaitable[Any]) -> APIError:
    with pytest.raises(APIError) as caught:
        await awaitable
    assert caught.value.code == code, caught.value.status()
    return caught.value


async def next_or_none(stream: AsyncIterator[Event]) -> Event | None:
    return await anext(stream, None)


async def collect(store: Storage, prefix: str, after: int, count: int) -> list[Event]:
    events: list[Event] = []
    async for event in store.watch(prefix, after):
        events.append(event)
        if len(events) == count:
            break
    return events


# --- single objects -------------------------------------------------------------------


def test_create_and_get_return_the_stored_object_with_its_revision(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        given = pod("web", spec={"containers": [{"name": "c", "image": "nginx"}]})
        given["metadata"]["resourceVersion"] = "999"  # ignored: the store assigns it
        spec = copy.deepcopy(given["spec"])
        created = await store.create(key("web"), given)  # the store takes ``given`` over
        assert rv(created) == await store.revision()
        assert created["spec"] == spec
        created["spec"]["containers"].clear()  # callers never hold the stored value
        got = await store.get(key("web"))
        assert got["spec"] == spec
        assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    backend.run(scenario)


def test_create_twice_is_already_exists_and_get_of_nothing_is_not_found(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        await store.create(key("web"), pod("web"))
        error = await expect_error(409, store.create(key("web"), pod("web")))
        assert (error.reason, error.message) == ("AlreadyExists", 'pods "web" already exists')
        error = await expect_error(404, store.get(key("nope")))
        assert (error.reason, error.message) == ("NotFound", 'pods "nope" not found')
        error = await expect_error(404, store.get("/registry/deployments/default/d"))
        assert error.message == 'deployments.apps "d" not found'

    backend.run(scenario)


def test_update_compares_the_expected_revision(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        first = await store.create(key("web"), pod("web", spec={"n": 1}))
        second = await store.update(key("web"), pod("web", spec={"n": 2}), rv(first))
        assert rv(second) > rv(first)
        error = await expect_error(409, store.update(key("web"), pod("web"), rv(first)))
        assert error.reason == "Conflict"
        assert error.message.startswith('Operation cannot be fulfilled on pods "web": ')
        await expect_error(409, store.update(key("web"), pod("web"), 0))
        third = await store.update(key("web"), pod("web", spec={"n": 3}))  # unconditional
        assert (await store.get(key("web")))["spec"] == {"n": 3}
        assert rv(third) == await store.revision()
        await expect_error(404, store.update(key("gone"), pod("gone")))
        await expect_error(404, store.update(key("gone"), pod("gone"), 0))

    backend.run(scenario)


def test_delete_returns_the_last_state_at_the_deletion_revision(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        created = await store.create(key("web"), pod("web", spec={"n": 1}))
        await expect_error(409, store.delete(key("web"), rv(created) + 1000))
        deleted = await store.delete(key("web"), rv(created))
        assert deleted["spec"] == {"n": 1}
        assert rv(deleted) > rv(created)
        assert rv(deleted) == await store.revision()
        await expect_error(404, store.get(key("web")))
        await expect_error(404, store.delete(key("web")))
        await expect_error(404, store.delete(key("web"), 0))
        again = await store.create(key("web"), pod("web"))  # the name is free again
        assert rv(again) > rv(deleted)

    backend.run(scenario)


def test_every_write_gets_the_next_store_wide_revision(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        revisions = [await store.revision()]
        for name in ("a", "b", "c"):
            revisions.append(rv(await store.create(key(name), pod(name))))
        revisions.append(rv(await store.update(key("a"), pod("a"))))
        revisions.append(rv(await store.delete(key("b"))))
        assert revisions == sorted(set(revisions))
        if backend.name != "etcd":  # etcd's revision is shared with other tests' prefixes
            assert revisions == list(range(revisions[0], revisions[0] + 6))
        assert await store.revision() == revisions[-1]

    backend.run(scenario)


def test_bad_input_is_a_400_and_the_store_keeps_working(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        bad: list[Awaitable[Any]] = [
            store.create("pods/default/x", pod("x")),
            store.create("/registry/pods/", pod("x")),
            store.create("/other/pods/x", pod("x")),
            store.create(key("x\x00"), pod("x")),
            store.create(key("x"), ["not", "an", "object"]),  # type: ignore[arg-type]
            store.create(key("x"), {"metadata": "nope"}),
            store.create(key("x"), {"metadata": {}, "when": object()}),
            store.create(key("x"), {"metadata": {}, "n": 2**70}),  # beyond int64
            store.update(key("x"), pod("x"), -1),
            store.update(key("x"), pod("x"), "7"),  # type: ignore[arg-type]
            store.list(PODS, limit=-1),
            store.list(PODS, revision=-3),
            store.list("registry/pods"),
            store.list(PODS, continue_after=3),  # type: ignore[arg-type]
            store.get(None),  # type: ignore[arg-type]
            store.compact(-1),
        ]
        for awaitable in bad:
            await expect_error(400, awaitable)
        with pytest.raises(APIError) as caught:
            store.watch("nope", 0)
        assert caught.value.code == 400
        assert rv(await store.create(key("x"), pod("x"))) == await store.revision()

    backend.run(scenario)


# --- lists ----------------------------------------------------------------------------


def test_list_is_in_key_order_under_the_prefix_only(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        names = [f"p{i:02}" for i in range(20)]
        for name in random.sample(names, len(names)):
            await store.create(key(name), pod(name))
        await store.create(key("other", "default2"), pod("other", "default2"))
        await store.create("/registry/services/specs/default/s", {"metadata": {"name": "s"}})
        items, revision, more = await store.list(f"{PODS}default/")
        assert [i["metadata"]["name"] for i in items] == names
        assert more == ""
        assert revision == await store.revision()
        for item in items:
            assert rv(item) == rv(await store.get(key(item["metadata"]["name"])))
        everything, _, _ = await store.list("/registry")
        assert len(everything) == 22
        assert [i["metadata"]["name"] for i in everything][-2:] == ["other", "s"]

    backend.run(scenario)


def test_paged_list_is_one_consistent_snapshot(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        for i in range(10):
            await store.create(key(f"p{i}"), pod(f"p{i}", spec={"v": 0}))
        whole, _, _ = await store.list(PODS)
        first, revision, after = await store.list(PODS, limit=4)
        assert [i["metadata"]["name"] for i in first] == ["p0", "p1", "p2", "p3"]
        assert after == key("p3")
        await store.delete(key("p5"))
        await store.update(key("p6"), pod("p6", spec={"v": 1}))
        await store.create(key("p45"), pod("p45"))
        await store.create(key("p99"), pod("p99"))
        pages = [first]
        while after:
            page, at, after = await store.list(PODS, 4, after, revision)
            assert at == revision
            pages.append(page)
        assert [len(page) for page in pages] == [4, 4, 2]
        assert [item for page in pages for item in page] == whole
        now, _, _ = await store.list(PODS, continue_after=key("p4"))
        assert [i["metadata"]["name"] for i in now] == ["p45", "p6", "p7", "p8", "p9", "p99"]
        assert now[1]["spec"] == {"v": 1}

    backend.run(scenario)


def test_json_lists_are_the_lists_items_as_text(backend: Backend) -> None:
    """``list_json`` (the unfiltered list's fast path) says what ``list`` says, as list
    items: resourceVersion set, no apiVersion or kind, and pages at one revision."""

    async def scenario(store: Storage) -> None:
        for i in range(6):
            body = {"apiVersion": "v1", "kind": "Pod", **pod(f"p{i}", spec={"v": i})}
            await store.create(key(f"p{i}"), body)
        await store.update(key("p2"), {"kind": "Pod", **pod("p2", spec={"v": 20})})
        whole, revision, _ = await store.list(PODS)
        texts, at, after = await store.list_json(PODS, limit=4)
        assert at == revision and after == key("p3")
        rest, at, after = await store.list_json(PODS, 4, after, revision)
        assert at == revision and after == ""
        items = [json.loads(text) for text in texts + rest]
        expected = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in whole]
        assert items == expected
        assert all(next(iter(item["metadata"])) == "resourceVersion" for item in items)

    backend.run(scenario)


def test_lists_outside_the_kept_history_are_410_or_504(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        old = rv(await store.create(key("a"), pod("a")))
        await store.update(key("a"), pod("a"))
        latest = rv(await store.create(key("b"), pod("b")))
        await store.compact(latest)
        error = await expect_error(410, store.list(PODS, 1, key("a"), old))
        assert error.reason == "Expired"
        items, at, _ = await store.list(PODS, revision=latest)
        assert ([i["metadata"]["name"] for i in items], at) == (["a", "b"], latest)
        error = await expect_error(504, store.list(PODS, revision=latest + 1000))
        assert error.message.startswith("Too large resource version")

    backend.run(scenario)


def test_compaction_keeps_every_live_object_and_no_deleted_one(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        for i in range(6):
            await store.create(key(f"p{i}"), pod(f"p{i}", spec={"v": 0}))
        for i in range(3):
            await store.update(key(f"p{i}"), pod(f"p{i}", spec={"v": 1}))
        await store.delete(key("p5"))
        before, _, _ = await store.list(PODS)
        await store.compact(await store.revision())
        await store.compact(1)  # older than what is compacted: nothing to do
        after, _, _ = await store.list(PODS)
        assert after == before
        assert [i["metadata"]["name"] for i in after] == ["p0", "p1", "p2", "p3", "p4"]
        paged, revision, more = await store.list(PODS, limit=2)
        rest, _, _ = await store.list(PODS, 0, more, revision)
        assert paged + rest == before
        await expect_error(400, store.compact(await store.revision() + 1000))

    backend.run(scenario)


def test_lists_stay_consistent_while_a_compaction_runs_beside_writes(backend: Backend) -> None:
    """SQLite deletes compacted history in small transactions between other writes; reads
    at the compacted revision must see the same objects throughout."""

    async def scenario(store: Storage) -> None:
        names = [f"p{i:04}" for i in range(1000)]
        await asyncio.gather(*(store.create(key(n), pod(n, spec={"v": 0})) for n in names))
        await asyncio.gather(*(store.update(key(n), pod(n, spec={"v": 1})) for n in names[::2]))
        await asyncio.gather(*(store.delete(key(n)) for n in names[::4]))
        before, at, _ = await store.list(PODS)
        compaction = asyncio.create_task(store.compact(at))
        while not compaction.done():
            await store.create(key(f"new-{random_name()}"), pod("new"))
            pages, after = [], ""
            while True:
                page, _, after = await store.list(PODS, 300, after, at)
                pages += page
                if not after:
                    break
            assert pages == before
        await compaction
        assert (await store.list(PODS, revision=at))[0] == before

    backend.run(scenario)


# --- watches --------------------------------------------------------------------------


def test_watch_replays_from_a_revision_then_follows(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        start = await store.revision()
        await store.create(key("a"), pod("a"))
        await store.update(key("a"), pod("a", spec={"v": 1}))
        watcher = asyncio.create_task(collect(store, PODS, start, 4))
        await asyncio.sleep(0.2)
        last = await store.delete(key("a"))
        await store.create(key("b"), pod("b"))
        events = await watcher
        assert [(e.type, e.key) for e in events] == [
            ("ADDED", key("a")),
            ("MODIFIED", key("a")),
            ("DELETED", key("a")),
            ("ADDED", key("b")),
        ]
        assert [e.revision for e in events] == sorted({e.revision for e in events})
        assert all(rv(e.object) == e.revision for e in events)
        assert events[1].object["spec"] == {"v": 1}
        assert events[2].object == last

    backend.run(scenario)


def test_watch_from_the_current_revision_sees_only_later_changes(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        await store.create(key("old"), pod("old"))
        now = await store.revision()
        watcher = asyncio.create_task(collect(store, PODS, now, 1))
        await asyncio.sleep(0.2)
        created = await store.create(key("new"), pod("new"))
        (event,) = await watcher
        assert (event.type, event.key, event.revision) == ("ADDED", key("new"), rv(created))

    backend.run(scenario)


def test_watch_sees_only_its_prefix(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        start = await store.revision()
        await store.create(key("a", "one"), pod("a", "one"))
        await store.create(key("a", "one2"), pod("a", "one2"))
        await store.create("/registry/configmaps/one/a", {"metadata": {"name": "a"}})
        await store.create(key("b", "one"), pod("b", "one"))
        events = await collect(store, f"{PODS}one/", start, 2)
        assert [e.key for e in events] == [key("a", "one"), key("b", "one")]

    backend.run(scenario)


def test_watch_from_a_compacted_revision_is_expired(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        start = await store.revision()
        await store.create(key("a"), pod("a"))
        await store.update(key("a"), pod("a"))
        changed = rv(await store.update(key("a"), pod("a", spec={"v": 2})))
        await store.compact(changed)
        error = await expect_error(410, anext(store.watch(PODS, start)))
        assert error.reason == "Expired"
        (event,) = await collect(store, PODS, changed - 1, 1)  # the compacted revision stays
        assert (event.type, event.revision, event.object["spec"]) == (MODIFIED, changed, {"v": 2})

    backend.run(scenario)


def test_many_writers_and_watchers_lose_and_reorder_nothing(backend: Backend) -> None:
    """1,000 writes from 50 tasks; three watchers: from the start, from a revision taken
    mid-way (set up while writes go on), and from the start on one namespace."""

    async def scenario(store: Storage) -> None:
        start = await store.revision()
        acknowledged: list[tuple[int, str, str]] = []
        mid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def writer(task: int) -> None:
            for i in range(20):
                name, namespace = f"w{task}-{i}", f"ns{task % 5}"
                if i % 4 == 3:
                    obj = await store.delete(key(f"w{task}-{i - 1}", namespace))
                    acknowledged.append((rv(obj), DELETED, key(f"w{task}-{i - 1}", namespace)))
                else:
                    obj = await store.create(key(name, namespace), pod(name, namespace))
                    acknowledged.append((rv(obj), "ADDED", key(name, namespace)))
                if len(acknowledged) == 300 and not mid.done():
                    mid.set_result(await store.revision())

        everything = asyncio.create_task(collect(store, PODS, start, 1000))
        one_namespace = asyncio.create_task(collect(store, f"{PODS}ns3/", start, 200))
        writers = [asyncio.create_task(writer(task)) for task in range(50)]
        later = await mid
        from_mid = asyncio.create_task(
            collect(store, PODS, later, sum(1 for a in acknowledged if a[0] > later) or 1)
        )
        await asyncio.gather(*writers)
        expected = sorted(acknowledged)
        assert len({a[0] for a in expected}) == 1000
        seen = [(e.revision, e.type, e.key) for e in await everything]
        assert seen == expected
        ns3 = [(e.revision, e.type, e.key) for e in await one_namespace]
        assert ns3 == [a for a in expected if a[2].startswith(f"{PODS}ns3/")]
        tail = [(e.revision, e.type, e.key) for e in await from_mid]
        assert tail == [a for a in expected if a[0] > later][: len(tail)]

    backend.run(scenario)


def test_a_watcher_that_falls_behind_still_sees_everything(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory and SQLite stop buffering for it after 50 changes and replay their log."""
    monkeypatch.setattr(hub, "BUFFER_LIMIT", 50)

    async def scenario(store: Storage) -> None:
        stream = store.watch(PODS, await store.revision())
        writing = asyncio.create_task(store.create(key("s0"), pod("s0")))
        first = await anext(stream)  # subscribed; now fall far behind
        await writing
        await asyncio.gather(*(store.create(key(f"s{i}"), pod(f"s{i}")) for i in range(1, 300)))
        rest = [await anext(stream) for _ in range(299)]
        await stream.aclose()  # type: ignore[attr-defined]
        revisions = [first.revision] + [e.revision for e in rest]
        assert revisions == sorted(set(revisions))
        assert {e.key for e in [first, *rest]} == {key(f"s{i}") for i in range(300)}

    backend.run(scenario)


def test_closing_the_store_ends_its_watches(backend: Backend) -> None:
    async def scenario(store: Storage) -> None:
        stream = store.watch(PODS, await store.revision())
        waiting = asyncio.create_task(next_or_none(stream))
        await asyncio.sleep(0.2)
        await store.close()
        assert await waiting is None

    backend.run(scenario)


# --- durability and failures -----------------------------------------------------------

WRITER = """
import asyncio, sys
from kin.apiserver.storage import SqliteStorage

async def main(path):
    store = await SqliteStorage.open(path)
    async def write(task):
        for i in range(100000):
            name = f"/registry/pods/t{task}/p{i}"
            obj = await store.create(name, {"metadata": {"name": f"p{i}"}, "n": i})
            print(obj["metadata"]["resourceVersion"], name, flush=True)
    await asyncio.gather(*(write(task) for task in range(16)))

asyncio.run(main(sys.argv[1]))
"""


def test_sqlite_loses_nothing_acknowledged_when_its_writer_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    acknowledged: list[tuple[int, str]] = []
    try:
        assert writer.stdout is not None
        for line in writer.stdout:
            revision, name = line.split()
            acknowledged.append((int(revision), name))
            if len(acknowledged) == 2000:
                os.kill(writer.pid, signal.SIGKILL)  # mid-batch, mid-fsync, mid-whatever
                break
        complete = [line for line in writer.stdout if line.endswith("\n")]  # printed in full
        acknowledged += [(int(r), n) for r, n in (line.split() for line in complete)]
    finally:
        writer.kill()
        writer.wait()
        if writer.stdout is not None:
            writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    async def check(store: Storage) -> None:
        items, revision, _ = await store.list("/registry/pods/")
        assert len(items) >= len(acknowledged)
        for wanted_revision, name in acknowledged:
            assert rv(await store.get(name)) == wanted_revision
        assert revision >= max(r for r, _ in acknowledged)
        after = rv(await store.create(key("after-restart"), pod("after-restart")))
        assert after == revision + 1
        replay = await collect(store, "/registry/pods/", 0, len(items))
        assert [e.revision for e in replay] == list(range(1, len(items) + 1))

    Backend("sqlite", f"sqlite://{path}").run(check)


def test_etcd_loses_nothing_acknowledged_when_it_is_killed_and_restarted() -> None:
    """16 writers until etcd is SIGKILLed mid-way; etcd restarts on the same data; every
    acknowledged write is there, and a watch that ran throughout reconnected and saw
    each of them once, in order."""
    with running_etcd() as server:

        async def scenario(store: Storage) -> None:
            start, acknowledged = await store.revision(), []

            async def write(task: int) -> None:
                for i in range(100000):
                    name = key(f"p{i}", f"t{task}")
                    try:
                        obj = await store.create(name, pod(f"p{i}", f"t{task}"))
                    except APIError as exc:
                        assert exc.code == 503 and "etcd" in exc.message
                        return
                    acknowledged.append((rv(obj), name))
                    if len(acknowledged) == 1000:
                        await asyncio.to_thread(server.kill)

            watching = asyncio.create_task(watch_until(store, start, key("after-restart")))
            await asyncio.gather(*(write(task) for task in range(16)))
            await asyncio.to_thread(server.start)
            for revision, name in acknowledged:
                assert rv(await store.get(name)) == revision
            last = await store.create(key("after-restart"), pod("after-restart"))
            assert rv(last) > max(r for r, _ in acknowledged)
            seen = [(e.revision, e.key) for e in await watching]
            assert seen == sorted(set(seen))
            assert set(acknowledged) <= set(seen)

        Backend("etcd", f"etcd://127.0.0.1:{server.client_port}").run(scenario)


async def watch_until(store: Storage, after: int, last_key: str) -> list[Event]:
    events: list[Event] = []
    async for event in store.watch(PODS, after):
        events.append(event)
        if event.key == last_key:
            return events
    return events


def test_sqlite_watch_resumes_from_a_revision_after_a_restart(tmp_path: Path) -> None:
    sqlite = Backend("sqlite", f"sqlite://{tmp_path / 'store.db'}")

    async def write(store: Storage) -> int:
        start = await store.revision()
        await store.create(key("a"), pod("a"))
        await store.delete(key("a"))
        return start

    start = sqlite.run(write)

    async def watch(store: Storage) -> None:
        events = await collect(store, PODS, start, 2)
        assert [(e.type, e.revision) for e in events] == [("ADDED", 1), ("DELETED", 2)]
        assert events[1].object["metadata"]["name"] == "a"

    sqlite.run(watch)


def test_unreachable_backends_are_503_naming_them(tmp_path: Path) -> None:
    async def open_fails(url: str) -> APIError:
        return await expect_error(503, open_storage(url))

    error = asyncio.run(open_fails("etcd://127.0.0.1:1"))
    assert "etcd" in error.message and "127.0.0.1:1" in error.message
    error = asyncio.run(open_fails(f"sqlite://{tmp_path / 'missing' / 'store.db'}"))
    assert "sqlite" in error.message and "missing" in error.message
