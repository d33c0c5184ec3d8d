"""DNS messages on the wire (RFC 1035): read a query, write an answer.

Only what an authoritative answer for the cluster zone needs: the header, one question
(names with compression pointers followed, loops refused), and resource records of the
types cluster DNS serves (A, AAAA, CNAME, PTR, SRV, TXT, SOA), written with the question's
name compressed. EDNS(0) is read from a query's OPT record (its UDP size lets answers
grow past 512 bytes) and echoed in the answer. A malformed query raises ``FormatError``;
the server answers FORMERR when it can read the header and drops the packet otherwise.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import cast

__all__ = [
    "CLASS_IN",
    "FORMERR",
    "NOERROR",
    "NOTIMP",
    "NXDOMAIN",
    "REFUSED",
    "SERVFAIL",
    "TYPES",
    "FormatError",
    "Query",
    "Record",
    "encode_response",
    "parse_query",
]

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
CLASS_IN = 1
TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "TXT": 16, "AAAA": 28, "SRV": 33,
         "OPT": 41, "ANY": 255}  # fmt: skip
HEADER = struct.Struct("!HHHHHH")
MAX_POINTERS = 64


class FormatError(ValueError):
    """Not a DNS query kin can read."""


@dataclass(frozen=True)
class Query:
    id: int
    flags: int
    name: str  # as asked (case kept), without the final dot
    qtype: int
    qclass: int
    question: bytes  # the question section's bytes, echoed in the answer
    edns_size: int = 0  # the client's UDP payload size, 0 without EDNS

    @property
    def recursion_desired(self) -> bool:
        return bool(self.flags & 0x0100)


@dataclass(frozen=True)
class Record:
    name: str
    rtype: int
    ttl: int
    data: object = field(compare=True)
    """A/AAAA: address text; CNAME/PTR: a name; TXT: text; SRV: (priority, weight, port,
    target); SOA: (mname, rname, serial, refresh, retry, expire, minimum)."""


def parse_query(packet: bytes) -> Query:
    if len(packet) < HEADER.size:
        raise FormatError("shorter than a DNS header")
    ident, flags, qdcount, _, _, arcount = HEADER.unpack_from(packet)
    if flags & 0x8000:
        raise FormatError("a response, not a query")
    if qdcount != 1:
        raise FormatError(f"{qdcount} questions (one is answered)")
    name, end = read_name(packet, HEADER.size)
    if end + 4 > len(packet):
        raise FormatError("the question is cut short")
    qtype, qclass = struct.unpack_from("!HH", packet, end)
    question = packet[HEADER.size : end + 4]
    return Query(ident, flags, name, qtype, qclass, question, _edns_size(packet, end + 4, arcount))


def _edns_size(packet: bytes, offset: int, arcount: int) -> int:
    """The OPT record's UDP size among the additional records (answer and authority
    sections are empty in a query), 0 if none."""
    for _ in range(arcount):
        _, offset = read_name(packet, offset)
        if offset + 10 > len(packet):
            raise FormatError("an additional record is cut short")
        rtype, rclass, _, rdlength = struct.unpack_from("!HHIH", packet, offset)
        offset += 10 + rdlength
        if rtype == TYPES["OPT"]:
            return max(int(rclass), 512)
    return 0


def read_name(packet: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` and the offset after it (after the first pointer, if any)."""
    labels: list[str] = []
    end, jumps = -1, 0
    while True:
        if offset >= len(packet):
            raise FormatError("a name runs past the packet")
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(packet):
                raise FormatError("a compression pointer is cut short")
            jumps += 1
            if jumps > MAX_POINTERS:
                raise FormatError("compression pointers loop")
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | packet[offset + 1]
            continue
        if length & 0xC0:
            raise FormatError(f"label type {length >> 6} is not supported")
        offset += 1
        if length == 0:
            break
        label = packet[offset : offset + length]
        if len(label) != length:
            raise FormatError("a label runs past the packet")
        labels.append(label.decode("ascii", errors="replace"))
        offset += length
    name = ".".join(labels)
    if len(name) > 253:
        raise FormatError("a name longer than 253 characters")
    return name, end if end >= 0 else offset


