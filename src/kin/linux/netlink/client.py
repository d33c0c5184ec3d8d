"""``Netlink``: the one object kin programs links, addresses, routes and neighbours with.

Why a class over one socket: every operation is a request and an ack on the same
NETLINK_ROUTE socket, and that socket fixes the network namespace: the one of
the thread that opened it, for good. So to work inside a namespace, open it
there and use it from anywhere::

    nl = ns.run_in(path, Netlink)      # bound to the namespace at path
    with nl:
        nl.add_bridge("cni0")
        nl.set_link("cni0", up=True)

The operations live in one mixin per object family (``link``, ``addr``,
``route``, ``neigh``); this module only owns the socket's lifetime.
"""

from __future__ import annotations

import socket
from types import TracebackType

from kin.linux.netlink.addr import AddressOps
from kin.linux.netlink.neigh import NeighbourOps
from kin.linux.netlink.route import RouteOps
from kin.linux.netlink.transport import NetlinkSocket

__all__ = ["Netlink"]


class Netlink(AddressOps, RouteOps, NeighbourOps):
    """A rtnetlink client bound to the calling thread's network namespace.

    Not thread-safe: share it between threads only with a lock. Failures raise
    ``NetlinkError`` (``errno`` set; ``LinkNotFound`` for ENODEV) with the object
    named; bad names and addresses raise ``NetworkSetupError`` before any request.
    """

    def __init__(self, sock: socket.socket | None = None) -> None:
        self._nl = NetlinkSocket(sock)

    @property
    def closed(self) -> bool:
        return self._nl.closed

    def close(self) -> None:
        """Close the socket; closing again does nothing."""
        self._nl.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
