"""Handing out addresses: one per range set, round-robin, as the reference allocator does.

Sources: ``backend/allocator/allocator.go`` and ``main.go`` of containernetworking/plugins.
Exactness matters because kin's host-local and the reference may share a state
directory: both walk a range set from just after ``last_reserved_ip.<set>`` (or from the
first range's start when that address is not in the set), skip the gateway, move to the
next range at a range's end and wrap, so a crash-looping pod does not get its old address
back until the set has gone round, and either plugin continues where the other stopped.

Locking: each entry point (``allocate``, ``release``, ``find``, ``gc``) holds the store's
lock for its whole run. The reference takes it per range set; holding it across all sets
makes a multi-set ADD atomic and is invisible to a reference process waiting on it.

Errors keep the reference's texts and its code 999 (``ERR_INTERNAL``): a runtime or a
person searching for ``no IP addresses available in range set`` finds the known answers.
"""

from __future__ import annotations

from kin.cni import spec
from kin.cni.ipam import format_ip, parse_ip
from kin.cni.ipam.store import locked
from kin.errors import CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from kin.cni.ipam import IP
    from kin.cni.ipam.config import Range, RangeSet
    from kin.cni.ipam.store import Store

    IPConfig = dict[str, str]

__all__ = ["Allocator", "allocate", "find", "gc", "release"]


class Allocator:
    """Allocation from one range set (reference ``IPAllocator``); the caller holds the lock."""

    __slots__ = ("range_id", "range_set", "store")

    def __init__(self, range_set: RangeSet, store: Store, index: int) -> None:
        self.range_set = range_set
        self.store = store
        self.range_id = str(index)

    def get(
        self, container_id: str, ifname: str, requested: IP | None = None
    ) -> tuple[str, IPConfig]:
        """Reserve ``requested``, or the next free address; its text and its IP config."""
        if requested is not None:
            return self._get_requested(container_id, ifname, requested)
        self._refuse_duplicate(container_id, ifname)
        for rng, ip in self.candidates():
            text = format_ip(ip)
            if self.store.reserve(container_id, ifname, text, self.range_id):
                return text, _ip_config(rng, ip)
        raise _failure(f"no IP addresses available in range set: {self.range_set}")

    def _get_requested(self, container_id: str, ifname: str, ip: IP) -> tuple[str, IPConfig]:
        text = format_ip(ip)
        index = self.range_set.index_of(ip)
        if index is None:
            raise _failure(f"{text} not in range set {self.range_set}")
        rng = self.range_set.ranges[index]
        if ip == rng.gateway:
            raise _failure(f"requested ip {text} is subnet's gateway")
        if not self.store.reserve(container_id, ifname, text, self.range_id):
            what = f"requested IP address {text} is not available in range set {self.range_set}"
            raise _failure(what)
        return text, _ip_config(rng, ip)

    def _refuse_duplicate(self, container_id: str, ifname: str) -> None:
        """The spec forbids a second ADD for (id, ifname) without a DEL in between."""
        for text in self.store.get_by_id(container_id, ifname):
            ip = parse_ip(text)
            if ip is not None and self.range_set.contains(ip):
                what = "duplicate allocation is not allowed"
                raise _failure(f"{format_ip(ip)} has been allocated to {container_id}, {what}")

    def candidates(self) -> Iterator[tuple[Range, IP]]:
        """Every address of the set once, in the reference's round-robin order."""
        ranges = self.range_set.ranges
        last = self._last_reserved()
        index = None if last is None else self.range_set.index_of(last)
        if last is None or index is None:
            index, value = 0, ranges[0].start[1]
        else:
            index, value = self._step(index, last[1])
        first = (index, value)
        while True:
            rng = ranges[index]
            if (rng.bits, value) != rng.gateway:
                yield rng, (rng.bits, value)
            index, value = self._step(index, value)
            if (index, value) == first:
                return

    def _step(self, index: int, value: int) -> tuple[int, int]:
        """The address after ``value``: the next range's start after a range's end."""
        ranges = self.range_set.ranges
        if value != ranges[index].end[1]:
            return index, value + 1
        index = (index + 1) % len(ranges)
        return index, ranges[index].start[1]

    def _last_reserved(self) -> IP | None:
        text = self.store.last_reserved_ip(self.range_id)
        return None if text is None else parse_ip(text)


