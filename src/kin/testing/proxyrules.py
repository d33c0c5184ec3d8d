"""Apply kube-proxy's rules for given Services and EndpointSlices, without an API server.

``python -m kin.testing.proxyrules`` reads ``{"mode", "node", "cluster_cidr", "syncs":
[{"services": [...], "slices": [...]}, ...], "previous": {...}}`` on stdin and applies
each sync in turn with the mode's backend, in the namespace it runs in (tests start it
with ``ip netns exec``), as the daemon would; with ``previous`` (the objects an earlier
run applied) it then clears the UDP flows to endpoints gone since, as the daemon does
after a sync. It prints one JSON line with each sync's seconds. The backends run for
real: the kernel gets exactly what kube-proxy would give it.
"""

from __future__ import annotations

import json
import sys
import time

from kin.proxy.__main__ import backend_for
from kin.proxy.conntrack import clear_stale_udp
from kin.proxy.model import ServicePort, service_ports
from kin.proxy.options import Settings


def main() -> int:
    request = json.load(sys.stdin)
    settings = Settings(node=request["node"], mode=request["mode"],
                        cluster_cidr=request.get("cluster_cidr", ""))  # fmt: skip
    backend = backend_for(settings)
    took = []
    ports: list[ServicePort] = []
    for sync in request["syncs"]:
        ports = service_ports(sync["services"], sync["slices"], settings.node)
        started = time.monotonic()
        backend.sync(ports)
        took.append(time.monotonic() - started)
    previous = request.get("previous")
    if previous:
        before = service_ports(previous["services"], previous["slices"], settings.node)
        clear_stale_udp(before, ports)
    print(json.dumps({"seconds": took}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
