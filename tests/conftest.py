"""Test tiers, root detection and the throwaway network namespace fixture.

Tiers are marked by directory: ``tests/unit`` (no root), ``tests/netns`` (root,
throwaway namespaces) and ``tests/e2e`` (root, whole clusters). ``make test`` runs
them all; a tier needing root is skipped only when not run as root.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kin.linux import ns
from kin.testing.names import random_name

TESTS = Path(__file__).parent
IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).relative_to(TESTS).parts[0]
        if tier in ("unit", "netns", "e2e"):
            item.add_marker(getattr(pytest.mark, tier))
        if tier in ("netns", "e2e") and not IS_ROOT:
            item.add_marker(pytest.mark.skip(reason=f"the {tier} tier needs root"))


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh network namespace pinned under /run/netns with a random name; removed after."""
    name = random_name()
    ns.create_netns(name)
    try:
        yield name
    finally:
        ns.delete_netns(name)


@pytest.fixture
def netns_factory() -> Iterator[Callable[[], str]]:
    """Make as many throwaway namespaces as a test needs; all are removed after."""
    made: list[str] = []

    def make() -> str:
        name = random_name()
        ns.create_netns(name)
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            ns.delete_netns(name)
