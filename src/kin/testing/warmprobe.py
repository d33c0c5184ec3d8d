"""A tiny program for the runtime's tests: it reports how it was started (run in place in
a fork of the shim, or exec'd) and what it inherited, as JSON on stdout, and exits with
the status its first argument names."""

from __future__ import annotations

import json
import os
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    report = {
        "in_place": "kin.runtime.launch" in sys.modules,  # the shim's, not ours
        "argv": sys.argv,
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "default_signals": all(
            signal.getsignal(s) == signal.SIG_DFL for s in (signal.SIGTERM, signal.SIGCHLD)
        ),
        "wakeup_fd": signal.set_wakeup_fd(-1),
    }
    print(json.dumps(report), flush=True)
    if args[1:] == ["exit-message"]:
        sys.exit("stopped with a message")
    return int(args[0]) if args else 0


if __name__ == "__main__":
    sys.exit(main())
