"""Images a node knows. No registry is reachable from kin's machines, so pulling an image
that was not loaded records it as kin's *host image*: its containers run on the node's
own files. Its ID is derived from the name (stable across restarts and nodes), and its
size is that of an empty layer (a tar archive's two end blocks): it adds no files.

Loaded images (``kin load image-archive``) are unpacked root filesystems; they join
this store with the image-archive work.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

from kin.linux.files import write_atomic

__all__ = ["EMPTY_LAYER_SIZE", "Image", "ImageStore", "normalize"]

EMPTY_LAYER_SIZE = 1024


class Image:
    """An image by ID, its names, and where its root filesystem is ("" = the node's)."""

    def __init__(
        self, id_: str, tags: list[str], rootfs: str = "", size: int = EMPTY_LAYER_SIZE
    ) -> None:
        self.id = id_
        self.tags = tags
        self.rootfs = rootfs
        self.size = size


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
    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.images: dict[str, Image] = {}
        self._load()

    def _load(self) -> None:
        try:
            with open(self.path) as f:
                raw = json.load(f)
        except FileNotFoundError:
            return
        for entry in raw.get("images", []):
            image = Image(
                entry["id"],
                entry["tags"],
                entry.get("rootfs", ""),
                entry.get("size", EMPTY_LAYER_SIZE),
            )
            self.images[image.id] = image

    def _save(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        body = {"images": [vars(image) for image in self.images.values()]}
        write_atomic(self.path, json.dumps(body))

    def find(self, ref: str) -> Image | None:
        """By ID, ID without ``sha256:``, a unique ID prefix, or any name of it."""
        if not ref:
            return None
        with self.lock:
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
        with self.lock:
            self.images[image.id] = image
            self._save()
        return image

    def remove(self, ref: str) -> None:
        found = self.find(ref)
        if found is None:
            return
        with self.lock:
            self.images.pop(found.id, None)
            self._save()

    def all(self) -> list[Image]:
        with self.lock:
            return list(self.images.values())
