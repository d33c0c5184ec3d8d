"""Run CNI plugins the way a runtime does, inside a throwaway "node" namespace.

Tests never run a plugin in the host's namespace: a bridge plugin with
``isGateway`` turns on ``ip_forward`` wherever it runs. ``run_plugin`` execs the
plugin under ``nsenter --net=<node>`` with the CNI_* environment and the config
on stdin, and returns the exit code with stdout parsed as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

from kin.linux import ns

__all__ = ["REFERENCE_DIR", "PluginRun", "cni_env", "run_executor", "run_plugin"]

REFERENCE_DIR = "/usr/lib/cni"  # Debian's containernetworking-plugins


@dataclass
class PluginRun:
    code: int
    out: Any
    stderr: str

    def ok(self) -> Any:
        """The result, or an AssertionError showing the plugin's error and log."""
        assert self.code == 0, f"plugin failed ({self.code}): {self.out}\n{self.stderr}"
        return self.out


def cni_env(
    command: str,
    *,
    container_id: str = "",
    netns: str = "",
    ifname: str = "",
    cni_path: str = "",
    args: str = "",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_COMMAND": command}
    for key, value in (
        ("CNI_CONTAINERID", container_id),
        ("CNI_NETNS", netns),
        ("CNI_IFNAME", ifname),
        ("CNI_PATH", cni_path),
        ("CNI_ARGS", args),
    ):
        if value:
            env[key] = value
    env.update(extra or {})
    return env


def run_plugin(
    executable: str, node: str, env: dict[str, str], config: dict[str, Any] | bytes | None
) -> PluginRun:
    """Exec ``executable`` in network namespace ``node`` with ``env`` and ``config`` on stdin."""
    stdin = config if isinstance(config, bytes) else json.dumps(config or {}).encode()
    argv = ["nsenter", f"--net={ns.netns_path(node)}", "--", executable]
    done = subprocess.run(argv, input=stdin, env=env, capture_output=True, timeout=60)
    text = done.stdout.decode(errors="replace")
    try:
        out = json.loads(text) if text.strip() else None
    except ValueError:
        out = text
    return PluginRun(done.returncode, out, done.stderr.decode(errors="replace"))


def run_executor(node: str, request: dict[str, Any]) -> tuple[int, Any]:
    """One ``kin.cni.executor`` operation in a child process inside network namespace ``node``."""
    import sys

    argv = ["nsenter", f"--net={ns.netns_path(node)}", "--", sys.executable, "-m"]
    argv.append("kin.testing.cni_driver")
    done = subprocess.run(
        argv, input=json.dumps(request), capture_output=True, text=True, timeout=120
    )
    if not done.stdout.strip():
        raise AssertionError(f"executor driver crashed:\n{done.stderr}")
    return done.returncode, json.loads(done.stdout)
