"""The entry of every kin plugin executable: hand the call to the node's CNI server, or run it.

A CNI plugin is a fresh process per call, and Python's imports cost more than the
work itself. So the executable imports nothing but ``_socket`` and asks the
node's long-lived server (``kin.cni.server``, already warm) to run the plugin;
the server forks a worker that runs exactly the code this process would have
run. When no server answers (none runs, or it refuses a caller from another
namespace), the plugin runs right here. ``KIN_CNI_SERVER=0`` forces that.

Wire format, both ways: length-prefixed blobs (4-byte big-endian length).
Request: plugin name, environment (``K=V`` joined by NUL), stdin.
Reply: exit code (1 blob, ASCII), stdout, stderr.
"""

from __future__ import annotations

import os
import sys

__all__ = ["DEFAULT_SOCKET", "ask_server", "blob", "read_blobs", "run"]

DEFAULT_SOCKET = "/run/kin/cni.sock"


def blob(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def read_blobs(data: bytes, count: int) -> list[bytes] | None:
    """Exactly ``count`` blobs filling ``data``, or None."""
    blobs, pos = [], 0
    for _ in range(count):
        if pos + 4 > len(data):
            return None
        size = int.from_bytes(data[pos : pos + 4], "big")
        blobs.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return blobs if pos == len(data) else None


def ask_server(
    path: str, name: str, env: dict[str, str], stdin: bytes
) -> tuple[int, bytes, bytes] | None:
    """The server's (exit code, stdout, stderr), or None when no server takes the call."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
        environ = b"\0".join(f"{k}={v}".encode() for k, v in env.items())
        sock.sendall(blob(name.encode()) + blob(environ) + blob(stdin))
        sock.shutdown(_socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        sock.close()
    blobs = read_blobs(b"".join(chunks), 3)
    if blobs is None or not blobs[0].lstrip(b"-").isdigit():
        return None  # the server refused (wrong namespace) or died: run here instead
    return int(blobs[0]), blobs[1], blobs[2]


def run(name: str) -> None:
    """Never returns: exits with the plugin's exit code."""
    env = dict(os.environ)
    if env.get("KIN_CNI_SERVER") != "0" and env.get("CNI_COMMAND"):
        stdin = b"" if env["CNI_COMMAND"] == "VERSION" else sys.stdin.buffer.read()
        answer = ask_server(env.get("KIN_CNI_SOCKET", DEFAULT_SOCKET), name, env, stdin)
        if answer is not None:
            code, out, err = answer
            sys.stderr.buffer.write(err)
            sys.stdout.buffer.write(out)
            sys.stdout.flush()
            os._exit(code)
        _run_here(name, stdin)  # with the stdin already consumed
    _run_here(name, None)


def _run_here(name: str, stdin: bytes | None) -> None:
    from kin.cni import invoke, skel

    skel.main(invoke.load_plugin(name), stdin)
