"""The rtnetlink wire format, packed and parsed by hand with ``struct``.

Why by hand: ``import pyroute2`` costs ~200 ms, paid by every CNI plugin call,
while the format itself is small. A message is a 16-byte ``nlmsghdr``, a fixed
per-family header (``ifinfomsg``, ``ifaddrmsg``, ``rtmsg``, ``ndmsg``) and then
type-length-value attributes, each padded to 4 bytes, some holding further
attributes (nested). This module knows nothing about links or routes: it turns
bytes into ``Message``/``Attrs`` and back, and encodes addresses the way the
kernel stores them. Only ``struct``, ``socket`` and ``errno`` are imported, to
keep import time low (``dataclasses`` alone costs ~10 ms here).
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator

from kin.errors import NetlinkError, NetworkSetupError

__all__ = [
    "NLA_F_NESTED",
    "NLMSG_HDR",
    "Attrs",
    "Message",
    "align",
    "attr",
    "attr_be16",
    "attr_nested",
    "attr_s32",
    "attr_str",
    "attr_u8",
    "attr_u32",
    "format_ip",
    "format_mac",
    "iter_attrs",
    "message",
    "parse_attrs",
    "parse_ip",
    "parse_mac",
    "parse_messages",
]

NLMSG_HDR = struct.Struct("=IHHII")  # length, type, flags, seq, port id
RTA_HDR = struct.Struct("=HH")  # length, type
NLA_F_NESTED = 0x8000
NLA_F_NET_BYTEORDER = 0x4000
NLA_TYPE_MASK = 0xFFFF & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)

_U8 = struct.Struct("=B")
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_S32 = struct.Struct("=i")
_BE16 = struct.Struct(">H")


def align(length: int) -> int:
    """Round up to the 4-byte boundary netlink pads every message and attribute to."""
    return (length + 3) & ~3


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute: header, payload, zero padding to the next 4-byte boundary."""
    length = RTA_HDR.size + len(payload)
    return RTA_HDR.pack(length, kind) + payload + b"\0" * (align(length) - length)


def attr_u8(kind: int, value: int) -> bytes:
    return attr(kind, _U8.pack(value))


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, _U32.pack(value))


def attr_s32(kind: int, value: int) -> bytes:
    return attr(kind, _S32.pack(value))


def attr_be16(kind: int, value: int) -> bytes:
    """A 16-bit value in network byte order (UDP ports)."""
    return attr(kind, _BE16.pack(value))


def attr_str(kind: int, value: str) -> bytes:
    """A NUL-terminated string, as the kernel's ``NLA_STRING``/``NLA_NUL_STRING`` expect."""
    return attr(kind, value.encode() + b"\0")


def attr_nested(kind: int, *children: bytes) -> bytes:
    """An attribute whose payload is more attributes. Pass ``kind | NLA_F_NESTED`` to flag it."""
    return attr(kind, b"".join(children))


def message(kind: int, flags: int, seq: int, body: bytes, port: int = 0) -> bytes:
    """A whole netlink message: ``nlmsghdr``, ``body``, padding so another may follow."""
    length = NLMSG_HDR.size + len(body)
    padding = b"\0" * (align(length) - length)
    return NLMSG_HDR.pack(length, kind, flags, seq, port) + body + padding


class Message:
    """One parsed netlink message; ``body`` is everything after the ``nlmsghdr``."""

    __slots__ = ("body", "flags", "kind", "port", "seq")

    def __init__(self, kind: int, flags: int, seq: int, port: int, body: bytes) -> None:
        self.kind = kind
        self.flags = flags
        self.seq = seq
        self.port = port
        self.body = body

    def __repr__(self) -> str:
        return (
            f"Message(kind={self.kind}, flags={self.flags:#x}, seq={self.seq}, "
            f"port={self.port}, body={len(self.body)} bytes)"
        )


def parse_messages(data: bytes) -> Iterator[Message]:
    """Split one datagram from the kernel into its messages."""
    offset, end = 0, len(data)
    while offset + NLMSG_HDR.size <= end:
        length, kind, flags, seq, port = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size or offset + length > end:
            raise _malformed(f"message of length {length} at offset {offset} of {end}")
        yield Message(kind, flags, seq, port, data[offset + NLMSG_HDR.size : offset + length])
        offset += align(length)


def iter_attrs(data: bytes, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(type, payload)`` for the attributes in ``data[offset:]``, flags masked off."""
    end = len(data)
    while offset + RTA_HDR.size <= end:
        length, kind = RTA_HDR.unpack_from(data, offset)
        if length < RTA_HDR.size or offset + length > end:
            raise _malformed(f"attribute of length {length} at offset {offset} of {end}")
        yield kind & NLA_TYPE_MASK, data[offset + RTA_HDR.size : offset + length]
        offset += align(length)


def parse_attrs(data: bytes, offset: int = 0) -> Attrs:
    """The attributes in ``data[offset:]`` by type; a repeated type keeps its last value."""
    return Attrs(iter_attrs(data, offset))


class Attrs(dict[int, bytes]):
    """Attribute payloads by type, with typed getters that return None when absent."""

    def u8(self, kind: int) -> int | None:
        value = self.get(kind)
        return None if value is None else int(_U8.unpack_from(value)[0])

    def u16(self, kind: int) -> int | None:
        value = self.get(kind)
        return None if value is None else int(_U16.unpack_from(value)[0])

    def u32(self, kind: int) -> int | None:
        value = self.get(kind)
        return None if value is None else int(_U32.unpack_from(value)[0])

    def s32(self, kind: int) -> int | None:
        value = self.get(kind)
        return None if value is None else int(_S32.unpack_from(value)[0])

    def be16(self, kind: int) -> int | None:
        value = self.get(kind)
        return None if value is None else int(_BE16.unpack_from(value)[0])

    def string(self, kind: int) -> str | None:
        value = self.get(kind)
        return None if value is None else value.split(b"\0", 1)[0].decode(errors="replace")

    def nested(self, kind: int) -> Attrs:
        """The attributes inside ``kind``; empty when ``kind`` is absent."""
        value = self.get(kind)
        return Attrs() if value is None else parse_attrs(value)

    def ip(self, kind: int) -> str | None:
        value = self.get(kind)
        return None if value is None else format_ip(value)

    def mac(self, kind: int) -> str | None:
        value = self.get(kind)
        return None if value is None else format_mac(value)


def parse_ip(text: str) -> tuple[int, bytes]:
    """``"10.0.0.1"`` or ``"fd00::1"`` -> ``(family, packed bytes)``."""
    family = socket.AF_INET6 if ":" in text else socket.AF_INET
    try:
        return family, socket.inet_pton(family, text)
    except (OSError, ValueError) as exc:
        raise NetworkSetupError(f"invalid IP address {text!r}") from exc


def format_ip(packed: bytes) -> str:
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed)
    if len(packed) == 16:
        return socket.inet_ntop(socket.AF_INET6, packed)
    return packed.hex()


def parse_mac(text: str) -> bytes:
    """``"aa:bb:cc:dd:ee:ff"`` -> 6 bytes."""
    parts = text.split(":")
    try:
        if len(parts) != 6 or any(len(part) != 2 for part in parts):
            raise ValueError(text)
        return bytes.fromhex("".join(parts))
    except ValueError as exc:
        raise NetworkSetupError(f"invalid MAC address {text!r}") from exc


def format_mac(packed: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in packed)


def _malformed(detail: str) -> NetlinkError:
    return NetlinkError(f"malformed netlink data from the kernel: {detail}", errno.EBADMSG)
