"""kind's progress lines on stderr: a braille spinner on a smart terminal, plain lines otherwise."""

from __future__ import annotations

import os
import sys
import threading
from typing import TextIO

__all__ = ["Status", "smart_terminal"]

FRAMES = ("⠈⠁", "⠈⠑", "⠈⠱", "⠈⡱", "⢀⡱", "⢄⡱", "⢄⡱", "⢆⡱", "⢎⡱", "⢎⡰", "⢎⡠", "⢎⡀", "⢎⠁", "⠎⠁", "⠊⠁")
GREEN, RED, RESET = "\x1b[32m", "\x1b[31m", "\x1b[0m"


def smart_terminal(stream: TextIO) -> bool:
    """kind's rule: a TTY, and neither NO_COLOR nor a dumb TERM."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM", "") in ("dumb", "st-256color"):
        return False
    return stream.isatty()


class Status:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.smart = smart_terminal(self.stream)
        self.step: str | None = None
        self._stop = threading.Event()
        self._spinner: threading.Thread | None = None

    def start(self, step: str) -> None:
        self.end(True)
        self.step = step
        if self.smart and not self.quiet:
            self._stop.clear()
            self._spinner = threading.Thread(target=self._spin, daemon=True)
            self._spinner.start()
        else:
            self._write(f" • {step}  ...\n")

    def end(self, ok: bool) -> None:
        if self.step is None:
            return
        self._stop_spinner()
        mark = (
            (f"{GREEN}✓{RESET}" if ok else f"{RED}✗{RESET}") if self.smart else ("✓" if ok else "✗")
        )
        self._write(f"\r {mark} {self.step}\n")
        self.step = None

    def info(self, line: str) -> None:
        self._write(line + "\n")

    def warn(self, line: str) -> None:
        self._write(line + "\n")

    def _spin(self) -> None:
        i = 0
        while not self._stop.wait(0.1 if i else 0):
            self._write(f"\r{FRAMES[i % len(FRAMES)]} {self.step} ")
            i += 1

    def _stop_spinner(self) -> None:
        if self._spinner is not None:
            self._stop.set()
            self._spinner.join()
            self._spinner = None
            self._write("\r\x1b[K")

    def _write(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text)
            self.stream.flush()
