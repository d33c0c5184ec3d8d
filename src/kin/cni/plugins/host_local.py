"""CNI ``host-local`` IPAM: addresses from configured ranges, state in files on this host.

Reference: ``plugins/ipam/host-local/main.go`` and ``dns.go``. ADD answers an IPAM
result (``ips`` with address and gateway, the configured ``routes``, ``dns`` from
``resolvConf``; no ``interfaces`` and no ``interface`` index, as the spec requires of
IPAM results). DEL frees what (containerID, ifname) holds and succeeds when nothing is
held; CHECK only asks whether anything is held, as the reference does. STATUS answers
ready, and GC (CNI 1.1) frees every reservation not held by an attachment in
``cni.dev/valid-attachments``: the cure for addresses leaked when a runtime skipped DEL.

Kept to stdlib basics: flannel's bridge delegate runs this in-process, and as an
executable it is a fresh Python per pod.
"""

from __future__ import annotations

from kin.cni import skel, spec
from kin.cni.ipam import allocator, config
from kin.cni.ipam.store import DiskStore
from kin.errors import CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ["PLUGIN", "cmd_add", "cmd_check", "cmd_del", "cmd_gc", "main", "parse_resolv_conf"]


def cmd_add(args: skel.CmdArgs) -> dict[str, Any]:
    conf = config.load(args.config, args.args)
    dns = parse_resolv_conf(conf.resolv_conf) if conf.resolv_conf else {}
    with DiskStore(conf.name, conf.data_dir) as store:
        ips = allocator.allocate(
            conf.range_sets, conf.requested, store, args.container_id, args.ifname
        )
    return {"interfaces": [], "ips": ips, "routes": conf.routes_for(args.version), "dns": dns}


def cmd_del(args: skel.CmdArgs) -> None:
    conf = config.load(args.config, args.args)
    with DiskStore(conf.name, conf.data_dir) as store:
        allocator.release(conf.range_sets, store, args.container_id, args.ifname)


def cmd_check(args: skel.CmdArgs) -> None:
    conf = config.load(args.config, args.args)
    with DiskStore(conf.name, conf.data_dir) as store:
        found = allocator.find(store, args.container_id, args.ifname)
    if not found:
        what = f"host-local: Failed to find address added by container {args.container_id}"
        raise CNIError(spec.ERR_INTERNAL, what)


def cmd_status(args: skel.CmdArgs) -> None:
    """Ready: host-local needs nothing but its state directory, made on first use."""


def cmd_gc(args: skel.CmdArgs) -> None:
    conf = config.load(args.config, args.args)
    valid = _valid_attachments(args.config)
    with DiskStore(conf.name, conf.data_dir) as store:
        allocator.gc(store, valid)


def _valid_attachments(raw: dict[str, Any]) -> set[tuple[str, str]]:
    """``cni.dev/valid-attachments`` (or libcni's older duplicate ``cni.dev/attachments``)."""
    key = "cni.dev/valid-attachments"
    items = raw[key] if key in raw else raw.get("cni.dev/attachments")
    if items is None:
        return set()  # libcni sends null when no attachment is valid
    if not isinstance(items, list):
        raise CNIError(spec.ERR_INVALID_NETWORK_CONFIG, f"{key}: expected a list")
    return {_attachment(item, f"{key}[{i}]") for i, item in enumerate(items)}


def _attachment(item: object, where: str) -> tuple[str, str]:
    fields = item if isinstance(item, dict) else {}
    container_id, ifname = fields.get("containerID"), fields.get("ifname")
    if not (isinstance(container_id, str) and isinstance(ifname, str)):
        what = f"{where}: expected an object with containerID and ifname strings"
        raise CNIError(spec.ERR_INVALID_NETWORK_CONFIG, what)
    return container_id.strip(), ifname


def parse_resolv_conf(path: str) -> dict[str, Any]:
    """The DNS settings of a resolv.conf, as the reference's ``parseResolvConf``."""
    dns: dict[str, Any] = {"nameservers": [], "domain": "", "search": [], "options": []}
    for line in _read_lines(path):
        fields = line.split()
        if len(fields) < 2 or fields[0][0] in "#;":
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver":
            dns["nameservers"].append(values[0])
        elif key == "domain":
            dns["domain"] = values[0]
        elif key in ("search", "options"):
            dns[key] += values
    return {k: v for k, v in dns.items() if v}


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CNIError(spec.ERR_IO, f"open {path}: {reason[:1].lower()}{reason[1:]}") from exc


PLUGIN = skel.Plugin(
    "CNI host-local plugin (kin)",
    cmd_add,
    cmd_del,
    check=cmd_check,
    status=cmd_status,
    gc=cmd_gc,
)


def main() -> NoReturn:
    skel.main(PLUGIN)
