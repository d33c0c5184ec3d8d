"""Services end to end, in both kube-proxy modes, on the seed's cluster.

The seed's ``kind-2node.yaml`` (host ports moved to free ones) with ``kubeProxyMode``
iptables and then nftables: a Deployment behind a NodePort Service on 31000 answers
``curl`` on the host from several pods (through the port publisher, the worker's
kube-proxy rules and the pods); its cluster IP answers every pod and node; a hostNetwork
pod reaches pods without NAT; a Service whose selector matches nothing refuses at once;
bad Services get the API's error and break nothing; ``externalTrafficPolicy: Local``
keeps the client's address; pod traffic leaving the cluster is masqueraded (seen by an
"outside" namespace the test attaches to the kin network); and the rules are in each
node's own kernel, as ``iptables-save`` or ``nft`` inside the node shows them.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kin.cluster import query
from kin.linux import ns
from kin.linux.netlink import Netlink
from kin.testing.clusters import kin, kubeconfig_for, kubectl, temporary_cluster
from kin.testing.waiting import eventually

SEED = (Path(__file__).parents[2] / "examples/kind-2node.yaml").read_text()
FREE_PORTS = re.sub(r"hostPort: \d+", "hostPort: 0", SEED)
MODES = ["iptables", "nftables"]
WHO = (
    "import http.server, socket\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = f'{socket.gethostname()} {self.client_address[0]}\\n'.encode()\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
    "    def log_message(self, *args): pass\n"
    "http.server.ThreadingHTTPServer(('', 8080), H).serve_forever()\n"
)
EVERYWHERE = [{"operator": "Exists"}]


@dataclass
class Cluster:
    name: str
    mode: str
    config: str
    cluster_ip: str

    @property
    def control_plane(self) -> str:
        return f"{self.name}-control-plane"

    @property
    def worker(self) -> str:
        return f"{self.name}-worker"

    def host_port(self, container_port: int) -> int:
        node = query.cluster_plan(self.name).node(self.worker)
        assert node is not None
        return next(p.host_port for p in node.ports if p.container_port == container_port)

    def curl(self, where: str, url: str, *, pod: bool = True) -> subprocess.CompletedProcess[str]:
        """``curl`` in a pod (or, ``pod=False``, in a node) of the cluster."""
        argv = ["curl", "-sS", "-m", "5", url]
        if pod:
            return kubectl(self.config, "exec", where, "--", *argv, check=False)
        return kin("exec", where, "--", *argv, check=False)


def _who_deployment() -> dict[str, Any]:
    container = {"name": "who", "image": "busybox", "command": [sys.executable, "-c", WHO],
                 "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}  # fmt: skip
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "who"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "who"}},
                     "template": {"metadata": {"labels": {"app": "who"}},
                                  "spec": {"containers": [container],
                                           "terminationGracePeriodSeconds": 0}}}}  # fmt: skip


def _service(name: str, port: int = 0, **spec: Any) -> dict[str, Any]:
    ports: dict[str, Any] = {"port": 80, "targetPort": 8080}
    if port:
        ports["nodePort"] = port
    body = {"type": "NodePort" if port else "ClusterIP", "selector": {"app": "who"},
            "ports": [ports], **spec}  # fmt: skip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def _client(name: str, node: str, host_network: bool = False) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "tolerations": EVERYWHERE, "hostNetwork": host_network,
                     "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "busybox",
                                     "command": ["sleep", "3600"]}]}}  # fmt: skip


@pytest.fixture(scope="module", params=MODES)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    mode = request.param
    config_text = FREE_PORTS + f"networking:\n  kubeProxyMode: {mode}\n"
    with temporary_cluster(config_text, None, "--wait", "60s") as name:
        config = kubeconfig_for(name, str(tmp_path_factory.mktemp("kubeconfig")))
        objects = [_who_deployment(), _service("who", 31000),
                   _client("client-cp", f"{name}-control-plane"),
                   _client("client-w", f"{name}-worker"),
                   _client("hostnet-cp", f"{name}-control-plane", host_network=True)]  # fmt: skip
        kubectl(
            config,
            "apply",
            "-f",
            "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
        )
        kubectl(config, "rollout", "status", "deployment/who", "--timeout=60s")
        kubectl(config, "wait", "--for=condition=Ready", "pod", "client-cp", "client-w",
                "hostnet-cp", "--timeout=60s")  # fmt: skip
        ip = kubectl(config, "get", "service", "who", "-o", "jsonpath={.spec.clusterIP}").stdout
        for node in (f"{name}-control-plane", f"{name}-worker"):  # kube-proxy has synced them
            eventually(functools.partial(_synced, node, mode), timeout=15)
        yield Cluster(name, mode, config, ip)


def _synced(node: str, mode: str) -> bool:
    """The node's kube-proxy rules DNAT to all 3 endpoints of default/who."""
    if mode == "iptables":
        rules = kin("exec", node, "--", "iptables-save", "-t", "nat").stdout
        return len(re.findall(r'--comment "?default/who"? .*-j DNAT', rules)) == 3
    rules = kin("exec", node, "--", "nft", "list", "table", "ip", "kube-proxy").stdout
    return len(re.findall(r"chain endpoint-\w+-default/who/tcp/__", rules)) == 3


