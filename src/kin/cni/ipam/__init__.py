"""IPAM for kin's CNI plugins: host-local's config, allocator and reservation store.

The plugin module is ``kin.cni.plugins.host_local``; this package holds the parts it
shares with tests and with in-process callers (flannel delegates to host-local without
a second Python start-up). ``config`` reads the network config as the reference
``allocator.LoadIPAMConfig`` does, ``allocator`` hands out one address per range set,
and ``store`` keeps reservations on disk in the reference layout, so kin's host-local
and ``/usr/lib/cni/host-local`` can share one state directory.

Every module here is on a plugin's start-up path: stdlib ``os``/``fcntl`` only, no
``typing``, ``dataclasses`` or ``ipaddress`` at run time.

Addresses are ``(bits, value)`` pairs (32 or 128, an int), parsed and printed here rather
than with ``ipaddress``: that module costs a plugin about 2 ms of start-up, and Go's
``ParseIP`` differs from it anyway (to the reference an IPv4-mapped IPv6 address *is*
IPv4, and a file is named by Go's canonical text of its address).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    IP = tuple[int, int]  # (bits, value): (32, ...) for IPv4, (128, ...) for IPv6
    CIDR = tuple[IP, int]  # an address (host bits kept) and a prefix length

__all__ = ["cidr_text", "format_ip", "parse_cidr", "parse_ip"]

HEX = frozenset("0123456789abcdefABCDEF")


def parse_ip(text: str) -> IP | None:
    """Go's ``net.ParseIP`` plus ``canonicalizeIP``: IPv4-mapped IPv6 is IPv4; None if bad."""
    if ":" not in text:
        v4 = _parse_v4(text)
        return None if v4 is None else (32, v4)
    v6 = _parse_v6(text)
    if v6 is None:
        return None
    return (32, v6 & 0xFFFFFFFF) if v6 >> 32 == 0xFFFF else (128, v6)


def parse_cidr(text: str) -> CIDR | None:
    """Go's ``ParseCIDR`` keeping host bits (as CNI's ``types.IPNet``); None if bad."""
    addr, sep, prefix = text.partition("/")
    if not sep or not (prefix.isascii() and prefix.isdigit()):
        return None
    bits, value = (128, _parse_v6(addr)) if ":" in addr else (32, _parse_v4(addr))
    if value is None or int(prefix) > bits:
        return None
    return (bits, value), int(prefix)


def _parse_v4(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 3:
            return None
        if (len(part) > 1 and part[0] == "0") or int(part) > 255:
            return None  # Go refuses leading zeros (octal ambiguity)
        value = value << 8 | int(part)
    return value


def _parse_v6(text: str) -> int | None:
    head, ellipsis, tail = text.partition("::")
    left = _hextets(head, last=not ellipsis)
    right = _hextets(tail, last=True)
    if left is None or right is None:
        return None
    missing = 8 - len(left) - len(right)
    if missing < 0 or (missing == 0) == bool(ellipsis):
        return None  # an ellipsis stands for at least one zero group
    value = 0
    for group in left + [0] * missing + right:
        value = value << 16 | group
    return value


def _hextets(text: str, last: bool) -> list[int] | None:
    """Groups of an IPv6 address; a dotted IPv4 tail only where the address ends."""
    if not text:
        return []
    groups = text.split(":")
    out: list[int] = []
    for i, group in enumerate(groups):
        if last and i == len(groups) - 1 and "." in group:
            v4 = _parse_v4(group)
            if v4 is None:
                return None
            return [*out, v4 >> 16, v4 & 0xFFFF]
        if not 0 < len(group) <= 4 or not HEX.issuperset(group):
            return None
        out.append(int(group, 16))
    return out


def format_ip(ip: IP) -> str:
    """The canonical text (Go's ``IP.String``, RFC 5952 for IPv6): state files are named by it."""
    bits, value = ip
    if bits == 32:
        return ".".join(str(value >> shift & 0xFF) for shift in (24, 16, 8, 0))
    groups = [value >> shift & 0xFFFF for shift in range(112, -1, -16)]
    start, length = _longest_zero_run(groups)
    if length < 2:
        return ":".join(f"{g:x}" for g in groups)
    left = ":".join(f"{g:x}" for g in groups[:start])
    right = ":".join(f"{g:x}" for g in groups[start + length :])
    return f"{left}::{right}"


def _longest_zero_run(groups: list[int]) -> tuple[int, int]:
    best = (0, 0)
    run_start = -1
    for i, group in enumerate([*groups, 1]):
        if group == 0 and run_start < 0:
            run_start = i
        elif group != 0 and run_start >= 0:
            if i - run_start > best[1]:
                best = (run_start, i - run_start)
            run_start = -1
    return best


def cidr_text(cidr: CIDR) -> str:
    return f"{format_ip(cidr[0])}/{cidr[1]}"
