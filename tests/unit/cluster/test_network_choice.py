"""Choosing the kin network's subnet: the first /16 from 172.18 up that clashes with no host route."""

from __future__ import annotations

from ipaddress import IPv4Network

from kin.cluster.network import CANDIDATE_SUBNETS, first_free_subnet


def test_first_candidate_when_nothing_clashes() -> None:
    routes = [IPv4Network("0.0.0.0/0"), IPv4Network("192.0.2.0/24")]
    assert first_free_subnet(CANDIDATE_SUBNETS, routes) == "172.18.0.0/16"


def test_default_route_never_counts_as_a_clash() -> None:
    assert first_free_subnet(CANDIDATE_SUBNETS, [IPv4Network("0.0.0.0/0")]) == "172.18.0.0/16"


def test_skips_subnets_overlapping_host_routes() -> None:
    routes = [
        IPv4Network("172.18.5.0/24"),
        IPv4Network("172.16.0.0/15"),
        IPv4Network("172.19.0.0/16"),
    ]
    assert first_free_subnet(CANDIDATE_SUBNETS, routes) == "172.20.0.0/16"


def test_a_wide_route_covering_every_candidate_leaves_none() -> None:
    assert first_free_subnet(CANDIDATE_SUBNETS, [IPv4Network("172.16.0.0/12")]) is None
