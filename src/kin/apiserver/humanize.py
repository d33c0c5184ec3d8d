"""Ages as kubectl prints them: apimachinery's ``duration.HumanDuration``, to the letter.

Every AGE, LAST SEEN and ``(5m ago)`` cell of a Table is computed on the server, so the
rounding rules are part of the API: two to three significant figures (``2m5s``, ``10m``,
``3h5m``, ``10h``, ``2d3h``, ``12d``, ``2y30d``), a tolerance of just under two seconds
for clocks that run slightly ahead (``0s``), ``<invalid>`` beyond it, and ``<unknown>``
where the printers find no timestamp at all. Go truncates every division toward zero;
so do these functions.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["UNKNOWN", "human_duration", "parse_time", "since"]

UNKNOWN = "<unknown>"
_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR


def human_duration(seconds: float) -> str:
    """``duration.HumanDuration`` for a duration given in (possibly fractional) seconds."""
    whole = int(seconds)  # truncates toward zero, as Go's int(d.Seconds()) does
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 2 * _MINUTE:
        return f"{whole}s"
    if whole < 3 * _HOUR:
        return _minutes(whole)
    if whole < 2 * _DAY:
        return _hours(whole)
    return _days(whole)


def _minutes(whole: int) -> str:
    minutes, rest = divmod(whole, _MINUTE)
    if minutes >= 10 or rest == 0:
        return f"{minutes}m"
    return f"{minutes}m{rest}s"


def _hours(whole: int) -> str:
    hours, rest = divmod(whole, _HOUR)
    minutes = rest // _MINUTE
    if hours >= 8 or minutes == 0:
        return f"{hours}h"
    return f"{hours}h{minutes}m"


def _days(whole: int) -> str:
    hours = whole // _HOUR
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years, rest_days = divmod(days, 365)
    if hours < 24 * 365 * 8 and rest_days:
        return f"{years}y{rest_days}d"
    return f"{years}y"


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 ``metav1.Time`` or ``MicroTime`` as an aware datetime; None if absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def since(value: object, now: datetime) -> str:
    """The printers' ``translateTimestampSince``: the age of a timestamp, or ``<unknown>``."""
    stamp = parse_time(value)
    if stamp is None:
        return UNKNOWN
    return human_duration((now - stamp).total_seconds())
