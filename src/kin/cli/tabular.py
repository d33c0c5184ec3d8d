"""Output the way Go's tools print it: tabwriter columns, docker's human durations and sizes.

crictl prints its tables through ``tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)``: each
tab-terminated cell is padded to its column's widest cell plus 3, at least 20; the
last cell of a row is not padded. ``human_duration`` and ``human_size`` follow
docker/go-units, which crictl uses for CREATED and SIZE.
"""

from __future__ import annotations

__all__ = ["human_duration", "human_size", "tabwrite"]

MIN_WIDTH = 20
PADDING = 3


def tabwrite(rows: list[list[str]]) -> str:
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell) + PADDING, MIN_WIDTH)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else ""))
    return "".join(line + "\n" for line in lines)


def human_duration(seconds: float) -> str:
    """docker/go-units HumanDuration: "Less than a second", "About a minute", "3 hours"..."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """docker/go-units HumanSizeWithPrecision: decimal units, ``%.3g`` (1024 -> "1.02kB")."""
    unit = 0
    while size >= 1000.0 and unit < len(UNITS) - 1:
        size /= 1000.0
        unit += 1
    return f"{_go_g(size, precision)}{UNITS[unit]}"


def _go_g(value: float, precision: int) -> str:
    """Go's ``%.*g``: like C's, which Python's ``g`` format follows."""
    return f"{value:.{precision}g}"
