"""The bounded memory behind the create path's shortcuts: least recently used goes first."""

from __future__ import annotations

from kin.apiserver.remembered import Remembered


def test_a_value_in_use_outlives_a_stream_of_one_off_values() -> None:
    memory: Remembered[str] = Remembered(3)
    memory.put("template", "node")
    for i in range(10):
        assert memory.get("template") == "node"  # each create of the template uses it
        memory.put(f"one-off-{i}", "x")
    assert memory.get("template") == "node"
    assert len(memory) == 3 and "one-off-0" not in memory and "one-off-9" in memory


def test_the_least_recently_used_is_forgotten_first() -> None:
    memory: Remembered[int] = Remembered(2)
    memory.put("a", 1)
    memory.put("b", 2)
    assert memory.get("a") == 1
    memory.put("c", 3)
    assert memory.get("b") is None and memory.get("a") == 1 and memory.get("c") == 3


def test_putting_a_key_again_replaces_its_value() -> None:
    memory: Remembered[int | None] = Remembered(2)
    memory.put("a", None)
    assert "a" in memory and memory.get("a") is None
    memory.put("a", 7)
    assert memory.get("a") == 7 and len(memory) == 1
