"""Drive the real ``kin`` CLI from tests and benchmarks, and always clean up."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from kin.testing.names import random_name

__all__ = ["KIN", "kin", "temporary_cluster"]

KIN = [sys.executable, "-m", "kin"]


def kin(
    *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``kin ARGS`` and capture its output; raise if ``check`` and it failed."""
    result = subprocess.run([*KIN, *args], input=stdin, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(
            f"kin {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@contextmanager
def temporary_cluster(config: str, name: str | None = None, *args: str) -> Iterator[str]:
    """A cluster made from ``config`` (YAML text) with a unique name; deleted afterwards."""
    name = name or random_name("kt")
    try:
        kin("create", "cluster", "--name", name, "--config", "-", *args, stdin=config)
        yield name
    finally:
        kin("delete", "cluster", "--name", name)
