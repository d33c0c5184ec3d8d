"""Small image archives for tests, built from Debian's busybox-static: no registry needed.

Two layers: the first has ``/bin/busybox`` with applet links, ``/etc/os-release`` naming
the image and ``/etc/removed``; the second deletes ``/etc/removed`` with a whiteout and
adds ``/etc/motd``. Written as ``docker save`` writes archives or as an OCI layout.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import time

__all__ = ["APPLETS", "BUSYBOX", "busybox_archive"]

BUSYBOX = "/bin/busybox"
APPLETS = (
    "sh",
    "ls",
    "cat",
    "echo",
    "hostname",
    "sleep",
    "ps",
    "test",
    "touch",
    "id",
    "env",
    "tr",
    "pwd",
)


def _add(
    tar: tarfile.TarFile,
    name: str,
    data: bytes = b"",
    mode: int = 0o644,
    kind: bytes = tarfile.REGTYPE,
    link: str = "",
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = int(time.time())
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _layer(files: list[tuple[str, bytes, int, bytes, str]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode, kind, link in files:
            _add(tar, name, data, mode, kind, link)
    return buffer.getvalue()


def layers(name: str) -> list[bytes]:
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    first = [
        ("bin", b"", 0o755, tarfile.DIRTYPE, ""), ("etc", b"", 0o755, tarfile.DIRTYPE, ""),
        ("proc", b"", 0o755, tarfile.DIRTYPE, ""), ("tmp", b"", 0o1777, tarfile.DIRTYPE, ""),
        ("bin/busybox", busybox, 0o755, tarfile.REGTYPE, ""),
        ("etc/os-release", f'PRETTY_NAME="kin test image {name}"\n'.encode(), 0o644,
         tarfile.REGTYPE, ""),
        ("etc/removed", b"deleted by the next layer\n", 0o644, tarfile.REGTYPE, ""),
    ]  # fmt: skip
    first += [(f"bin/{applet}", b"", 0o777, tarfile.SYMTYPE, "busybox") for applet in APPLETS]
    second = [
        ("etc/.wh.removed", b"", 0o644, tarfile.REGTYPE, ""),
        ("etc/motd", b"hello from the second layer\n", 0o644, tarfile.REGTYPE, ""),
    ]
    return [_layer(first), _layer(second)]


def _config(diff_ids: list[str]) -> bytes:
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin", "IMAGE_GREETING=from the image"], "WorkingDir": "/tmp",
                   "Cmd": ["sh", "-c", "echo default command in $(pwd)"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }  # fmt: skip
    return json.dumps(config).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def busybox_archive(path: str, tag: str = "kintest/busybox:1.0", oci: bool = False) -> str:
    """Write the archive; return the image ID (the sha256 of its config)."""
    blobs = layers(tag)
    config = _config([_digest(b) for b in blobs])
    with tarfile.open(path, "w") as archive:
        if oci:
            _write_oci(archive, blobs, config, tag)
        else:
            _write_docker(archive, blobs, config, tag)
    return _digest(config)


def _write_docker(archive: tarfile.TarFile, blobs: list[bytes], config: bytes, tag: str) -> None:
    names = []
    for i, blob in enumerate(blobs):
        name = f"layer{i}/layer.tar"
        _add(archive, name, blob)
        names.append(name)
    config_name = _digest(config).removeprefix("sha256:") + ".json"
    _add(archive, config_name, config)
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": names}]
    _add(archive, "manifest.json", json.dumps(manifest).encode())


def _write_oci(archive: tarfile.TarFile, blobs: list[bytes], config: bytes, tag: str) -> None:
    compressed = [gzip.compress(blob) for blob in blobs]  # OCI layers are usually gzipped
    for blob in [*compressed, config]:
        _add(archive, "blobs/sha256/" + _digest(blob).removeprefix("sha256:"), blob)
    oci = "application/vnd.oci.image"
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": f"{oci}.manifest.v1+json",
        "config": {"mediaType": f"{oci}.config.v1+json", "digest": _digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": f"{oci}.layer.v1.tar+gzip", "digest": _digest(b),
                    "size": len(b)} for b in compressed],
    }).encode()  # fmt: skip
    _add(archive, "blobs/sha256/" + _digest(manifest).removeprefix("sha256:"), manifest)
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _digest(manifest),
         "size": len(manifest), "annotations": {"io.containerd.image.name": tag}}]}  # fmt: skip
    _add(archive, "index.json", json.dumps(index).encode())
    _add(archive, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
