"""The SQLite Storage: the embedded default, one WAL database file per cluster.

Why it is shaped like this:

- **One writer thread, group commit.** Every write goes to a dedicated thread that
  takes all writes waiting at that moment, runs them in one ``BEGIN IMMEDIATE``
  transaction and commits once (``synchronous=FULL``: the WAL is fsynced before any
  write is acknowledged). Writes are serialized without blocking the event loop, and
  one fsync covers a burst of concurrent writers. The revision is read from the file
  inside that transaction, so it stays monotonic across restarts.
- **Checkpoints off the write path.** SQLite's automatic checkpoint runs inside the
  commit that crosses 1,000 WAL pages: it copies them into the database file and fsyncs
  it while every waiting write waits too (10-35 ms here, about once a second under
  steady creates, the whole tail of a create's latency). The writer turns it off; a
  ``Checkpointer`` thread with its own connection runs ``PASSIVE`` checkpoints, which
  never block the writer, at most every ``CHECKPOINT_EVERY`` after a commit.
- **Values live once, in the log.** ``log(rev, key, type, value)`` has one row per
  write (DELETED rows repeat the last state, as watchers want it); ``kv(key, rev)``
  points at each live key's current row. A current read joins the two; a read at an
  older revision (the later pages of a paged list) takes, per key, the newest log row
  at or before it; a watch replays the log by revision, also after a restart.
- **Compaction** (``compact(c)``) records ``c``, then deletes log rows older than ``c``
  that no read at ``c`` or later can see (tombstones, versions superseded at or before
  ``c``) in small transactions between other writes; a crash half-way leaves rows the
  next compaction deletes.
  Lists at revisions >= ``c`` and watches after ``c - 1`` keep working, older ones get
  410, as with etcd. Nothing is compacted unless asked (see
  ``kin.apiserver.storage.compact_periodically``).
- **Reads run on a small thread pool** with one read-only connection per thread; WAL
  lets them proceed while the writer commits, and decoding a 5,000-object list there
  keeps the event loop responsive. Live watch events come from the writer through
  ``hub`` without touching the file.

One process should own the file: another process's writes stay consistent (the
revision lives in the file) but reach this process's watchers only through the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from kin.apiserver import errors
from kin.apiserver.storage import hub, keys
from kin.apiserver.storage.base import ADDED, DELETED, MODIFIED, Event, Texts
from kin.errors import APIError

__all__ = ["SqliteStorage"]

log = logging.getLogger(__name__)

T = TypeVar("T")
SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    rev INTEGER PRIMARY KEY, key TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS log_key_rev ON log (key, rev);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, rev INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta VALUES ('schema', 1), ('revision', 0), ('compacted', 0);
"""
CURRENT = "SELECT kv.key, kv.rev, log.value FROM kv JOIN log ON log.rev = kv.rev"
LIST_NOW = f"{CURRENT} WHERE kv.key >= ? AND kv.key < ? AND kv.key > ? ORDER BY kv.key LIMIT ?"
LIST_AT = """
SELECT l.key, l.rev, l.value FROM log l
WHERE l.key >= :lo AND l.key < :hi AND l.key > :after AND l.rev <= :at AND l.type != 'DELETED'
  AND NOT EXISTS (SELECT 1 FROM log n WHERE n.key = l.key AND n.rev > l.rev AND n.rev <= :at)
ORDER BY l.key LIMIT :n
"""
HISTORY = """
SELECT rev, type, key, value FROM log WHERE rev > ? AND key >= ? AND key < ? ORDER BY rev LIMIT ?
"""
COMPACT = """
DELETE FROM log WHERE rev >= :low AND rev < :high AND (type = 'DELETED' OR EXISTS (
    SELECT 1 FROM log n WHERE n.key = log.key AND n.rev > log.rev AND n.rev <= :c))
"""
COMPACT_STEP = 200
COMPACT_PAUSE = 0.005
BATCH = 512
CHECKPOINT_EVERY = 0.2  # seconds: commits in between share one checkpoint
CHUNK = 1000
Rows = list[tuple[str, int, str]]
Futures = list[asyncio.Future[Any]]
Outcomes = list[Any]
"""Per write: its result, or the APIError it raised."""


