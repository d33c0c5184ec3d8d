"""A server started again on the storage of a stopped one serves the same cluster: its
bootstrap finds the system objects and leaves them (and everything else) alone."""

from __future__ import annotations

from pathlib import Path

from kin.testing.apiserver import InProcessServer

SYSTEM = [
    "/api/v1/namespaces/default",
    "/api/v1/namespaces/kube-system",
    "/api/v1/namespaces/kube-public",
    "/api/v1/namespaces/kube-node-lease",
    "/api/v1/namespaces/default/services/kubernetes",
    "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes",
]


def test_a_restart_on_sqlite_keeps_the_cluster(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'store.db'}"
    with InProcessServer(url) as first:
        client = first.client()
        uids = {path: client.get(path).json()["metadata"]["uid"] for path in SYSTEM}
        svc = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
        created = client.post("/api/v1/namespaces/default/services", svc).json()
        last = int(created["metadata"]["resourceVersion"])
        client.close()
    with InProcessServer(url) as second:
        client = second.client()
        for path, uid in uids.items():
            again = client.get(path)
            assert again.status == 200, (path, again)
            assert again.json()["metadata"]["uid"] == uid, path
        kept = client.get("/api/v1/namespaces/default/services/web").json()
        assert kept["spec"]["clusterIP"] == created["spec"]["clusterIP"]
        cm = client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}})
        assert int(cm.json()["metadata"]["resourceVersion"]) > last
        endpoints = client.get("/api/v1/namespaces/default/endpoints/kubernetes").json()
        assert endpoints["subsets"][0]["ports"][0]["port"] == second.server.port
        path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"
        endpoint_slice = client.get(path).json()  # what kube-proxy reads, repointed too
        assert endpoint_slice["ports"] == [{"name": "https", "port": second.server.port,
                                           "protocol": "TCP"}]  # fmt: skip
        assert endpoint_slice["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
        client.close()
