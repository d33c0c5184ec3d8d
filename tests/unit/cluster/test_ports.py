"""Host ports are reserved up front: clear messages for ports in use and foreign addresses.

These bind real sockets on loopback only (allowed on the host), on ports the kernel picks.
"""

from __future__ import annotations

import socket

import pytest

from kin.cluster.ports import PortRequest, port_requests, reserve_ports
from kin.config import Cluster, Node, PortMapping, set_defaults
from kin.errors import ConfigError


def test_zero_gets_a_free_port_that_stays_held() -> None:
    with reserve_ports([PortRequest("networking.apiServerPort", "127.0.0.1", 0, "tcp")]) as held:
        port = held[0].port
        assert port > 0
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", port))
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # released when the block ends


def test_a_port_in_use_names_the_field() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        request = PortRequest("nodes[1].extraPortMappings[0]", "127.0.0.1", port, "tcp")
        with pytest.raises(ConfigError) as err, reserve_ports([request]):
            pass
    assert str(err.value) == (
        f"host port 127.0.0.1:{port}/tcp (nodes[1].extraPortMappings[0]) is already in use on this host"
    )


def test_an_address_the_host_lacks_names_the_field() -> None:
    request = PortRequest("nodes[0].extraPortMappings[2]", "203.0.113.77", 0, "udp")
    with pytest.raises(ConfigError) as err, reserve_ports([request]):
        pass
    assert str(err.value) == (
        "listen address 203.0.113.77 (nodes[0].extraPortMappings[2]) is not an address of this host"
    )


def test_two_requests_for_one_port_name_each_other_and_all_problems_are_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    requests = [
        PortRequest("nodes[0].extraPortMappings[0]", "127.0.0.1", port, "tcp"),
        PortRequest("nodes[1].extraPortMappings[0]", "127.0.0.1", port, "tcp"),
        PortRequest("nodes[1].extraPortMappings[1]", "203.0.113.77", 0, "tcp"),
    ]
    with pytest.raises(ConfigError) as err, reserve_ports(requests):
        pass
    assert err.value.problems == [
        f"host port 127.0.0.1:{port}/tcp (nodes[1].extraPortMappings[0]) is also requested by "
        "nodes[0].extraPortMappings[0]",
        "listen address 203.0.113.77 (nodes[1].extraPortMappings[1]) is not an address of this host",
    ]


def test_same_port_on_tcp_and_udp_does_not_clash() -> None:
    with reserve_ports([PortRequest("a", "127.0.0.1", 0, "tcp")]) as tcp:
        port = tcp[0].port
        with reserve_ports([PortRequest("b", "127.0.0.1", port, "udp")]) as udp:
            assert udp[0].port == port


def test_port_requests_list_the_api_server_first_with_kind_defaults() -> None:
    cluster = Cluster(nodes=[Node(role="control-plane"), Node(role="worker")])
    cluster.nodes[1].extra_port_mappings = [
        PortMapping(container_port=31000, host_port=31000),
        PortMapping(container_port=31001, host_port=31001, protocol="UDP"),
    ]
    set_defaults(cluster)
    assert port_requests(cluster) == [
        PortRequest("networking.apiServerPort", "127.0.0.1", 0, "tcp"),
        PortRequest("nodes[1].extraPortMappings[0]", "0.0.0.0", 31000, "tcp"),
        PortRequest("nodes[1].extraPortMappings[1]", "0.0.0.0", 31001, "udp"),
    ]
