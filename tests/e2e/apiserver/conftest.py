"""The real kubectl and the official Python client against a real ``python -m kin.apiserver``.

One server per session (HTTPS, a fresh CA, SQLite storage in a throwaway directory),
stopped by its exact PID and its directory removed when the session ends. kubectl runs
with ``KUBECONFIG`` pointing at the server's kubeconfig and a ``KUBECACHEDIR`` of its
own, so it never reads or writes ``~/.kube`` and never sees a stale discovery cache.

Each test works in a fresh namespace with a random name, so tests do not see each
other's objects; cluster-scoped objects (nodes) get random names too. What a test
asserts comes from two sides: kubectl's output, and the stored object read back through
the server's own HTTP client (``api``).
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kin.testing.apiserver import Client, ServerProcess
from kin.testing.names import random_name
from kin.testing.waiting import eventually

KUBECTL = "/usr/bin/kubectl"
RUN_TIMEOUT = 30.0
WAIT = 10.0


class KubectlError(AssertionError):
    """kubectl exited non-zero where the test expected success."""


class Kubectl:
    """Runs the real kubectl against one server, optionally inside one namespace."""

    def __init__(self, env: dict[str, str], namespace: str = "") -> None:
        self.env = env
        self.namespace = namespace

    def within(self, namespace: str) -> Kubectl:
        return Kubectl(self.env, namespace)

    def argv(self, args: tuple[str, ...]) -> list[str]:
        scope = [f"--namespace={self.namespace}"] if self.namespace else []
        return [KUBECTL, *scope, *args]

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.argv(args),
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=RUN_TIMEOUT,
        )
        if check and done.returncode != 0:
            raise KubectlError(
                f"kubectl {' '.join(args)} exited {done.returncode}:\n"
                f"stdout: {done.stdout}\nstderr: {done.stderr}"
            )
        return done

    def start(self, *args: str) -> Lines:
        """kubectl running in the background (``get -w``, ``delete`` that waits)."""
        proc = subprocess.Popen(
            self.argv(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        return Lines(proc)


class Lines:
    """A background kubectl whose stdout is read line by line with a timeout.

    A reader thread moves lines into a queue, so a test never blocks on a pipe forever;
    ``stop`` kills the process by its Popen handle (its exact PID) and reaps it.
    """

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._peeked: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _get(self, timeout: float) -> str | None:
        """The next line, or None once kubectl has ended; queue.Empty on timeout."""
        if self._peeked:
            return self._peeked.pop()
        line = self._lines.get(timeout=timeout)
        if line is None:
            self._lines.put(None)  # stays ended for every later read
        return line

    def next(self, timeout: float = WAIT) -> str:
        try:
            line = self._get(timeout)
        except queue.Empty:
            raise AssertionError(f"no new line after {timeout}s; so far: {self.seen}") from None
        if line is None:
            raise AssertionError(f"kubectl ended; its output was: {self.seen}")
        self.seen.append(line)
        return line

    def take(self, count: int, timeout: float = WAIT) -> list[str]:
        return [self.next(timeout) for _ in range(count)]

    def quiet(self, seconds: float) -> bool:
        """True if no line arrives within ``seconds`` (or kubectl has ended)."""
        try:
            line = self._get(seconds)
        except queue.Empty:
            return True
        if line is not None:
            self._peeked.append(line)
        return line is None

    def wait(self, timeout: float = WAIT) -> int:
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
        self._reader.join(WAIT)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def table(output: str) -> list[dict[str, str]]:
    """A kubectl table as one dict per row, keyed by header (``"NOMINATED NODE"``).

    Cells are cut at the header's column offsets, so empty cells and cells with single
    spaces (``"Ready,SchedulingDisabled"``, ``"LAST SEEN"``) come out right.
    """
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return []
    heads = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    ends = [start for start, _ in heads[1:]] + [None]
    return [
        {name: line[start:end].strip() for (start, name), end in zip(heads, ends, strict=True)}
        for line in lines[1:]
    ]


def node_manifest(name: str) -> str:
    """A Node as a kubelet registers it: a Ready condition, addresses and system info."""
    return f"""\
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels:
    kubernetes.io/hostname: {name}
    node-role.kubernetes.io/worker: ""
