"""SPDY/3.1, the part kubectl port-forward speaks: frames, and zlib-compressed header blocks.

kubectl tunnels SPDY through the WebSocket it opens for ``pods/portforward``
(subprotocol ``SPDY/3.1+portforward.k8s.io``); the bytes of every WebSocket message are
one continuous SPDY stream. A control frame is ``0x80 0x03``, a 2-byte type, 1-byte
flags, 3-byte length and payload; a data frame is a 4-byte stream ID, 1-byte flags
(``FIN`` = 1) and a 3-byte length. Header blocks are compressed with zlib and the
SPDY/3 dictionary below, one compression context per direction for the connection.
"""

from __future__ import annotations

import struct
import zlib

__all__ = [
    "FIN",
    "PING",
    "RST_STREAM",
    "SYN_REPLY",
    "SYN_STREAM",
    "Frame",
    "HeaderCodec",
    "Parser",
    "control_frame",
    "data_frame",
]

SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9
FIN = 0x01
VERSION = 3

# The header-compression dictionary of the SPDY/3 draft (1423 bytes, adler32 0xE3C6A7C2).
SPDY3_DICTIONARY = (
    b"\x00\x00\x00\x07options\x00\x00\x00\x04head\x00\x00\x00\x04post\x00\x00\x00\x03put\x00"
    b"\x00\x00\x06delete\x00\x00\x00\x05trace\x00\x00\x00\x06accept\x00\x00\x00\x0eaccept-c"
    b"harset\x00\x00\x00\x0faccept-encoding\x00\x00\x00\x0faccept-lang"
    b"uage\x00\x00\x00\raccept-ranges\x00\x00\x00\x03age\x00\x00\x00\x05allow\x00\x00\x00"
    b"\rauthorization\x00\x00\x00\rcache-control\x00\x00\x00\nconne"
    b"ction\x00\x00\x00\x0ccontent-base\x00\x00\x00\x10content-encodin"
    b"g\x00\x00\x00\x10content-language\x00\x00\x00\x0econtent-length\x00"
    b"\x00\x00\x10content-location\x00\x00\x00\x0bcontent-md5\x00\x00\x00\rco"
    b"ntent-range\x00\x00\x00\x0ccontent-type\x00\x00\x00\x04date\x00\x00\x00\x04e"
    b"tag\x00\x00\x00\x06expect\x00\x00\x00\x07expires\x00\x00\x00\x04from\x00\x00\x00\x04host"
    b"\x00\x00\x00\x08if-match\x00\x00\x00\x11if-modified-since\x00\x00\x00\rif-"
    b"none-match\x00\x00\x00\x08if-range\x00\x00\x00\x13if-unmodified-"
    b"since\x00\x00\x00\rlast-modified\x00\x00\x00\x08location\x00\x00\x00\x0cma"
    b"x-forwards\x00\x00\x00\x06pragma\x00\x00\x00\x12proxy-authentica"
    b"te\x00\x00\x00\x13proxy-authorization\x00\x00\x00\x05range\x00\x00\x00\x07re"
    b"ferer\x00\x00\x00\x0bretry-after\x00\x00\x00\x06server\x00\x00\x00\x02te\x00\x00\x00\x07"
    b"trailer\x00\x00\x00\x11transfer-encoding\x00\x00\x00\x07upgrade\x00"
    b"\x00\x00\nuser-agent\x00\x00\x00\x04vary\x00\x00\x00\x03via\x00\x00\x00\x07warning\x00"
    b"\x00\x00\x10www-authenticate\x00\x00\x00\x06method\x00\x00\x00\x03get\x00\x00\x00\x06"
    b"status\x00\x00\x00\x06200 OK\x00\x00\x00\x07version\x00\x00\x00\x08HTTP/1.1\x00"
    b"\x00\x00\x03url\x00\x00\x00\x06public\x00\x00\x00\nset-cookie\x00\x00\x00\nkeep-a"
    b"live\x00\x00\x00\x06origin10010120120220520630030230"
    b"3304305306307402405406407408409410411412"
    b"413414415416417502504505203 Non-Authorit"
    b"ative Information204 No Content301 Moved"
    b" Permanently400 Bad Request401 Unauthori"
    b"zed403 Forbidden404 Not Found500 Interna"
    b"l Server Error501 Not Implemented503 Ser"
    b"vice UnavailableJan Feb Mar Apr May Jun "
    b"Jul Aug Sept Oct Nov Dec 00:00:00 Mon, T"
    b"ue, Wed, Thu, Fri, Sat, Sun, GMTchunked,"
    b"text/html,image/png,image/jpg,image/gif,"
    b"application/xml,application/xhtml+xml,te"
    b"xt/plain,text/javascript,publicprivatema"
    b"x-age=gzip,deflate,sdchcharset=utf-8char"
    b"set=iso-8859-1,utf-,*,enq=0."
)


