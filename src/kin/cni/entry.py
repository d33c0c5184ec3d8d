"""The body of every kin plugin executable: hand the call to the node's CNI server, or run it.

A CNI plugin is a fresh process per call, and Python's imports cost more than the
work itself. So ``kin.cni.install`` copies this module's source into each
executable, after a line naming the plugin: it runs without importing even the
``kin`` package, needs only the built-in ``posix``, ``sys`` and ``_socket``, and
asks the node's long-lived server (``kin.cni.server``, already warm) to run the
plugin. When no server answers (none runs, or it refuses a caller from another
namespace), the plugin runs right here. ``KIN_CNI_SERVER=0`` forces that.

Keep this file free of ``from __future__`` and of imports: it is pasted, not imported.

Wire format, both ways: length-prefixed blobs (4-byte big-endian length).
Request: plugin name, environment (``K=V`` joined by NUL), stdin.
Reply: exit code (ASCII digits, or ``refused``), stdout, stderr.
"""

import posix
import sys

DEFAULT_SOCKET = b"/run/kin/cni.sock"


def blob(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def read_blobs(data: bytes, count: int) -> "list[bytes] | None":
    """Exactly ``count`` blobs filling ``data``, or None."""
    blobs, pos = [], 0
    for _ in range(count):
        if pos + 4 > len(data):
            return None
        size = int.from_bytes(data[pos : pos + 4], "big")
        blobs.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return blobs if pos == len(data) else None


def ask_server(path: bytes, request: bytes) -> "tuple[int, bytes, bytes] | None":
    """The server's (exit code, stdout, stderr), or None when no server takes the call."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
        sock.sendall(request)
        sock.shutdown(_socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        sock.close()
    blobs = read_blobs(b"".join(chunks), 3)
    if blobs is None or not blobs[0].lstrip(b"-").isdigit():
        return None  # refused (another namespace) or the server died: run here instead
    return int(blobs[0]), blobs[1], blobs[2]


def run(name: str) -> None:
    """Never returns: exits with the plugin's exit code."""
    env = posix.environ
    command = env.get(b"CNI_COMMAND", b"")
    stdin = None
    if env.get(b"KIN_CNI_SERVER") != b"0" and command:
        stdin = b"" if command == b"VERSION" else sys.stdin.buffer.read()
        environ = b"\0".join(k + b"=" + v for k, v in env.items())
        request = blob(name.encode()) + blob(environ) + blob(stdin)
        answer = ask_server(env.get(b"KIN_CNI_SOCKET", DEFAULT_SOCKET), request)
        if answer is not None:
            code, out, err = answer
            write_all(2, err)
            write_all(1, out)
            posix._exit(code)
    run_here(name, stdin)


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[posix.write(fd, data) :]


def run_here(name: str, stdin: "bytes | None") -> None:
    """Run the plugin in this process (``stdin`` if it was read already)."""
    from kin.cni import invoke, skel

    skel.main(invoke.load_plugin(name), stdin)
