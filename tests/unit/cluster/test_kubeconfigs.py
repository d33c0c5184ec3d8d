"""The user's kubeconfig as kind keeps it: which file, merge and removal of a cluster's
entries, the lock, and files that are not kubeconfigs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kin.cluster import kubeconfigs
from kin.errors import KinError

pytestmark = pytest.mark.unit


def entries(name: str, server: str = "https://127.0.0.1:1") -> dict[str, Any]:
    return {
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": {"token": "t"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


def test_merge_replaces_same_named_entries_keeps_others_and_sets_the_context() -> None:
    mine = kubeconfigs.merge({}, entries("kin-a"))
    both = kubeconfigs.merge(mine, entries("kind-other"))
    again = kubeconfigs.merge(both, entries("kin-a", "https://127.0.0.1:2"))
    assert [c["name"] for c in again["clusters"]] == ["kind-other", "kin-a"]
    assert again["clusters"][1]["cluster"]["server"] == "https://127.0.0.1:2"
    assert again["current-context"] == "kin-a"
    removed = kubeconfigs.unmerge(again, "kin-a")
    assert [c["name"] for c in removed["contexts"]] == ["kind-other"]
    assert removed["current-context"] == ""  # it named the removed cluster
    assert kubeconfigs.unmerge(both, "kin-a")["current-context"] == "kind-other"


def test_the_file_is_kubeconfig_flag_then_kubeconfig_variable_then_home(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    env = {"KUBECONFIG": f"{first}{os.pathsep}{second}"}
    assert kubeconfigs._write_target("", env) == str(second)  # none exists: the last
    second.write_text("")
    assert kubeconfigs._write_target("", env) == str(second)  # the first that exists
    first.write_text("")
    assert kubeconfigs._write_target("", env) == str(first)
    assert kubeconfigs._write_target("/x/flag", env) == "/x/flag"
    assert kubeconfigs._all_targets("", env) == [str(first), str(second)]
    home = kubeconfigs._write_target("", {})
    assert home == os.path.join(os.path.expanduser("~"), ".kube", "config")


def test_a_locked_file_is_an_error_that_says_so_and_a_bad_file_is_not_overwritten(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep" / "config"
    with kubeconfigs._locked(str(path)):  # makes the directory
        assert Path(f"{path}.lock").exists()
        with (
            pytest.raises(KinError, match="failed to lock kubeconfig"),
            kubeconfigs._locked(str(path)),
        ):
            pass
    assert not Path(f"{path}.lock").exists()
    path.write_text("- just\n- a list\n")
    with pytest.raises(KinError, match="is not a mapping"):
        kubeconfigs.remove_kubeconfig("a", str(path))
    assert path.read_text() == "- just\n- a list\n"


def test_removal_takes_the_entries_out_of_every_listed_file(tmp_path: Path) -> None:
    files = [tmp_path / "one", tmp_path / "two"]
    for path in files:
        document = kubeconfigs.merge(entries("kind-keep"), entries("kin-gone"))
        path.write_text(yaml.safe_dump(document))
    env = {"KUBECONFIG": os.pathsep.join(str(p) for p in files)}
    kubeconfigs.remove_kubeconfig("gone", environ=env)
    for path in files:
        document = yaml.safe_load(path.read_text())
        assert [u["name"] for u in document["users"]] == ["kind-keep"]
        assert document["current-context"] == ""


def test_a_symlinked_kubeconfig_stays_a_symlink_and_keeps_its_owner(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "kubeconfig"
    real.parent.mkdir()
    real.write_text(yaml.safe_dump(kubeconfigs.merge(entries("kind-keep"), entries("kin-gone"))))
    if os.geteuid() == 0:
        os.chown(real, 1000, 1000)  # a user's file, changed by kin running as root
    link = tmp_path / "config"
    link.symlink_to(real)
    kubeconfigs.remove_kubeconfig("gone", str(link))
    assert link.is_symlink()
    assert [c["name"] for c in yaml.safe_load(real.read_text())["contexts"]] == ["kind-keep"]
    if os.geteuid() == 0:
        assert (real.stat().st_uid, real.stat().st_gid) == (1000, 1000)
