"""The pod network across nodes: kin's flannel backends beside hand-built kernel paths.

Each scenario is two namespace nodes on a namespace underlay bridge with one pod behind
each node's cni0 (``kin.testing.underlay``; nothing in the host's namespace). Pod to pod
across the nodes:

- ``kin vxlan`` / ``kin host-gw``: the path kin's backend programs, with kin's
  masquerade and forward rules (``--ip-masq``) in both nodes;
- ``hand vxlan`` / ``hand host-gw``: the same path built with the commands of
  ``../shared/reference/perf_baselines.md`` (``ip link add ... type vxlan``, ``ip route``,
  ``ip neigh``, ``bridge fdb``), carrying the same nftables rules, applied by hand;
- ``kin udp``: kin's udp backend, one forwarding process per node (``kin_udp_node.py``, as
  flanneld runs it), beside ``naive udp``: a naive per-packet Python forwarder
  (``naive_udp_forwarder.py``, the sheet's "Python TUN<->UDP, threads"), same rules;
- ``node to node``: the underlay alone, for scale.

Scenarios run interleaved, one after another in each round, so drift spreads over all of
them. Per run: ``iperf3 -t T`` single stream (Gbit/s, retransmits) and ``ping -q -c 50
-i 0.01`` (avg ms), as the baseline sheet measured them. Goals: kin's vxlan and host-gw
at >= 90 % of the hand-built path (the same kernel path: a gap is a misconfiguration);
the hand-built paths within +-20 % of the sheet's medians (vxlan 11.59, host-gw 14.27
Gbit/s), so the baseline cannot be quietly weakened; kin's udp at >= 0.5 Gbit/s with ping
<= 1 ms, and (a goal) at >= 2x the naive forwarder.

    make bench                                            # quick: 3 rounds of 3 s
    .venv/bin/python -m benchmarks.bench_flannel [ROUNDS] [SECONDS]   # as root, repo root
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from kin.flannel.lease import Lease
from kin.flannel.masq import Rules, apply, script
from kin.linux import ns
from kin.testing.names import random_name
from kin.testing.underlay import NETWORK, Node, in_ns, underlay_nodes

SHEET = {"hand vxlan": 11.59, "hand host-gw": 14.27}  # perf_baselines.md, TCP -P1 medians
UDP_FLOOR, UDP_PING_MS = 0.5, 1.0  # kin's udp: Gbit/s single stream, ping avg
PAIRS = {"kin vxlan": "hand vxlan", "kin host-gw": "hand host-gw"}


@dataclass
class Samples:
    gbits: list[float] = field(default_factory=list)
    ping_ms: list[float] = field(default_factory=list)
    retransmits: list[int] = field(default_factory=list)


@contextmanager
def namespaces() -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def make() -> str:
        name = random_name("kinbench")
        ns.create_netns(name)
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in reversed(made):
            ns.delete_netns(name)


def rules_by_hand(node: Node) -> None:
    """The same nftables rules kin's path carries, given with nft -f by hand."""
    text = script(Rules(NETWORK, node.lease, ip_masq=True))
    subprocess.run(["nsenter", f"--net={ns.netns_path(node.name)}", "nft", "-f", "-"], input=text,
                   text=True, check=True)  # fmt: skip


def kin_path(nodes: list[Node], kind: str) -> None:
    backends = [node.backend(kind) for node in nodes]
    pairs = list(zip(nodes, backends, strict=True))
    leases = [Lease(node.lease, backend.prepare()) for node, backend in pairs]
    for node, backend in pairs:
        backend.configure(node.lease)
        backend.reconcile([lease for lease in leases if lease.subnet != node.lease])
        apply(Rules(NETWORK, node.lease, ip_masq=True), ns.netns_path(node.name))


