"""The node's CNI server: runs kin's plugins for their thin executables, with imports paid once.

On a node it runs inside the container runtime (``python -m kin.runtime --cni-server
/run/kin/cni.sock``: the runtime is the only caller of a node's plugins, so their
server costs no process of its own); it also runs alone as ``python -m kin.cni.server
[--socket PATH]``, or socket-activated with the listening socket as fd 3. It imports
every kin plugin up front, then
runs each call on a thread of its own through ``skel.dispatch``, exactly as the
executable would have run it itself, and returns the exit code, stdout and
stderr (see ``kin.cni.entry`` for the wire format). Threads, not a fork per
call: a fork of the warm server doubles a call's cost in copy-on-write faults
(measured: 6.6 ms warm, 15.4 ms forked, for a flannel ADD). Plugin code keeps
no process-wide state: every call has its own arguments, namespaces are only
entered on throwaway threads, and stderr is captured per thread.

It serves only callers that share its network and mount namespaces and run as
root: anything else is refused, and the caller runs the plugin itself.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import sys
import threading
import time
from contextlib import contextmanager

from kin.cni import invoke, skel
from kin.cni.entry import DEFAULT_SOCKET, blob, read_blobs
from kin.linux.files import listen_unix
from kin.linux.proc import set_process_title
from kin.memory import trim_periodically

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import TextIO

__all__ = ["Server", "main"]

CALL_TIMEOUT = 120.0
REFUSED = b"refused"
TRIM_INTERVAL = 30.0  # seconds between handing freed memory back (after a burst of pods)


class Server:
    def __init__(self, path: str) -> None:
        self.path = path
        self.plugins = {name: invoke.load_plugin(name) for name in invoke.KIN_PLUGINS}
        self.own_ns = (_ns_id("self", "net"), _ns_id("self", "mnt"))
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def listen(self) -> None:
        if os.environ.get("LISTEN_FDS") == "1":
            self.listener = socket.socket(fileno=3)  # socket-activated: the supervisor's socket
            return
        self.listener = listen_unix(self.path)

    def serve_forever(self) -> None:
        sys.stderr = _STDERR
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self._work, args=(conn,), daemon=True).start()

    def serve_in_background(self) -> threading.Thread:
        """Serve on a daemon thread of this process (the runtime's)."""
        sys.stderr = _STDERR  # now: the runtime may call dispatch() before the thread runs
        thread = threading.Thread(target=self.serve_forever, name="cni-server", daemon=True)
        thread.start()
        return thread

    def _work(self, conn: socket.socket) -> None:
        """Serve one call on its own thread."""
        conn.settimeout(CALL_TIMEOUT)
        try:
            if not self._same_namespaces(conn):
                conn.sendall(blob(REFUSED) + blob(b"") + blob(b""))
                return
            name, env, stdin = _read_request(conn)
            code, out, err = self.dispatch(name, env, stdin, "")
            conn.sendall(blob(str(code).encode()) + blob(out) + blob(err))
        except OSError as exc:
            _STDERR.real.write(f"kin CNI server: call failed: {exc}\n")
        finally:
            conn.close()

    def _same_namespaces(self, conn: socket.socket) -> bool:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _ = struct.unpack("3i", creds)
        try:
            theirs = (_ns_id(str(pid), "net"), _ns_id(str(pid), "mnt"))
        except OSError:
            return False
        return uid == 0 and theirs == self.own_ns

    def dispatch(
        self, name: str, env: dict[str, str], stdin: bytes, how: str = " (in the runtime)"
    ) -> tuple[int, bytes, bytes]:
        """Run plugin ``name`` as its executable would: (exit code, stdout, stderr). The
        runtime calls this directly for kin's own plugins, sparing each call a process."""
        plugin = self.plugins.get(name)
        if plugin is None:
            return 1, b"", f"kin CNI server: unknown plugin {name!r}\n".encode()
        with _STDERR.captured() as captured:
            code, out = skel.dispatch(plugin, env, stdin)
        _log_call(name, env, code, how)
        return code, out, captured.getvalue().encode()


class _ThreadStderr:
    """``sys.stderr`` for the server: a call's thread writes into that call's buffer."""

    def __init__(self) -> None:
        self.real: TextIO = sys.__stderr__ or io.StringIO()
        self.local = threading.local()

    @contextmanager
    def captured(self) -> Iterator[io.StringIO]:
        self.local.buffer = io.StringIO()
        try:
            yield self.local.buffer
        finally:
            self.local.buffer = None

    def write(self, text: str) -> int:
        target: TextIO = getattr(self.local, "buffer", None) or self.real
        return target.write(text)

    def flush(self) -> None:
        self.real.flush()


_STDERR = _ThreadStderr()


def _log_call(name: str, env: dict[str, str], code: int, how: str) -> None:
    """One line per call, as every kin daemon logs events."""
    command = env.get("CNI_COMMAND", "?")
    who = f"{env.get('CNI_CONTAINERID', '-')}/{env.get('CNI_IFNAME', '-')}"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    _STDERR.real.write(f"{stamp} {command} {name} {who}: exit {code}{how}\n")
    _STDERR.real.flush()


def _ns_id(pid: str, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def _read_request(conn: socket.socket) -> tuple[str, dict[str, str], bytes]:
    blobs = read_blobs(b"".join(_chunks(conn)), 3)
    if blobs is None:
        raise OSError("malformed request")
    name, environ, stdin = blobs
    env = dict(item.split("=", 1) for item in environ.decode().split("\0") if "=" in item)
    return name.decode(), env, stdin


def _chunks(conn: socket.socket) -> Iterator[bytes]:
    while chunk := conn.recv(65536):
        yield chunk


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = args[args.index("--socket") + 1] if "--socket" in args else DEFAULT_SOCKET.decode()
    set_process_title("kin.cni.server")
    server = Server(path)
    server.listen()
    trim_periodically(TRIM_INTERVAL)
    sys.stderr.write(f"kin CNI server: serving kin's plugins on {path}\n")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
