"""The runtime's side of a shim: start one for a sandbox, and ask it things."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from typing import Any

from kin.errors import CRIError
from kin.linux.files import socket_path
from kin.linux.proc import ProcessRecord
from kin.runtime.shim import SOCKET_NAME

__all__ = ["call", "start_shim"]

START_TIMEOUT = 10.0
CALL_TIMEOUT = 10.0


def start_shim(bundle: str) -> tuple[ProcessRecord, ProcessRecord]:
    """Start the shim of the sandbox whose ``pause.json`` is in ``bundle``; it starts pause.

    Returns the shim's and pause's records once both run.
    """
    argv = [sys.executable, "-m", "kin.runtime.shim", bundle]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=START_TIMEOUT, start_new_session=True
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CRIError(f"failed to start the shim: {exc}") from exc
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        detail = (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
        raise CRIError(f"failed to start the shim: {detail}") from None
    if "error" in report:
        raise CRIError(f"failed to start the sandbox's pause process: {report['error']}")
    try:
        return ProcessRecord.of(report["shim"]), ProcessRecord.of(report["pause"])
    except ProcessLookupError as exc:
        with contextlib.suppress(ProcessLookupError):
            ProcessRecord.of(report["shim"]).signal(signal.SIGKILL)  # no pause, no shim
        raise CRIError(f"the sandbox's processes died as they started: {exc}") from exc


def call(bundle: str, request: dict[str, Any], timeout: float = CALL_TIMEOUT) -> dict[str, Any]:
    """One request to the shim; raises ``CRIError`` when it is gone or says no."""
    path = os.path.join(bundle, SOCKET_NAME)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            with socket_path(path) as short:
                sock.connect(short)
            sock.sendall(json.dumps(request).encode() + b"\n")
            reply = json.loads(sock.makefile("rb").readline() or b"{}")
    except (OSError, ValueError) as exc:
        raise CRIError(f"the sandbox's shim did not answer: {exc}") from exc
    if not reply.get("ok"):
        raise CRIError(str(reply.get("error", "the shim refused the request")))
    return dict(reply)