def allocate(
    range_sets: list[RangeSet], requested: list[IP], store: Store, container_id: str, ifname: str
) -> list[IPConfig]:
    """ADD: one address from each range set, a requested one where it falls; all or nothing."""
    reserved: list[str] = []
    with locked(store):
        try:
            return _allocate(range_sets, list(requested), store, (container_id, ifname), reserved)
        except BaseException:
            for text in reserved:  # undo earlier sets, as the reference does
                store.release(text)
            raise


def _allocate(
    range_sets: list[RangeSet],
    pending: list[IP],
    store: Store,
    attachment: tuple[str, str],
    reserved: list[str],
) -> list[IPConfig]:
    ips = []
    for index, range_set in enumerate(range_sets):
        allocator = Allocator(range_set, store, index)
        text, ip_config = _get(index, allocator, attachment, _take(pending, range_set))
        reserved.append(text)
        ips.append(ip_config)
    if pending:
        missing = "".join(" " + format_ip(ip) for ip in pending)
        raise _failure(f"failed to allocate all requested IPs:{missing}")
    return ips


def _take(pending: list[IP], range_set: RangeSet) -> IP | None:
    """The first requested address this set holds, removed from ``pending``."""
    for ip in pending:
        if range_set.contains(ip):
            pending.remove(ip)
            return ip
    return None


def _get(
    index: int, allocator: Allocator, attachment: tuple[str, str], requested: IP | None
) -> tuple[str, IPConfig]:
    """``allocator.get`` with the reference's ``failed to allocate for range N:`` prefix."""
    prefix = f"failed to allocate for range {index}: "
    try:
        return allocator.get(*attachment, requested)
    except CNIError as exc:
        raise CNIError(exc.code, prefix + exc.msg, exc.details) from exc
    except OSError as exc:
        raise CNIError(spec.ERR_IO, f"{prefix}{exc}") from exc


def release(range_sets: list[RangeSet], store: Store, container_id: str, ifname: str) -> None:
    """DEL: free what (id, ifname) holds; holding nothing is success.

    Once per range set, as the reference: with two or more sets this also frees a
    legacy ``<containerID>``-only reservation next to a current one.
    """
    errors = []
    with locked(store):
        for _ in range_sets:
            try:
                store.release_by_id(container_id, ifname)
            except OSError as exc:
                errors.append(str(exc))
    if errors:
        raise CNIError(spec.ERR_IO, ";".join(errors))


def find(store: Store, container_id: str, ifname: str) -> bool:
    """CHECK: does (id, ifname), or a legacy reservation of id, hold any address?"""
    with locked(store):
        return store.find_by_id(container_id, ifname)


def gc(store: Store, valid: set[tuple[str, str]]) -> list[str]:
    """GC: free every reservation not held by a valid (id, ifname); return what was freed.

    A legacy reservation records no ifname, so any valid attachment of its container
    keeps it. Files not named by an address (``lock``, stray files) are left alone.
    """
    valid_ids = {container_id for container_id, _ in valid}
    freed = []
    with locked(store):
        for text, container_id, ifname in store.reservations():
            keep = (container_id, ifname) in valid if ifname else container_id in valid_ids
            if not keep and parse_ip(text) is not None:
                store.release(text)
                freed.append(text)
    return freed


def _ip_config(rng: Range, ip: IP) -> IPConfig:
    return {"address": f"{format_ip(ip)}/{rng.prefix}", "gateway": format_ip(rng.gateway)}


def _failure(message: str) -> CNIError:
    return CNIError(spec.ERR_INTERNAL, message)
