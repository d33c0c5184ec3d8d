"""The runtime's memory of each pod's addresses across a node's reboot (the logic alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kin.errors import CRIError
from kin.runtime import addresses
from kin.runtime.addresses import PodAddress, PodAddresses

pytestmark = pytest.mark.unit


class Releases:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, str]] = []

    def __call__(self, uid: str, entry: PodAddress) -> None:
        self.calls.append((uid, entry.sandbox))
        if self.fail:
            raise CRIError("plugin failed")


def memory(tmp_path: Path) -> PodAddresses:
    found = PodAddresses(str(tmp_path / "pod-addresses.json"))
    found.remember("uid-a", PodAddress("sb-a", "default", "a", ["10.244.1.2"]))
    found.remember("uid-b", PodAddress("sb-b", "default", "b", ["10.244.1.3"]))
    return found


def test_only_orphans_are_released_and_their_pods_reclaim_them(tmp_path: Path) -> None:
    release = Releases()
    reloaded = memory(tmp_path)
    reloaded = PodAddresses(reloaded.path)  # what a restarted runtime reads
    reloaded.release_orphans({"sb-b"}, release)
    assert release.calls == [("uid-a", "sb-a")]
    assert reloaded.reclaim("uid-a", {"sb-b"}, release) == ["10.244.1.2"]
    assert reloaded.reclaim("uid-b", {"sb-b"}, release) == []  # its sandbox still holds it
    assert reloaded.reclaim("uid-c", {"sb-b"}, release) == []
    assert release.calls == [("uid-a", "sb-a")]  # never twice


def test_a_failed_release_asks_for_nothing_and_is_tried_again(tmp_path: Path) -> None:
    found = memory(tmp_path)
    failing = Releases(fail=True)
    found.release_orphans(set(), failing)
    assert found.reclaim("uid-a", set(), failing) == []
    assert found.reclaim("uid-a", set(), Releases()) == ["10.244.1.2"]


def test_forget_is_for_the_same_sandbox_only(tmp_path: Path) -> None:
    found = memory(tmp_path)
    found.forget("uid-a", "an-older-sandbox")
    found.forget("uid-b", "sb-b")
    assert set(PodAddresses(found.path).entries) == {"uid-a"}


def test_unclaimed_addresses_expire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = memory(tmp_path)
    found.release_orphans(set(), Releases())
    monkeypatch.setattr(addresses, "KEEP_RELEASED", -1.0)
    found.release_orphans(set(), Releases())
    assert PodAddresses(found.path).entries == {}


def test_an_unreadable_file_is_a_fresh_start(tmp_path: Path) -> None:
    path = tmp_path / "pod-addresses.json"
    path.write_text("{not json")
    assert PodAddresses(str(path)).entries == {}
