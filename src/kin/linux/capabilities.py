"""Linux capabilities for container processes: the set a container gets, and dropping the rest.

A container that is not privileged gets containerd's default set, plus what its
``securityContext.capabilities.add`` names, minus what ``drop`` names (``ALL`` meaning
every one). The rest is dropped from the bounding set just before exec: a process running
as root then gets exactly that set as its permitted and effective capabilities (its
inheritable set is empty), and so does everything it starts.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["DEFAULT", "NAMES", "capability_set", "limit_bounding_set"]

NAMES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)  # fmt: skip
"""Capability names by number (``CAP_`` dropped, as Kubernetes writes them)."""

DEFAULT = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)  # fmt: skip
"""containerd's default set for containers that are not privileged."""

PR_CAPBSET_DROP = 24


def _number(name: str) -> int:
    bare = name.upper().removeprefix("CAP_")
    if bare not in NAMES:
        raise ValueError(f"unknown capability {name!r}")
    return NAMES.index(bare)


def capability_set(add: list[str], drop: list[str], privileged: bool) -> set[int]:
    """The capabilities (by number) a container keeps."""
    every = set(range(_last_capability() + 1))
    if privileged:
        return every
    keep = {_number(n) for n in DEFAULT}
    if any(n.upper() == "ALL" for n in add):
        keep = set(every)
    keep |= {_number(n) for n in add if n.upper() != "ALL"}
    if any(n.upper() == "ALL" for n in drop):
        keep = {_number(n) for n in add if n.upper() != "ALL"}
    keep -= {_number(n) for n in drop if n.upper() != "ALL"}
    return keep & every


def limit_bounding_set(keep: set[int]) -> None:
    """Drop every capability not in ``keep`` from this process's bounding set."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in range(_last_capability() + 1):
        if capability in keep:
            continue
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            if err != 22:  # EINVAL: this kernel does not know it
                raise OSError(err, f"prctl(PR_CAPBSET_DROP, {capability}): {os.strerror(err)}")


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return min(int(f.read()), len(NAMES) - 1)
    except (OSError, ValueError):
        return len(NAMES) - 1