def _pods(cluster: Cluster) -> dict[str, str]:
    listed = json.loads(kubectl(cluster.config, "get", "pod", "-o", "json").stdout)
    return {p["metadata"]["name"]: p["status"].get("podIP", "") for p in listed["items"]}


def _answers(run: Callable[[], subprocess.CompletedProcess[str]], times: int) -> list[str]:
    answers = []
    for _ in range(times):
        done = run()
        assert done.returncode == 0, done.stderr
        answers.append(done.stdout.strip())
    return answers


def test_a_node_port_on_the_host_answers_from_several_pods(cluster: Cluster) -> None:
    url = f"http://127.0.0.1:{cluster.host_port(31000)}/"
    answers = _answers(lambda: subprocess.run(["curl", "-sS", "-m", "5", url],
                                              capture_output=True, text=True), 12)  # fmt: skip
    names = {a.split()[0] for a in answers}
    assert len(names) >= 2 and all(n.startswith("who-") for n in names), answers
    assert {a.split()[1] for a in answers} == {"10.244.1.1"}  # masqueraded by the worker


def test_the_cluster_ip_answers_every_pod_with_its_own_address(cluster: Cluster) -> None:
    pods = _pods(cluster)
    for client in ("client-cp", "client-w"):
        done = cluster.curl(client, f"http://{cluster.cluster_ip}/")
        assert done.returncode == 0, done.stderr
        who, source = done.stdout.split()
        assert who.startswith("who-") and source == pods[client]  # no NAT between pods


