"""Test tiers, root detection, throwaway namespaces, and the end-of-run leak check.

Tiers are marked by directory: ``tests/unit`` (no root), ``tests/netns`` (root,
throwaway namespaces) and ``tests/e2e`` (root, whole clusters). ``make test`` runs
them all; a tier needing root is skipped only when not run as root.

The whole run uses a throwaway ``KIN_HOME`` (and ``KUBECONFIG`` inside it), so it never
sees (or deletes) a user's clusters or touches their kubeconfig. When the run ends, a snapshot of the host (network namespaces,
the root namespace's links, addresses, routes, nftables and iptables rules and
``net.*`` sysctls, mounts, kin processes) is compared with one taken at the
start: any difference fails the run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kin.linux import ns
from kin.testing import hoststate
from kin.testing.names import random_name

TESTS = Path(__file__).parent
IS_ROOT = os.geteuid() == 0
TEST_HOME = tempfile.mkdtemp(prefix="kin-test-home-")
os.environ["KIN_HOME"] = TEST_HOME
# kin create merges its context into the user's kubeconfig: never the real one in tests.
os.environ["KUBECONFIG"] = os.path.join(TEST_HOME, ".kube", "config")
os.environ.pop("KIND_CLUSTER_NAME", None)
SETTLE_SECONDS = 5.0
_host_before: hoststate.HostState | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _host_before
    if IS_ROOT:
        _host_before = hoststate.snapshot()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leftovers = [e for e in os.listdir(TEST_HOME) if not e.startswith(".")]
    shutil.rmtree(TEST_HOME, ignore_errors=True)
    problems = [f"KIN_HOME: cluster state left behind: {e}" for e in leftovers]
    if _host_before is not None:
        problems += _settled_diff(_host_before)
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["", "LEAK CHECK FAILED: the host differs from before the run:", *problems]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _settled_diff(before: hoststate.HostState) -> list[str]:
    """The difference, allowing the kernel a few seconds to finish asynchronous teardown."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        problems = hoststate.diff(before, hoststate.snapshot())
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(0.2)


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
