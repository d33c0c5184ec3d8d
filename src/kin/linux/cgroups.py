"""cgroup v1 groups for pods: memory, cpu and pids, below the caller's own cgroups.

kin's machines mount the v1 controllers under ``/sys/fs/cgroup/<controller>`` (with a v2
hierarchy beside them that has no controllers). A group is made in each controller
that is mounted and writable, as a child of the group the calling process is in, so
kin never writes above what it was given; where a controller is missing or read-only
the group simply has no limits there (``available`` says which work).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import time

__all__ = ["CONTROLLERS", "Group", "own_paths"]

CGROUP_ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "cpu", "pids")
REMOVE_WAIT = 2.0


def own_paths(proc_cgroup: str = "/proc/self/cgroup") -> dict[str, str]:
    """The caller's group in each v1 controller kin uses: ``{"memory": "/a/b", ...}``."""
    found = {}
    with open(proc_cgroup) as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(","):
                if controller in CONTROLLERS:
                    found[controller] = path
    return found


class Group:
    """One group, by its path relative to the caller's group, in every usable controller."""

    def __init__(
        self, relative: str, base: dict[str, str] | None = None, root: str = CGROUP_ROOT
    ) -> None:
        self.relative = relative.strip("/")
        base = own_paths() if base is None else base
        self.dirs = {
            c: os.path.join(root, c, base[c].lstrip("/"), self.relative)
            for c in CONTROLLERS if c in base and os.access(os.path.join(root, c), os.W_OK)
        }  # fmt: skip

    def create(self) -> list[str]:
        """Make the group where the kernel lets us; return the controllers it exists in."""
        made = []
        for controller, path in list(self.dirs.items()):
            try:
                os.makedirs(path, exist_ok=True)
                made.append(controller)
            except OSError:
                del self.dirs[controller]
        return made

    def set(self, controller: str, name: str, value: int | str) -> bool:
        path = self.dirs.get(controller)
        if path is None:
            return False
        try:
            with open(os.path.join(path, name), "w") as f:
                f.write(str(value))
        except OSError:
            return False
        return True

    def read(self, controller: str, name: str) -> str | None:
        path = self.dirs.get(controller)
        try:
            with open(os.path.join(path, name)) as f:  # type: ignore[arg-type]
                return f.read().strip()
        except (OSError, TypeError):
            return None

    def pids(self) -> builtins.set[int]:
        """Every process in the group (and the groups below it), by PID."""
        found: builtins.set[int] = builtins.set()
        for path in self.dirs.values():
            for directory, _, _ in os.walk(path):
                with (
                    contextlib.suppress(OSError),
                    open(os.path.join(directory, "cgroup.procs")) as f,
                ):
                    found |= {int(line) for line in f if line.strip()}
        return found

    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the caller) into the group, in every controller it exists in."""
        for path in self.dirs.values():
            with contextlib.suppress(OSError), open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(pid))

    def remove(self) -> None:
        """rmdir the group, children first; waits briefly for dying processes to leave."""
        for path in self.dirs.values():
            remove_tree(path)


def remove_tree(path: str) -> None:
    """rmdir ``path`` and its child groups, deepest first; gone already is fine."""
    if not os.path.isdir(path):
        return
    for entry in os.listdir(path):
        child = os.path.join(path, entry)
        if os.path.isdir(child):
            remove_tree(child)
    deadline = time.monotonic() + REMOVE_WAIT
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                return
            time.sleep(0.02)
