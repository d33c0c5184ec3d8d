"""Clusters: plan, provision, publish ports, delete. The library behind the ``kin`` CLI."""
