"""Which requests the API server logs: failed and slow ones always, every write at --v=3."""

from __future__ import annotations

import logging

import pytest

from kin.apiserver.__main__ import parse_args
from kin.testing.apiserver import Client

LOGGER = "kin.apiserver.requests"


def _pod(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


def test_a_successful_write_is_quiet_and_a_failed_one_is_logged(
    api: Client, ns: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert api.post(f"/api/v1/namespaces/{ns}/pods", _pod("a")).status == 201
    assert api.post(f"/api/v1/namespaces/{ns}/pods", _pod("a")).status == 409
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert lines == [lines[0]] and lines[0].startswith(f"POST /api/v1/namespaces/{ns}/pods 409 ")


def test_every_write_is_logged_at_debug(
    api: Client, ns: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    assert api.post(f"/api/v1/namespaces/{ns}/pods", _pod("b")).status == 201
    assert api.get(f"/api/v1/namespaces/{ns}/pods/b").status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 1 and lines[0].startswith(f"POST /api/v1/namespaces/{ns}/pods 201 ")


def test_verbosity_is_kube_apiservers_flag() -> None:
    assert parse_args([]).verbosity == 2
    assert parse_args(["--v=3"]).verbosity == 3
    assert parse_args(["-v", "4"]).verbosity == 4
