"""kin.runtime.attach: the shim's frames and its attached clients' outboxes, on socket pairs."""

from __future__ import annotations

import contextlib
import socket

import pytest

from kin.runtime import attach
from kin.runtime.attach import Attachment, frame, frames

pytestmark = pytest.mark.unit


def test_frames_come_off_the_front_whole_and_wait_for_the_rest() -> None:
    buffer = bytearray(frame(1, b"hello") + frame(255, b"\0") + frame(0, b"par"))
    del buffer[-1]  # the last one is not all here yet
    assert list(frames(buffer)) == [(1, b"hello"), (255, b"\0")]
    buffer += b"r"
    assert list(frames(buffer)) == [(0, b"par")] and buffer == b""


def test_a_frame_too_large_is_refused() -> None:
    buffer = bytearray(attach.HEADER.pack(0, attach.MAX_FRAME + 1))
    with pytest.raises(ValueError, match="too large"):
        list(frames(buffer))


def test_what_a_slow_client_cannot_take_waits_and_a_client_too_far_behind_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        client = Attachment(ours, {"stdout"}, stdin=False)
        chunk = b"x" * 65536
        sent = 0
        while not client.outbox:  # until the socket's buffer is full
            assert client.output("stdout", chunk)
            sent += 1
        assert client.output("stderr", b"not asked for")  # nothing queued for it
        received = bytearray()
        theirs.setblocking(False)
        while client.outbox:
            with contextlib.suppress(BlockingIOError):
                received += theirs.recv(1 << 20)
            assert client.flush()
        with contextlib.suppress(BlockingIOError):
            received += theirs.recv(1 << 20)
        assert list(frames(received)) == [(1, chunk)] * sent and not received
        monkeypatch.setattr(attach, "OUTBOX_LIMIT", len(chunk))
        while client.output("stdout", chunk):
            pass
        assert not client.open  # dropped, its socket closed
