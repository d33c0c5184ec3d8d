"""The runtime's pure parts: CRI log records, ID prefixes, image names, CNI results."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kin.errors import CRIAlreadyExists, CRIInvalid, CRINotFound
from kin.runtime import logs
from kin.runtime.cri import api_pb2 as cri
from kin.runtime.images import EMPTY_LAYER_SIZE, ImageStore, normalize
from kin.runtime.network import pod_ips
from kin.runtime.store import Records, SandboxRecord

RECORD = re.compile(r"(\S+) (stdout|stderr) ([FP]) (.*)")


def records(path: Path) -> list[tuple[str, str, str]]:
    found = []
    for line in path.read_bytes().decode().split("\n")[:-1]:
        match = RECORD.fullmatch(line)
        assert match, line
        found.append((match[2], match[3], match[4]))
    return found


def test_log_lines_are_cri_records(tmp_path: Path) -> None:
    writer = logs.LogWriter(str(tmp_path / "0.log"))
    writer.write("stdout", b"hel")
    writer.write("stdout", b"lo\nwor")
    writer.write("stderr", b"oops\n")
    writer.write("stdout", b"ld\n\n")
    writer.write("stdout", b"no newline at the end")
    writer.close()
    assert records(tmp_path / "0.log") == [
        ("stdout", "F", "hello"), ("stderr", "F", "oops"), ("stdout", "F", "world"),
        ("stdout", "F", ""), ("stdout", "P", "no newline at the end"),
    ]  # fmt: skip


def test_long_lines_are_split_into_partial_records(tmp_path: Path) -> None:
    writer = logs.LogWriter(str(tmp_path / "0.log"))
    writer.write("stdout", b"x" * (logs.MAX_LINE * 2 + 5) + b"\n")
    writer.close()
    found = records(tmp_path / "0.log")
    assert [(s, t, len(c)) for s, t, c in found] == [
        ("stdout", "P", logs.MAX_LINE), ("stdout", "P", logs.MAX_LINE), ("stdout", "F", 5),
    ]  # fmt: skip


def test_reopen_starts_a_new_file_after_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    writer = logs.LogWriter(str(path))
    writer.write("stdout", b"before\n")
    path.rename(tmp_path / "0.log.20261127")
    writer.reopen()
    writer.write("stdout", b"after\n")
    writer.close()
    assert records(tmp_path / "0.log.20261127") == [("stdout", "F", "before")]
    assert records(path) == [("stdout", "F", "after")]


def test_timestamps_are_rfc3339_nano_in_utc() -> None:
    assert logs.timestamp(1_700_000_000_123_450_000) == "2023-11-14T22:13:20.12345Z"
    assert logs.timestamp(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


def sandbox(records_: Records[SandboxRecord], id_: str, name: str) -> SandboxRecord:
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, namespace="ns", uid="u")
    )
    record = SandboxRecord(id_, records_.directory_for(id_), config, {"name": name})
    record.save()
    records_.add(record)
    return record


def test_ids_are_found_by_unique_prefix_and_survive_a_reload(tmp_path: Path) -> None:
    store: Records[SandboxRecord] = Records(str(tmp_path), SandboxRecord)
    sandbox(store, "abc123" + "0" * 58, "one")
    sandbox(store, "abd456" + "0" * 58, "two")
    assert store.get("abc").facts["name"] == "one"
    with pytest.raises(CRIInvalid, match="ambiguous"):
        store.get("ab")
    with pytest.raises(CRINotFound):
        store.get("ffff")
    with pytest.raises(CRIInvalid):
        store.get("")
    again: Records[SandboxRecord] = Records(str(tmp_path), SandboxRecord)
    assert again.load_all() == []
    assert again.get("abd").config.metadata.name == "two"
    with pytest.raises(CRIAlreadyExists, match='failed to reserve sandbox name "one"'):
        again.reserve("one", "another")
    again.remove(again.get("abc"))
    again.reserve("one", "another")  # released with the record
    assert not (tmp_path / ("abc123" + "0" * 58)).exists()


def test_an_unreadable_record_is_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "record.json").write_text("{not json")
    store: Records[SandboxRecord] = Records(str(tmp_path), SandboxRecord)
    assert [p.split(":")[0] for p in store.load_all()] == ["skipped pod sandbox broken"]


@pytest.mark.parametrize(
    ("name", "full"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("kindest/node:v1.33.1", "docker.io/kindest/node:v1.33.1"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("ghcr.io/flannel-io/flannel@sha256:abc", "ghcr.io/flannel-io/flannel@sha256:abc"),
    ],
)
def test_image_names_are_normalized_as_containerd_does(name: str, full: str) -> None:
    assert normalize(name) == full


def test_pulled_host_images_are_stable_and_persist(tmp_path: Path) -> None:
    store = ImageStore(str(tmp_path / "images.json"))
    image = store.pull("nginx")
    assert image.id.startswith("sha256:") and image.size == EMPTY_LAYER_SIZE > 0
    assert store.pull("docker.io/library/nginx:latest").id == image.id
    again = ImageStore(str(tmp_path / "images.json"))
    assert again.find("nginx") is not None and again.find(image.id) is not None
    assert again.find(image.id.removeprefix("sha256:")[:12]) is not None
    again.remove("nginx")
    assert ImageStore(str(tmp_path / "images.json")).find("nginx") is None


def test_pod_ips_come_from_eth0_ipv4_first() -> None:
    result = {
        "interfaces": [{"name": "cni0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/x"}],
        "ips": [
            {"interface": 2, "address": "fd00::5/64"},
            {"interface": 0, "address": "10.244.1.1/24"},
            {"interface": 2, "address": "10.244.1.5/24", "gateway": "10.244.1.1"},
        ],
    }
    assert pod_ips(result) == ["10.244.1.5", "fd00::5"]
    assert pod_ips({"ips": [{"address": "10.1.0.2/16"}]}) == ["10.1.0.2"]
    assert pod_ips({}) == []
