"""nftables through the ``nft`` program: apply a script atomically, read the ruleset as JSON.

Rules are always changed in the namespace of the calling *process* (``nft``
runs as a child, which inherits the process's network namespace, not a
thread's): CNI plugins run inside a node's namespace, so that is the node's.
One ``nft -f -`` per change applies the whole script as one transaction. ``netns`` (the
path of a pinned network namespace) runs ``nft`` there instead, under ``nsenter``.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from kin.errors import CommandError, PrerequisiteError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["apply", "list_json", "nft_binary"]


def nft_binary() -> str:
    path = shutil.which("nft", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise PrerequisiteError("nft not found: install the Debian package nftables")
    return path


def apply(script: str, netns: str | None = None) -> None:
    """Run ``script`` with ``nft -f -`` as one transaction; CommandError if nft refuses it."""
    argv = [*_enter(netns), nft_binary(), "-f", "-"]
    done = subprocess.run(argv, input=script, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CommandError(argv, done.returncode, done.stderr.strip() + "\n" + script)


def list_json(*what: str, netns: str | None = None) -> list[dict[str, Any]]:
    """``nft -j list <what>`` as the list under ``nftables``; empty if the object is absent."""
    argv = [*_enter(netns), nft_binary(), "-j", "list", *what]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        if "No such file or directory" in done.stderr:
            return []
        raise CommandError(argv, done.returncode, done.stderr.strip())
    items: list[dict[str, Any]] = json.loads(done.stdout).get("nftables", [])
    return items


def _enter(netns: str | None) -> list[str]:
    if netns is None:
        return []
    nsenter = shutil.which("nsenter", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if nsenter is None:
        raise PrerequisiteError("nsenter not found: install the Debian package util-linux")
    return [nsenter, f"--net={netns}"]
