"""Whole clusters through the real CLI: unique names, always deleted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kin.testing.clusters import BARE_TWO_NODES, temporary_cluster, without_cluster_dns


@pytest.fixture
def two_nodes() -> Iterator[str]:
    """A seed-like cluster (one control plane, one worker) without host ports or flannel:
    the tests that use it look at the nodes and their runtimes, with CNI configs of their
    own."""
    with temporary_cluster(BARE_TWO_NODES) as name:
        without_cluster_dns(name)
        yield name
