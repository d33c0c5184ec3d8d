"""Go durations (kind's --wait, kube-proxy's sync periods), with Go's error wording."""

from __future__ import annotations

import pytest

from kin.errors import ConfigError
from kin.kube.duration import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("0s", 0.0), ("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("500ms", 0.5),
     ("1.5s", 1.5), ("2m3s", 123.0), ("+1s", 1.0)],
)  # fmt: skip
def test_valid_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30", 'time: missing unit in duration "30"'),
        ("", 'time: invalid duration ""'),
        ("5x", 'time: invalid duration "5x"'),
        ("s", 'time: invalid duration "s"'),
        ("1h 2m", 'time: invalid duration "1h 2m"'),
    ],
)
def test_invalid_durations(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_duration(text)
    assert str(err.value) == message
