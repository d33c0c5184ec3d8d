"""The API server's relay of pods/log, exec and portforward to the pod's kubelet.

The kubelet end is ``FakeKubelet``, a stand-in that records what it was asked; the
kubelet's own streaming server and the end-to-end tests with containers come with it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from kin.testing.apiserver import Client, InProcessServer
from kin.testing.fake_kubelet import LOG_LINES, FakeKubelet
from kin.testing.names import random_name

Pods = "/api/v1/namespaces/default/pods"


@pytest.fixture(scope="module")
def kubelet() -> Iterator[FakeKubelet]:
    with FakeKubelet() as running:
        yield running


@pytest.fixture(scope="module")
def server(kubelet: FakeKubelet) -> Iterator[InProcessServer]:
    with InProcessServer() as running:
        client = running.client()
        assert client.post("/api/v1/nodes", kubelet.node("n1")).status == 201
        client.close()
        yield running


@pytest.fixture
def client(server: InProcessServer) -> Iterator[Client]:
    api = server.client()
    yield api
    api.close()


def make_pod(client: Client, containers: tuple[str, ...] = ("c",), node: str = "n1") -> str:
    name = random_name("pod")
    spec: dict[str, Any] = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
    if node:
        spec["nodeName"] = node
    created = client.post(Pods, {"metadata": {"name": name}, "spec": spec})
    assert created.status == 201, created
    return name


def test_logs_come_from_the_pods_kubelet_with_the_query(
    client: Client, kubelet: FakeKubelet
) -> None:
    pod = make_pod(client)
    reply = client.get(f"{Pods}/{pod}/log?container=c&tailLines=3&timestamps=true", accept="*/*")
    assert reply.status == 200
    assert reply.body.decode() == "".join(LOG_LINES)
    path, query = kubelet.requests[-1]
    assert path == f"/containerLogs/default/{pod}/c"
    assert query == {"tailLines": ["3"], "timestamps": ["true"]}


def test_followed_logs_arrive_as_the_kubelet_writes_them(
    server: InProcessServer, client: Client
) -> None:
    pod = make_pod(client)

    async def read() -> list[float]:
        arrivals = []
        headers = {"Authorization": f"Bearer {server.token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            url = f"{server.url}{Pods}/{pod}/log?follow=true"
            async with session.get(url) as reply:
                assert reply.status == 200
                async for _ in reply.content.iter_any():
                    arrivals.append(time.monotonic())
        return arrivals

    arrivals = asyncio.run(read())
    assert len(arrivals) >= 3  # chunks, not one body at the end
    assert arrivals[-1] - arrivals[0] > 0.1


def test_a_pod_with_several_containers_needs_one_named(client: Client) -> None:
    pod = make_pod(client, ("a", "b"))
    reply = client.get(f"{Pods}/{pod}/log")
    assert reply.status == 400
    assert (
        reply.json()["message"]
        == f"a container name must be specified for pod {pod}, choose one of: [a b]"
    )
    reply = client.get(f"{Pods}/{pod}/log?container=zzz")
    assert reply.status == 400
    assert reply.json()["message"] == f"container zzz is not valid for pod {pod}"


def test_an_unscheduled_pod_has_no_logs(client: Client) -> None:
    pod = make_pod(client, node="")
    reply = client.get(f"{Pods}/{pod}/log")
    assert reply.status == 400
    assert "does not have a host assigned" in reply.json()["message"]


def test_a_node_whose_kubelet_is_down_is_a_500_naming_the_backend(client: Client) -> None:
    node = {"metadata": {"name": "gone"}, "status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 9}}}}  # fmt: skip
    assert client.post("/api/v1/nodes", node).status == 201
    pod = make_pod(client, node="gone")
    reply = client.get(f"{Pods}/{pod}/log")
    assert reply.status == 500
    assert reply.json()["message"].startswith(
        "error dialing backend: https://127.0.0.1:9/containerLogs"
    )


def exec_session(
    server: InProcessServer, path: str, protocol: str, stdin: bytes = b""
) -> tuple[str, list[bytes]]:
    async def run() -> tuple[str, list[bytes]]:
        headers = {"Authorization": f"Bearer {server.token}"}
        url = f"{server.url}{path}"
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.ws_connect(url, protocols=(protocol,)) as ws,
        ):
            if stdin:
                await ws.send_bytes(b"\x00" + stdin)
                await ws.send_bytes(b"\xff\x00")
            received = [m.data async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
            return ws.protocol or "", received

    return asyncio.run(run())


def test_exec_is_relayed_over_v5_websockets(
    server: InProcessServer, client: Client, kubelet: FakeKubelet
) -> None:
    pod = make_pod(client)
    path = f"{Pods}/{pod}/exec?command=echo&command=hi&stdout=true&stdin=true&container=c"
    protocol, frames = exec_session(server, path, "v5.channel.k8s.io", b"typed\n")
    assert protocol == "v5.channel.k8s.io"
    assert frames[0] == b"\x01echo hi\n"
    assert frames[1] == b"\x01typed\n"
    assert json.loads(frames[-1][1:])["status"] == "Success"
    path_seen, query = kubelet.requests[-1]
    assert path_seen == f"/exec/default/{pod}/c"
    assert query["command"] == ["echo", "hi"]


def test_exec_exit_codes_travel_back(server: InProcessServer, client: Client) -> None:
    pod = make_pod(client)
    _, frames = exec_session(
        server, f"{Pods}/{pod}/exec?command=exit&command=3&stdout=true", "v5.channel.k8s.io"
    )
    status = json.loads(frames[-1][1:])
    assert frames[-1][0] == 3
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


def test_portforward_tunnels_bytes_both_ways(
    server: InProcessServer, client: Client, kubelet: FakeKubelet
) -> None:
    pod = make_pod(client)

    async def run() -> tuple[str, bytes]:
        headers = {"Authorization": f"Bearer {server.token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            url = f"{server.url}{Pods}/{pod}/portforward"
            async with session.ws_connect(url, protocols=("SPDY/3.1+portforward.k8s.io",)) as ws:
                await ws.send_bytes(b"\x80\x03\x00\x01spdy-bytes")
                echoed = await ws.receive_bytes(timeout=5)
                return ws.protocol or "", echoed

    protocol, echoed = asyncio.run(run())
    assert protocol == "SPDY/3.1+portforward.k8s.io"
    assert echoed == b"\x80\x03\x00\x01spdy-bytes"
    assert kubelet.requests[-1][0] == f"/portForward/default/{pod}"


def test_exec_without_an_upgrade_is_a_400(client: Client) -> None:
    pod = make_pod(client)
    reply = client.get(f"{Pods}/{pod}/exec?command=ls")
    assert reply.status == 400
    assert reply.json()["message"] == "Upgrade request required"
