"""Memory of kin's processes as the benchmarks count it: PSS (shared pages divided among
their users, so the zygote's imports are not counted once per process)."""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["node_processes", "pss_kib", "supervisor_pid"]


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def node_processes(node_pid1: int) -> list[tuple[int, str]]:
    """Host PIDs and command lines of the node's PID 1 and all its descendants (pods'
    pause processes live in PID namespaces of their own, below the node's)."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            commands[int(entry)] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue

    def below_node(pid: int) -> bool:
        while pid > 1:
            if pid == node_pid1:
                return True
            pid = parents.get(pid, 0)
        return False

    return [(pid, commands[pid]) for pid in parents if pid in commands and below_node(pid)]


def supervisor_pid(state: Path) -> int:
    with open(state / "supervisor.pid") as f:
        return int(json.load(f)["pid"])
