"""Attach: clients joined to a running container's own stdin, stdout and stderr.

``kubectl attach`` and ``kubectl run -i`` reach a container's main process, whose stdio
the shim holds (exec makes a new process instead). A client asks the shim with
``{"op": "attach", "id": ..., "stdin": b, "stdout": b, "stderr": b}``; after the
``{"ok": true}`` line the connection carries frames both ways, each a channel byte, a
4-byte big-endian length and the data (the channels of Kubernetes' remotecommand
protocol):

    client -> shim   0 stdin data, 4 terminal size (JSON), 255 close stdin
    shim -> client   1 stdout, 2 stderr, 3 the container's exit code (decimal), then EOF

Every attached client gets everything the container writes from then on (the log file
has the rest). The shim is single-threaded, so it never waits on a client: what a client's
socket does not take now waits in that client's outbox (sent as the socket drains), and a
client more than ``OUTBOX_LIMIT`` behind is dropped; stdin that a container does not read
is dropped once its pipe is full. With ``stdinOnce`` the container's stdin closes when
the first client that attached with stdin goes away, as Kubernetes does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["CLOSE", "EXIT", "RESIZE", "STDERR", "STDIN", "STDOUT", "Attachment", "frame", "frames"]

STDIN, STDOUT, STDERR, EXIT, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
HEADER = struct.Struct(">BI")
MAX_FRAME = 1 << 20
OUTBOX_LIMIT = 4 << 20
STREAM_CHANNELS = {"stdout": STDOUT, "stderr": STDERR}


def frame(channel: int, data: bytes) -> bytes:
    return HEADER.pack(channel, len(data)) + data


def frames(buffer: bytearray) -> Iterator[tuple[int, bytes]]:
    """Take every complete frame off the front of ``buffer``; ValueError for a bad one."""
    while len(buffer) >= HEADER.size:
        channel, length = HEADER.unpack_from(buffer)
        if length > MAX_FRAME:
            raise ValueError(f"attach frame of {length} bytes is too large")
        if len(buffer) < HEADER.size + length:
            return
        data = bytes(buffer[HEADER.size : HEADER.size + length])
        del buffer[: HEADER.size + length]
        yield channel, data


class Attachment:
    """One attached client, as the shim holds it."""

    def __init__(self, conn: socket.socket, streams: set[str], stdin: bool) -> None:
        self.conn = conn
        self.streams = streams
        self.stdin = stdin
        self.received = bytearray()
        self.outbox = bytearray()
        self.open = True
        self.closing = False
        """The container ended: the client goes once its outbox is sent."""
        conn.setblocking(False)

    def send(self, channel: int, data: bytes) -> bool:
        """Queue a frame and send what the socket takes now; False (and closed) when the
        client is gone or too far behind."""
        if not self.open:
            return False
        self.outbox += frame(channel, data)
        return self.flush()

    def flush(self) -> bool:
        try:
            sent = self.conn.send(self.outbox) if self.outbox else 0
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return False
        del self.outbox[:sent]
        if len(self.outbox) > OUTBOX_LIMIT:
            self.close()
            return False
        return True

    def output(self, stream: str, data: bytes) -> bool:
        return stream not in self.streams or self.send(STREAM_CHANNELS[stream], data)

    def receive(self) -> list[tuple[int, bytes]] | None:
        """The frames that arrived; None when the client is gone (or broke the protocol)."""
        try:
            chunk = self.conn.recv(65536)
        except BlockingIOError:
            return []
        except OSError:
            chunk = b""
        if not chunk:
            return None
        self.received += chunk
        try:
            return list(frames(self.received))
        except ValueError:
            return None

    def close(self) -> None:
        if self.open:
            self.open = False
            self.conn.close()


def write_stdin(fd: int, data: bytes) -> int:
    """Write what the container's stdin takes now (it is non-blocking); the bytes dropped."""
    with contextlib.suppress(BlockingIOError):
        try:
            written = os.write(fd, data)
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.EIO):
                raise
            return len(data)
        return len(data) - written
    return len(data)
