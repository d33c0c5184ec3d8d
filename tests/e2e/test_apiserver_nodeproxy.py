"""The real kubectl's logs and exec through kin's API server to a node's kubelet.

The kubelet end is ``FakeKubelet`` (it echoes and records): these tests prove the
kubectl <-> API server half (WebSocket v5 upgrade, channels, exit codes, streamed logs)
and the relay; the kubelet's own streaming server is tested end to end with it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from kin.testing.apiserver import ServerProcess
from kin.testing.fake_kubelet import LOG_LINES, FakeKubelet
from kin.testing.names import random_name

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with (
        FakeKubelet() as kubelet,
        tempfile.TemporaryDirectory(prefix="kin-apiserver-nodeproxy-") as directory,
        ServerProcess("memory://", directory) as running,
        contextlib.closing(running.client()) as client,
    ):
        assert client.post("/api/v1/nodes", kubelet.node("n1")).status == 201
        yield running


@pytest.fixture
def pod(server: ServerProcess) -> str:
    name = random_name("pod")
    body = {"metadata": {"name": name}, "spec": {"nodeName": "n1", "containers": [
        {"name": "main", "image": "busybox"}, {"name": "side", "image": "busybox"}]}}  # fmt: skip
    with contextlib.closing(server.client()) as client:
        assert client.post(PODS, body).status == 201
    return name


def kubectl(server: ServerProcess, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": server.kubeconfig, "KUBECACHEDIR": str(server.dir / "cache")}
    return subprocess.run(
        ["kubectl", *args], env=env, input=stdin, capture_output=True, text=True, timeout=30
    )


def test_logs(server: ServerProcess, pod: str) -> None:
    done = kubectl(server, "logs", pod, "-c", "side", "--tail=2")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "".join(LOG_LINES)


def test_logs_default_to_the_first_container_and_say_so(server: ServerProcess, pod: str) -> None:
    done = kubectl(server, "logs", pod, "-f")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "".join(LOG_LINES)
    assert 'Defaulted container "main" out of: main, side' in done.stderr


def test_exec_prints_stdout_and_passes_stdin(server: ServerProcess, pod: str) -> None:
    done = kubectl(server, "exec", "-i", pod, "-c", "main", "--", "cat", "-", stdin="from stdin\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "cat -\nfrom stdin\n"


def test_exec_exit_code_is_kubectls(server: ServerProcess, pod: str) -> None:
    done = kubectl(server, "exec", pod, "-c", "main", "--", "exit", "7")
    assert done.returncode == 7
    assert "command terminated with exit code 7" in done.stderr


def test_a_missing_pod(server: ServerProcess) -> None:
    done = kubectl(server, "logs", "no-such-pod")
    assert done.returncode == 1
    assert 'pods "no-such-pod" not found' in done.stderr
