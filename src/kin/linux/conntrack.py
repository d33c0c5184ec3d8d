"""Deleting conntrack entries through the ``conntrack`` program (conntrack-tools).

UDP has no connection to end: a flow keeps its conntrack entry, and with it its NAT
translation, as long as packets keep coming. When a translation's target goes away (a
Service's endpoint removed) the entries have to be deleted, or the flow keeps going to
the old address. Like ``nft``, ``conntrack`` acts in the calling process's network
namespace. Deleting what does not exist is success.
"""

from __future__ import annotations

import shutil
import subprocess

from kin.errors import CommandError, PrerequisiteError

__all__ = ["delete_udp"]


def delete_udp(
    *, orig_dst: str = "", orig_port_dst: int = 0, reply_src: str = ""
) -> int:  # fmt: skip
    """Delete the UDP entries matching every filter given; how many were deleted."""
    binary = shutil.which("conntrack", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if binary is None:
        raise PrerequisiteError("conntrack not found: install the Debian package conntrack")
    argv = [binary, "-D", "-p", "udp"]
    if orig_dst:
        argv += ["--orig-dst", orig_dst]
    if orig_port_dst:
        argv += ["--orig-port-dst", str(orig_port_dst)]
    if reply_src:
        argv += ["--reply-src", reply_src]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    # conntrack exits 1 with "0 flow entries have been deleted" when none matched.
    if done.returncode not in (0, 1) or "deleted" not in done.stderr:
        raise CommandError(argv, done.returncode, done.stderr.strip())
    words = done.stderr.split()
    return int(words[words.index("flow") - 1]) if "flow" in words else 0
