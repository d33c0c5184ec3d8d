"""IPAM addresses: Go's ParseIP/ParseCIDR rules and canonical text, without ``ipaddress``.

State files are named by an address's canonical text, so kin must print exactly what
Go prints (RFC 5952) or the two plugins would not see each other's reservations.
``ipaddress`` is the oracle here; the differences from it are Go's, and tested as such.
"""

from __future__ import annotations

import ipaddress
import random

import pytest

from kin.cni.ipam import cidr_text, format_ip, parse_cidr, parse_ip

VALID = [
    "0.0.0.0",
    "10.244.1.5",
    "255.255.255.255",
    "::",
    "::1",
    "fd00::",
    "fd00::1:0:0:1",
    "1:0:0:2:0:0:0:3",
    "1:0:2:3:4:5:6:7",
    "2001:db8::ff00:42:8329",
    "2001:DB8:0:0:8:800:200C:417A",
    "fe80::1.2.3.4",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
]
INVALID = [
    "",
    "10.1.2",
    "10.1.2.3.4",
    "10.1.2.256",
    "010.1.2.3",
    "10.1.2.03",
    "1.2.3.+4",
    " 1.2.3.4",
    "1.2.3.٤",
    "1:2:3:4:5:6:7:8::",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    ":1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:",
    "12345::",
    "g::",
    "1.2.3.4::",
    "fe80::1%eth0",
    ":::",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_addresses_print_as_ipaddress_prints_them(text: str) -> None:
    ip = parse_ip(text)
    assert ip is not None
    expected = ipaddress.ip_address(text)
    assert ip == (expected.max_prefixlen, int(expected))
    assert format_ip(ip) == str(expected)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_addresses_are_refused(text: str) -> None:
    assert parse_ip(text) is None


def test_ipv4_mapped_ipv6_is_ipv4_as_go_canonicalizes_it() -> None:
    assert parse_ip("::ffff:10.1.2.3") == (32, 0x0A010203)
    assert parse_ip("::FFFF:a01:203") == (32, 0x0A010203)
    assert format_ip((32, 0x0A010203)) == "10.1.2.3"


def test_random_ipv6_values_round_trip_in_canonical_text() -> None:
    rng = random.Random(5952)
    for _ in range(3000):
        # sparse values: long runs of zero groups are where RFC 5952 bites
        groups = [rng.choice((0, 0, 0, 1, 0xFFFF, rng.randrange(65536))) for _ in range(8)]
        value = int("".join(f"{g:04x}" for g in groups), 16)
        if value >> 32 == 0xFFFF:
            continue  # IPv4-mapped: IPv4 to Go, tested above
        text = format_ip((128, value))
        assert text == str(ipaddress.IPv6Address(value)), groups
        assert parse_ip(text) == (128, value)


def test_random_ipv4_values_round_trip() -> None:
    rng = random.Random(4)
    for _ in range(1000):
        value = rng.randrange(1 << 32)
        text = format_ip((32, value))
        assert text == str(ipaddress.IPv4Address(value))
        assert parse_ip(text) == (32, value)


@pytest.mark.parametrize(
    ("text", "parsed", "canonical"),
    [
        ("10.244.0.0/16", ((32, 0x0AF40000), 16), "10.244.0.0/16"),
        ("10.0.0.1/8", ((32, 0x0A000001), 8), "10.0.0.1/8"),  # host bits kept, as types.IPNet
        ("0.0.0.0/0", ((32, 0), 0), "0.0.0.0/0"),
        ("FD00:0::/64", ((128, 0xFD00 << 112), 64), "fd00::/64"),
        ("::/0", ((128, 0), 0), "::/0"),
    ],
)
def test_cidrs_parse_and_print_canonically(
    text: str, parsed: tuple[tuple[int, int], int], canonical: str
) -> None:
    assert parse_cidr(text) == parsed
    assert cidr_text(parsed) == canonical


@pytest.mark.parametrize(
    "text", ["10.0.0.0", "10.0.0.0/33", "fd00::/129", "10.0.0.0/x", "10.0.0.0/-1", "foo/8", "/8"]
)
def test_invalid_cidrs_are_refused(text: str) -> None:
    assert parse_cidr(text) is None
