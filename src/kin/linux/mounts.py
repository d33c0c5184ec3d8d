"""Mount-namespace set-up for a node: private propagation, bind mounts, its own /proc and /sys.

These run inside a freshly unshared mount namespace (the node's PID 1 calls
them), so nothing here can change the host's mount table.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

from kin.linux import syscalls

__all__ = [
    "bind",
    "detach_mounts_of_type",
    "enter_copy_on_write_root",
    "enter_image_root",
    "make_rprivate",
    "make_rshared",
    "mount_points",
    "mount_proc",
    "mount_sysfs",
    "resolve_in_root",
    "top_level_mounts",
]


def make_rprivate(path: str = "/") -> None:
    """Cut propagation to and from the mounts we were copied from."""
    syscalls.mount(None, path, flags=syscalls.MS_REC | syscalls.MS_PRIVATE)


def make_rshared(path: str = "/") -> None:
    """Share mounts made later under ``path`` with namespaces copied from this one (pods)."""
    syscalls.mount(None, path, flags=syscalls.MS_REC | syscalls.MS_SHARED)


PROPAGATION_FLAGS = {
    "private": syscalls.MS_PRIVATE,
    "slave": syscalls.MS_SLAVE,
    "shared": syscalls.MS_SHARED,
}


def bind(source: str, target: str, readonly: bool = False, propagation: str = "") -> None:
    """``mount --rbind SOURCE TARGET`` [read-only] [with ``propagation``: private/slave/shared]."""
    syscalls.mount(source, target, flags=syscalls.MS_BIND | syscalls.MS_REC)
    if readonly:
        syscalls.mount_setattr_readonly(target)
    if propagation:
        syscalls.mount(None, target, flags=syscalls.MS_REC | PROPAGATION_FLAGS[propagation])


def mount_proc(target: str = "/proc") -> None:
    """A proc instance for the calling process's PID namespace."""
    flags = syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC
    syscalls.mount("proc", target, "proc", flags)


def mount_sysfs(target: str = "/sys") -> None:
    """A sysfs showing the calling process's network namespace, keeping the cgroup tree."""
    cgroup = os.path.join(target, "fs/cgroup")
    tree = _clone_tree(cgroup)
    flags = syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC
    syscalls.mount("sysfs", target, "sysfs", flags)
    if tree is not None:
        try:
            syscalls.move_mount_tree(tree, cgroup)
        finally:
            os.close(tree)


def _clone_tree(path: str) -> int | None:
    if not os.path.ismount(path):
        return None
    try:
        return syscalls.open_tree_clone(path)
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
            return None
        raise


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> Iterator[tuple[str, str]]:
    """(mount point, filesystem type) of every mount, in mount order."""
    with open(mountinfo) as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            yield _unescape(fields[4]), fields[sep + 1]