def hand_vxlan(nodes: list[Node]) -> None:
    """perf_baselines.md's commands, word for word but for the device names' prefix."""
    macs = {}
    for node in nodes:
        i = node.number
        local = f"local 172.31.0.{i} dev eth0"
        ip(node, f"link add flannel.1 type vxlan id 1 {local} dstport 8472 nolearning")
        ip(node, "link set flannel.1 mtu 1450")
        ip(node, f"addr add 10.244.{i}.0/32 dev flannel.1")
        ip(node, "link set flannel.1 up")
        shown = ["ip", "-j", "-n", node.name, "link", "show", "flannel.1"]
        link = subprocess.run(shown, capture_output=True, text=True, check=True).stdout
        macs[i] = json.loads(link)[0]["address"]
    for node in nodes:
        for peer in nodes:
            if peer is node:
                continue
            j = peer.number
            ip(node, f"route add 10.244.{j}.0/24 via 10.244.{j}.0 dev flannel.1 onlink")
            ip(node, f"neigh add 10.244.{j}.0 lladdr {macs[j]} dev flannel.1 nud permanent")
            run(["bridge", "-n", node.name, "fdb", "append", macs[j], "dev", "flannel.1", "dst",
                 f"172.31.0.{j}", "self", "permanent"])  # fmt: skip
        rules_by_hand(node)


def hand_host_gw(nodes: list[Node]) -> None:
    for node in nodes:
        for peer in nodes:
            if peer is not node:
                ip(node, f"route add 10.244.{peer.number}.0/24 via 172.31.0.{peer.number} dev eth0")
        rules_by_hand(node)


