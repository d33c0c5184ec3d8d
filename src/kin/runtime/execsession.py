"""One exec over the channel protocol: a process in a container, wired to a WebSocket.

Without a TTY the process gets pipes and its stdout and stderr go out on channels 1 and
2; with one it gets a pseudo-terminal (its controlling terminal: the runtime starts it
under ``setsid -w -c`` inside the container) whose output goes out on channel 1 and
whose size follows channel 4.
Channel 0 feeds stdin; ``255 0`` closes it. When the process ends the exit status goes
out on channel 3 and the WebSocket closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal

from aiohttp import WSMsgType, web

from kin.linux.terminal import open_pty, resize

__all__ = ["ExecSession", "failure_json", "status_json"]

STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
CHUNK = 32 * 1024


class ExecSession:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        argv: list[str],
        env: dict[str, str],
        tty: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        root: str = "",
    ) -> None:
        self.ws = ws
        self.argv = argv
        self.env = env
        self.tty = tty
        self.want_stdin = stdin
        self.want_stdout = stdout
        self.want_stderr = stderr
        self.send_lock = asyncio.Lock()
        self.master = -1
        self.root = root
        """The container's root as the runtime reaches it (``/proc/<pid>/root``): its
        terminal comes from the container's own devpts, so it is a tty in there."""

    async def run(self) -> None:
        try:
            process, pumps = await (self._start_tty() if self.tty else self._start_pipes())
        except OSError as exc:
            await self._send(STATUS, failure_json(f"failed to exec in container: {exc}"))
            await self.ws.close()
            return
        reader = asyncio.ensure_future(self._read_client(process))
        waiter = asyncio.ensure_future(process.wait())
        done, _ = await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:  # the client went away: the command goes too
            self._hang_up(process)
            for pump in pumps:
                pump.cancel()
        code = await waiter
        await asyncio.gather(*pumps, return_exceptions=True)
        reader.cancel()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        await self._send(STATUS, status_json(code))
        await self.ws.close()

    def _hang_up(self, process: asyncio.subprocess.Process) -> None:
        """A terminal's session gets SIGHUP when its master closes; pipes get SIGKILL."""
        if self.master >= 0:
            with contextlib.suppress(OSError):
                asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)
            self.master = -1
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    async def _start_pipes(self) -> tuple[asyncio.subprocess.Process, list[asyncio.Task[None]]]:
        process = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env,
            stdin=asyncio.subprocess.PIPE if self.want_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        pumps = [
            asyncio.create_task(self._pump(process.stdout, STDOUT if self.want_stdout else None)),
            asyncio.create_task(self._pump(process.stderr, STDERR if self.want_stderr else None)),
        ]
        return process, pumps

    async def _start_tty(self) -> tuple[asyncio.subprocess.Process, list[asyncio.Task[None]]]:
        self.master, slave = open_pty(self.root)
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv, env={**self.env, "TERM": self.env.get("TERM", "xterm")},
                stdin=slave, stdout=slave, stderr=slave,
            )  # fmt: skip
        finally:
            os.close(slave)
        return process, [asyncio.create_task(self._pump_tty())]

    async def _pump(self, stream: asyncio.StreamReader, channel: int | None) -> None:
        while chunk := await stream.read(CHUNK):
            if channel is not None:
                await self._send(channel, chunk)

    async def _pump_tty(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        def readable() -> None:
            try:
                data = os.read(self.master, CHUNK)
            except OSError:  # EIO: the terminal's last user is gone
                data = b""
            if not data:
                loop.remove_reader(self.master)
            queue.put_nowait(data)

        loop.add_reader(self.master, readable)
        while data := await queue.get():
            await self._send(STDOUT, data)

    async def _read_client(self, process: asyncio.subprocess.Process) -> None:
        async for message in self.ws:
            if message.type != WSMsgType.BINARY or not message.data:
                continue
            channel, payload = message.data[0], message.data[1:]
            if channel == STDIN:
                await self._write_stdin(process, payload)
            elif channel == RESIZE and self.master >= 0:
                self._resize(payload)
            elif channel == CLOSE and payload[:1] == bytes([STDIN]):
                self._close_stdin(process)

    async def _write_stdin(self, process: asyncio.subprocess.Process, data: bytes) -> None:
        if self.master >= 0:
            os.write(self.master, data)
        elif process.stdin is not None:
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                process.stdin.write(data)
                await process.stdin.drain()

    def _close_stdin(self, process: asyncio.subprocess.Process) -> None:
        if self.master >= 0:
            os.write(self.master, b"\x04")  # end of input, as a terminal says it
        elif process.stdin is not None:
            process.stdin.close()

    def _resize(self, payload: bytes) -> None:
        resize(self.master, payload)

    async def _send(self, channel: int, data: bytes) -> None:
        async with self.send_lock:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_bytes(bytes([channel]) + data)


def failure_json(message: str) -> bytes:
    body = {
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "code": 500,
    }
    return json.dumps(body).encode()


def status_json(code: int) -> bytes:
    """The metav1.Status kubectl reads on channel 3 when the command ended."""
    if code == 0:
        return json.dumps({"metadata": {}, "status": "Success"}).encode()
    return json.dumps({
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": f"command terminated with non-zero exit code: exit status {code}",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }).encode()  # fmt: skip
