"""The API server's JSON: orjson's compact form, and bodies made JSON-compatible."""

from __future__ import annotations

import json
import math

import pytest

from kin.apiserver.jsontext import dumps, json_compatible, loads


def test_dumps_is_compact_json_with_utf8_and_nulls_kept() -> None:
    value = {"name": "ünï", "null": None, "text": "null", "n": [1, 2.5, True]}
    out = dumps(value)
    assert out == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert loads(out) == value


def test_what_json_cannot_hold_is_refused() -> None:
    with pytest.raises(TypeError):
        dumps({"big": 2**70})
    with pytest.raises(ValueError):
        loads(b'{"a": NaN}')


def test_yaml_and_protobuf_bodies_become_json_compatible() -> None:
    assert json_compatible({7: "a", False: {None: [1.5]}}) == {"7": "a", "false": {"null": [1.5]}}
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="NaN and Infinity"):
            json_compatible({"spec": [{"x": bad}]})
