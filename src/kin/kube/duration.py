"""Go's ``time.ParseDuration``, as kind's ``--wait`` uses it: ``30s``, ``5m``, ``1h30m``."""

from __future__ import annotations

import re

from kin.errors import ConfigError

__all__ = ["parse_duration"]

UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; ConfigError with Go's wording when it is not a duration."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        raise ConfigError(f'time: invalid duration "{text}"')
    seconds, pos = 0.0, 0
    for match in _PART.finditer(body):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * UNITS[match.group(2)]
        pos = match.end()
    if pos != len(body):
        missing_unit = re.fullmatch(r"[\d.]+", body[pos:]) is not None
        reason = "missing unit in duration" if missing_unit else "invalid duration"
        raise ConfigError(f'time: {reason} "{text}"')
    return -seconds if text.startswith("-") else seconds
