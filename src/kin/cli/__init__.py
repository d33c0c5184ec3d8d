"""The ``kin`` command line: the only part of kin that prints for people or sets exit codes."""
