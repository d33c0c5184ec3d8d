"""One NETLINK_ROUTE socket: send a request, collect its replies, turn errors into KinErrors.

Why a module of its own: the request/ack/dump loop is the part of netlink that is
easy to get subtly wrong, so it lives in one place, testable without a kernel
(any object with ``send``/``recv_into``/``close`` will do).

- Every request carries a fresh sequence number; replies with another number
  (left over from an earlier request that raised half-way) are skipped.
- A change is sent with ``NLM_F_ACK`` and ends at the kernel's ``NLMSG_ERROR``
  (error 0 is the ack). A dump ends at ``NLMSG_DONE``; a dump the kernel flags
  ``NLM_F_DUMP_INTR`` (the table changed under it) is repeated.
- ``NETLINK_EXT_ACK`` makes the kernel explain refusals ("VXLAN ID must be lower
  than 16777216"); that text is appended to the error. ``NETLINK_CAP_ACK`` keeps
  it from echoing our whole request back.
- A socket belongs to the network namespace of the thread that created it, for
  its whole life, whichever thread uses it later.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Collection, Iterator

from kin.errors import LinkNotFound, NetlinkError
from kin.linux.netlink.codec import NLMSG_HDR, Message, align, iter_attrs, message, parse_messages

__all__ = [
    "NLM_F_ACK",
    "NLM_F_APPEND",
    "NLM_F_CREATE",
    "NLM_F_DUMP",
    "NLM_F_EXCL",
    "NLM_F_REPLACE",
    "NLM_F_REQUEST",
    "NetlinkSocket",
    "kernel_error",
    "parse_done",
    "parse_error",
]

NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NETLINK_GET_STRICT_CHK = 12

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800
NLM_F_CAPPED = 0x100  # in NLMSG_ERROR: our request was not echoed back
NLM_F_ACK_TLVS = 0x200  # in NLMSG_ERROR: extended-ack attributes follow

NLMSGERR_ATTR_MSG = 1

RECV_SIZE = 1 << 16
DUMP_ATTEMPTS = 5

_S32 = struct.Struct("=i")
_U32 = struct.Struct("=I")


class NetlinkSocket:
    """A rtnetlink socket with numbered requests. Not thread-safe: one user at a time."""

    def __init__(self, sock: socket.socket | None = None) -> None:
        """Open a socket in the calling thread's network namespace (unit tests pass a fake)."""
        self._sock = sock if sock is not None else _open_route_socket()
        self._seq = 0
        self._buffer = bytearray(RECV_SIZE)
        self.closed = False

    def close(self) -> None:
        """Close the socket; closing twice is harmless."""
        if not self.closed:
            self.closed = True
            self._sock.close()

    def request(
        self, kind: int, flags: int, body: bytes, what: str, absent: Collection[int] = ()
    ) -> bool:
        """Send a change and wait for its ack. False if the kernel answered an ``absent`` errno."""
        try:
            self._exchange(kind, flags | NLM_F_REQUEST | NLM_F_ACK, body, what)
        except NetlinkError as exc:
            if exc.errno in absent:
                return False
            raise
        return True

    def get(self, kind: int, body: bytes, what: str) -> Message:
        """Send a query for one object and return the kernel's answer."""
        replies = self._exchange(kind, NLM_F_REQUEST | NLM_F_ACK, body, what)
        if len(replies) != 1:
            detail = f"expected one answer, got {len(replies)}"
            raise NetlinkError(f"failed to {what}: {detail}", errno.EBADMSG)
        return replies[0]

    def dump(self, kind: int, body: bytes, what: str) -> list[Message]:
        """Ask for a whole table; repeat if the kernel says the table changed while dumping."""
        for _ in range(DUMP_ATTEMPTS):
            replies = self._exchange(kind, NLM_F_REQUEST | NLM_F_DUMP, body, what)
            if not any(reply.flags & NLM_F_DUMP_INTR for reply in replies):
                return replies
        raise NetlinkError(f"failed to {what}: kept changing while dumped", errno.EAGAIN)

    def _exchange(self, kind: int, flags: int, body: bytes, what: str) -> list[Message]:
        self._seq = self._seq % 0xFFFFFFFF + 1
        self._send(message(kind, flags, self._seq, body), what)
        replies: list[Message] = []
        for reply in self._replies(self._seq, what):
            if reply.kind in (NLMSG_DONE, NLMSG_ERROR):
                _check(reply, what)
                break
            if reply.kind not in (NLMSG_NOOP, NLMSG_OVERRUN):
                replies.append(reply)
        return replies

    def _send(self, data: bytes, what: str) -> None:
        if self.closed:
            raise NetlinkError(f"failed to {what}: the netlink socket is closed", errno.EBADF)
        try:
            self._sock.send(data)
        except OSError as exc:
            raise kernel_error(exc.errno or errno.EIO, what) from exc

    def _replies(self, seq: int, what: str) -> Iterator[Message]:
        """Messages answering ``seq``, datagram after datagram, until the caller stops."""
        while True:
            try:
                size = self._sock.recv_into(self._buffer, RECV_SIZE, socket.MSG_TRUNC)
            except OSError as exc:
                raise kernel_error(exc.errno or errno.EIO, what) from exc
            if size > RECV_SIZE:
                raise NetlinkError(f"failed to {what}: {size}-byte reply truncated", errno.EMSGSIZE)
            for reply in parse_messages(bytes(self._buffer[:size])):
                if reply.seq == seq:
                    yield reply


