"""A kin node: the namespaces, file system and PID 1 supervisor that play a kind node container.

``boot`` turns a pinned network namespace into a running node; ``supervisor`` is
the node's PID 1 (the systemd of a kind node); ``client`` talks to it.
"""
