"""A node's PID 1, booted for real in a throwaway namespace: namespaces, mounts, units, reaping."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kin.linux import ns
from kin.linux.proc import ProcessRecord, kill_and_wait
from kin.node.client import request
from kin.node.spec import Bind, NodeSpec
from kin.node.units import Unit, write_unit

NAMESPACES = ("ipc", "mnt", "net", "pid", "uts")


@pytest.fixture
def node(netns: str, tmp_path: Path) -> Iterator[NodeSpec]:
    """A booted node on a throwaway namespace, killed (with its PID namespace) afterwards."""
    fs = tmp_path / "fs"
    for sub in ("run", "var/log", "etc"):
        (fs / sub).mkdir(parents=True)
    (fs / "etc/hosts").write_text("172.18.0.9\tnode-under-test\n")
    spec = NodeSpec(
        name=netns,
        netns=ns.netns_path(netns),
        state_dir=str(tmp_path),
        binds=[Bind(str(fs / "run"), "/run"), Bind(str(fs / "var/log"), "/var/log"),
               Bind(str(fs / "etc/hosts"), "/etc/hosts")],
        sysctls={"net.ipv4.ip_forward": "1"},
    )  # fmt: skip
    spec.save()
    boot = [sys.executable, "-m", "kin.node.boot", spec.spec_file]
    try:
        subprocess.run(boot, check=True, timeout=30)
        yield spec
    finally:  # also when boot failed or hung: a PID 1 records itself first thing
        record = ProcessRecord.load(spec.pid_file)
        if record is not None:
            kill_and_wait([record])


def inside(spec: NodeSpec, *argv: str) -> str:
    record = ProcessRecord.load(spec.pid_file)
    assert record is not None
    enter = ["nsenter", "-t", str(record.pid), "-m", "-u", "-i", "-n", "-p", "--", *argv]
    return subprocess.run(enter, capture_output=True, text=True, check=True).stdout


def pid1(spec: NodeSpec) -> int:
    record = ProcessRecord.load(spec.pid_file)
    assert record is not None
    return record.pid


def test_node_has_its_own_ipc_mnt_net_pid_uts(node: NodeSpec) -> None:
    for kind in NAMESPACES:
        assert os.readlink(f"/proc/{pid1(node)}/ns/{kind}") != os.readlink(f"/proc/self/ns/{kind}")
    assert os.stat(f"/proc/{pid1(node)}/ns/net").st_ino == os.stat(node.netns).st_ino


def test_hostname_pid1_proc_and_sys_are_the_nodes(node: NodeSpec) -> None:
    assert inside(node, "hostname").strip() == node.name
    assert inside(node, "cat", "/proc/1/cmdline").rstrip("\0") == f"kin.node --node {node.name}"
    assert inside(node, "cat", "/proc/1/comm") == "kin.node\n"
    pids = [p for p in inside(node, "ls", "/proc").split() if p.isdigit()]
    assert len(pids) <= 3  # PID 1, the nsenter child and ls
    assert inside(node, "ls", "/sys/class/net").split() == ["lo"]
    assert inside(node, "cat", "/proc/sys/net/ipv4/ip_forward").strip() == "1"


def test_per_node_files_are_bound_over_host_paths(node: NodeSpec) -> None:
    assert inside(node, "cat", "/etc/hosts") == "172.18.0.9\tnode-under-test\n"
    inside(node, "sh", "-c", "echo written-in-node > /run/marker")
    assert (Path(node.state_dir) / "fs/run/marker").read_text() == "written-in-node\n"
    assert not os.path.exists("/run/marker")


def test_no_network_namespace_pins_are_copied_into_the_node(node: NodeSpec) -> None:
    mounts = inside(node, "cat", "/proc/self/mountinfo")
    assert not [line for line in mounts.splitlines() if " - nsfs " in line]


def test_control_socket_answers_ping_and_status(node: NodeSpec) -> None:
    assert request(node.control_socket, "ping") == {"ok": True, "node": node.name, "units": 0}
    assert request(node.control_socket, "status") == {"ok": True, "units": {}}
    assert request(node.control_socket, "nonsense")["ok"] is False
    assert oct(os.stat(node.control_socket).st_mode & 0o777) == "0o600"


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def unit_status(node: NodeSpec, name: str) -> dict[str, object]:
    units: dict[str, dict[str, object]] = request(node.control_socket, "status")["units"]
    return units[name]


def test_units_start_on_reload_restart_after_a_crash_and_stop_when_removed(node: NodeSpec) -> None:
    write_unit(node.units_dir, Unit("sleeper", ("sleep", "1000")))
    reply = request(node.control_socket, "reload")
    assert reply["started"] == ["sleeper"] and reply["ok"] is True
    first = unit_status(node, "sleeper")["pid"]
    assert isinstance(first, int)
    inside(node, "kill", "-9", str(first))
    wait_for(lambda: unit_status(node, "sleeper")["pid"] not in (None, first))
    assert unit_status(node, "sleeper")["restarts"] == 1
    os.unlink(os.path.join(node.units_dir, "sleeper.json"))
    assert request(node.control_socket, "reload")["stopped"] == ["sleeper"]
    wait_for(lambda: "sleep 1000" not in inside(node, "ps", "-eo", "args"))


def test_unit_output_goes_to_the_nodes_log_dir(node: NodeSpec) -> None:
    write_unit(node.units_dir, Unit("hello", ("sh", "-c", "echo hello from unit"), restart="no"))
    request(node.control_socket, "reload")
    log = Path(node.state_dir) / "fs/var/log/kin/hello.log"
    wait_for(lambda: log.exists() and log.read_text() == "hello from unit\n")
    wait_for(lambda: unit_status(node, "hello")["exit_code"] == 0)


def test_orphans_are_reaped_by_pid1(node: NodeSpec) -> None:
    inside(node, "sh", "-c", "(sleep 0.2 &) ; exit 0")
    time.sleep(0.6)
    states = inside(node, "ps", "-eo", "stat=,args=")
    assert not [line for line in states.splitlines() if line.strip().startswith("Z")]


def test_sigterm_stops_units_and_the_node(node: NodeSpec) -> None:
    write_unit(node.units_dir, Unit("sleeper", ("sleep", "1000")))
    request(node.control_socket, "reload")
    record = ProcessRecord.load(node.pid_file)
    assert record is not None
    os.kill(record.pid, signal.SIGTERM)
    wait_for(lambda: not record.alive())


def test_boot_failure_is_reported_and_leaves_no_process(netns: str, tmp_path: Path) -> None:
    spec = NodeSpec(name="x" * 70, netns=ns.netns_path(netns), state_dir=str(tmp_path))
    spec.save()
    boot = [sys.executable, "-m", "kin.node.boot", spec.spec_file]
    result = subprocess.run(boot, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "is longer than the kernel's 64 characters" in result.stderr
    record = ProcessRecord.load(spec.pid_file)  # recorded first, so a delete could find it
    assert record is not None and not record.alive()
    assert json.loads(Path(spec.spec_file).read_text())["name"] == "x" * 70


def test_a_node_whose_owner_is_gone_refuses_to_boot(netns: str, tmp_path: Path) -> None:
    spec = NodeSpec(
        name=netns,
        netns=ns.netns_path(netns),
        state_dir=str(tmp_path),
        owner_file=str(tmp_path / "cluster.json"),
        lock_file=str(tmp_path / ".lock"),
    )
    spec.save()
    boot = [sys.executable, "-m", "kin.node.boot", spec.spec_file]
    result = subprocess.run(boot, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "cluster.json is gone (deleted while starting)" in result.stderr
    assert not os.path.exists(spec.pid_file)


def test_a_socket_unit_starts_on_the_first_connection_and_again_after_it_exits(
    node: NodeSpec, tmp_path: Path
) -> None:
    path = str(tmp_path / "echo.sock")
    # One connection per start: accept on the inherited fd 3, answer, exit.
    program = (
        "import socket; s = socket.socket(fileno=3); c, _ = s.accept(); "
        "c.sendall(b'hello from an activated unit'); c.close()"
    )
    write_unit(node.units_dir, Unit("echo", (sys.executable, "-c", program), socket=path))
    request(node.control_socket, "reload")
    assert unit_status(node, "echo")["state"] == "listening"
    assert "socket.socket(fileno=3)" not in inside(node, "ps", "-eo", "args")
    for attempt in range(2):
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
            assert client.recv(64) == b"hello from an activated unit", attempt
        wait_for(lambda: unit_status(node, "echo")["state"] == "listening")
    os.unlink(os.path.join(node.units_dir, "echo.json"))
    request(node.control_socket, "reload")
    assert not os.path.exists(path)
