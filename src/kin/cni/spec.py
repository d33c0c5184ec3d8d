"""Facts of the CNI specification: versions, error codes, name rules.

Messages and codes follow the reference implementation (containernetworking/cni
``skel``, ``utils``, ``version``) so a runtime sees what it would see from the Go
plugins.
"""

from __future__ import annotations

from kin.errors import CNIError

__all__ = [
    "ERR_DECODING",
    "ERR_INCOMPATIBLE_VERSION",
    "ERR_INTERNAL",
    "ERR_INVALID_ENV",
    "ERR_INVALID_NETNS",
    "ERR_INVALID_NETWORK_CONFIG",
    "ERR_IO",
    "ERR_NOT_AVAILABLE",
    "ERR_NOT_AVAILABLE_LIMITED",
    "ERR_TRY_AGAIN_LATER",
    "ERR_UNKNOWN_CONTAINER",
    "ERR_UNSUPPORTED_FIELD",
    "SPEC_VERSION",
    "SUPPORTED_VERSIONS",
    "at_least",
    "check_supported",
    "go_quote_list",
    "validate_container_id",
    "validate_ifname",
    "validate_network_name",
    "version_key",
]

SPEC_VERSION = "1.1.0"
SUPPORTED_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

ERR_INCOMPATIBLE_VERSION = 1
ERR_UNSUPPORTED_FIELD = 2
ERR_UNKNOWN_CONTAINER = 3
ERR_INVALID_ENV = 4
ERR_IO = 5
ERR_DECODING = 6
ERR_INVALID_NETWORK_CONFIG = 7
ERR_INVALID_NETNS = 8
ERR_TRY_AGAIN_LATER = 11
ERR_NOT_AVAILABLE = 50
ERR_NOT_AVAILABLE_LIMITED = 51
ERR_INTERNAL = 999

MAX_IFNAME = 15
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ID_CHARS = _ALNUM | frozenset("_.-")


def _valid_id(text: str) -> bool:
    """The spec's ``^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`` (without importing ``re``)."""
    return bool(text) and text[0] in _ALNUM and all(c in _ID_CHARS for c in text)


def version_key(version: str) -> tuple[int, ...]:
    """``"0.3.1"`` -> ``(0, 3, 1)``; a malformed version is a decoding error (code 6)."""
    try:
        parts = tuple(int(p) for p in version.split("."))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise CNIError(ERR_DECODING, f"unsupported CNI version {version!r}")
    return parts


def at_least(version: str, minimum: str) -> bool:
    return version_key(version) >= version_key(minimum)


def go_quote_list(items: tuple[str, ...] | list[str]) -> str:
    """Go's ``%q`` of a string slice: ``["0.1.0" "0.2.0"]``."""
    return "[" + " ".join(f'"{item}"' for item in items) + "]"


def check_supported(version: str, supported: tuple[str, ...] = SUPPORTED_VERSIONS) -> None:
    if version not in supported:
        details = f'config is "{version}", plugin supports {go_quote_list(supported)}'
        raise CNIError(ERR_INCOMPATIBLE_VERSION, "incompatible CNI versions", details)


def validate_container_id(container_id: str) -> None:
    if not container_id:
        raise CNIError(ERR_UNKNOWN_CONTAINER, "missing containerID")
    if not _valid_id(container_id):
        raise CNIError(ERR_DECODING, f"error: invalid characters in containerID: {container_id}")


def validate_network_name(name: object) -> None:
    if not name:
        raise CNIError(ERR_INVALID_NETWORK_CONFIG, "missing network name")
    if not isinstance(name, str) or not _valid_id(name):
        raise CNIError(ERR_INVALID_NETWORK_CONFIG, "invalid characters found in network name")


def validate_ifname(ifname: str) -> None:
    if not ifname:
        raise CNIError(ERR_INVALID_ENV, "interface name is empty")
    if len(ifname.encode()) > MAX_IFNAME:
        detail = f"interface name should be less than {MAX_IFNAME + 1} characters"
        raise CNIError(ERR_INVALID_ENV, "interface name is too long", detail)
    if ifname in (".", ".."):
        raise CNIError(ERR_INVALID_ENV, "interface name is . or ..")
    if any(c in "/:" or c.isspace() for c in ifname):
        raise CNIError(ERR_INVALID_ENV, "interface name contains / or : or whitespace characters")
