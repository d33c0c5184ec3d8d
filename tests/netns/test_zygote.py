"""The cluster's fork server forks into its caller's namespaces and never onto the host.

A test "node" is a network namespace made for the test plus a new PID (and UTS)
namespace whose PID 1 is the client script below: the zygote's daemon must land in
both, be adopted by that PID 1 (which reaps it, as the node supervisor does), get the
fds, argv and environment of the request, and nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kin.errors import ZygoteError
from kin.linux import ns
from kin.linux.files import listen_unix
from kin.linux.proc import ProcessRecord
from kin.linux.zygote import spawn, spawn_early
from kin.testing.waiting import eventually

pytestmark = pytest.mark.netns

CLIENT = textwrap.dedent(
    """
    import json, os, sys
    from kin.errors import ZygoteError
    from kin.linux.zygote import spawn
    socket_path, argv = sys.argv[1], json.loads(sys.argv[2])
    r, w = os.pipe()
    try:
        pid = spawn(socket_path, argv, {"PROBE": "yes"}, [os.open("/dev/null", 0), w, w])
    except ZygoteError as exc:
        print(json.dumps({"error": str(exc)}))
        sys.exit(0)
    os.close(w)
    output = os.read(r, 1 << 16).decode()
    _, status = os.waitpid(pid, 0)  # our child now: we are PID 1 of its PID namespace
    print(json.dumps({"me": os.getpid(), "reply_pid": pid,
                      "code": os.waitstatus_to_exitcode(status), "probe": output}))
    """
)


@pytest.fixture
def zygote(tmp_path: Path) -> Iterator[str]:
    socket_path = str(tmp_path / "run" / "zygote.sock")
    log = open(tmp_path / "zygote.log", "w")  # noqa: SIM115 - closed in finally
    argv = [sys.executable, "-m", "kin.linux.zygote", "--socket", socket_path,
            "--preload", "kin.testing.zygote_probe"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while "ready" not in (tmp_path / "zygote.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, "the zygote did not start"
            time.sleep(0.02)
        yield socket_path
    finally:
        proc.kill()
        proc.wait()
        log.close()


def in_node(node: str, socket_path: str, argv: list[str]) -> dict[str, Any]:
    """Run the client as PID 1 of a new PID namespace inside the test's network namespace."""
    command = ["nsenter", f"--net={ns.netns_path(node)}", "--", "unshare", "--pid", "--fork", "--kill-child", sys.executable, "-c", CLIENT, socket_path,
               json.dumps(argv)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    return dict(json.loads(done.stdout))


def netns_inode(node: str) -> int:
    return os.stat(ns.netns_path(node)).st_ino


def test_a_daemon_runs_in_the_callers_namespaces_adopted_by_its_pid_1(
    zygote: str, netns_factory: Callable[[], str]
) -> None:
    node = netns_factory()
    result = in_node(node, zygote, [sys.executable, "-m", "kin.testing.zygote_probe", "7"])
    probe = json.loads(result["probe"])
    # PID 1 of the caller's PID namespace reaped it, exit code and all: adopted, as a
    # node's supervisor adopts its units (its first parent may still be leaving as it runs).
    assert result["me"] == 1 and result["code"] == 7
    assert probe["pid"] == result["reply_pid"]  # named in the caller's PID namespace
    assert probe["sid"] == probe["pid"]
    assert probe["netns"] == netns_inode(node) != os.stat("/proc/self/ns/net").st_ino
    assert probe["cwd"] == "/"
    assert probe["argv"] == ["kin.testing.zygote_probe", "7"]
    assert probe["env"] == {"PROBE": "yes"}


def test_callers_on_the_host_are_refused(zygote: str) -> None:
    with pytest.raises(ZygoteError, match="own network namespace"):
        spawn(zygote, [sys.executable, "-m", "kin.testing.zygote_probe"], {}, [])


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["python3", "-m", "kin.no_such_module"], "cannot import 'kin.no_such_module'"),
        (["/bin/sh", "-c", "true"], "only 'python -m MODULE ...'"),
        (["python3", "-m", "kin.errors"], "has no main()"),
    ],
)
def test_bad_requests_get_an_error_and_the_zygote_keeps_serving(
    zygote: str, netns_factory: Callable[[], str], argv: list[str], error: str
) -> None:
    node = netns_factory()
    assert error in in_node(node, zygote, argv)["error"]
    after = in_node(node, zygote, [sys.executable, "-m", "kin.testing.zygote_probe"])
    assert after["code"] == 0


def test_a_zygote_spawned_early_serves_the_sockets_it_is_handed_later(
    tmp_path: Path, netns_factory: Callable[[], str]
) -> None:
    """``kin create`` starts its zygote before the cluster is planned, then hands it the
    nodes' sockets (one per node: more than one message carries), its log and its record
    files."""
    early = spawn_early(["kin.testing.zygote_probe"], dict(os.environ))
    try:
        paths = [str(tmp_path / "run" / f"node{i}" / "zygote.sock") for i in range(300)]
        owner = tmp_path / "cluster.json"
        owner.write_text("{}")
        record = {"pid_file": str(tmp_path / "zygote.pid"), "owner_file": str(owner),
                  "lock_file": str(tmp_path / ".lock")}  # fmt: skip
        listeners = [listen_unix(path, dir_mode=0o755) for path in paths]
        try:
            early.hand_over(listeners, str(tmp_path / "zygote.log"), record)
        finally:
            for listener in listeners:
                listener.close()
        eventually(lambda: "ready" in (tmp_path / "zygote.log").read_text())
        assert "serving 300 sockets" in (tmp_path / "zygote.log").read_text()
        assert ProcessRecord.load(record["pid_file"]) == ProcessRecord.of(early.pid)
        probe = [sys.executable, "-m", "kin.testing.zygote_probe", "3"]
        assert in_node(netns_factory(), paths[-1], probe)["code"] == 3
    finally:
        os.kill(early.pid, signal.SIGKILL)
        os.waitpid(early.pid, 0)


def test_a_zygote_spawned_early_and_never_handed_its_sockets_exits() -> None:
    early = spawn_early(["kin.testing.zygote_probe"], dict(os.environ))
    early.close()  # kin create failed before it knew where the zygote would serve

    def exited() -> tuple[int] | None:
        pid, status = os.waitpid(early.pid, os.WNOHANG)
        return (os.waitstatus_to_exitcode(status),) if pid else None

    assert eventually(exited, timeout=20) == (0,)
