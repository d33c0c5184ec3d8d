"""subnet.env: Flannel's lines in Flannel's order, replaced in one rename, read back by a
restarted flanneld in etcd mode."""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path

import pytest

from kin.errors import ConfigError
from kin.flannel.subnetenv import SubnetEnv, previous_subnet, render, write

ENV = SubnetEnv(
    network=ipaddress.IPv4Network("10.244.0.0/16"),
    lease=ipaddress.IPv4Network("10.244.1.0/24"),
    mtu=1450,
    ip_masq=True,
)


def test_the_file_is_flannels() -> None:
    assert render(ENV) == (
        "FLANNEL_NETWORK=10.244.0.0/16\n"
        "FLANNEL_SUBNET=10.244.1.1/24\n"
        "FLANNEL_MTU=1450\n"
        "FLANNEL_IPMASQ=true\n"
    )


def test_written_0644_whatever_the_umask_into_a_new_0755_directory(tmp_path: Path) -> None:
    path = tmp_path / "run" / "flannel" / "subnet.env"
    old = os.umask(0o077)
    try:
        write(path, ENV)
    finally:
        os.umask(old)
    assert path.read_text() == render(ENV)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755 & ~0o077  # mkdir honours umask
    assert sorted(p.name for p in path.parent.iterdir()) == ["subnet.env"]  # no temporary left


def test_a_rewrite_replaces_the_file_in_one_rename(tmp_path: Path) -> None:
    path = tmp_path / "subnet.env"
    write(path, ENV)
    before = path.stat().st_ino
    write(path, SubnetEnv(ENV.network, ipaddress.IPv4Network("10.244.2.0/24"), 1472, False))
    assert path.stat().st_ino != before  # a new file renamed over, never rewritten in place
    assert "FLANNEL_SUBNET=10.244.2.1/24\n" in path.read_text()
    assert "FLANNEL_IPMASQ=false\n" in path.read_text()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "subnet.env"
    write(path, ENV)

    def refuse(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        write(path, SubnetEnv(ENV.network, ipaddress.IPv4Network("10.244.9.0/24"), 1450, True))
    assert path.read_text() == render(ENV)
    assert [p.name for p in tmp_path.iterdir()] == ["subnet.env"]


def test_the_previous_subnet_is_read_back_as_a_network(tmp_path: Path) -> None:
    path = tmp_path / "subnet.env"
    assert previous_subnet(path) is None
    write(path, ENV)
    assert previous_subnet(path) == ipaddress.IPv4Network("10.244.1.0/24")
    path.write_text("FLANNEL_NETWORK=10.244.0.0/16\n")
    assert previous_subnet(path) is None


def test_a_broken_previous_subnet_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "subnet.env"
    path.write_text("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.300/24\n")
    with pytest.raises(ConfigError, match=r"subnet.env:2: FLANNEL_SUBNET '10.244.1.300/24'"):
        previous_subnet(path)
