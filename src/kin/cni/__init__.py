"""CNI: the spec's plugin protocol (skel), results across spec versions, a libcni-style
executor, and kin's plugins (flannel, bridge, host-local, loopback, portmap).

Every module on a plugin's path keeps its imports lean: a plugin is a fresh
process per call, so each import is paid on every pod start. No ``typing``,
``dataclasses`` or ``subprocess`` at module level here.
"""
