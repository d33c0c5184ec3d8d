"""Network sysctls of the calling thread's network namespace, through /proc/sys.

/proc/sys/net resolves against the namespace of the thread that opens the file,
so code running in ``ns.run_in`` reads and writes that namespace's values.
"""

from __future__ import annotations

__all__ = ["read", "write"]


def _path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def read(key: str) -> str:
    with open(_path(key)) as f:
        return f.read().strip()


def write(key: str, value: str) -> None:
    """Set ``key`` (``net.ipv4.ip_forward`` or a path-style ``net/ipv6/conf/cni0/accept_ra``)."""
    path = "/proc/sys/" + key if "/" in key else _path(key)
    with open(path, "w") as f:
        f.write(value)
