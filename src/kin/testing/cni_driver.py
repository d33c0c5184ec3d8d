"""Run one executor operation in a child process, so tests can put it in a node namespace.

Tests run under ``nsenter --net=<node> python -m kin.testing.cni_driver`` with a
JSON request on stdin; plugins the executor starts inherit that namespace, never
the host's. Prints ``{"result": ...}`` or ``{"error": {"code", "msg"}}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from kin.cni.executor import Executor, RuntimeConf
from kin.cni.netconf import find_network
from kin.errors import CNIError


def main() -> int:
    request = json.load(sys.stdin)
    net = find_network(request["confdir"])
    executor = Executor(request["path"], request["cache"])
    rt = RuntimeConf.for_pod(
        request["cid"],
        request.get("netns", ""),
        "default",
        request.get("pod", "pod"),
        "uid-1",
        ifname=request.get("ifname", "eth0"),
        capability_args=request.get("capabilities") or {},
    )
    operations: dict[str, Callable[[], object]] = {
        "add": lambda: executor.add(net, rt),
        "del": lambda: executor.delete(net, rt),
        "check": lambda: executor.check(net, rt),
        "status": lambda: executor.status(net),
        "gc": lambda: executor.gc(net, [(c, i) for c, i in request.get("valid", [])]),
    }
    try:
        out = operations[request["op"]]()
    except CNIError as exc:
        print(json.dumps({"error": {"code": exc.code, "msg": exc.msg}}))
        return 1
    print(json.dumps({"result": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
