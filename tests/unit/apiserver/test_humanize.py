"""Ages as apimachinery's duration.HumanDuration prints them, boundary by boundary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kin.apiserver.humanize import human_duration, parse_time, since

MINUTE, HOUR, DAY, YEAR = 60, 3600, 86400, 365 * 86400
NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        # clocks a little ahead are "now"; two seconds ahead is invalid
        (-0.5, "0s"), (-1.9, "0s"), (-2, "<invalid>"), (-3600, "<invalid>"),
        # seconds up to 119
        (0, "0s"), (0.9, "0s"), (59, "59s"), (60, "60s"), (119, "119s"), (119.99, "119s"),
        # minutes with seconds below ten minutes, plain minutes below three hours
        (120, "2m"), (125, "2m5s"), (599, "9m59s"), (600, "10m"), (659, "10m"),
        (3 * HOUR - 1, "179m"),
        # hours with minutes below eight hours, plain hours below two days
        (3 * HOUR, "3h"), (3 * HOUR + 5 * MINUTE, "3h5m"), (8 * HOUR - 1, "7h59m"),
        (8 * HOUR, "8h"), (10 * HOUR + 59 * MINUTE, "10h"), (2 * DAY - 1, "47h"),
        # days with hours below eight days, plain days below two years
        (2 * DAY, "2d"), (2 * DAY + 3 * HOUR, "2d3h"), (8 * DAY - 1, "7d23h"),
        (8 * DAY, "8d"), (12 * DAY + 5 * HOUR, "12d"), (2 * YEAR - 1, "729d"),
        # years with days below eight years, plain years after
        (2 * YEAR, "2y"), (2 * YEAR + 30 * DAY, "2y30d"), (8 * YEAR - 1, "7y364d"),
        (8 * YEAR, "8y"), (12 * YEAR + 100 * DAY, "12y"),
    ],
)  # fmt: skip
def test_human_duration(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown


@pytest.mark.parametrize(
    ("stamp", "shown"),
    [
        ("2024-06-01T11:55:00Z", "5m"),
        ("2024-06-01T11:59:58.500000Z", "1s"),  # MicroTime
        ("2024-06-01T13:00:00+02:00", "60m"),  # offsets count; an hour is still minutes
        ("2024-06-01T12:00:01Z", "0s"),
        ("2024-06-01T12:00:05Z", "<invalid>"),
        (None, "<unknown>"),
        ("", "<unknown>"),
        ("yesterday", "<unknown>"),
    ],
)
def test_since(stamp: str | None, shown: str) -> None:
    assert since(stamp, NOW) == shown


def test_parse_time_keeps_zone_and_assumes_utc_when_missing() -> None:
    assert parse_time("2024-06-01T12:00:00Z") == NOW
    assert parse_time("2024-06-01T12:00:00") == NOW
    assert parse_time(12) is None
