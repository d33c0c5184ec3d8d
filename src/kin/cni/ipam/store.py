"""Where host-local keeps its reservations: the ``Store`` seam, on disk and in memory.

``DiskStore`` is the reference ``backend/disk`` layout, byte for byte, so kin's
host-local and ``/usr/lib/cni/host-local`` can share one state directory (a node that
switches plugin keeps its pods' addresses, and both may run at once):

    <dataDir or /var/lib/cni/networks>/<network name>/   directory, 0755
        10.244.1.5            one file per address, named by its canonical text, created
                              O_EXCL; content "<containerID>\\r\\n<ifname>", no newline
                              (older versions wrote just "<containerID>": still matched)
        last_reserved_ip.0    the last address reserved from range set 0
        lock                  opened O_CREAT 0750 (go-filemutex); flock(LOCK_EX) is held
                              around every allocation, release and lookup

Reservation files are created 0600 as current upstream does (1.1.1 used 0644); both
plugins run as root, so the mode does not affect sharing.

``MemoryStore`` is the fake for unit tests. It refuses any use without the lock held,
so a test proves the allocator takes the lock around everything it reads or changes.
"""

from __future__ import annotations

import fcntl
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Protocol

    class Store(Protocol):
        """The reservations of one network (the reference ``backend.Store``)."""

        def lock(self) -> None: ...
        def unlock(self) -> None: ...
        def reserve(self, container_id: str, ifname: str, ip: str, range_id: str) -> bool: ...
        def last_reserved_ip(self, range_id: str) -> str | None: ...
        def release(self, ip: str) -> None: ...
        def release_by_id(self, container_id: str, ifname: str) -> None: ...
        def find_by_id(self, container_id: str, ifname: str) -> bool: ...
        def get_by_id(self, container_id: str, ifname: str) -> list[str]: ...
        def reservations(self) -> list[tuple[str, str, str]]: ...


__all__ = ["DEFAULT_DATA_DIR", "DiskStore", "MemoryStore", "locked", "owner", "record"]

DEFAULT_DATA_DIR = "/var/lib/cni/networks"
LAST_IP_PREFIX = "last_reserved_ip."
LOCK_FILE = "lock"
LINE_BREAK = "\r\n"


def record(container_id: str, ifname: str) -> str:
    """What a reservation file holds."""
    return container_id.strip() + LINE_BREAK + ifname


def owner(content: str) -> tuple[str, str]:
    """``(containerID, ifname)`` of a reservation; ifname is "" in the legacy format."""
    container_id, _, ifname = content.strip().partition(LINE_BREAK)
    return container_id, ifname


def _matching(contents: list[tuple[str, str]], container_id: str, ifname: str) -> list[str]:
    """The reservations of (id, ifname); if there are none, those in the legacy format."""
    current, legacy = record(container_id, ifname), container_id.strip()
    hits = [ip for ip, content in contents if content.strip() == current]
    return hits or [ip for ip, content in contents if content.strip() == legacy]


def _held_by(contents: list[tuple[str, str]], container_id: str, ifname: str) -> list[str]:
    """Addresses held by (id, ifname) in either format (the duplicate-allocation check)."""
    current, legacy = record(container_id, ifname), container_id.strip()
    return [ip for ip, content in contents if content.strip() in (current, legacy)]


class locked:
    """``with locked(store):`` holds the store's exclusive lock for the block."""

    __slots__ = ("store",)

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> None:
        self.store.lock()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.store.unlock()


