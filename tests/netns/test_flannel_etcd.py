"""The etcd subnet manager against a real etcd (Debian's etcd-server on loopback): the
configuration key, Flannel's lease keys and values with their TTL, the lease a node had
taken again, reservations, exhaustion, peers and watch events including an expiry."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from kin.errors import ConfigError, KinError
from kin.etcd.client import EtcdClient, pb
from kin.flannel.lease import Lease, LeaseAttrs
from kin.flannel.subnet import LeaseLost
from kin.flannel.subnet import etcd as etcd_manager
from kin.flannel.subnet.etcd import EtcdSubnetManager, lease_key
from kin.testing.etcd import running_etcd
from kin.testing.names import random_name

T = TypeVar("T")
CONFIG = {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}


def attrs(n: int) -> LeaseAttrs:
    return LeaseAttrs(
        ipaddress.IPv4Address(f"172.31.0.{n}"),
        "vxlan",
        {"VNI": 1, "VtepMAC": f"0a:00:00:00:00:0{n}"},
    )


@pytest.fixture(scope="module")
def etcd_url() -> Iterator[str]:
    with running_etcd() as etcd:
        yield f"http://127.0.0.1:{etcd.client_port}"


@pytest.fixture
def prefix() -> str:
    return f"/{random_name('kinflannel')}/network"  # each test its own network in one etcd


def run(url: str, scenario: Callable[[EtcdClient], Awaitable[T]]) -> T:
    async def main() -> T:
        etcd = EtcdClient([url])
        try:
            return await asyncio.wait_for(scenario(etcd), 30)
        finally:
            await etcd.close()

    return asyncio.run(main())


async def put(etcd: EtcdClient, key: str, value: Any) -> None:
    await etcd.put(key.encode(), json.dumps(value).encode())


async def get(etcd: EtcdClient, key: str) -> pb.KeyValue | None:
    kvs = (await etcd.range(key.encode())).kvs
    return kvs[0] if kvs else None


def test_no_config_key_is_a_clear_error_and_a_config_is_checked(etcd_url: str, prefix: str) -> None:
    async def scenario(etcd: EtcdClient) -> None:
        manager = EtcdSubnetManager(etcd, prefix)
        with pytest.raises(
            ConfigError, match=f"etcd {prefix}/config: no network configuration there"
        ):
            await manager.config()
        await put(etcd, f"{prefix}/config", {"Network": "10.5.0.0/29"})
        with pytest.raises(ConfigError, match="network is too small"):
            await manager.config()

    run(etcd_url, scenario)


def test_a_lease_is_flannels_key_and_value_with_a_24_hour_ttl_and_is_taken_again(
    etcd_url: str, prefix: str
) -> None:
    async def scenario(etcd: EtcdClient) -> tuple[Lease, pb.KeyValue, int, Lease]:
        await put(etcd, f"{prefix}/config", CONFIG)
        lease = await EtcdSubnetManager(etcd, prefix).acquire(attrs(1))
        stored = await get(etcd, lease_key(prefix, lease.subnet))
        assert stored is not None
        ttl = await etcd.lease_time_to_live(stored.lease)
        again = await EtcdSubnetManager(etcd, prefix).acquire(attrs(1))  # a restart
        return lease, stored, ttl.TTL, again

    lease, stored, ttl, again = run(etcd_url, scenario)
    assert lease.subnet.prefixlen == 24 and lease.subnet.subnet_of(
        ipaddress.IPv4Network("10.244.0.0/16")
    )
    assert lease.subnet != ipaddress.IPv4Network("10.244.0.0/24")  # the first subnet is skipped
    assert json.loads(stored.value) == {
        "PublicIP": "172.31.0.1", "PublicIPv6": None, "BackendType": "vxlan",
        "BackendData": {"VNI": 1, "VtepMAC": "0a:00:00:00:00:01"},
    }  # fmt: skip
    assert 86000 < ttl <= 86400
    assert again.subnet == lease.subnet


def test_the_subnet_from_subnet_env_is_asked_for_and_a_reservation_never_expires(
    etcd_url: str, prefix: str
) -> None:
    wanted = ipaddress.IPv4Network("10.244.77.0/24")

    async def scenario(etcd: EtcdClient) -> tuple[Lease, Lease, pb.KeyValue | None]:
        await put(etcd, f"{prefix}/config", CONFIG)
        remembered = await EtcdSubnetManager(etcd, prefix, previous_subnet=wanted).acquire(attrs(1))
        reserved = ipaddress.IPv4Network("10.244.90.0/24")
        await put(etcd, lease_key(prefix, reserved), {"PublicIP": "172.31.0.2", "PublicIPv6": None})
        taken = await EtcdSubnetManager(etcd, prefix).acquire(attrs(2))
        return remembered, taken, await get(etcd, lease_key(prefix, reserved))

    remembered, taken, stored = run(etcd_url, scenario)
    assert remembered.subnet == wanted
    assert str(taken.subnet) == "10.244.90.0/24"  # the reservation carries node 2's address
    assert stored is not None and stored.lease == 0  # still without a TTL


def test_out_of_subnets_says_so(etcd_url: str, prefix: str) -> None:
    async def scenario(etcd: EtcdClient) -> list[str]:
        await put(
            etcd, f"{prefix}/config", {"Network": "10.5.0.0/28", "Backend": {"Type": "vxlan"}}
        )
        got = [
            str((await EtcdSubnetManager(etcd, prefix).acquire(attrs(n))).subnet) for n in (1, 2, 3)
        ]
        with pytest.raises(KinError, match=r"out of subnets in 10\.5\.0\.0/28 \(/30 each\)"):
            await EtcdSubnetManager(etcd, prefix).acquire(attrs(4))
        return got

    assert sorted(run(etcd_url, scenario)) == ["10.5.0.12/30", "10.5.0.4/30", "10.5.0.8/30"]


def test_peers_and_watch_follow_leases_including_an_expiry(etcd_url: str, prefix: str) -> None:
    async def scenario(etcd: EtcdClient) -> tuple[list[str], list[tuple[str, str | None]]]:
        await put(etcd, f"{prefix}/config", CONFIG)
        me = EtcdSubnetManager(etcd, prefix)
        mine = await me.acquire(attrs(1))
        await EtcdSubnetManager(etcd, prefix).acquire(attrs(2))
        found, version = await me.peers()
        brief = EtcdSubnetManager(etcd, prefix, ttl=2)  # expires while we watch
        await brief.acquire(attrs(3))
        events: list[tuple[str, str | None]] = []
        async for name, lease in me.watch(version):
            events.append((name, str(lease.attrs.public_ip) if lease else None))
            if lease is None:
                break
        assert mine.subnet not in {lease.subnet for lease in found.values()}
        return [str(lease.attrs.public_ip) for lease in found.values()], events

    found, events = run(etcd_url, scenario)
    assert found == ["172.31.0.2"]
    assert [e[1] for e in events] == ["172.31.0.3", None]  # put, then the TTL's deletion
    assert events[0][0] == events[1][0]


def test_complete_renews_the_lease_before_it_expires(etcd_url: str, prefix: str) -> None:
    """Renewal is a new put with a fresh etcd lease, ``renew_margin`` before the end (here
    a 3 s TTL renewed 2 s early): the key outlives its first lease."""

    async def scenario(etcd: EtcdClient) -> tuple[int, str, pb.KeyValue | None]:
        await put(etcd, f"{prefix}/config", CONFIG)
        manager = EtcdSubnetManager(etcd, prefix, ttl=3, renew_margin=2)
        lease = await manager.acquire(attrs(1))
        key = lease_key(prefix, lease.subnet)
        first = await get(etcd, key)
        assert first is not None
        await manager.complete()
        await asyncio.sleep(4.5)  # past the first lease's end
        await manager.close()
        return first.lease, key, await get(etcd, key)

    first_lease, key, now = run(etcd_url, scenario)
    assert now is not None, f"{key} expired: it was not renewed"
    assert now.lease != first_lease


def test_a_daemon_whose_own_lease_is_deleted_is_told(etcd_url: str, prefix: str) -> None:
    """Flannel stops ("Lease has been revoked") rather than route for a subnet that may be
    handed to someone else; the watch raises LeaseLost, which the daemon does not swallow."""

    async def scenario(etcd: EtcdClient) -> None:
        await put(etcd, f"{prefix}/config", CONFIG)
        me = EtcdSubnetManager(etcd, prefix)
        mine = await me.acquire(attrs(1))
        _, version = await me.peers()
        await etcd.delete_range(lease_key(prefix, mine.subnet).encode())
        with pytest.raises(LeaseLost, match="has been revoked"):
            async for _ in me.watch(version):
                pass

    run(etcd_url, scenario)


def test_a_failed_renewal_is_tried_again_soon_not_a_lease_later(
    etcd_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4 s lease renewed 1 s before its end: the first renewal fails, the retry (0.3 s
    later here, a minute in Flannel) must come before the lease ends."""
    monkeypatch.setattr(etcd_manager, "RETRY_RENEWAL", 0.3)

    async def scenario(etcd: EtcdClient) -> pb.KeyValue | None:
        await put(etcd, f"{prefix}/config", CONFIG)
        manager = EtcdSubnetManager(etcd, prefix, ttl=4, renew_margin=1)
        lease = await manager.acquire(attrs(1))
        real_put, failures = manager._put, [1]

        async def flaky(*args: Any, **kwargs: Any) -> None:
            if failures:
                failures.pop()
                raise KinError("etcd unreachable (the test says so)")
            await real_put(*args, **kwargs)

        monkeypatch.setattr(manager, "_put", flaky)
        await manager.complete()
        await asyncio.sleep(5)  # past the first lease's end
        await manager.close()
        return await get(etcd, lease_key(prefix, lease.subnet))

    assert run(etcd_url, scenario) is not None
