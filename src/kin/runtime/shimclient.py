"""The runtime's side of a shim: start one for a sandbox, and ask it things."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Any, BinaryIO

from kin.errors import CRIError, ZygoteError
from kin.linux.files import socket_path
from kin.linux.proc import ProcessRecord
from kin.linux.zygote import spawn
from kin.runtime.shim import SOCKET_NAME

__all__ = ["call", "start_shim"]

log = logging.getLogger("kin.runtime")

START_TIMEOUT = 10.0
CALL_TIMEOUT = 10.0


def start_shim(bundle: str, zygote: str = "") -> tuple[ProcessRecord, ProcessRecord]:
    """Start the shim of the sandbox whose ``pause.json`` is in ``bundle``; it starts pause.

    The shim is forked from the node's ``zygote`` when there is one (it then shares the
    zygote's pages and starts in milliseconds), else run as a command. Returns the shim's
    and pause's records once both run.
    """
    argv = [sys.executable, "-m", "kin.runtime.shim", bundle]
    output = None
    if zygote:
        output = _through_zygote(zygote, [*argv[:3], "--in-place", bundle])
    if output is None:
        output = _as_command(argv)
    try:
        report = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise CRIError(f"failed to start the shim: {output.strip() or 'no output'}") from None
    if "error" in report:
        raise CRIError(f"failed to start the sandbox's pause process: {report['error']}")
    try:
        return ProcessRecord.of(report["shim"]), ProcessRecord.of(report["pause"])
    except ProcessLookupError as exc:
        with contextlib.suppress(ProcessLookupError):
            ProcessRecord.of(report["shim"]).signal(signal.SIGKILL)  # no pause, no shim
        raise CRIError(f"the sandbox's processes died as they started: {exc}") from exc


def _as_command(argv: list[str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=START_TIMEOUT, start_new_session=True
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CRIError(f"failed to start the shim: {exc}") from exc
    return done.stdout if done.stdout.strip() else done.stderr or f"exit code {done.returncode}"


def _through_zygote(zygote: str, argv: list[str]) -> str | None:
    """The shim command's output, run by the zygote; None if the zygote cannot run it."""
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    try:
        spawn(zygote, argv, dict(os.environ), [null, out_w, out_w])
    except ZygoteError as exc:
        log.warning("%s; running the shim as a command", exc)
        os.close(out_r)
        return None
    finally:
        os.close(null)
        os.close(out_w)
    with os.fdopen(out_r, "rb") as out:
        return _read_until_eof(out, START_TIMEOUT)


def _read_until_eof(out: BinaryIO, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while (left := deadline - time.monotonic()) > 0 and select.select([out], [], [], left)[0]:
        chunk = os.read(out.fileno(), 65536)
        if not chunk:
            return b"".join(chunks).decode(errors="replace")
        chunks.append(chunk)
    raise CRIError(f"failed to start the shim: no report within {timeout:g}s")


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