def udp_processes(nodes: list[Node], script: str, stack: ExitStack) -> None:
    """A forwarder process per node (kin's backend, or the naive baseline), as flanneld
    runs one per node, and the same nftables rules."""
    here = os.path.dirname(os.path.abspath(__file__))
    for node in nodes:  # pods get the udp backend's MTU, as subnet.env tells the CNI plugin
        ip(node, f"link set veth{node.number} mtu 1472")
        run(["ip", "-n", node.pod, "link", "set", "eth0", "mtu", "1472"])
    for node in nodes:
        peers = [f"{p.lease}=172.31.0.{p.number}" for p in nodes if p is not node]
        if script == "kin":
            args = [os.path.join(here, "kin_udp_node.py"), str(node.lease), *peers]
        else:
            args = [os.path.join(here, "naive_udp_forwarder.py"), "naive0", str(node.number),
                    f"172.31.0.{node.number}", *peers]  # fmt: skip
        argv = ["ip", "netns", "exec", node.name, sys.executable, *args]
        process = stack.enter_context(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
        stack.callback(process.kill)
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        rules_by_hand(node)


def ip(node: Node, command: str) -> None:
    run(["ip", "-n", node.name, *command.split()])


def run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def measure(source_ns: str, target_ns: str, address: str, seconds: int, into: Samples) -> None:
    argv = ["ip", "netns", "exec", target_ns, "iperf3", "-s", "-1"]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            done = _client(source_ns, address, seconds)
        finally:
            server.kill()
    report = done["end"]
    into.gbits.append(report["sum_received"]["bits_per_second"] / 1e9)
    into.retransmits.append(int(report["sum_sent"].get("retransmits", 0)))
    pinged = in_ns(source_ns, "ping", "-q", "-c", "50", "-i", "0.01", address).stdout
    found = re.search(r"= [\d.]+/([\d.]+)/", pinged)
    into.ping_ms.append(float(found.group(1)) if found else float("nan"))


def _client(source_ns: str, address: str, seconds: int) -> dict[str, Any]:
    """The client's JSON report; tried again while the server is not yet listening (or
    answers that it is busy: the previous run's server may still be going away)."""
    argv = ["iperf3", "-c", address, "-t", str(seconds), "-J"]
    for _ in range(100):
        done = in_ns(source_ns, *argv, timeout=seconds + 30)
        with contextlib.suppress(ValueError):
            report: dict[str, Any] = json.loads(done.stdout)
            if done.returncode == 0 and "sum_received" in report.get("end", {}):
                return report
        time.sleep(0.05)
    raise RuntimeError(f"iperf3 to {address} failed: {done.stdout[-400:]} {done.stderr[-400:]}")


def main() -> int:
    if os.geteuid() != 0:
        print("bench_flannel: needs root (namespaces)", file=sys.stderr)
        return 1
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(f"pod to pod across nodes, {rounds} rounds of iperf3 -t {seconds} (single stream) "
          f"and ping; {os.cpu_count()} CPUs")  # fmt: skip
    results: dict[str, Samples] = {}
    with ExitStack() as stack:
        make = stack.enter_context(namespaces())
        scenarios: dict[str, tuple[str, str, str]] = {}
        builders: dict[str, Callable[[list[Node]], None]] = {
            "kin vxlan": lambda n: kin_path(n, "vxlan"),
            "hand vxlan": hand_vxlan,
            "kin host-gw": lambda n: kin_path(n, "host-gw"),
            "hand host-gw": hand_host_gw,
        }
        built: dict[str, list[Node]] = {}
        for name, build in builders.items():
            nodes = built[name] = stack.enter_context(underlay_nodes(make, count=2))
            build(nodes)
            scenarios[name] = (nodes[0].pod, nodes[1].pod, nodes[1].pod_ip)
        for name, script in (("kin udp", "kin"), ("naive udp", "naive")):
            udp_nodes = stack.enter_context(underlay_nodes(make, count=2))
            udp_processes(udp_nodes, script, stack)
            scenarios[name] = (udp_nodes[0].pod, udp_nodes[1].pod, udp_nodes[1].pod_ip)
        underlay = built["hand host-gw"]  # any pair will do: the nodes' own eth0s
        scenarios["node to node"] = (underlay[0].name, underlay[1].name, "172.31.0.2")
        for _ in range(rounds):
            for name, (source, target, address) in scenarios.items():
                measure(source, target, address, seconds, results.setdefault(name, Samples()))
    report(results)
    return 0


def report(results: dict[str, Samples]) -> None:
    print(f"  {'scenario':<14}{'Gbit/s median (min-max)':>26}{'ping avg ms':>13}{'retrans':>9}")
    for name, s in results.items():
        spread = f"{statistics.median(s.gbits):6.2f} ({min(s.gbits):.2f}-{max(s.gbits):.2f})"
        print(f"  {name:<14}{spread:>26}{statistics.median(s.ping_ms):>13.3f}"
              f"{statistics.median(s.retransmits):>9.0f}")  # fmt: skip
    print("goals:")
    for kin, hand in PAIRS.items():
        ratio = statistics.median(results[kin].gbits) / statistics.median(results[hand].gbits)
        verdict = "met" if ratio >= 0.9 else "MISSED"
        print(f"  {kin} / {hand}: {ratio:.0%} (>= 90 %) {verdict}")
    udp, naive = results["kin udp"], results["naive udp"]
    gbits, ping = statistics.median(udp.gbits), statistics.median(udp.ping_ms)
    floor = "met" if gbits >= UDP_FLOOR and ping <= UDP_PING_MS else "MISSED"
    print(f"  kin udp: {gbits:.2f} Gbit/s, ping {ping:.3f} ms (>= 0.5, <= 1 ms) {floor}")
    ratio = gbits / statistics.median(naive.gbits)
    print(f"  kin udp / naive udp: {ratio:.2f}x (goal >= 2x) {'met' if ratio >= 2 else 'MISSED'}")
    for hand, sheet in SHEET.items():
        found = statistics.median(results[hand].gbits)
        verdict = "within" if abs(found - sheet) <= 0.2 * sheet else "OUTSIDE"
        print(f"  {hand}: {found:.2f} Gbit/s vs the sheet's {sheet} (+-20 %) {verdict}")


if __name__ == "__main__":
    sys.exit(main())
