"""How the cluster layer reports progress without printing: the CLI passes a Reporter in."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NullReporter", "Reporter"]


class Reporter(Protocol):
    def start(self, step: str) -> None:
        """A step begins (kind: a spinner, or `` • step  ...``)."""

    def end(self, ok: bool) -> None:
        """The current step ended: `` ✓ step`` or `` ✗ step``."""

    def info(self, line: str) -> None: ...

    def warn(self, line: str) -> None: ...


class NullReporter:
    def start(self, step: str) -> None:
        pass

    def end(self, ok: bool) -> None:
        pass

    def info(self, line: str) -> None:
        pass

    def warn(self, line: str) -> None:
        pass
