"""Fixtures the netns tier shares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kin.testing.runtime import RuntimeUnderTest


@pytest.fixture
def runtime(netns: str, tmp_path: Path) -> Iterator[RuntimeUnderTest]:
    """kin's runtime on a real socket in the test's node namespace, with a bridge network;
    every sandbox it made removed after."""
    under_test = RuntimeUnderTest(netns, tmp_path)
    under_test.write_network()
    under_test.start()
    try:
        yield under_test
    finally:
        under_test.clean()
