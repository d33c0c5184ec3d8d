"""Datastores behind one interface (``base.Storage``): memory, SQLite, etcd v3."""
