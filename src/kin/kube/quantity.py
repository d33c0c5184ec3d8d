"""Kubernetes resource quantities as numbers: ``512Mi`` -> 536870912, ``250m`` -> 0.25."""

from __future__ import annotations

__all__ = ["parse_quantity"]

SUFFIXES = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": 10**-9, "u": 10**-6, "m": 10**-3, "k": 10**3, "M": 10**6, "G": 10**9,
    "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip


def parse_quantity(text: str | int | float) -> float:
    """The number a quantity stands for; ValueError for one that is not a quantity."""
    raw = str(text).strip()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if raw.endswith(suffix) and raw[: -len(suffix)]:
            return float(raw[: -len(suffix)]) * SUFFIXES[suffix]
    return float(raw)