class Frame:
    """A parsed frame: ``control`` with ``kind``, or data with ``stream_id``."""

    __slots__ = ("control", "flags", "kind", "payload", "stream_id")

    def __init__(
        self, control: bool, kind: int, stream_id: int, flags: int, payload: bytes
    ) -> None:
        self.control = control
        self.kind = kind
        self.stream_id = stream_id
        self.flags = flags
        self.payload = payload


class Parser:
    """Frames out of a byte stream that arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= 8:
            length = int.from_bytes(self.buffer[5:8], "big")
            if len(self.buffer) < 8 + length:
                break
            head, payload = bytes(self.buffer[:8]), bytes(self.buffer[8 : 8 + length])
            del self.buffer[: 8 + length]
            flags = head[4]
            if head[0] & 0x80:
                kind = int.from_bytes(head[2:4], "big")
                stream_id = (
                    int.from_bytes(payload[:4], "big") & 0x7FFFFFFF if len(payload) >= 4 else 0
                )
                frames.append(Frame(True, kind, stream_id, flags, payload))
            else:
                stream_id = int.from_bytes(head[:4], "big") & 0x7FFFFFFF
                frames.append(Frame(False, 0, stream_id, flags, payload))
        return frames


class HeaderCodec:
    """Name/value header blocks, compressed, with one zlib context per direction."""

    def __init__(self) -> None:
        self.inflater = zlib.decompressobj(zdict=SPDY3_DICTIONARY)
        self.deflater = zlib.compressobj(zdict=SPDY3_DICTIONARY)

    def decode(self, block: bytes) -> dict[str, str]:
        raw = self.inflater.decompress(block)
        (count,) = struct.unpack_from(">I", raw, 0)
        offset = 4
        headers = {}
        for _ in range(count):
            (name_length,) = struct.unpack_from(">I", raw, offset)
            name = raw[offset + 4 : offset + 4 + name_length].decode()
            offset += 4 + name_length
            (value_length,) = struct.unpack_from(">I", raw, offset)
            value = raw[offset + 4 : offset + 4 + value_length].decode()
            offset += 4 + value_length
            headers[name] = value
        return headers

    def encode(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += (
                struct.pack(">I", len(name))
                + name.encode()
                + struct.pack(">I", len(value))
                + value.encode()
            )
        return self.deflater.compress(raw) + self.deflater.flush(zlib.Z_SYNC_FLUSH)


def control_frame(kind: int, flags: int, payload: bytes) -> bytes:
    return (
        struct.pack(">BBHB", 0x80, VERSION, kind, flags) + len(payload).to_bytes(3, "big") + payload
    )


def data_frame(stream_id: int, data: bytes, flags: int = 0) -> bytes:
    return (
        struct.pack(">I", stream_id & 0x7FFFFFFF)
        + bytes([flags])
        + len(data).to_bytes(3, "big")
        + data
    )


def syn_reply(codec: HeaderCodec, stream_id: int, headers: dict[str, str] | None = None) -> bytes:
    payload = struct.pack(">I", stream_id) + codec.encode(headers or {})
    return control_frame(SYN_REPLY, 0, payload)


def syn_stream_headers(codec: HeaderCodec, frame: Frame) -> dict[str, str]:
    """The headers of a SYN_STREAM (stream-id 4, associated-id 4, priority 2, block)."""
    return codec.decode(frame.payload[10:])
