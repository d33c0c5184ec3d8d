"""kin.linux.netlink versus exec'ing ``ip``/``bridge``, and the package's import cost.

Why: the package exists to be cheap to import and cheap per operation (see
perf_baselines.md §2 and §4); this measures both on the machine at hand, the
way §4 did: create+delete cycles inside one throwaway namespace, ``ip`` and the
library interleaved so drift in machine load hits both alike.

    python benchmarks/bench_netlink.py [ITERATIONS] [IMPORT_RUNS]

Runs as root; the namespace has a random ``kinbench-`` name and is always removed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from kin.linux import ns
from kin.linux.netlink import Netlink
from kin.testing.names import random_name

Step = Callable[[], object]
# Interpreters measured for import time may write bytecode, as an installed package has it.
CACHING_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(step: Step) -> float:
    start = time.perf_counter()
    step()
    return (time.perf_counter() - start) * 1000


def run(argv: list[str], env: dict[str, str] | None = None) -> Step:
    return lambda: subprocess.run(argv, check=True, capture_output=True, env=env)


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"{statistics.median(ordered):7.3f} ({ordered[int(len(ordered) * 0.9)]:7.3f})"


def cycles(iterations: int, steps: dict[str, tuple[Step, Step]]) -> dict[str, list[float]]:
    """Interleave create+delete cycles of each variant; milliseconds per step."""
    times: dict[str, list[float]] = {}
    for _ in range(iterations):
        for variant, (create, delete) in steps.items():
            times.setdefault(f"{variant} create", []).append(timed(create))
            times.setdefault(f"{variant} delete", []).append(timed(delete))
    return times


def operations(nl: Netlink, netns: str) -> dict[str, dict[str, tuple[Step, Step]]]:
    """Each operation: ``{variant: (create, delete)}``, with what they need set up first."""
    nl.add_veth("kbup0", "kbup1")
    nl.set_link("kbup0", up=True)
    nl.set_link("kbup1", up=True)
    nl.add_address("kbup0", "172.18.5.1/24")
    uplink = nl.link_index("kbup0")  # by index, as callers holding a Link do
    nl.add_vxlan("kbvx0", 1, "172.18.5.1", uplink)
    vxlan = nl.link_index("kbvx0")
    ip, bridge = ["ip", "-n", netns], ["bridge", "-n", netns]
    mac, vtep, gw = "02:00:00:00:00:09", "10.244.7.0", "172.18.5.2"
    route = ["10.244.7.0/24", "via", gw, "dev", "kbup0"]
    fdb = [mac, "dev", "kbvx0", "dst", gw, "self"]
    return {
        "veth pair": {
            "ip": (
                run([*ip, "link", "add", "kbva", "type", "veth", "peer", "name", "kbvb"]),
                run([*ip, "link", "del", "kbva"]),
            ),
            "netlink": (lambda: nl.add_veth("kbna", "kbnb"), lambda: nl.delete_link("kbna")),
        },
        "route 10.244.7.0/24 via 172.18.5.2": {
            "ip": (run([*ip, "route", "add", *route]), run([*ip, "route", "del", *route])),
            "netlink": (
                lambda: nl.add_route("10.244.7.0/24", gateway=gw, oif=uplink),
                lambda: nl.delete_route("10.244.7.0/24", gateway=gw),
            ),
        },
        "neigh replace permanent (vxlan)": {
            "ip": (
                run(
                    [
                        *ip,
                        "neigh",
                        "replace",
                        vtep,
                        "lladdr",
                        mac,
                        "dev",
                        "kbvx0",
                        "nud",
                        "permanent",
                    ]
                ),
                run([*ip, "neigh", "del", vtep, "dev", "kbvx0"]),
            ),
            "netlink": (
                lambda: nl.replace_neighbour(vxlan, vtep, mac),
                lambda: nl.delete_neighbour(vxlan, vtep),
            ),
        },
        "fdb append dst self permanent": {
            "bridge": (
                run([*bridge, "fdb", "append", *fdb, "permanent"]),
                run([*bridge, "fdb", "del", *fdb]),
            ),
            "netlink": (
                lambda: nl.append_fdb(vxlan, mac, gw),
                lambda: nl.delete_fdb(vxlan, mac, gw),
            ),
        },
    }


def bench_operations(iterations: int) -> None:
    netns = random_name("kinbench")
    ns.create_netns(netns)
    try:
        with ns.run_in(ns.netns_path(netns), Netlink) as nl:
            for name, steps in operations(nl, netns).items():
                for label, samples in cycles(iterations, steps).items():
                    print(f"{name:34s} {label:16s} {summary(samples)} ms median (p90)")
    finally:
        ns.delete_netns(netns)


def bench_import(runs: int) -> None:
    """Fresh interpreters: wall time, ``-X importtime``, and the in-process cost of
    ``import kin.linux.netlink`` once the stdlib modules it needs are loaded."""
    run([sys.executable, "-c", "import kin.linux.netlink"], CACHING_ENV)()  # write .pyc files
    for code in ("pass", "import socket, struct, errno, os", "import kin.linux.netlink"):
        samples = [timed(run([sys.executable, "-c", code], CACHING_ENV)) for _ in range(runs)]
        print(f"python -c {code!r:36s} {summary(samples)} ms median (p90)")
    own, total, beyond = [], [], []
    for _ in range(runs):
        rows = [line.split("|") for line in _output("-X", "importtime").splitlines()[1:]]
        own.append(sum(int(r[0].split(":")[1]) for r in rows if r[2].strip().startswith("kin")))
        total.append(next(int(r[1]) for r in rows if r[2].strip() == "kin.linux.netlink"))
        beyond.append(float(_output("-c", _BEYOND_STDLIB)))
    print(f"-X importtime: kin.linux.netlink cumulative {statistics.median(total) / 1000:.2f} ms,")
    print(f"  of which kin modules' own time {statistics.median(own) / 1000:.2f} ms (medians)")
    print(f"in-process, socket/struct/errno/os already loaded: {summary(beyond)} ms median (p90)")


_BEYOND_STDLIB = """
import socket, struct, errno, os, time
start = time.perf_counter()
import kin.linux.netlink
print((time.perf_counter() - start) * 1000)
"""


def _output(*args: str) -> str:
    code = args if args[0] == "-c" else (*args, "-c", "import kin.linux.netlink")
    done = subprocess.run(
        [sys.executable, *code], check=True, capture_output=True, text=True, env=CACHING_ENV
    )
    return done.stdout if args[0] == "-c" else done.stderr


if __name__ == "__main__":
    bench_import(int(sys.argv[2]) if len(sys.argv) > 2 else 30)
    bench_operations(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