def parse_error(body: bytes, flags: int) -> tuple[int, str | None]:
    """An ``NLMSG_ERROR`` body -> (positive errno, or 0 for an ack; extended-ack message).

    The body is the negative errno, then the header of our request (the whole
    request unless ``NLM_F_CAPPED``), then, with ``NLM_F_ACK_TLVS``, attributes.
    """
    (error,) = _S32.unpack_from(body)
    if not flags & NLM_F_ACK_TLVS:
        return -error, None
    (echoed,) = _U32.unpack_from(body, _S32.size)
    if flags & NLM_F_CAPPED:
        echoed = NLMSG_HDR.size
    return -error, _extack_message(body, _S32.size + align(echoed))


def parse_done(body: bytes, flags: int) -> tuple[int, str | None]:
    """An ``NLMSG_DONE`` body: the dump's own errno, then extended-ack attributes directly."""
    if len(body) < _S32.size:
        return 0, None
    (error,) = _S32.unpack_from(body)
    if not flags & NLM_F_ACK_TLVS:
        return -error, None
    return -error, _extack_message(body, _S32.size)


def kernel_error(code: int, what: str, detail: str | None = None) -> NetlinkError:
    """The exception for errno ``code`` while doing ``what``; ENODEV becomes LinkNotFound."""
    message_ = f"failed to {what}: {os.strerror(code)}"
    if detail:
        message_ += f" ({detail})"
    cls = LinkNotFound if code == errno.ENODEV else NetlinkError
    return cls(message_, code)


def _extack_message(body: bytes, offset: int) -> str | None:
    for kind, payload in iter_attrs(body, offset):
        if kind == NLMSGERR_ATTR_MSG:
            return payload.split(b"\0", 1)[0].decode(errors="replace")
    return None


def _check(reply: Message, what: str) -> None:
    """Raise if an ``NLMSG_ERROR`` or ``NLMSG_DONE`` carries an error."""
    parse = parse_done if reply.kind == NLMSG_DONE else parse_error
    code, detail = parse(reply.body, reply.flags)
    if code:
        raise kernel_error(code, what, detail)


def _open_route_socket() -> socket.socket:
    """A bound NETLINK_ROUTE socket with extended acks, capped acks and strict dump checks.

    The three options need Linux 4.20 or later; kin's platform is 6.x.
    """
    what = "open a NETLINK_ROUTE socket"
    try:
        sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE
        )
    except OSError as exc:
        raise kernel_error(exc.errno or errno.EIO, what) from exc
    try:
        for option in (NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK):
            sock.setsockopt(SOL_NETLINK, option, 1)
        sock.bind((0, 0))
    except OSError as exc:
        sock.close()
        raise kernel_error(exc.errno or errno.EIO, what) from exc
    return sock
