"""Container logs in the CRI format, the one the kubelet, crictl and `kubectl logs` read.

Each record is ``<RFC3339Nano time> <stdout|stderr> <F|P> <content>\\n``: ``F`` ends a
line, ``P`` is a piece of a longer one (a line over ``MAX_LINE`` bytes, or a last
chunk without its newline). The shim feeds every chunk a container writes into a
``LogWriter``; the file is opened for appending, so a rotation by the kubelet (rename,
then ReopenContainerLog) starts a new file without losing a record.
"""

from __future__ import annotations

import os
import time

__all__ = ["MAX_LINE", "LogWriter", "read_records", "timestamp"]

MAX_LINE = 16 * 1024  # containerd's max_container_log_line_size


def timestamp(ns: int | None = None) -> str:
    """RFC 3339 with nanoseconds in UTC, trailing zeros trimmed, as Go's RFC3339Nano."""
    ns = time.time_ns() if ns is None else ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


class LogWriter:
    """One container's log file; keeps each stream's unfinished line until it ends."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1
        self.pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self.reopen()

    def reopen(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = -1
        if self.path:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
            self.fd = os.open(self.path, flags, 0o640)

    def write(self, stream: str, chunk: bytes) -> None:
        data = self.pending[stream] + chunk
        records = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            records.extend(_pieces(stream, data[start:end]))
            start = end + 1
        rest = data[start:]
        while len(rest) >= MAX_LINE:
            records.append(_record(stream, "P", rest[:MAX_LINE]))
            rest = rest[MAX_LINE:]
        self.pending[stream] = rest
        self._emit(records)

    def flush(self, stream: str) -> None:
        """The stream ended: what is left is a partial line."""
        rest, self.pending[stream] = self.pending[stream], b""
        if rest:
            self._emit([_record(stream, "P", rest)])

    def close(self) -> None:
        for stream in self.pending:
            self.flush(stream)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _emit(self, records: list[bytes]) -> None:
        if records and self.fd >= 0:
            os.write(self.fd, b"".join(records))


def _pieces(stream: str, line: bytes) -> list[bytes]:
    """A whole line: ``P`` records of ``MAX_LINE`` bytes, then the ``F`` that ends it."""
    records = []
    while len(line) > MAX_LINE:
        records.append(_record(stream, "P", line[:MAX_LINE]))
        line = line[MAX_LINE:]
    records.append(_record(stream, "F", line))
    return records


def _record(stream: str, tag: str, content: bytes) -> bytes:
    return f"{timestamp()} {stream} {tag} ".encode() + content + b"\n"


def read_records(path: str) -> list[tuple[str, str, str]]:
    """(time, stream, text with its newline) per line; ``P`` records join the next."""
    try:
        with open(path, "rb") as f:
            raw = f.read().decode(errors="replace")
    except FileNotFoundError:
        return []
    found = []
    partial = ""
    for line in raw.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3:
            continue
        stamp, stream, tag = parts[:3]
        text = parts[3] if len(parts) == 4 else ""
        if tag.split(":")[0] == "P":
            partial += text
            continue
        found.append((stamp, stream, partial + text + "\n"))
        partial = ""
    return found
