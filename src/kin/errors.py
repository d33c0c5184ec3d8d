"""The one exception hierarchy of kin.

Library code raises these, always with the object named and the cause chained
(``raise NetworkSetupError(...) from exc``); only ``kin.cli`` turns them into
``ERROR: ...`` lines and exit codes.

    KinError
    ├── ConfigError            a kind config (or a flag) is invalid; carries every problem
    ├── PrerequisiteError      the machine lacks a privilege or a program kin needs
    ├── ClusterError           a cluster-level request cannot be honoured
    │   ├── ClusterExistsError
    │   └── ClusterNotFoundError
    ├── ProvisionError         creating or deleting nodes failed half-way
    ├── NetworkSetupError      a kernel network object could not be made as asked
    │   ├── NetlinkError       the kernel answered a netlink request with an errno
    │   │   └── LinkNotFound   the named link does not exist (ENODEV)
    │   └── NetnsNotFound      the named network namespace does not exist
    ├── NodeError              a node's supervisor is absent or answered badly
    ├── CommandError           an external program failed (argv, output, exit code)
    ├── CNIError               a CNI operation failed; maps to the spec's error JSON
    └── APIError               a Kubernetes API request failed; maps to a metav1.Status
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: keeps `typing` out of CNI plugin start-up
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "APIError",
    "CNIError",
    "CRIAlreadyExists",
    "CRIError",
    "CRIInvalid",
    "CRINotFound",
    "CRIPrecondition",
    "CRITimeout",
    "CRIUnimplemented",
    "ClusterError",
    "ClusterExistsError",
    "ClusterNotFoundError",
    "CommandError",
    "ConfigError",
    "KinError",
    "LinkNotFound",
    "NetlinkError",
    "NetnsNotFound",
    "NetworkSetupError",
    "NodeError",
    "PrerequisiteError",
    "ProvisionError",
]


class KinError(Exception):
    """Root of every error kin raises on purpose."""


class ConfigError(KinError):
    """A configuration is invalid. ``problems`` holds every problem found, in order.

    ``str()`` follows kind: one problem prints as is, several as ``[p1, p2, ...]``.
    """

    def __init__(self, problems: str | Sequence[str]) -> None:
        if isinstance(problems, str):
            problems = [problems]
        unique: list[str] = []
        for problem in problems:
            if problem not in unique:
                unique.append(problem)
        self.problems: list[str] = unique
        super().__init__(format_problems(unique))


def format_problems(problems: Sequence[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return "[" + ", ".join(problems) + "]"


class PrerequisiteError(KinError):
    """Something this machine must provide is missing (root, a program, a kernel feature)."""


class ClusterError(KinError):
    """A request about a whole cluster cannot be honoured."""


class ClusterExistsError(ClusterError):
    pass


class ClusterNotFoundError(ClusterError):
    pass


class ProvisionError(KinError):
    """Creating or deleting nodes failed; the message names the node and the step."""


class NetworkSetupError(KinError):
    """A kernel network object could not be created, changed or removed."""


class NetlinkError(NetworkSetupError):
    """The kernel refused a netlink request; ``errno`` is the kernel's error number."""

    def __init__(self, message: str, errno: int) -> None:
        super().__init__(message)
        self.errno = errno


class LinkNotFound(NetlinkError):
    pass


class NetnsNotFound(NetworkSetupError):
    pass


class NodeError(KinError):
    """A node's supervisor could not be reached or refused a request."""


class ZygoteError(KinError):
    """The cluster's fork server could not be reached or refused a request."""


class CommandError(KinError):
    """An external program failed. Mirrors kind's ``exec.RunError``."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        super().__init__(f"command {' '.join(self.argv)!r} failed with exit code {returncode}")


class CNIError(KinError):
    """A CNI failure with the spec's ``code`` (1 incompatible version ... 11 try again
    later, 50/51 not available, 100+ plugin-specific), ``msg`` and optional ``details``."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        self.code = code
        self.msg = msg
        self.details = details
        super().__init__(f"{msg}: {details}" if details else msg)

    def to_json(self, cni_version: str) -> dict[str, object]:
        body: dict[str, object] = {"cniVersion": cni_version, "code": self.code, "msg": self.msg}
        if self.details:
            body["details"] = self.details
        return body


class APIError(KinError):
    """A Kubernetes API failure: HTTP ``code``, Status ``reason`` (``NotFound``, ``Conflict``,
    ``Invalid`` ...), ``message`` and optional ``details`` (name, group, kind, causes)."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, object] | None = None
    ) -> None:
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        super().__init__(message)

    def status(self) -> dict[str, object]:
        """The ``metav1.Status`` body kubectl reads."""
        body: dict[str, object] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


class CRIError(KinError):
    """A container-runtime request failed. ``grpc_code`` names the gRPC status the CRI
    server answers with (the kubelet and crictl test NOT_FOUND by code, not by text)."""

    grpc_code = "UNKNOWN"


class CRINotFound(CRIError):
    grpc_code = "NOT_FOUND"


class CRIInvalid(CRIError):
    grpc_code = "INVALID_ARGUMENT"


class CRIPrecondition(CRIError):
    grpc_code = "FAILED_PRECONDITION"


class CRIAlreadyExists(CRIError):
    grpc_code = "ALREADY_EXISTS"


class CRITimeout(CRIError):
    grpc_code = "DEADLINE_EXCEEDED"


class CRIUnimplemented(CRIError):
    grpc_code = "UNIMPLEMENTED"
