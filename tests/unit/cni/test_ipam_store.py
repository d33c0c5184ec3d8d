"""DiskStore writes the reference host-local layout byte for byte, and locks as it does.

The reference reads what kin writes and the other way round (tests/netns/test_host_local.py
proves it with the real binary); these tests pin the format itself.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kin.cni.ipam import store as store_module
from kin.cni.ipam.store import DiskStore, locked, owner, record


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DiskStore]:
    old = os.umask(0o022)
    try:
        with DiskStore("cbr0", str(tmp_path / "networks")) as disk:
            yield disk
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_directory_and_lock_file(store: DiskStore, tmp_path: Path) -> None:
    directory = tmp_path / "networks" / "cbr0"
    assert store.dir == str(directory)
    assert mode(directory) == 0o755
    assert (directory / "lock").read_bytes() == b""
    assert mode(directory / "lock") == 0o750


def test_default_data_dir_is_var_lib_cni_networks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert store_module.DEFAULT_DATA_DIR == "/var/lib/cni/networks"
    monkeypatch.setattr(store_module, "DEFAULT_DATA_DIR", str(tmp_path))
    with DiskStore("cbr0", "") as disk:
        assert disk.dir == str(tmp_path / "cbr0")


def test_a_reservation_is_a_file_named_by_the_address(store: DiskStore) -> None:
    with locked(store):
        assert store.reserve(" c1 ", "eth0", "fd00::2", "1")
    path = Path(store.dir, "fd00::2")
    assert path.read_bytes() == b"c1\r\neth0"
    assert mode(path) == 0o600
    last = Path(store.dir, "last_reserved_ip.1")
    assert last.read_bytes() == b"fd00::2"
    assert mode(last) == 0o600


def test_an_existing_file_is_never_overwritten(store: DiskStore) -> None:
    Path(store.dir, "10.1.2.2").write_text("someone")
    with locked(store):
        assert not store.reserve("c1", "eth0", "10.1.2.2", "0")
        assert store.last_reserved_ip("0") is None
    assert Path(store.dir, "10.1.2.2").read_text() == "someone"


def test_last_reserved_ip_reads_back(store: DiskStore) -> None:
    with locked(store):
        store.reserve("c1", "eth0", "10.1.2.7", "0")
        assert store.last_reserved_ip("0") == "10.1.2.7"
        assert store.last_reserved_ip("1") is None


def test_contents_are_matched_trimmed_current_first_then_legacy(store: DiskStore) -> None:
    files = {"10.1.2.2": "c1\r\neth0\n", "10.1.2.3": " c1 ", "10.1.2.4": "c1\r\neth1"}
    for name, content in files.items():
        Path(store.dir, name).write_text(content, newline="")
    with locked(store):
        assert sorted(store.get_by_id("c1", "eth0")) == ["10.1.2.2", "10.1.2.3"]
        store.release_by_id("c1", "eth0")
        assert sorted(os.listdir(store.dir)) == ["10.1.2.3", "10.1.2.4", "lock"]
        store.release_by_id("c1", "eth0")
        assert store.find_by_id("c1", "eth1") and not store.find_by_id("c1", "eth0")
        assert sorted(store.reservations()) == [("10.1.2.4", "c1", "eth1")]


def test_record_and_owner_are_inverse() -> None:
    assert record("c1", "eth0") == "c1\r\neth0"
    assert owner("c1\r\neth0") == ("c1", "eth0")
    assert owner("c1\n") == ("c1", "")


def test_the_lock_is_an_exclusive_flock_on_the_lock_file(store: DiskStore) -> None:
    other = os.open(os.path.join(store.dir, "lock"), os.O_RDONLY)
    try:
        with locked(store), pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(other)


def test_close_is_idempotent(tmp_path: Path) -> None:
    disk = DiskStore("n", str(tmp_path))
    disk.close()
    disk.close()
