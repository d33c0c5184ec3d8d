"""Unit files: parsing, validation problems, restart policy and back-off."""

from __future__ import annotations

import json
from pathlib import Path

from kin.node.units import BACKOFF_MAX, Unit, UnitState, load_units, write_unit


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    unit = Unit("kubelet", ("python3", "-m", "kin.kubelet"), (("A", "1"),), "on-failure")
    write_unit(str(tmp_path), unit)
    units, problems = load_units(str(tmp_path))
    assert problems == []
    assert units == {"kubelet": unit}


def test_missing_directory_is_no_units(tmp_path: Path) -> None:
    assert load_units(str(tmp_path / "absent")) == ({}, [])


def test_bad_files_are_reported_one_line_each_and_good_ones_kept(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps({"argv": ["sleep", "1"]}))
    (tmp_path / "noargv.json").write_text(json.dumps({"env": {}}))
    (tmp_path / "policy.json").write_text(json.dumps({"argv": ["x"], "restart": "sometimes"}))
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "ignored.txt").write_text("not a unit")
    units, problems = load_units(str(tmp_path))
    assert list(units) == ["good"]
    assert units["good"].restart == "always"
    assert len(problems) == 3
    assert any("'argv' must be a non-empty list of strings" in p for p in problems)
    assert any(
        "'restart' must be one of always, on-failure, no, not 'sometimes'" in p for p in problems
    )
    assert any(p.startswith(f"unit file {tmp_path}/broken.json:") for p in problems)


def test_restart_policies() -> None:
    assert Unit("a", ("x",), restart="always").wants_restart(0)
    assert Unit("a", ("x",), restart="on-failure").wants_restart(1)
    assert not Unit("a", ("x",), restart="on-failure").wants_restart(0)
    assert not Unit("a", ("x",), restart="no").wants_restart(1)


def test_backoff_doubles_to_a_cap_and_resets_after_a_stable_run() -> None:
    state = UnitState(Unit("a", ("x",)), started_at=100.0)
    delays = [state.next_backoff(100.5) for _ in range(8)]
    assert delays[:3] == [0.1, 0.2, 0.4]
    assert max(delays) == BACKOFF_MAX
    state.started_at = 100.0
    assert state.next_backoff(200.0) == 0.1


def test_a_zygote_unit_round_trips_and_must_run_a_python_module(tmp_path: Path) -> None:
    forked = Unit("kubelet", ("python3", "-m", "kin.kubelet"), zygote="/run/kin/zygote.sock")
    write_unit(str(tmp_path), forked)
    (tmp_path / "shell.json").write_text(
        json.dumps({"argv": ["sh", "-c", "true"], "zygote": "/run/kin/zygote.sock"})
    )
    (tmp_path / "relative.json").write_text(
        json.dumps({"argv": ["python3", "-m", "x"], "zygote": "zygote.sock"})
    )
    units, problems = load_units(str(tmp_path))
    assert units == {"kubelet": forked}
    assert sorted(p.split(": ", 1)[1] for p in problems) == [
        "'zygote' must be an absolute path",
        "a unit forked from the zygote runs 'python -m MODULE ...'",
    ]
