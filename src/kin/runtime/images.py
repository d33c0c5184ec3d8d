"""Images a node knows. No registry is reachable from kin's machines, so pulling an image
that was not loaded records it as kin's *host image*: its containers run on the node's
own files. Its ID is derived from the name (stable across restarts and nodes), and its
size is that of an empty layer (a tar archive's two end blocks): it adds no files.

Loaded images (``kin load image-archive``, see ``import_archive``) are root file systems
unpacked under the runtime's root, with the entrypoint, command, environment and working
directory of their config; containers run in them on a copy-on-write layer.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import threading
from collections.abc import Callable
from typing import Any

from kin.linux.files import locked, write_atomic
from kin.runtime.archive import ArchiveError, ArchiveImage, read_archive, unpack

__all__ = ["EMPTY_LAYER_SIZE", "Image", "ImageStore", "import_archive", "normalize"]

EMPTY_LAYER_SIZE = 1024


class Image:
    """An image by ID, its names, where its root file system is ("" = the node's files) and
    the process its config describes (entrypoint, cmd, env, working_dir, user)."""

    def __init__(
        self,
        id_: str,
        tags: list[str],
        rootfs: str = "",
        size: int = EMPTY_LAYER_SIZE,
        process: dict[str, Any] | None = None,
    ) -> None:
        self.id = id_
        self.tags = tags
        self.rootfs = rootfs
        self.size = size
        self.process = process or {}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "tags": self.tags, "rootfs": self.rootfs, "size": self.size,
                "process": self.process}  # fmt: skip

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Image:
        return cls(raw["id"], raw["tags"], raw.get("rootfs", ""), raw.get("size", EMPTY_LAYER_SIZE),
                   raw.get("process"))  # fmt: skip


def normalize(name: str) -> str:
    """``busybox`` -> ``docker.io/library/busybox:latest``, as containerd names images."""
    if "@" not in name and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    first = name.split("/", 1)[0]
    if "/" not in name:
        return f"docker.io/library/{name}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{name}"
    return name


def host_image_id(name: str) -> str:
    return "sha256:" + hashlib.sha256(f"kin-host-image\0{name}".encode()).hexdigest()


class ImageStore:
    """``images.json`` under the runtime's root, shared with ``kin load image-archive``: every
    change happens under a file lock, on the file as it is now, and a reader notices a
    change made by the other side by the file's modification time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.images: dict[str, Image] = {}
        self._mtime = -1

    def _refresh(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            self.images, self._mtime = {}, -1
            return
        if mtime == self._mtime:
            return
        with open(self.path) as f:
            raw = json.load(f)
        self.images = {i.id: i for i in (Image.from_json(e) for e in raw.get("images", []))}
        self._mtime = mtime

    def _change(self, change: Callable[[dict[str, Image]], None]) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with self.lock, locked(self.path + ".lock"):
            self._refresh()
            change(self.images)
            body = {"images": [image.to_json() for image in self.images.values()]}
            write_atomic(self.path, json.dumps(body))
            self._mtime = -1

    def find(self, ref: str) -> Image | None:
        """By ID, ID without ``sha256:``, a unique ID prefix of 12 or more, or any name."""
        if not ref:
            return None
        with self.lock:
            self._refresh()
            if ref in self.images:
                return self.images[ref]
            wanted = normalize(ref)
            for image in self.images.values():
                if wanted in image.tags or ref in image.tags:
                    return image
            bare = ref.removeprefix("sha256:")
            matches = [
                i for i in self.images.values() if i.id.removeprefix("sha256:").startswith(bare)
            ]
            return matches[0] if len(matches) == 1 and len(bare) >= 12 else None

    def pull(self, ref: str) -> Image:
        """The image ``ref`` names; an unknown one becomes a host image."""
        found = self.find(ref)
        if found is not None:
            return found
        name = normalize(ref)
        image = Image(host_image_id(name), [name])
        self._change(lambda images: images.__setitem__(image.id, image))
        return image

    def add(self, image: Image) -> None:
        """A loaded image; its names move to it from any image that had them."""

        def add(images: dict[str, Image]) -> None:
            for other in images.values():
                other.tags = [t for t in other.tags if t not in image.tags]
            images[image.id] = image

        self._change(add)

    def remove(self, ref: str) -> None:
        found = self.find(ref)
        if found is not None:
            self._change(lambda images: _forget(images, found.id))

    def all(self) -> list[Image]:
        with self.lock:
            self._refresh()
            return list(self.images.values())


def import_archive(archive_path: str, root_on_host: str, root_in_node: str) -> list[Image]:
    """Unpack every image of the archive under ``root_on_host/images/<id>/rootfs`` and record
    it in ``root_on_host/images.json`` with its path as the node sees it."""
    try:
        archive = tarfile.open(archive_path)  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise ArchiveError(f"cannot read image archive {archive_path}: {exc}") from exc
    store = ImageStore(os.path.join(root_on_host, "images.json"))
    loaded = []
    with archive:
        for found in read_archive(archive):
            digest = found.id.removeprefix("sha256:")
            rootfs = os.path.join("images", digest, "rootfs")
            known = store.find(found.id)
            if (
                known is not None
                and known.rootfs
                and os.path.isdir(os.path.join(root_on_host, rootfs))
            ):
                size = known.size  # the same content: never replaced under running containers
            else:
                try:
                    size = unpack(archive, found, os.path.join(root_on_host, rootfs))
                except (OSError, tarfile.TarError) as exc:
                    raise ArchiveError(
                        f"cannot unpack image {found.tags or found.id}: {exc}"
                    ) from exc
            tags = [normalize(t) for t in found.tags]
            image = Image(
                found.id, tags, os.path.join(root_in_node, rootfs), max(size, 1), _process(found)
            )
            store.add(image)
            loaded.append(image)
    return loaded


def _forget(images: dict[str, Image], image_id: str) -> None:
    images.pop(image_id, None)


def _process(image: ArchiveImage) -> dict[str, Any]:
    config = image.process
    return {
        "entrypoint": list(config.get("Entrypoint") or []),
        "cmd": list(config.get("Cmd") or []),
        "env": list(config.get("Env") or []),
        "working_dir": config.get("WorkingDir") or "",
        "user": config.get("User") or "",
    }
