"""Image archives: docker-save and OCI layouts unpacked with whiteouts, safely."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from kin.runtime.archive import ArchiveError, read_archive, unpack
from kin.runtime.images import ImageStore, import_archive
from kin.testing.images import busybox_archive

pytestmark = pytest.mark.skipif(
    not os.path.exists("/bin/busybox"), reason="busybox-static is not installed"
)


@pytest.mark.parametrize("oci", [False, True])
def test_archives_unpack_into_a_root_with_whiteouts_applied(tmp_path: Path, oci: bool) -> None:
    path = tmp_path / "image.tar"
    image_id = busybox_archive(str(path), "kintest/busybox:1.0", oci=oci)
    with tarfile.open(path) as archive:
        (image,) = read_archive(archive)
        assert image.id == image_id and image.tags == ["kintest/busybox:1.0"]
        assert image.process["Cmd"] == ["sh", "-c", "echo default command in $(pwd)"]
        size = unpack(archive, image, str(tmp_path / "rootfs"))
    root = tmp_path / "rootfs"
    assert (root / "bin/busybox").stat().st_size > 1_000_000 and size > 1_000_000
    assert os.readlink(root / "bin/sh") == "busybox"
    assert (root / "etc/motd").read_text() == "hello from the second layer\n"
    assert not (root / "etc/removed").exists() and not (root / "etc/.wh.removed").exists()


def test_import_records_the_image_with_its_node_path_and_process(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    image_id = busybox_archive(str(path), "kintest/busybox:1.0")
    host_root = tmp_path / "node-fs/var/lib/containerd/kin"
    (loaded,) = import_archive(str(path), str(host_root), "/var/lib/containerd/kin")
    assert loaded.tags == ["docker.io/kintest/busybox:1.0"]
    assert loaded.rootfs == f"/var/lib/containerd/kin/images/{image_id[7:]}/rootfs"
    assert (host_root / f"images/{image_id[7:]}/rootfs/bin/busybox").exists()
    store = ImageStore(str(host_root / "images.json"))
    found = store.find("kintest/busybox:1.0")
    assert found is not None and found.id == image_id
    assert found.process["env"] == ["PATH=/bin", "IMAGE_GREETING=from the image"]
    assert found.process["working_dir"] == "/tmp"


def test_paths_outside_the_root_are_never_written(tmp_path: Path) -> None:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for name, kind, link in (("../escape", tarfile.REGTYPE, ""), ("link", tarfile.SYMTYPE, "/"),
                                 ("link/etc-escape", tarfile.REGTYPE, ""), ("ok", tarfile.REGTYPE, "")):  # fmt: skip
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            tar.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    archive_path = tmp_path / "evil.tar"
    with tarfile.open(archive_path, "w") as archive:
        for name, data in (("layer.tar", layer.getvalue()), ("c.json", b"{}"),
                           ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["evil:1"],
                                                          "Layers": ["layer.tar"]}]).encode())):  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with tarfile.open(archive_path) as archive:
        (image,) = read_archive(archive)
        unpack(archive, image, str(tmp_path / "root" / "fs"))
    assert (tmp_path / "root/fs/ok").exists()
    assert not (tmp_path / "root/escape").exists()
    assert not Path("/etc-escape").exists()


def test_a_file_that_is_not_an_archive_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "notes.tar"
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("readme.txt")
        archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(ArchiveError, match="not an image archive"):
        import_archive(str(path), str(tmp_path / "root"), "/x")
    (tmp_path / "garbage").write_bytes(b"\x00" * 10)
    with pytest.raises(ArchiveError, match="cannot read image archive"):
        import_archive(str(tmp_path / "garbage"), str(tmp_path / "root"), "/x")


def test_whiteouts_through_a_symlink_never_delete_outside_the_root(tmp_path: Path) -> None:
    victim = tmp_path / "host-etc"
    victim.mkdir()
    (victim / "passwd").write_text("precious\n")
    layers = []
    for entries in (
        [("evil", tarfile.SYMTYPE, str(victim))],
        [("evil/.wh..wh..opq", tarfile.REGTYPE, ""), ("evil/.wh.passwd", tarfile.REGTYPE, ""),
         (".wh...", tarfile.REGTYPE, "")],
    ):  # fmt: skip
        layer = io.BytesIO()
        with tarfile.open(fileobj=layer, mode="w") as tar:
            for name, kind, link in entries:
                info = tarfile.TarInfo(name)
                info.type, info.linkname = kind, link
                tar.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
        layers.append(layer.getvalue())
    archive_path = tmp_path / "evil.tar"
    with tarfile.open(archive_path, "w") as archive:
        names = []
        for i, data in enumerate(layers):
            info = tarfile.TarInfo(f"l{i}.tar")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            names.append(f"l{i}.tar")
        manifest = json.dumps(
            [{"Config": "c.json", "RepoTags": ["evil:2"], "Layers": names}]
        ).encode()
        for name, data in (("c.json", b"{}"), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with tarfile.open(archive_path) as archive:
        (image,) = read_archive(archive)
        unpack(archive, image, str(tmp_path / "unpacked" / "root"))
    assert (victim / "passwd").read_text() == "precious\n"
    assert (tmp_path / "unpacked").is_dir()
