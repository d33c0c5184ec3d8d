"""kin's own daemons in pods run in place of exec, in a fork of the shim, and find what
exec would have given them: stdio only, the container's environment and arguments,
default signals, their exit status; anything else is exec'd as before."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kin.runtime.cri import api_pb2 as cri
from kin.testing.runtime import RuntimeUnderTest, container_config, pod_config


def run(runtime: RuntimeUnderTest, tmp_path: Path, *command: str) -> tuple[int, list[str]]:
    """Run ``command`` as a container until it exits: its status and its log's lines."""
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    config = container_config("probe", *command, image=runtime.pull())
    config.envs.add(key="KIN_PROBE", value=b"yes")
    container_id = runtime.start_container(sandbox_id, config, sandbox)
    status: cri.ContainerStatus = runtime.wait_exited(container_id)
    lines = [line.split(" ", 3)[3] for line in Path(status.log_path).read_text().splitlines()]
    return status.exit_code, lines


def report(lines: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(lines[0])
    return found


def test_a_kin_module_runs_in_place_with_only_what_exec_would_give(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    code, lines = run(runtime, tmp_path, sys.executable, "-m", "kin.testing.warmprobe", "3")
    found = report(lines)
    assert code == 3
    assert found["in_place"] is True
    assert found["argv"] == ["kin.testing.warmprobe", "3"]
    assert found["fds"] == [0, 1, 2, 3]  # 3: the one listing /proc/self/fd
    assert found["env"]["KIN_PROBE"] == "yes"
    assert set(found["env"]) <= {"KIN_PROBE", "KIN_TEST", "PATH", "HOSTNAME", "HOME", "TERM"}
    assert found["default_signals"] is True and found["wakeup_fd"] == -1


def test_an_exit_message_is_reported_as_the_interpreter_would(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    argv = (sys.executable, "-m", "kin.testing.warmprobe", "0", "exit-message")
    code, lines = run(runtime, tmp_path, *argv)
    assert code == 1
    assert report(lines)["in_place"] is True
    assert "stopped with a message" in lines


def test_other_programs_are_execd(runtime: RuntimeUnderTest, tmp_path: Path) -> None:
    probe = "import sys; print('kin.runtime.launch' in sys.modules)"
    code, lines = run(runtime, tmp_path, sys.executable, "-c", probe)
    assert (code, lines) == (0, ["False"])
    code, lines = run(runtime, tmp_path, sys.executable, "-m", "json.tool", "--help")
    assert code == 0 and "usage" in lines[0]
