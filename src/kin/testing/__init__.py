"""Helpers shared by kin's test tiers (importable, so tests and benchmarks use one copy)."""