@dataclass
class _Writer:
    buffer: bytearray
    names: dict[str, int] = field(default_factory=dict)

    def name(self, name: str) -> None:
        labels = [label for label in name.rstrip(".").split(".") if label]
        for i in range(len(labels)):
            suffix = ".".join(labels[i:]).lower()
            if suffix in self.names:
                self.buffer += struct.pack("!H", 0xC000 | self.names[suffix])
                return
            if len(self.buffer) < 0x3FFF:
                self.names[suffix] = len(self.buffer)
            raw = labels[i].encode("ascii", errors="replace")[:63]
            self.buffer += bytes([len(raw)]) + raw
        self.buffer.append(0)

    def record(self, record: Record) -> None:
        self.name(record.name)
        self.buffer += struct.pack("!HHI", record.rtype, CLASS_IN, record.ttl)
        length_at = len(self.buffer)
        self.buffer += b"\0\0"
        self._rdata(record)
        struct.pack_into("!H", self.buffer, length_at, len(self.buffer) - length_at - 2)

    def _rdata(self, record: Record) -> None:
        data, rtype = record.data, record.rtype
        if rtype in (TYPES["A"], TYPES["AAAA"]):
            self.buffer += ipaddress.ip_address(str(data)).packed
        elif rtype in (TYPES["CNAME"], TYPES["PTR"], TYPES["NS"]):
            self.name(str(data))
        elif rtype == TYPES["TXT"]:
            raw = str(data).encode()[:255]
            self.buffer += bytes([len(raw)]) + raw
        elif rtype == TYPES["SRV"]:
            priority, weight, port, target = cast("tuple[int, int, int, str]", data)
            self.buffer += struct.pack("!HHH", priority, weight, port)
            self.name(target)
        elif rtype == TYPES["SOA"]:
            mname, rname, *numbers = cast("tuple[str, str, int, int, int, int, int]", data)
            self.name(mname)
            self.name(rname)
            self.buffer += struct.pack("!IIIII", *numbers)
        else:
            raise ValueError(f"cannot write a record of type {rtype}")


def encode_response(
    query: Query,
    rcode: int,
    answers: list[Record] = (),  # type: ignore[assignment]
    authority: list[Record] = (),  # type: ignore[assignment]
    additional: list[Record] = (),  # type: ignore[assignment]
    *,
    authoritative: bool = True,
    limit: int = 0,
) -> bytes:
    """The answer to ``query``; with ``limit`` (UDP), sections that do not fit are left
    out and, if an answer had to go, the TC bit tells the client to ask over TCP."""
    sections = [list(answers), list(authority), list(additional)]
    opt = query.edns_size > 0
    while True:
        packet = _encode(query, rcode, sections, authoritative, opt, truncated=False)
        if not limit or len(packet) <= limit:
            return packet
        if sections[2]:
            sections[2] = []
        elif sections[1]:
            sections[1] = []
        else:
            return _encode(query, rcode, [[], [], []], authoritative, opt, truncated=True)


def _encode(
    query: Query,
    rcode: int,
    sections: list[list[Record]],
    authoritative: bool,
    opt: bool,
    truncated: bool,
) -> bytes:
    flags = 0x8000 | (query.flags & 0x7900)  # QR, and the query's opcode and RD
    flags |= 0x0080  # RA: a stub resolver may ask recursive questions here
    flags |= 0x0400 if authoritative else 0
    flags |= 0x0200 if truncated else 0
    flags |= rcode & 0xF
    answers, authority, additional = sections
    counts = (1, len(answers), len(authority), len(additional) + (1 if opt else 0))
    writer = _Writer(bytearray(HEADER.pack(query.id, flags, *counts)))
    writer.buffer += query.question
    if query.name:
        writer.names.setdefault(query.name.lower(), HEADER.size)
    for record in (*answers, *authority, *additional):
        writer.record(record)
    if opt:  # OPT: root name, our UDP size, no extended flags
        writer.buffer += b"\0" + struct.pack("!HHIH", TYPES["OPT"], 1232, 0, 0)
    return bytes(writer.buffer)
