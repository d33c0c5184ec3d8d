"""What only the SQLite Storage does; the semantics every Storage shares are tested in
tests/netns/test_storage_backends.py."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path

from kin.apiserver.storage import SqliteStorage
from kin.apiserver.storage.sqlite import Checkpointer


def test_commits_are_checkpointed_into_the_file_by_the_checkpointer(tmp_path: Path) -> None:
    """The writer never checkpoints (a checkpoint inside a commit stalls every waiting
    write); the checkpointer thread must, or the database file would stay empty and the
    WAL grow until the server stops."""
    path = tmp_path / "store.db"
    value = "x" * 4000

    async def scenario() -> tuple[int, int]:
        store = await SqliteStorage.open(str(path))
        try:
            empty = os.path.getsize(path)
            for i in range(100):  # about 100 pages: far below SQLite's own 1,000-page trigger
                body = {"kind": "ConfigMap", "metadata": {"name": f"c{i}"}, "data": {"v": value}}
                await store.create(f"/registry/configmaps/default/c{i}", body)
            for _ in range(100):
                if os.path.getsize(path) > 100 * len(value):
                    break
                await asyncio.sleep(0.05)
            return empty, os.path.getsize(path)
        finally:
            await store.close()

    empty, filled = asyncio.run(scenario())
    assert filled > 100 * len(value) > empty, (empty, filled)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM kv").fetchone() == (100,)


def test_a_checkpointer_stopped_while_it_clears_its_flag_still_stops(tmp_path: Path) -> None:
    """stop() landing between the wait that timed out and the clear() of ``dirty`` once
    left the thread waiting for a flag that had just been erased, and the store's close
    hung (a CI run stuck in test_storage_backends)."""
    checkpointer = Checkpointer(str(tmp_path / "store.db"), "FULL")

    class StopOnFirstClear(threading.Event):
        def clear(self) -> None:
            if not checkpointer._stopping.is_set():
                checkpointer.stop()  # exactly in the window
            super().clear()

    checkpointer.dirty = StopOnFirstClear()
    checkpointer.start()
    checkpointer.dirty.set()
    checkpointer.join(timeout=5)
    assert not checkpointer.is_alive()
