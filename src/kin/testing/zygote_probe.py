"""A daemon stand-in for the zygote's tests: says where and how it runs, then exits.

``python -m kin.testing.zygote_probe [CODE]`` writes one JSON line to stdout (its PID,
parent, session, network namespace, hostname, working directory, argv and environment)
and exits with CODE (0 by default).
"""

from __future__ import annotations

import json
import os
import socket
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    facts = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "sid": os.getsid(0),
        "netns": os.stat("/proc/self/ns/net").st_ino,
        "hostname": socket.gethostname(),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "env": dict(os.environ),
    }
    sys.stdout.write(json.dumps(facts) + "\n")
    sys.stdout.flush()
    return int(args[0]) if args else 0


if __name__ == "__main__":
    sys.exit(main())