class Tx:
    """One writer transaction: the next revision, and the changes it made."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.revision = _meta(db, "revision")
        self.changes: list[hub.Change] = []

    def current(self, key: str, expected: int | None) -> tuple[int, str]:
        row = self.db.execute(f"{CURRENT} WHERE kv.key = ?", (key,)).fetchone()
        if row is None:
            raise keys.not_found(key)
        if expected is not None and row[1] != expected:
            raise keys.conflict(key)
        return row[1], row[2]

    def log(self, kind: str, key: str, text: str) -> int:
        self.revision += 1
        self.db.execute("INSERT INTO log VALUES (?, ?, ?, ?)", (self.revision, key, kind, text))
        self.changes.append((self.revision, kind, key, text))
        return self.revision


Op = Callable[[Tx], Any]


class Writer(threading.Thread):
    """The only thread that writes the file; see the module docstring."""

    def __init__(self, path: str, synchronous: str, settle: Callable[..., None]) -> None:
        super().__init__(name=f"kin-sqlite-writer {path}", daemon=True)
        self.path, self.synchronous, self.settle = path, synchronous, settle
        self.queue: queue.SimpleQueue[tuple[Op, asyncio.Future[Any]] | None] = queue.SimpleQueue()
        self.ready: Future[None] = Future()

    def run(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            db = _connect(self.path)
            db.execute(f"PRAGMA synchronous = {self.synchronous}")
            db.executescript(SCHEMA)
            db.execute("PRAGMA wal_autocheckpoint = 0")
            checkpointer = Checkpointer(self.path, self.synchronous)
        except Exception as exc:
            if db is not None:
                db.close()
            self.ready.set_exception(exc)
            return
        checkpointer.start()
        self.ready.set_result(None)
        try:
            while (batch := self._next_batch()) is not None:
                self._commit(db, batch)
                checkpointer.dirty.set()
        finally:
            checkpointer.stop()
            checkpointer.join()
            db.close()

    def _next_batch(self) -> list[tuple[Op, asyncio.Future[Any]]] | None:
        first = self.queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < BATCH:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self.queue.put(None)  # stop after this batch
                break
            batch.append(item)
        return batch

    def _commit(self, db: sqlite3.Connection, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        outcomes: list[Any] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            tx = Tx(db)
            outcomes = [_attempt(op, tx) for op, _ in batch]
            db.execute("UPDATE meta SET value = ? WHERE name = 'revision'", (tx.revision,))
            db.execute("COMMIT")
            changes = tx.changes
        except Exception as exc:  # the thread outlives any failure; every caller hears of it
            if db.in_transaction:
                db.execute("ROLLBACK")
            why = f"{self.path}: {exc}"
            outcomes, changes = [keys.unavailable("sqlite", why) for _ in batch], []
        self.settle([future for _, future in batch], outcomes, changes)


class Checkpointer(threading.Thread):
    """Copies committed WAL pages into the database file beside the writer; see the
    module docstring. Its connection is opened by the writer's thread before the store
    says it is ready (so a file it cannot open fails the open); a checkpoint that fails is
    logged (when the reason changes) and retried after the next commit."""

    def __init__(self, path: str, synchronous: str) -> None:
        super().__init__(name=f"kin-sqlite-checkpoint {path}", daemon=True)
        self.path = path
        self.dirty = threading.Event()
        self._stopping = threading.Event()
        self._db = _connect(path)
        self._db.execute(f"PRAGMA synchronous = {synchronous}")

    def run(self) -> None:
        failing = ""
        try:
            while self.dirty.wait() and not self._stopping.wait(CHECKPOINT_EVERY):
                self.dirty.clear()
                # stop() sets _stopping before dirty: a dirty it set that this clear()
                # erased is seen here, not waited for forever.
                if self._stopping.is_set():
                    break
                try:
                    self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    failing = ""
                except sqlite3.Error as exc:
                    if str(exc) != failing:
                        log.warning("checkpoint of %s failed (retried after the next commit): %s",
                                    self.path, exc)  # fmt: skip
                    failing = str(exc)
        finally:
            self._db.close()

    def stop(self) -> None:
        self._stopping.set()
        self.dirty.set()


def _attempt(op: Op, tx: Tx) -> Any:
    try:
        return op(tx)
    except APIError as exc:
        return exc


class SqliteStorage:
    """A ``Storage`` in one SQLite file; open with ``await SqliteStorage.open(path)``."""

    def __init__(self, path: str, synchronous: str = "FULL", readers: int = 2) -> None:
        self.path = path
        self._loop = asyncio.get_running_loop()
        self._hub = hub.Hub()
        self._writer = Writer(path, synchronous, self._settle_threadsafe)
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="kin-sqlite-read")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: str, synchronous: str = "FULL", readers: int = 2) -> SqliteStorage:
        """Open (creating if needed) the database at ``path``; 503 if it cannot be."""
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise errors.bad_request(f"invalid sqlite synchronous mode {synchronous!r}")
        store = cls(path, synchronous.upper(), readers)
        store._writer.start()
        try:
            await asyncio.wrap_future(store._writer.ready)
        except Exception as exc:
            store._readers.shutdown()
            raise keys.unavailable("sqlite", f"cannot open {path}: {exc}") from exc
        return store

    async def create(self, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        key, (stored, text) = keys.check_key(key), keys.prepare(obj)

        def create(tx: Tx) -> int:
            # the key's uniqueness is the existence check: one statement less per create
            # in the writer, whose every statement hands the GIL over twice
            try:
                tx.db.execute("INSERT INTO kv VALUES (?, ?)", (key, tx.revision + 1))
            except sqlite3.IntegrityError:
                raise keys.already_exists(key) from None
            return tx.log(ADDED, key, text)

        return keys.revised(stored, await self._write(create))

    async def get(self, key: str) -> dict[str, Any]:
        key = keys.check_key(key)

        def get(db: sqlite3.Connection) -> dict[str, Any]:
            row = db.execute(f"{CURRENT} WHERE kv.key = ?", (key,)).fetchone()
            if row is None:
                raise keys.not_found(key)
            return keys.decode(row[2], row[1], key)

        return await self._read(get)

    async def update(
        self, key: str, obj: dict[str, Any], expected_revision: int | None = None
    ) -> dict[str, Any]:
        key, text = keys.check_key(key), keys.encode(obj)
        expected = keys.check_expected(expected_revision)

        def update(tx: Tx) -> int:
            tx.current(key, expected)
            revision = tx.log(MODIFIED, key, text)
            tx.db.execute("UPDATE kv SET rev = ? WHERE key = ?", (revision, key))
            return revision

        return keys.decode(text, await self._write(update), key)

    async def delete(self, key: str, expected_revision: int | None = None) -> dict[str, Any]:
        key, expected = keys.check_key(key), keys.check_expected(expected_revision)

        def delete(tx: Tx) -> tuple[int, str]:
            _, last = tx.current(key, expected)
            revision = tx.log(DELETED, key, last)
            tx.db.execute("DELETE FROM kv WHERE key = ?", (key,))
            return revision, last

        revision, last = await self._write(delete)
        return keys.decode(last, revision, key)

    async def list(
        self, prefix: str, limit: int = 0, continue_after: str = "", revision: int = 0
    ) -> tuple[list[dict[str, Any]], int, str]:
        prefix, limit = keys.check_prefix(prefix), keys.check_limit(limit)
        revision, after = keys.check_revision(revision), keys.check_continue(continue_after)
        rows, at, last = await self._read(lambda db: _list(db, prefix, limit, after, revision))
        return rows, at, last

    async def list_json(
        self, prefix: str, limit: int = 0, continue_after: str = "", revision: int = 0
    ) -> tuple[Texts, int, str]:
        prefix, limit = keys.check_prefix(prefix), keys.check_limit(limit)
        revision, after = keys.check_revision(revision), keys.check_continue(continue_after)
        texts, at, last = await self._read(
            lambda db: _list(db, prefix, limit, after, revision, keys.list_items)
        )
        return texts, at, last

    def watch(self, prefix: str, after: int) -> AsyncIterator[Event]:
        prefix, after = keys.check_prefix(prefix), keys.check_revision(after, "resourceVersion")
        return hub.watch(self._hub, self._history, prefix, after)

    async def revision(self) -> int:
        return await self._read(lambda db: _meta(db, "revision"))

    async def compact(self, revision: int) -> None:
        """Mark ``revision`` compacted (reads before it get 410 from now on), then delete
        what no later read can see, a few hundred revisions per write transaction so
        that other writes keep flowing (one statement took 4 s for 200,000 rows)."""
        revision = keys.check_revision(revision)
        start: int | None = await self._write(lambda tx: _mark_compacted(tx, revision))
        for low in range(start or revision, revision, COMPACT_STEP):
            bounds = {"low": low, "high": min(low + COMPACT_STEP, revision), "c": revision}
            await self._write(_deleting(COMPACT, bounds))
            await asyncio.sleep(COMPACT_PAUSE)  # let waiting writes have the writer

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._hub.close()
        self._writer.queue.put(None)
        await asyncio.to_thread(self._writer.join)
        await asyncio.to_thread(self._readers.shutdown)
        for db in self._connections:
            db.close()

    async def _write(self, op: Op) -> Any:
        if self._closed:
            raise keys.unavailable("sqlite", f"{self.path} is closed")
        future = self._loop.create_future()
        self._writer.queue.put((op, future))
        return await future

    def _settle_threadsafe(self, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            self._loop.call_soon_threadsafe(self._settle, *args)

    def _settle(self, futures: Futures, outcomes: Outcomes, changes: hub.Changes) -> None:
        if changes:
            self._hub.publish(changes)
        for future, outcome in zip(futures, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise keys.unavailable("sqlite", f"{self.path} is closed")
        return await self._loop.run_in_executor(self._readers, self._run_read, query)

    def _run_read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        try:
            if db is None:
                db = self._local.db = _connect(self.path)
                db.execute("PRAGMA query_only = 1")
                with self._lock:
                    self._connections.append(db)
            db.execute("BEGIN")
            try:
                return query(db)
            finally:
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise keys.unavailable("sqlite", f"{self.path}: {exc}") from exc

    async def _history(self, prefix: str, after: int) -> hub.Changes:
        if self._closed:
            return []
        return await self._read(lambda db: _history(db, prefix, after))


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA journal_mode = WAL")
    return db


def _meta(db: sqlite3.Connection, name: str) -> int:
    value: int = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0]
    return value


def _deleting(statement: str, parameters: dict[str, int]) -> Op:
    def delete(tx: Tx) -> None:
        tx.db.execute(statement, parameters)

    return delete


def _mark_compacted(tx: Tx, revision: int) -> int | None:
    """Record ``revision`` as compacted; the oldest revision left to clean up, or None if
    it was compacted already."""
    if revision <= _meta(tx.db, "compacted"):
        return None
    if revision > tx.revision:
        why = f"the current revision is {tx.revision}"
        raise errors.bad_request(f"cannot compact to revision {revision}: {why}")
    tx.db.execute("UPDATE meta SET value = ? WHERE name = 'compacted'", (revision,))
    oldest: int | None = tx.db.execute("SELECT min(rev) FROM log").fetchone()[0]
    return oldest


def _list(
    db: sqlite3.Connection,
    prefix: str,
    limit: int,
    after: str,
    revision: int,
    shape: Callable[[Rows], list[Any]] = keys.decode_many,
) -> tuple[list[Any], int, str]:
    """Rows under ``prefix`` at ``revision``, decoded (or spliced) here, off the event loop."""
    current, compacted = _meta(db, "revision"), _meta(db, "compacted")
    if revision and revision < compacted:
        raise keys.expired(revision, compacted)
    if revision > current:
        raise keys.future_revision(revision, current)
    at, hi, n = revision or current, keys.prefix_end(prefix), limit + 1 if limit else -1
    if at == current:
        cursor = db.execute(LIST_NOW, (prefix, hi, after, n))
    else:
        cursor = db.execute(LIST_AT, {"lo": prefix, "hi": hi, "after": after, "at": at, "n": n})
    rows = cursor.fetchall()
    more = bool(limit) and len(rows) > limit
    rows = rows[:limit] if more else rows
    return shape(rows), at, rows[-1][0] if more else ""


def _history(db: sqlite3.Connection, prefix: str, after: int) -> hub.Changes:
    compacted = _meta(db, "compacted")
    if after + 1 < compacted:
        raise keys.expired(after, compacted)
    rows = db.execute(HISTORY, (after, prefix, keys.prefix_end(prefix), CHUNK)).fetchall()
    return [(rev, kind, key, text) for rev, kind, key, text in rows]