def test_the_cluster_ip_answers_every_node(cluster: Cluster) -> None:
    for node in (cluster.control_plane, cluster.worker):
        done = cluster.curl(node, f"http://{cluster.cluster_ip}/", pod=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("who-")


def test_a_host_network_pod_reaches_pods_without_nat(cluster: Cluster) -> None:
    target = next(ip for name, ip in _pods(cluster).items() if name.startswith("who-"))
    done = cluster.curl("hostnet-cp", f"http://{target}:8080/")
    assert done.returncode == 0, done.stderr
    source = done.stdout.split()[1]
    addresses = kin("exec", cluster.control_plane, "--", "ip", "-j", "-4", "addr").stdout
    node_ips = {a["local"] for link in json.loads(addresses) for a in link["addr_info"]}
    assert source in node_ips  # the node's own address, as it left the node


def test_a_service_without_endpoints_refuses_at_once(cluster: Cluster) -> None:
    typo = _service("typo", selector={"app": "whoo"})
    kubectl(cluster.config, "apply", "-f", "-", stdin=json.dumps(typo))
    ip = kubectl(cluster.config, "get", "svc", "typo", "-o", "jsonpath={.spec.clusterIP}").stdout
    slices = kubectl(cluster.config, "get", "endpointslices", "-l",
                     "kubernetes.io/service-name=typo", "-o", "json").stdout  # fmt: skip
    assert all(not s.get("endpoints") for s in json.loads(slices)["items"])

    def refused() -> bool:
        done = cluster.curl("client-w", f"http://{ip}/")
        return done.returncode == 7  # couldn't connect: refused (a drop would time out, 28)

    assert eventually(refused, timeout=10)


def test_bad_services_get_the_api_error_and_break_no_rule(cluster: Cluster) -> None:
    out_of_range = _service("bad-port", 31999)
    out_of_range["spec"]["ports"][0]["port"] = 70000
    done = kubectl(cluster.config, "apply", "-f", "-", stdin=json.dumps(out_of_range), check=False)
    assert done.returncode != 0 and "spec.ports[0].port" in done.stderr
    taken = kubectl(cluster.config, "apply", "-f", "-", check=False,
                    stdin=json.dumps(_service("same-node-port", 31000)))  # fmt: skip
    assert taken.returncode != 0 and "already allocated" in taken.stderr
    url = f"http://127.0.0.1:{cluster.host_port(31000)}/"
    ok = subprocess.run(["curl", "-sS", "-m", "5", url], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("who-")


def test_client_ip_affinity_keeps_a_client_on_one_pod(cluster: Cluster) -> None:
    sticky = _service("sticky", sessionAffinity="ClientIP")
    kubectl(cluster.config, "apply", "-f", "-", stdin=json.dumps(sticky))
    ip = kubectl(cluster.config, "get", "svc", "sticky", "-o", "jsonpath={.spec.clusterIP}").stdout
    assert eventually(lambda: cluster.curl("client-w", f"http://{ip}/").returncode == 0)
    answers = _answers(lambda: cluster.curl("client-w", f"http://{ip}/"), 8)
    assert len({a.split()[0] for a in answers}) == 1, answers


def test_external_traffic_policy_local_keeps_the_clients_address(cluster: Cluster) -> None:
    local = _service("local", 31001, externalTrafficPolicy="Local")
    kubectl(cluster.config, "apply", "-f", "-", stdin=json.dumps(local))
    url = f"http://127.0.0.1:{cluster.host_port(31001)}/"
    gateway = query.cluster_plan(cluster.name).network.gateway  # where the publisher connects from

    def answer() -> str | None:
        done = subprocess.run(["curl", "-sS", "-m", "5", url], capture_output=True, text=True)
        return done.stdout.strip() or None

    seen = eventually(answer, timeout=10)
    assert seen and seen.split()[1] == gateway, seen


def test_pod_traffic_leaving_the_cluster_is_masqueraded(
    cluster: Cluster, netns_factory: Callable[[], str]
) -> None:
    plan = query.cluster_plan(cluster.name)
    network = ipaddress.IPv4Network(plan.network.subnet)
    outside_ip = str(network.broadcast_address - 1)
    outside = netns_factory()
    with ns.run_in(ns.netns_path(plan.network.netns), Netlink) as kin_net:
        kin_net.add_veth("kintest-out", "kintest-in")
        with open(ns.netns_path(outside)) as target:
            kin_net.set_link("kintest-in", netns_fd=target.fileno(), new_name="eth0")
        kin_net.set_link("kintest-out", master=plan.network.bridge, up=True)
    with ns.run_in(ns.netns_path(outside), Netlink) as nl:
        nl.add_address("eth0", f"{outside_ip}/{network.prefixlen}")
        nl.set_link("eth0", up=True)
        nl.set_link("lo", up=True)
    server = ["ip", "netns", "exec", outside, sys.executable, "-c", WHO]
    with subprocess.Popen(server) as process:
        try:
            worker_ip = next(n.ip for n in plan.nodes if n.name == cluster.worker)
            who = next(n for n in _pods(cluster) if n.startswith("who-"))

            def answer() -> str | None:
                done = cluster.curl(who, f"http://{outside_ip}:8080/")
                return done.stdout.strip() or None

            seen = eventually(answer, timeout=10)
            assert seen and seen.split()[1] == worker_ip, seen  # the node's, not the pod's
        finally:
            process.kill()


def test_the_rules_are_in_each_nodes_own_kernel(cluster: Cluster) -> None:
    for node in (cluster.control_plane, cluster.worker):
        if cluster.mode == "iptables":
            rules = kin("exec", node, "--", "iptables-save", "-t", "nat").stdout
            assert '"default/who cluster IP"' in rules and "-j KUBE-SVC-" in rules
            assert "--dport 31000 -j KUBE-EXT-" in rules
        else:
            rules = kin("exec", node, "--", "nft", "list", "table", "ip", "kube-proxy").stdout
            assert "chain service-" in rules and "default/who/tcp/" in rules
            assert "tcp . 31000 : goto external-" in rules


DIG = (
    "import sys, dns.resolver, dns.reversename\n"
    "r = dns.resolver.Resolver()\n"
    "name, kind = sys.argv[1], sys.argv[2]\n"
    "if kind == 'PTR': name = dns.reversename.from_address(name)\n"
    "try:\n"
    "    print(' '.join(sorted(x.to_text() for x in r.resolve(name, kind, search=False))))\n"
    "except dns.resolver.NXDOMAIN:\n"
    "    print('NXDOMAIN')\n"
)


def dig(cluster: Cluster, name: str, kind: str = "A") -> str:
    """dnspython in a pod, asking the pod's resolver (the cluster DNS) for ``name``."""
    done = kubectl(cluster.config, "exec", "client-w", "--", sys.executable, "-c", DIG, name, kind)
    return done.stdout.strip()


def test_pods_resolve_services_through_the_cluster_dns(cluster: Cluster) -> None:
    resolv = kubectl(cluster.config, "exec", "client-w", "--", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 10.96.0.10" in resolv and "options ndots:5" in resolv
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv
    for name, address in (("kubernetes.default", "10.96.0.1"), ("who", cluster.cluster_ip),
                          ("kube-dns.kube-system.svc.cluster.local", "10.96.0.10")):  # fmt: skip
        hosts = kubectl(cluster.config, "exec", "client-w", "--", "getent", "hosts", name).stdout
        assert hosts.split()[0] == address, (name, hosts)


def test_srv_ptr_and_headless_records_follow_the_spec(cluster: Cluster) -> None:
    full = "who.default.svc.cluster.local"
    assert dig(cluster, f"_http._tcp.{full}", "SRV") == "NXDOMAIN"  # the port has no name
    assert dig(cluster, full, "SRV") == f"0 100 80 {full}."
    assert dig(cluster, cluster.cluster_ip, "PTR") == f"{full}."
    headless = _service("who-headless", clusterIP="None")
    kubectl(cluster.config, "apply", "-f", "-", stdin=json.dumps(headless))
    pods = sorted(ip for name, ip in _pods(cluster).items() if name.startswith("who-"))

    def resolved() -> str | None:
        answer = dig(cluster, "who-headless.default.svc.cluster.local")
        return answer if answer.split() == pods else None

    assert eventually(resolved, timeout=10)


def test_outside_names_get_nxdomain_at_once(cluster: Cluster) -> None:
    done = kubectl(cluster.config, "exec", "client-w", "--", "getent", "hosts", "example.com",
                   check=False)  # fmt: skip
    assert done.returncode == 2  # not found, and no resolver outside was asked
    assert dig(cluster, "example.com") == "NXDOMAIN"


def test_a_host_port_reaches_its_pod_through_the_portmap_plugin(cluster: Cluster) -> None:
    container = {"name": "who", "image": "busybox", "command": [sys.executable, "-c", WHO],
                 "ports": [{"containerPort": 8080, "hostPort": 30555}]}  # fmt: skip
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hostport"},
           "spec": {"nodeName": cluster.worker, "containers": [container],
                    "terminationGracePeriodSeconds": 0}}  # fmt: skip
    kubectl(cluster.config, "apply", "-f", "-", stdin=json.dumps(pod))
    kubectl(cluster.config, "wait", "--for=condition=Ready", "pod/hostport", "--timeout=60s")
    worker_ip = next(
        n.ip for n in query.cluster_plan(cluster.name).nodes if n.name == cluster.worker
    )

    def answer() -> str | None:
        done = cluster.curl(cluster.control_plane, f"http://{worker_ip}:30555/", pod=False)
        return done.stdout.strip() or None

    seen = eventually(answer, timeout=10)
    assert seen.split()[0] == "hostport"  # DNAT by portmap's rules in the worker
    from_pod = cluster.curl("client-cp", f"http://{worker_ip}:30555/")
    assert from_pod.stdout.startswith("hostport"), from_pod.stderr