def top_level_mounts(mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Visible mount points mounted directly on the root mount (``/proc``, ``/run``, binds
    ...), in mount order; one hidden under a later mount at or above it is left out."""
    with open(mountinfo) as f:
        entries = [line.split() for line in f]
    root_ids = {fields[0] for fields in entries if _unescape(fields[4]) == "/"}
    points = [_unescape(f[4]) for f in entries if f[1] in root_ids and _unescape(f[4]) != "/"]
    return [point for i, point in enumerate(points) if not _covered(point, points[i + 1 :])]


def _covered(point: str, later: list[str]) -> bool:
    return any(point == other or point.startswith(other.rstrip("/") + "/") for other in later)


Binds = list[tuple[str, str, bool]]
"""(source in the current view, target inside the new root, read-only)."""

MAX_LINKS = 40
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def enter_copy_on_write_root(
    layer_dir: str, binds: Binds, hidden: tuple[str, ...] = (), devices: tuple[str, ...] = ()
) -> None:
    """Make this mount namespace's root a copy-on-write view of the current one.

    An overlay whose lower layer is ``/`` and whose upper layer is a fresh tmpfs mounted
    at ``layer_dir``; the other top-level mounts come back read-only (``/proc``, ``/dev``
    and ``/sys`` are the container's own, and mounts at or below ``hidden`` paths are
    left out); then ``pivot_root`` into it. What the process writes, and every mount
    point it needs, lands in memory, never on the file system underneath: a top-level
    mount where a bind needs a mount point that does not exist (a volume at
    ``/etc/kube-flannel`` on a node whose ``/etc`` is a mount of its own) comes back as a
    copy-on-write overlay of itself instead, its own submounts bound again read-only.
    Call it in a private or slave mount namespace.
    """
    skipped = ("/proc", "/dev", "/sys", *hidden)
    submounts = [
        m for m in top_level_mounts() if not _under(m, skipped) and not _under(m, (layer_dir,))
    ]
    root = _overlay(layer_dir, "/")
    for number, point in enumerate(submounts):
        target = resolve_in_root(root, point)
        if os.path.isdir(point) != os.path.isdir(target) or not os.path.lexists(target):
            continue
        if os.path.isdir(point) and _lacks_mount_points(point, binds):
            _writable_copy(point, target, os.path.join(layer_dir, f"mount{number}"), root)
        else:
            syscalls.mount(point, target, flags=syscalls.MS_BIND | syscalls.MS_REC)
            syscalls.mount_setattr_readonly(target)
    _finish_root(root, binds, devices)


def _lacks_mount_points(point: str, binds: Binds) -> bool:
    """Whether a bind target below ``point`` does not exist there."""
    return any(
        _under(target, (point,)) and target != point and not os.path.lexists(target)
        for _, target, _ in binds
    )  # fmt: skip


def _writable_copy(point: str, target: str, scratch: str, root: str) -> None:
    """``point`` at ``target`` as an overlay over it (upper layer in ``scratch``, in the
    container's memory), with the mounts made on ``point`` bound again, read-only."""
    upper, work = os.path.join(scratch, "upper"), os.path.join(scratch, "work")
    os.makedirs(upper)
    os.makedirs(work)
    syscalls.mount("overlay", target, "overlay", 0,
                   f"lowerdir={point},upperdir={upper},workdir={work}")  # fmt: skip
    for child in child_mounts(point):
        child_target = resolve_in_root(root, child)
        if os.path.lexists(child_target) and os.path.isdir(child) == os.path.isdir(child_target):
            syscalls.mount(child, child_target, flags=syscalls.MS_BIND | syscalls.MS_REC)
            syscalls.mount_setattr_readonly(child_target)


def child_mounts(point: str, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """The mount points of the mounts made directly on the (last) mount at ``point``."""
    with open(mountinfo) as f:
        entries = [line.split() for line in f]
    ids = [fields[0] for fields in entries if _unescape(fields[4]) == point]
    if not ids:
        return []
    return [_unescape(f[4]) for f in entries if f[1] == ids[-1]]


def enter_image_root(
    rootfs: str, layer_dir: str, binds: Binds, devices: tuple[str, ...] = ()
) -> None:
    """Make this mount namespace's root an image's files, copy-on-write, and pivot into it.

    The image directory is the lower layer of an overlay over a fresh tmpfs at
    ``layer_dir``. The caller mounts ``/proc`` for its PID namespace afterwards.
    """
    _finish_root(_overlay(layer_dir, rootfs), binds, devices)


def _overlay(layer_dir: str, lower: str) -> str:
    syscalls.mount("tmpfs", layer_dir, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NODEV, "mode=0755")
    upper, work, root = (os.path.join(layer_dir, d) for d in ("upper", "work", "root"))
    for directory in (upper, work, root):
        os.mkdir(directory)
    syscalls.mount(
        "overlay", root, "overlay", 0, f"lowerdir={lower},upperdir={upper},workdir={work}"
    )
    return root


def _finish_root(root: str, binds: Binds, devices: tuple[str, ...] = ()) -> None:
    """A ``/dev`` of its own (with ``devices`` of the node's besides the usual ones), the
    node's ``/sys`` read-only (cgroups included), the binds, then ``pivot_root``."""
    _populate_dev(_make_dir(resolve_in_root(root, "/dev")), devices)
    sys_dir = _make_dir(resolve_in_root(root, "/sys"))
    syscalls.mount("/sys", sys_dir, flags=syscalls.MS_BIND | syscalls.MS_REC)
    syscalls.mount_setattr_readonly(sys_dir)
    _bind_into(root, binds)
    os.chdir(root)
    syscalls.pivot_root(".", ".")
    syscalls.umount2(".", syscalls.MNT_DETACH)
    os.chdir("/")
    os.makedirs("/proc", exist_ok=True)


def resolve_in_root(root: str, path: str) -> str:
    """``path`` as seen from inside ``root``: symlinks (absolute ones included) and ``..``
    resolved against ``root``, never leaving it, as runc's securejoin does."""
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            links += 1
            if links > MAX_LINKS:
                raise OSError(f"too many symbolic links resolving {path} in the container")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _make_dir(path: str) -> str:
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        os.unlink(path)
    os.makedirs(path, exist_ok=True)
    return path


def _bind_into(root: str, binds: Binds) -> None:
    """Bind each source at its target inside ``root`` (resolved there, so a symlink in the
    root never leads outside it), making the mount point in the copy-on-write layer
    when the root does not have it."""
    for source, target, readonly in binds:
        if not target.startswith("/"):
            raise OSError(f"mount target {target!r} is not an absolute path")
        path = resolve_in_root(root, target)
        if not os.path.lexists(path):
            if os.path.isdir(source):
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "a").close()
        syscalls.mount(source, path, flags=syscalls.MS_BIND | syscalls.MS_REC)
        if readonly:
            syscalls.mount_setattr_readonly(path)


def _populate_dev(dev: str, extra: tuple[str, ...] = ()) -> None:
    os.makedirs(dev, exist_ok=True)
    syscalls.mount("tmpfs", dev, "tmpfs", syscalls.MS_NOSUID, "mode=0755,size=65536k")
    for name in (*DEVICES, *(d for d in extra if os.path.exists(f"/dev/{d}"))):
        target = os.path.join(dev, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
        syscalls.mount(f"/dev/{name}", target, flags=syscalls.MS_BIND)
    os.mkdir(os.path.join(dev, "pts"))
    options = "newinstance,ptmxmode=0666,mode=0620"
    syscalls.mount(
        "devpts",
        os.path.join(dev, "pts"),
        "devpts",
        syscalls.MS_NOSUID | syscalls.MS_NOEXEC,
        options,
    )
    os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    os.mkdir(os.path.join(dev, "shm"))
    syscalls.mount(
        "shm",
        os.path.join(dev, "shm"),
        "tmpfs",
        syscalls.MS_NOSUID | syscalls.MS_NODEV,
        "mode=1777",
    )
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, os.path.join(dev, name))


def detach_mounts_of_type(fstype: str) -> list[str]:
    """Lazily unmount every mount of ``fstype``, deepest first; return what went.

    A node's mount namespace starts as a copy of the host's, including the
    nsfs pins of other nodes' network namespaces; dropping them keeps a node
    from holding another node's namespace alive after that node is deleted.
    """
    targets = [point for point, kind in mount_points() if kind == fstype]
    for target in reversed(targets):
        try:
            syscalls.umount2(target, syscalls.MNT_DETACH)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOENT):
                raise
    return targets


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    if "\\" not in field:
        return field
    return field.encode().decode("unicode_escape")
