"""A fresh in-process API server (memory storage) for each controller test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kin.testing.apiserver import InProcessServer


@pytest.fixture
def server() -> Iterator[InProcessServer]:
    with InProcessServer("memory://") as running:
        yield running
