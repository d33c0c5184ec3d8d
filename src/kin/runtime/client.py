"""A CRI client, as the kubelet's and crictl's: both services over one unix socket.

Connecting checks the runtime the way the kubelet's client does (``Version`` and
``ImageFsInfo`` must answer), so a wrong socket fails here, with the address named.
"""

from __future__ import annotations

import grpc

from kin.errors import CRIError
from kin.runtime.cri import api_pb2 as cri
from kin.runtime.cri import api_pb2_grpc as cri_grpc

__all__ = ["CRIClient", "endpoint_path"]

MAX_MESSAGE = 16 * 1024 * 1024


def endpoint_path(endpoint: str) -> str:
    """``unix:///run/x.sock`` or a bare path -> the socket's path."""
    if endpoint.startswith("unix://"):
        return endpoint[len("unix://") :]
    if "://" in endpoint:
        raise CRIError(f"only unix socket endpoints are supported, not {endpoint!r}")
    return endpoint


class CRIClient:
    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        self.path = endpoint_path(endpoint)
        self.timeout = timeout
        self.channel = grpc.insecure_channel(
            f"unix://{self.path}",
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.default_authority", "localhost"),
            ],
        )
        self.runtime = cri_grpc.RuntimeServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.images = cri_grpc.ImageServiceStub(self.channel)  # type: ignore[no-untyped-call]

    def check(self) -> cri.VersionResponse:
        """What the kubelet asks first; raises ``CRIError`` naming the socket if it fails."""
        try:
            version: cri.VersionResponse = self.runtime.Version(
                cri.VersionRequest(), timeout=self.timeout
            )
            self.images.ImageFsInfo(cri.ImageFsInfoRequest(), timeout=self.timeout)
        except grpc.RpcError as exc:
            raise CRIError(
                f"the container runtime at {self.path} does not answer: {exc.details()}"
            ) from exc
        return version

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> CRIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
