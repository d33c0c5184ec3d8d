"""Whole clusters through the real CLI: unique names, always deleted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kin.testing.clusters import TWO_NODES, temporary_cluster


@pytest.fixture
def two_nodes() -> Iterator[str]:
    """A seed-like cluster (one control plane, one worker) without host ports."""
    with temporary_cluster(TWO_NODES) as name:
        yield name
