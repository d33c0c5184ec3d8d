"""Network namespaces: pinned like `ip netns add`, entered only by a throwaway thread."""

from __future__ import annotations

import os
import subprocess

import pytest

from kin.errors import NetnsNotFound, NetworkSetupError
from kin.linux import ns
from kin.testing.names import random_name


def test_create_pins_a_namespace_ip_netns_sees(netns: str) -> None:
    assert ns.netns_exists(netns)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert netns in listed.split()
    links = subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True)
    assert links.stdout.split()[1] == "lo:"


def test_run_in_enters_the_namespace_and_leaves_the_caller_where_it_was(netns: str) -> None:
    mine = os.readlink("/proc/thread-self/ns/net")
    inside = ns.run_in(ns.netns_path(netns), lambda: os.readlink("/proc/thread-self/ns/net"))
    assert inside != mine
    assert inside == f"net:[{os.stat(ns.netns_path(netns)).st_ino}]"
    assert os.readlink("/proc/thread-self/ns/net") == mine


def test_run_in_reraises_what_the_function_raised(netns: str) -> None:
    def boom() -> None:
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        ns.run_in(ns.netns_path(netns), boom)


def test_run_in_an_absent_namespace_is_netns_not_found() -> None:
    with pytest.raises(NetnsNotFound, match="does not exist"):
        ns.run_in(ns.netns_path(random_name()), lambda: None)


def test_create_twice_fails_and_keeps_the_first(netns: str) -> None:
    with pytest.raises(NetworkSetupError, match="already exists"):
        ns.create_netns(netns)
    assert ns.netns_exists(netns)


def test_delete_is_idempotent() -> None:
    name = random_name()
    ns.create_netns(name)
    assert ns.delete_netns(name) is True
    assert ns.delete_netns(name) is False
    assert not ns.netns_exists(name)
    assert not os.path.exists(ns.netns_path(name))


@pytest.mark.parametrize("bad", ["", "a/b", ".", ".."])
def test_bad_names_are_refused_before_any_syscall(bad: str) -> None:
    with pytest.raises(NetworkSetupError, match="invalid network namespace name"):
        ns.netns_path(bad)
