"""``/run/flannel/subnet.env``: what flanneld tells the CNI ``flannel`` plugin.

The file is flanneld's promise that the node's lease and its backend are in place: it is
written once they are, before the daemon says it is ready, and replaced atomically (a
temporary file renamed over it, mode 0644 whatever the umask, as Flannel's renameio), so a
plugin never reads half of it. The lines and their order are Flannel's::

    FLANNEL_NETWORK=10.244.0.0/16
    FLANNEL_SUBNET=10.244.1.1/24
    FLANNEL_MTU=1450
    FLANNEL_IPMASQ=true

In etcd mode the file is also read back at start-up, so a restarted flanneld asks for the
subnet it had (``previous_subnet``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from kin.errors import ConfigError
from kin.linux.files import write_atomic

__all__ = ["SubnetEnv", "previous_subnet", "render", "write"]


@dataclass(frozen=True)
class SubnetEnv:
    network: ipaddress.IPv4Network  # the whole pod network
    lease: ipaddress.IPv4Network  # this node's subnet
    mtu: int  # the MTU pods get: the backend's, after its overhead
    ip_masq: bool


def render(env: SubnetEnv) -> str:
    """The file's text: the lease is written as its first address (the bridge's)."""
    first = env.lease.network_address + 1
    return (
        f"FLANNEL_NETWORK={env.network}\n"
        f"FLANNEL_SUBNET={first}/{env.lease.prefixlen}\n"
        f"FLANNEL_MTU={env.mtu}\n"
        f"FLANNEL_IPMASQ={'true' if env.ip_masq else 'false'}\n"
    )


def write(path: str | Path, env: SubnetEnv) -> None:
    """Replace ``path`` with ``env`` in one rename, mode 0644; its directory is made
    (0755 less the umask, as Flannel's MkdirAll) if absent."""
    target = Path(path)
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    write_atomic(str(target), render(env), mode=0o644)


def previous_subnet(path: str | Path) -> ipaddress.IPv4Network | None:
    """The lease an earlier run wrote (``FLANNEL_SUBNET``, as its network), or None when
    there is no file or no such line. A line that is there but wrong is a ConfigError:
    asking for a subnet nobody had would be worse than asking for none."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    for number, line in enumerate(text.splitlines(), 1):
        key, _, value = line.partition("=")
        if key.strip() != "FLANNEL_SUBNET":
            continue
        try:
            return ipaddress.IPv4Network(value.strip(), strict=False)
        except ValueError:
            raise ConfigError(
                f"{path}:{number}: FLANNEL_SUBNET {value.strip()!r} is not an IPv4 CIDR"
            ) from None
    return None
