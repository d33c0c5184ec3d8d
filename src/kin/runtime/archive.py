"""Image archives into root file systems: what ``kin load image-archive`` puts on a node.

Reads the two formats ``docker save`` and OCI tools write: a docker archive
(``manifest.json`` naming the config and the layer tars, ``RepoTags``) or an OCI image
layout (``index.json`` -> manifest -> config and layer blobs). The layers, plain or
gzip-compressed tars, are unpacked in order into one directory, applying whiteouts
(``.wh.<name>`` deletes a path, ``.wh..wh..opq`` empties a directory), with every path
kept inside the directory and no device nodes created. The image's ID is the sha256 of
its config, as containerd's; its entrypoint, command, environment, working directory
and user come from the config.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tarfile
from typing import IO, Any

from kin.errors import KinError

__all__ = ["ArchiveError", "ArchiveImage", "read_archive", "unpack"]

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


class ArchiveError(KinError):
    """The file is not an image archive kin can read; the message says why."""


class ArchiveImage:
    """One image in an archive: its ID, names, config and layers (as readers)."""

    def __init__(
        self, id_: str, tags: list[str], config: dict[str, Any], layers: list[str]
    ) -> None:
        self.id = id_
        self.tags = tags
        self.config = config
        self.layers = layers
        """Member names of the layer tars inside the archive, bottom first."""

    @property
    def process(self) -> dict[str, Any]:
        """Entrypoint, Cmd, Env, WorkingDir and User, as the config says them."""
        found: dict[str, Any] = self.config.get("config") or {}
        return found


def read_archive(archive: tarfile.TarFile) -> list[ArchiveImage]:
    names = set(archive.getnames())
    if "manifest.json" in names:
        return _docker(archive)
    if "index.json" in names and "oci-layout" in names:
        return _oci(archive)
    raise ArchiveError(
        "not an image archive: neither manifest.json (docker save) nor an OCI layout"
    )


def _json(archive: tarfile.TarFile, name: str) -> Any:
    try:
        member = archive.extractfile(name)
    except KeyError as exc:
        raise ArchiveError(f"the archive has no {name}") from exc
    if member is None:
        raise ArchiveError(f"{name} in the archive is not a file")
    try:
        return json.loads(member.read())
    except ValueError as exc:
        raise ArchiveError(f"{name} in the archive is not JSON: {exc}") from exc


def _image_id(archive: tarfile.TarFile, name: str) -> tuple[str, dict[str, Any]]:
    member = archive.extractfile(name)
    if member is None:
        raise ArchiveError(f"the image config {name} is missing")
    raw = member.read()
    return "sha256:" + hashlib.sha256(raw).hexdigest(), json.loads(raw)


def _docker(archive: tarfile.TarFile) -> list[ArchiveImage]:
    images = []
    for entry in _json(archive, "manifest.json"):
        image_id, config = _image_id(archive, entry["Config"])
        images.append(
            ArchiveImage(image_id, list(entry.get("RepoTags") or []), config, list(entry["Layers"]))
        )
    return images


def _blob(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    return f"blobs/{algorithm}/{value}"


def _oci(archive: tarfile.TarFile) -> list[ArchiveImage]:
    images = []
    for descriptor in _json(archive, "index.json").get("manifests") or []:
        manifest = _json(archive, _blob(descriptor["digest"]))
        if "manifests" in manifest:  # a nested index: take the linux/amd64 entry
            nested = [
                m
                for m in manifest["manifests"]
                if (m.get("platform") or {}).get("architecture") in (None, "amd64")
            ]
            if not nested:
                continue
            manifest = _json(archive, _blob(nested[0]["digest"]))
        image_id, config = _image_id(archive, _blob(manifest["config"]["digest"]))
        annotations = descriptor.get("annotations") or {}
        name = annotations.get("io.containerd.image.name") or annotations.get(
            "org.opencontainers.image.ref.name", ""
        )
        tags = [name] if name else []
        images.append(
            ArchiveImage(
                image_id, tags, config, [_blob(layer["digest"]) for layer in manifest["layers"]]
            )
        )
    return images


def unpack(archive: tarfile.TarFile, image: ArchiveImage, target: str) -> int:
    """Unpack ``image``'s layers into ``target`` (replaced if it exists); return its size."""
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    for name in image.layers:
        member = archive.extractfile(name)
        if member is None:
            raise ArchiveError(f"layer {name} is missing from the archive")
        _apply_layer(member, partial)
    shutil.rmtree(target, ignore_errors=True)
    os.rename(partial, target)
    return _size(target)


def _apply_layer(stream: IO[bytes], root: str) -> None:
    with tarfile.open(fileobj=stream, mode="r:*") as layer:
        for member in layer:
            relative = os.path.normpath(member.name.lstrip("/"))
            if relative.startswith("..") or relative == ".":
                continue
            directory, base = os.path.split(relative)
            if base == OPAQUE or base.startswith(WHITEOUT):
                parent = os.path.join(root, directory)
                if not _inside(root, parent):
                    continue  # through a symlink out of the root: never follow it
                if base == OPAQUE:
                    _empty(parent)
                elif base[len(WHITEOUT) :] not in ("", ".", ".."):
                    _remove(os.path.join(parent, base[len(WHITEOUT) :]))
                continue
            if member.isdev() or member.isfifo():
                continue  # device nodes come from the node's /dev at run time
            _extract(layer, member, root, relative)


def _extract(layer: tarfile.TarFile, member: tarfile.TarInfo, root: str, relative: str) -> None:
    path = os.path.join(root, relative)
    if not _inside(root, os.path.dirname(path)):
        return  # a symlink in an earlier layer points out of the root: never follow it
    if os.path.lexists(path) and not (
        member.isdir() and os.path.isdir(path) and not os.path.islink(path)
    ):
        _remove(path)
    member.name = relative
    if member.islnk():
        member.linkname = os.path.normpath(member.linkname.lstrip("/"))
    layer.extract(member, root, set_attrs=True, filter="tar")


def _inside(root: str, directory: str) -> bool:
    """True when ``directory``, symlinks resolved, is ``root`` or below it."""
    real, top = os.path.realpath(directory), os.path.realpath(root)
    return real == top or real.startswith(top + os.sep)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def _empty(directory: str) -> None:
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            _remove(os.path.join(directory, name))


def _size(root: str) -> int:
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            with_stat = os.lstat(os.path.join(directory, name))
            if stat.S_ISREG(with_stat.st_mode):
                total += with_stat.st_size
    return total