class DiskStore:
    """The reference on-disk store; a context manager that closes the lock file."""

    def __init__(self, network: str, data_dir: str = "") -> None:
        self.dir = os.path.join(data_dir or DEFAULT_DATA_DIR, network)
        os.makedirs(self.dir, 0o755, exist_ok=True)
        flags = os.O_CREAT | os.O_RDONLY | os.O_CLOEXEC
        self._lock_fd = os.open(os.path.join(self.dir, LOCK_FILE), flags, 0o750)

    def __enter__(self) -> DiskStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def lock(self) -> None:
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def unlock(self) -> None:
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def reserve(self, container_id: str, ifname: str, ip: str, range_id: str) -> bool:
        """Claim ``ip`` (False if already taken) and remember it as the set's last."""
        path = os.path.join(self.dir, ip)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            return False
        try:
            _write_all(fd, record(container_id, ifname).encode())
        except OSError:
            os.unlink(path)
            raise
        finally:
            os.close(fd)
        self._write(LAST_IP_PREFIX + range_id, ip)
        return True

    def last_reserved_ip(self, range_id: str) -> str | None:
        return self._read(LAST_IP_PREFIX + range_id)

    def release(self, ip: str) -> None:
        try:
            os.unlink(os.path.join(self.dir, ip))
        except FileNotFoundError:
            return  # already released: not an error (and contextlib costs start-up)

    def release_by_id(self, container_id: str, ifname: str) -> None:
        for ip in _matching(self._contents(), container_id, ifname):
            self.release(ip)

    def find_by_id(self, container_id: str, ifname: str) -> bool:
        return bool(_matching(self._contents(), container_id, ifname))

    def get_by_id(self, container_id: str, ifname: str) -> list[str]:
        return _held_by(self._contents(), container_id, ifname)

    def reservations(self) -> list[tuple[str, str, str]]:
        return [(ip, *owner(content)) for ip, content in self._contents()]

    def _contents(self) -> list[tuple[str, str]]:
        """(name, content) of every file but the lock and last_reserved_ip.* ones."""
        out = []
        with os.scandir(self.dir) as entries:
            for entry in entries:
                if entry.name == LOCK_FILE or entry.name.startswith(LAST_IP_PREFIX):
                    continue
                content = self._read(entry.name) if entry.is_file() else None
                if content is not None:
                    out.append((entry.name, content))
        return out

    def _read(self, name: str) -> str | None:
        try:
            fd = os.open(os.path.join(self.dir, name), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None  # gone meanwhile, or unreadable: the reference skips it too
        try:
            return os.read(fd, 4096).decode(errors="replace")
        finally:
            os.close(fd)

    def _write(self, name: str, text: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        fd = os.open(os.path.join(self.dir, name), flags, 0o600)
        try:
            _write_all(fd, text.encode())
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


class MemoryStore:
    """An in-memory ``Store`` for tests; raises RuntimeError when used without the lock."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}  # address -> reservation content
        self.last: dict[str, str] = {}
        self.held = False

    def lock(self) -> None:
        if self.held:
            raise RuntimeError("MemoryStore: lock taken twice")
        self.held = True

    def unlock(self) -> None:
        self.held = False

    def reserve(self, container_id: str, ifname: str, ip: str, range_id: str) -> bool:
        if ip in self._locked_files():
            return False
        self.files[ip] = record(container_id, ifname)
        self.last[range_id] = ip
        return True

    def last_reserved_ip(self, range_id: str) -> str | None:
        self._locked_files()
        return self.last.get(range_id)

    def release(self, ip: str) -> None:
        self._locked_files().pop(ip, None)

    def release_by_id(self, container_id: str, ifname: str) -> None:
        for ip in _matching(self._contents(), container_id, ifname):
            del self.files[ip]

    def find_by_id(self, container_id: str, ifname: str) -> bool:
        return bool(_matching(self._contents(), container_id, ifname))

    def get_by_id(self, container_id: str, ifname: str) -> list[str]:
        return _held_by(self._contents(), container_id, ifname)

    def reservations(self) -> list[tuple[str, str, str]]:
        return [(ip, *owner(content)) for ip, content in self._contents()]

    def _contents(self) -> list[tuple[str, str]]:
        return list(self._locked_files().items())

    def _locked_files(self) -> dict[str, str]:
        if not self.held:
            raise RuntimeError("MemoryStore used without its lock")
        return self.files
