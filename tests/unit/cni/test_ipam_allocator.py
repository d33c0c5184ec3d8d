"""The allocator: round-robin, gateway skip, wrap, exhaustion, requested IPs, rollback, GC.

Every test runs against both stores: ``MemoryStore`` (which also proves the allocator
holds the lock around each use) and ``DiskStore`` in a temporary directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kin.cni.ipam import allocator, format_ip, parse_ip
from kin.cni.ipam.config import RangeSet, load
from kin.cni.ipam.store import DiskStore, MemoryStore, locked
from kin.errors import CNIError

Store = MemoryStore | DiskStore


@pytest.fixture(params=["memory", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        with DiskStore("net1", str(tmp_path)) as disk:
            yield disk


def sets(*range_sets: list[dict[str, str]]) -> list[RangeSet]:
    config = {"cniVersion": "1.0.0", "name": "net1", "ipam": {"ranges": list(range_sets)}}
    return load(config).range_sets


def add(store: Store, range_sets: list[RangeSet], cid: str, *requested: str) -> list[str]:
    ips = [parse_ip(r) for r in requested]
    got = allocator.allocate(range_sets, [ip for ip in ips if ip], store, cid, "eth0")
    return [ip["address"] for ip in got]


def held(store: Store) -> list[tuple[str, str, str]]:
    with locked(store):
        return sorted(store.reservations())


def fail(store: Store, range_sets: list[RangeSet], cid: str, *requested: str) -> str:
    with pytest.raises(CNIError) as caught:
        add(store, range_sets, cid, *requested)
    assert caught.value.code == 999
    return caught.value.msg


S24 = [{"subnet": "10.1.2.0/24"}]


def test_first_address_skips_the_gateway_and_reports_it(store: Store) -> None:
    got = allocator.allocate(sets(S24), [], store, "c1", "eth0")
    assert got == [{"address": "10.1.2.2/24", "gateway": "10.1.2.1"}]
    assert held(store) == [("10.1.2.2", "c1", "eth0")]


def test_round_robin_does_not_reuse_a_released_address_at_once(store: Store) -> None:
    rs = sets(S24)
    assert add(store, rs, "a") == ["10.1.2.2/24"]
    assert add(store, rs, "b") == ["10.1.2.3/24"]
    allocator.release(rs, store, "a", "eth0")
    assert add(store, rs, "c") == ["10.1.2.4/24"]


def test_starts_after_the_last_reserved_address_when_it_is_in_the_set(store: Store) -> None:
    rs = sets(S24)
    assert add(store, rs, "a", "10.1.2.100") == ["10.1.2.100/24"]
    assert add(store, rs, "b") == ["10.1.2.101/24"]


def test_starts_at_range_start_when_the_last_address_is_outside_the_set(store: Store) -> None:
    with locked(store):
        assert store.reserve("x", "eth0", "10.9.9.9", "0")
    assert add(store, sets(S24), "a") == ["10.1.2.2/24"]


def test_wraps_from_a_range_end_to_the_next_range_and_round(store: Store) -> None:
    rs = sets(
        [
            {"subnet": "10.1.2.0/29", "rangeStart": "10.1.2.3", "rangeEnd": "10.1.2.4"},
            {"subnet": "10.1.3.0/30"},
        ]
    )
    got = [add(store, rs, f"c{i}")[0] for i in range(3)]
    assert got == ["10.1.2.3/29", "10.1.2.4/29", "10.1.3.2/30"]  # 10.1.3.1 is the gateway
    allocator.release(rs, store, "c0", "eth0")
    assert add(store, rs, "c3") == ["10.1.2.3/29"]  # wrapped round to the first range
    message = fail(store, rs, "c4")
    assert message == (
        "failed to allocate for range 0: no IP addresses available in range set: "
        "10.1.2.3-10.1.2.4,10.1.3.1-10.1.3.2"
    )


def test_a_gateway_inside_the_range_is_skipped(store: Store) -> None:
    middle = {"rangeStart": "10.1.2.4", "rangeEnd": "10.1.2.6", "gateway": "10.1.2.5"}
    rs = sets([{"subnet": "10.1.2.0/24", **middle}])
    assert [add(store, rs, c)[0] for c in "ab"] == ["10.1.2.4/24", "10.1.2.6/24"]
    assert "no IP addresses available" in fail(store, rs, "c")


def test_exhaustion_has_the_reference_wording(store: Store) -> None:
    rs = sets([{"subnet": "10.1.2.0/30"}])
    assert add(store, rs, "a") == ["10.1.2.2/30"]
    message = fail(store, rs, "b")
    expected = (
        "failed to allocate for range 0: no IP addresses available in range set: 10.1.2.1-10.1.2.2"
    )
    assert message == expected


def test_ipv6_from_the_second_set(store: Store) -> None:
    rs = sets(S24, [{"subnet": "fd00::/120"}])
    assert add(store, rs, "a") == ["10.1.2.2/24", "fd00::2/120"]
    assert held(store)[1] == ("fd00::2", "a", "eth0")


def test_requested_address_is_reserved_and_becomes_the_last(store: Store) -> None:
    rs = sets(S24, [{"subnet": "fd00::/120"}])
    assert add(store, rs, "a", "fd00::80", "10.1.2.50") == ["10.1.2.50/24", "fd00::80/120"]
    assert add(store, rs, "b") == ["10.1.2.51/24", "fd00::81/120"]


def test_requested_address_taken_or_gateway_is_refused(store: Store) -> None:
    rs = sets([{"subnet": "10.1.2.0/29", "rangeStart": "10.1.2.3", "rangeEnd": "10.1.2.4"}])
    assert add(store, rs, "a", "10.1.2.3") == ["10.1.2.3/29"]
    assert fail(store, rs, "b", "10.1.2.3") == (
        "failed to allocate for range 0: "
        "requested IP address 10.1.2.3 is not available in range set 10.1.2.3-10.1.2.4"
    )
    rs = sets(S24)
    assert fail(store, rs, "c", "10.1.2.1") == (
        "failed to allocate for range 0: requested ip 10.1.2.1 is subnet's gateway"
    )


def test_a_requested_address_outside_every_set_fails_and_rolls_back(store: Store) -> None:
    message = fail(store, sets(S24), "a", "10.9.9.9", "10.8.8.8")
    assert message == "failed to allocate all requested IPs: 10.9.9.9 10.8.8.8"
    assert held(store) == []


def test_duplicate_allocation_is_refused_but_another_ifname_is_fine(store: Store) -> None:
    rs = sets(S24)
    add(store, rs, "a")
    message = fail(store, rs, "a")
    assert message == (
        "failed to allocate for range 0: "
        "10.1.2.2 has been allocated to a, duplicate allocation is not allowed"
    )
    got = allocator.allocate(rs, [], store, "a", "eth1")
    assert got[0]["address"] == "10.1.2.3/24"


def test_failure_in_a_later_set_releases_the_earlier_ones(store: Store) -> None:
    rs = sets(S24, [{"subnet": "10.1.4.0/30"}])
    assert add(store, rs, "a") == ["10.1.2.2/24", "10.1.4.2/30"]
    message = fail(store, rs, "b")
    assert message.startswith("failed to allocate for range 1: no IP addresses available")
    assert [ip for ip, _, _ in held(store)] == ["10.1.2.2", "10.1.4.2"]
    assert isinstance(store, DiskStore) or not store.held  # the lock was let go


def test_release_frees_this_attachment_only_and_nothing_held_is_fine(store: Store) -> None:
    rs = sets(S24)
    add(store, rs, "a")
    allocator.allocate(rs, [], store, "a", "eth1")
    allocator.release(rs, store, "a", "eth0")
    assert held(store) == [("10.1.2.3", "a", "eth1")]
    allocator.release(rs, store, "a", "eth0")
    allocator.release(rs, store, "nobody", "eth0")
    assert allocator.find(store, "a", "eth1") and not allocator.find(store, "a", "eth0")


def legacy(store: Store, ip: str, cid: str) -> None:
    """A reservation as host-local before 0.7 wrote it: the container ID alone."""
    if isinstance(store, DiskStore):
        Path(store.dir, ip).write_text(cid)
    else:
        store.files[ip] = cid


def test_legacy_reservations_are_found_and_released_by_container_id(store: Store) -> None:
    legacy(store, "10.1.2.9", "old")
    assert allocator.find(store, "old", "eth0")
    assert fail(store, sets(S24), "old").endswith("duplicate allocation is not allowed")
    allocator.release(sets(S24), store, "old", "eth0")
    assert held(store) == []


def test_legacy_release_follows_the_reference_once_per_range_set(store: Store) -> None:
    legacy(store, "10.1.2.9", "c")
    add(store, sets(S24), "c", "10.1.2.20")  # requested: no duplicate check, as the reference
    allocator.release(sets(S24), store, "c", "eth0")
    assert [ip for ip, _, _ in held(store)] == ["10.1.2.9"]
    add(store, sets(S24), "c", "10.1.2.20")
    allocator.release(sets(S24, [{"subnet": "10.1.3.0/24"}]), store, "c", "eth0")
    assert held(store) == []


def test_gc_frees_what_no_valid_attachment_holds(store: Store) -> None:
    rs = sets(S24)
    for cid, ifname in [("keep", "eth0"), ("keep", "eth1"), ("gone", "eth0")]:
        allocator.allocate(rs, [], store, cid, ifname)
    legacy(store, "10.1.2.50", "keep")
    legacy(store, "10.1.2.51", "gone")
    freed = allocator.gc(store, {("keep", "eth0")})
    assert sorted(freed) == ["10.1.2.3", "10.1.2.4", "10.1.2.51"]
    assert held(store) == [("10.1.2.2", "keep", "eth0"), ("10.1.2.50", "keep", "")]


def test_gc_leaves_bookkeeping_and_stray_files_alone(tmp_path: Path) -> None:
    with DiskStore("net1", str(tmp_path)) as store:
        add(store, sets(S24), "gone")
        Path(store.dir, "notes.txt").write_text("gone\r\neth0")
        assert allocator.gc(store, set()) == ["10.1.2.2"]
        names = sorted(p.name for p in Path(store.dir).iterdir())
    assert names == ["last_reserved_ip.0", "lock", "notes.txt"]


def test_memory_store_refuses_use_without_the_lock() -> None:
    store = MemoryStore()
    with pytest.raises(RuntimeError, match="without its lock"):
        store.reserve("a", "eth0", "10.1.2.2", "0")
    with locked(store), pytest.raises(RuntimeError, match="twice"):
        store.lock()


TWO_RANGES = [
    {"subnet": "10.1.2.0/29", "rangeStart": "10.1.2.3", "rangeEnd": "10.1.2.4"},
    {"subnet": "10.1.3.0/29"},
]
EVERY = ["10.1.2.3", "10.1.2.4", *(f"10.1.3.{i}" for i in range(2, 7))]


@pytest.mark.parametrize(
    ("last", "first"),
    [
        ("10.1.2.3", "10.1.2.4"),
        ("10.1.2.4", "10.1.3.2"),  # next range; its start 10.1.3.1 is the gateway
        ("10.1.3.6", "10.1.2.3"),  # wrapped round to the first range
        ("10.1.3.1", "10.1.3.2"),  # the gateway itself as last: still in the set
        ("10.200.0.1", "10.1.2.3"),  # not in the set: from the first range's start
    ],
)
def test_candidates_visit_every_address_once_from_after_the_last(
    store: Store, last: str, first: str
) -> None:
    range_set = sets(TWO_RANGES)[0]
    with locked(store):
        store.reserve("x", "eth0", last, "0")
        store.release(last)
        order = [ip for _, ip in allocator.Allocator(range_set, store, 0).candidates()]
    texts = [format_ip(ip) for ip in order]
    assert texts[0] == first
    assert sorted(texts) == sorted(EVERY)
