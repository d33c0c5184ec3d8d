"""Many clients at once: patches all land, conditional updates have one winner, and
allocations never hand one address or port to two Services."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from kin.testing.apiserver import Client, InProcessServer

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"
THREADS = 8


def in_parallel(server: InProcessServer, work: Callable[[Client, int], None]) -> None:
    """``work(client, index)`` on THREADS threads, each with its own connection."""
    errors: list[BaseException] = []

    def run(index: int) -> None:
        client = server.client()
        try:
            work(client, index)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]


def test_concurrent_patches_of_one_object_all_land(
    server: InProcessServer, api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(path, {"metadata": {"name": "shared"}, "data": {}})

    def work(client: Client, index: int) -> None:
        for step in range(10):
            patch = {"data": {f"k{index}-{step}": "v"}}
            answer = client.patch(f"{path}/shared", patch, MERGE)
            assert answer.status == 200, answer

    in_parallel(server, work)
    data = api.get(f"{path}/shared").json()["data"]
    assert len(data) == THREADS * 10


def test_conditional_updates_from_one_version_have_exactly_one_winner(
    server: InProcessServer, api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    base = api.post(path, {"metadata": {"name": "race"}, "data": {"winner": ""}}).json()
    outcomes: list[int] = []
    lock = threading.Lock()

    def work(client: Client, index: int) -> None:
        attempt = dict(base, data={"winner": str(index)})
        answer = client.put(f"{path}/race", attempt)
        with lock:
            outcomes.append(answer.status)

    in_parallel(server, work)
    assert sorted(outcomes) == [200] + [409] * (THREADS - 1)
    assert api.get(f"{path}/race").json()["data"]["winner"] != ""


def test_concurrent_creates_of_one_name_have_exactly_one_winner(
    server: InProcessServer, api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    outcomes: list[int] = []

    def work(client: Client, index: int) -> None:
        outcomes.append(client.post(path, {"metadata": {"name": "one"}, "data": {}}).status)

    in_parallel(server, work)
    assert sorted(outcomes) == [201] + [409] * (THREADS - 1)


def test_concurrent_services_get_distinct_addresses_and_node_ports(
    server: InProcessServer, api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/services"
    created: list[Obj] = []

    def work(client: Client, index: int) -> None:
        for step in range(5):
            ports = [{"port": 80, "name": "a"}, {"port": 443, "name": "b"}]
            body = {
                "metadata": {"name": f"s{index}-{step}"},
                "spec": {"type": "NodePort", "ports": ports},
            }
            answer = client.post(path, body)
            assert answer.status == 201, answer
            created.append(answer.json())

    in_parallel(server, work)
    ips = [s["spec"]["clusterIP"] for s in created]
    ports = [p["nodePort"] for s in created for p in s["spec"]["ports"]]
    assert len(set(ips)) == len(ips) == THREADS * 5
    assert len(set(ports)) == len(ports)
