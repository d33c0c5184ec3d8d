"""Whole clusters through the real CLI: unique names, always deleted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kin.testing.clusters import temporary_cluster

SEED = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
"""


@pytest.fixture
def two_nodes() -> Iterator[str]:
    """A seed-like cluster (one control plane, one worker) without host ports."""
    with temporary_cluster(SEED) as name:
        yield name
