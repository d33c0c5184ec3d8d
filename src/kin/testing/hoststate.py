"""A snapshot of everything on the host that kin must leave as it found it.

Taken before and after a test run (or a create + delete), two snapshots must be
equal: network namespaces, the root namespace's links, addresses, routes,
nftables and iptables rules and ``net.*`` sysctls, the mount table, and kin's
processes. ``diff`` names every difference. Reading all this changes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator

from kin.linux.proc import process_state

__all__ = ["HostState", "diff", "snapshot"]

HostState = dict[str, list[str]]

# Counters and keys the kernel changes by itself, with or without kin.
VOLATILE_SYSCTLS = re.compile(
    r"^net\.(netfilter\.nf_conntrack_(count|buckets)|ipv4\.route\.gc_.*|core\.netdev_rss_key)"
)
KIN_PROCESS = re.compile(
    r"kin\.(node|cluster|cni|flannel|runtime|kubelet|apiserver|zygote)|catatonit|^pause -P"
)
ADDRESS_LIFETIME = re.compile(r"\s*(valid_lft|preferred_lft) \S+")


def snapshot() -> HostState:
    return {
        "netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
        "links": _lines(["ip", "-o", "link", "show"]),
        "addresses": _lines(["ip", "-o", "addr", "show"], strip=_address_lifetimes),
        "routes": _lines(["ip", "route", "show", "table", "all"]),
        "routes6": _lines(["ip", "-6", "route", "show", "table", "all"]),
        "nftables": _lines(["nft", "list", "ruleset"]),
        "iptables": _lines(["iptables-save"], strip=_iptables_noise),
        "sysctl_net": sorted(_net_sysctls()),
        "mounts": _mounts(),
        "processes": sorted(_kin_processes()),
        "cgroups": sorted(_kin_cgroups()),
    }


def diff(before: HostState, after: HostState) -> list[str]:
    """One line per item that appeared (+) or vanished (-), by category."""
    lines: list[str] = []
    for key in sorted(set(before) | set(after)):
        old, new = set(before.get(key, [])), set(after.get(key, []))
        lines += [f"{key}: - {item}" for item in sorted(old - new)]
        lines += [f"{key}: + {item}" for item in sorted(new - old)]
    return lines


def _lines(argv: list[str], strip: Callable[[str], str] | None = None) -> list[str]:
    if shutil.which(argv[0]) is None:
        return [f"({argv[0]} is not installed)"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    out = result.stdout.splitlines()
    if strip is not None:
        out = [strip(line) for line in out]
    return sorted(line for line in out if line)


def _address_lifetimes(line: str) -> str:
    return ADDRESS_LIFETIME.sub("", line.replace("\\", " ")).strip()


def _iptables_noise(line: str) -> str:
    if line.startswith("#"):
        return ""  # generated-at timestamps
    return re.sub(r"\[\d+:\d+\]", "", line)  # packet counters


def _net_sysctls() -> Iterator[str]:
    for root, _, files in os.walk("/proc/sys/net"):
        for name in files:
            path = os.path.join(root, name)
            key = path[len("/proc/sys/") :].replace("/", ".")
            if VOLATILE_SYSCTLS.match(key):
                continue
            try:
                with open(path) as f:
                    yield f"{key} = {' '.join(f.read().split())}"
            except OSError:
                continue


def _mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return sorted(" ".join(line.split()[4:5] + line.split(" - ")[1].split()[:2]) for line in f)


def _kin_cgroups(root: str = "/sys/fs/cgroup", depth: int = 6) -> Iterator[str]:
    """Groups kin's runtimes make for pods (``kin-<node>``), in the v1 controllers."""
    for controller in ("memory", "cpu", "pids"):
        base = os.path.join(root, controller)
        for directory, children, _ in os.walk(base):
            if directory[len(base) :].count("/") >= depth:
                children[:] = []
            for child in children:
                if child.startswith("kin-"):
                    yield os.path.join(directory, child)


def _kin_processes() -> Iterator[str]:
    """Live (non-zombie) processes that look like kin's, by PID and command line."""
    own = {os.getpid(), os.getppid()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in own:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if KIN_PROCESS.search(cmdline) and process_state(int(entry)) not in (None, "Z"):
            yield f"{entry} {cmdline}"
