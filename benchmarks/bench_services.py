"""Services on a real cluster: connection rates through kube-proxy, and cluster DNS.

One seed cluster (``examples/kind-2node.yaml`` with free host ports) per proxy mode, a
Deployment of 2 echo pods on the worker behind a NodePort Service, and a client pod on
the control plane. In the same run, interleaved round by round:

- **connections per second** from the client pod, each a full TCP connect, one-line
  answer and close: straight to a pod's IP, to the Service's cluster IP (kube-proxy's
  DNAT), and to the NodePort on the worker's address, taking turns connection by
  connection for T seconds so that the machine's noise falls on all three alike; each
  rate is connections over the time spent in them. The goal is a cluster IP and a
  NodePort at >= 90 % of the direct rate;
- **DNS**: UDP queries for the Service's name to the cluster DNS (10.96.0.10) from the
  client pod, 16 in flight, for T seconds: queries per second and p50/p99 latency.

    .venv/bin/python -m benchmarks.bench_services [ROUNDS] [SECONDS]   # as root, repo root
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from kin.testing.clusters import kubeconfig_for, kubectl, temporary_cluster

SEED = (Path(__file__).parents[1] / "examples/kind-2node.yaml").read_text()
CONFIG = re.sub(r"hostPort: \d+", "hostPort: 0", SEED)
GOAL = 0.90
ECHO = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 8080)); s.listen(512)\n"
    "while True:\n"
    "    c, _ = s.accept(); c.sendall(b'ok\\n'); c.close()\n"
)
CONNECT = (
    "import json, socket, sys, time\n"
    "seconds, targets = float(sys.argv[1]), sys.argv[2:]\n"
    "spent = {t: 0.0 for t in targets}; count = {t: 0 for t in targets}\n"
    "linger = bytes([1, 0, 0, 0, 0, 0, 0, 0])\n"
    "end = time.monotonic() + seconds\n"
    "while time.monotonic() < end:\n"
    "    for target in targets:\n"
    "        host, port = target.rsplit(':', 1)\n"
    "        started = time.perf_counter()\n"
    "        c = socket.create_connection((host, int(port)), timeout=5)\n"
    "        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)\n"
    "        c.recv(8); c.close()\n"
    "        spent[target] += time.perf_counter() - started; count[target] += 1\n"
    "print(json.dumps({t: count[t] / spent[t] for t in targets}))\n"
)
DNS = (
    "import json, os, selectors, socket, struct, sys, time\n"
    "name, seconds, window = sys.argv[1], float(sys.argv[2]), 16\n"
    "qname = b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\\0'\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('10.96.0.10', 53))\n"
    "s.setblocking(False); sent = {}; latencies = []; ident = 0\n"
    "sel = selectors.DefaultSelector(); sel.register(s, selectors.EVENT_READ)\n"
    "def send():\n"
    "    global ident\n"
    "    ident = (ident + 1) % 65536\n"
    "    s.send(struct.pack('!HHHHHH', ident, 0x0100, 1, 0, 0, 0) + qname + b'\\0\\x01\\0\\x01')\n"
    "    sent[ident] = time.monotonic()\n"
    "end = time.monotonic() + seconds\n"
    "for _ in range(window): send()\n"
    "while time.monotonic() < end:\n"
    "    if not sel.select(1.0):\n"
    "        sent.clear(); [send() for _ in range(window)]; continue\n"
    "    while True:\n"
    "        try: reply = s.recv(512)\n"
    "        except BlockingIOError: break\n"
    "        started = sent.pop(struct.unpack_from('!H', reply)[0], None)\n"
    "        if started is not None:\n"
    "            latencies.append(time.monotonic() - started); send()\n"
    "latencies.sort()\n"
    "print(json.dumps({'qps': len(latencies) / seconds,\n"
    "                  'p50': latencies[len(latencies) // 2] * 1000,\n"
    "                  'p99': latencies[int(len(latencies) * 0.99)] * 1000}))\n"
)


def objects(name: str) -> list[dict[str, Any]]:
    echo = {"name": "echo", "image": "busybox", "command": [sys.executable, "-c", ECHO],
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}  # fmt: skip
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "echo"}},
                           "template": {"metadata": {"labels": {"app": "echo"}},
                                        "spec": {"nodeName": f"{name}-worker",
                                                 "containers": [echo]}}}}  # fmt: skip
    port = {"port": 80, "targetPort": 8080, "nodePort": 31000}
    spec = {"type": "NodePort", "selector": {"app": "echo"}, "ports": [port]}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"}, "spec": spec}
    client = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
              "spec": {"nodeName": f"{name}-control-plane",
                       "tolerations": [{"operator": "Exists"}],
                       "containers": [{"name": "c", "image": "busybox",
                                       "command": ["sleep", "3600"]}]}}  # fmt: skip
    return [deployment, service, client]


def run_in_client(config: str, program: str, *args: str) -> str:
    done = kubectl(config, "exec", "client", "--", sys.executable, "-c", program, *args,
                   timeout=120)  # fmt: skip
    return done.stdout.strip()


def measure(mode: str, rounds: int, seconds: float) -> dict[str, Any]:
    text = CONFIG + f"networking:\n  kubeProxyMode: {mode}\n"
    with temporary_cluster(text, None, "--wait", "60s") as name, \
            tempfile.TemporaryDirectory() as directory:  # fmt: skip
        config = kubeconfig_for(name, directory)
        listed = {"apiVersion": "v1", "kind": "List", "items": objects(name)}
        kubectl(config, "apply", "-f", "-", stdin=json.dumps(listed))
        kubectl(config, "rollout", "status", "deployment/echo", "--timeout=60s")
        kubectl(config, "wait", "--for=condition=Ready", "pod/client", "--timeout=60s")
        pods = json.loads(kubectl(config, "get", "pod", "-l", "app=echo", "-o", "json").stdout)
        pod_ip = pods["items"][0]["status"]["podIP"]
        cluster_ip = kubectl(config, "get", "svc", "echo", "-o",
                             "jsonpath={.spec.clusterIP}").stdout  # fmt: skip
        nodes = json.loads(kubectl(config, "get", "node", f"{name}-worker", "-o", "json").stdout)
        node_ip = next(a["address"] for a in nodes["status"]["addresses"]
                       if a["type"] == "InternalIP")  # fmt: skip
        targets = {"pod IP": (pod_ip, "8080"), "cluster IP": (cluster_ip, "80"),
                   "NodePort": (node_ip, "31000")}  # fmt: skip
        rates: dict[str, list[float]] = {k: [] for k in targets}
        dns: list[dict[str, float]] = []
        addresses = [f"{host}:{port}" for host, port in targets.values()]
        for _ in range(rounds):
            measured = json.loads(run_in_client(config, CONNECT, str(seconds), *addresses))
            for label, address in zip(targets, addresses, strict=True):
                rates[label].append(measured[address])
            dns.append(json.loads(run_in_client(config, DNS, "echo.default.svc.cluster.local",
                                                str(seconds))))  # fmt: skip
        return {
            "rates": {k: statistics.median(v) for k, v in rates.items()},
            "dns": {k: statistics.median(d[k] for d in dns) for k in ("qps", "p50", "p99")},
        }


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    print(f"services: medians of {rounds} rounds of {seconds:g} s, client pod on the control "
          "plane, 2 echo pods on the worker")  # fmt: skip
    print(f"{'mode':<9} {'pod IP':>9} {'cluster IP':>16} {'NodePort':>16} "
          f"{'DNS q/s':>8} {'p50':>7} {'p99':>7}")  # fmt: skip
    met = True
    for mode in ("iptables", "nftables"):
        result = measure(mode, rounds, seconds)
        rates, dns = result["rates"], result["dns"]
        direct = rates["pod IP"]
        shares = {k: rates[k] / direct for k in ("cluster IP", "NodePort")}
        met = met and all(share >= GOAL for share in shares.values())
        cells = " ".join(f"{rates[k]:>7.0f}/s ({shares[k]:>4.0%})" for k in shares)
        print(f"{mode:<9} {direct:>7.0f}/s {cells} {dns['qps']:>8.0f} "
              f"{dns['p50']:>5.2f}ms {dns['p99']:>5.2f}ms")  # fmt: skip
    print(f"goal: cluster IP and NodePort >= {GOAL:.0%} of direct: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