status:
  addresses:
  - {{type: InternalIP, address: 172.18.0.42}}
  - {{type: Hostname, address: {name}}}
  conditions:
  - type: Ready
    status: "True"
    reason: KubeletReady
    message: kubelet is posting ready status
    lastHeartbeatTime: "2026-01-01T00:00:00Z"
    lastTransitionTime: "2026-01-01T00:00:00Z"
  nodeInfo:
    osImage: Debian GNU/Linux 12 (bookworm)
    kernelVersion: 6.1.0-kin
    containerRuntimeVersion: kin://0.1.0
    kubeletVersion: v1.32.0
    kubeProxyVersion: v1.32.0
    architecture: amd64
    operatingSystem: linux
    machineID: machine-{name}
    systemUUID: uuid-{name}
    bootID: boot-{name}
  capacity: {{cpu: "4", memory: 8Gi, pods: "110"}}
  allocatable: {{cpu: "4", memory: 8Gi, pods: "110"}}
"""


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    directory = tempfile.mkdtemp(prefix="kin-kubectl-e2e-")
    try:
        running = ServerProcess(f"sqlite:///{directory}/store.db", directory)
        try:
            running.start()
            yield running
        finally:
            running.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def kubectl(server: ServerProcess) -> Kubectl:
    cache = Path(server.dir, "kubectl-cache")
    cache.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(server.dir),  # never ~/.kube, whatever a code path falls back to
        "KUBECONFIG": server.kubeconfig,
        "KUBECACHEDIR": str(cache),
        "LANG": "C.UTF-8",
    }
    return Kubectl(env)


@pytest.fixture(scope="session")
def api(server: ServerProcess) -> Iterator[Client]:
    client = server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def namespace(api: Client) -> Iterator[str]:
    """A fresh namespace; deleted after, its pods forced out as a kubelet would."""
    name = random_name("kt")
    created = api.post("/api/v1/namespaces", {"metadata": {"name": name}})
    assert created.status == 201, created
    try:
        yield name
    finally:
        force_delete_pods(api, name)
        api.delete(f"/api/v1/namespaces/{name}")


@pytest.fixture
def k(kubectl: Kubectl, namespace: str) -> Kubectl:
    """kubectl inside the test's namespace."""
    return kubectl.within(namespace)


@pytest.fixture
def node(kubectl: Kubectl, api: Client) -> Iterator[str]:
    """A Ready Node made with ``kubectl create -f`` (name random); deleted after."""
    name = random_name("kn")
    done = kubectl("create", "-f", "-", input=node_manifest(name))
    assert done.stdout == f"node/{name} created\n"
    try:
        yield name
    finally:
        api.delete(f"/api/v1/nodes/{name}")


def force_delete_pods(api: Client, namespace: str) -> None:
    """What a kubelet does when a pod's containers are gone: delete with grace 0."""
    pods = api.get(f"/api/v1/namespaces/{namespace}/pods").json()
    for pod in pods.get("items", []):
        path = f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}"
        api.delete(path, {"gracePeriodSeconds": 0})


def stored(api: Client, path: str) -> Any:
    """The object at ``path`` as the server stores it (AssertionError unless 200)."""
    reply = api.get(path)
    assert reply.status == 200, reply
    return reply.json()


@pytest.fixture(name="stored")
def stored_fixture(api: Client) -> Callable[[str], Any]:
    return lambda path: stored(api, path)


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Any]:
    return eventually


@pytest.fixture(name="table")
def table_fixture() -> Callable[[str], list[dict[str, str]]]:
    return table
