"""CNI ``portmap``: host ports forwarded to pod ports with nftables, in the node's namespace.

A chained plugin (reference: containernetworking/plugins ``plugins/meta/portmap``): the
pod's addresses come from ``prevResult`` and the mappings from
``runtimeConfig.portMappings``. Which rules, and why, is ``kin.cni.portmap_rules``; this
module does the I/O. ``nft`` runs as a child process, so the rules land in the network
namespace this process runs in, which is the node's, never the pod's: nothing here
enters ``CNI_NETNS``, and DEL works the same whether or not it still exists.

One ``nft -f -`` transaction per ADD (both families), so a failed ADD leaves nothing.
With ``snat`` on, ADD also sets ``route_localnet`` on the interface routing the pod's
IPv4 address (127.0.0.1 may then leave the node toward the pod, to be masqueraded), and
then, as the reference does, deletes UDP conntrack entries for the mapped UDP host
ports, so a client whose packets were already tracked as "to the node" is not
black-holed; that is informational and only logged when it fails. ``conntrack(8)``
runs only for ports /proc/net/nf_conntrack shows entries for: an exec costs more than
the rest of the ADD when a warm node server runs the plugin.

``backend``: ``nftables`` or absent. ``iptables`` is refused (code 2) by ADD, CHECK and
STATUS rather than quietly mapped: kin writes no iptables rules, and whoever asked for
them has a reason. DEL and GC accept any backend, so cleanup never blocks.
"""

from __future__ import annotations

import sys

from kin.cni import portmap_rules as rules
from kin.cni import skel, spec
from kin.errors import CNIError, CommandError, PrerequisiteError
from kin.linux import nft, sysctl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

__all__ = ["PLUGIN", "main", "route_interface", "tracked_udp"]

SBIN = "/usr/sbin:/usr/bin:/sbin:/bin"
REMOVE_ATTEMPTS = 4
CONNTRACK_FAMILY = {"ip": "ipv4", "ip6": "ipv6"}


def cmd_add(args: skel.CmdArgs) -> dict[str, Any]:
    conf = rules.parse_config(args.config)
    prev = args.prev_result
    if prev is None:
        raise CNIError(spec.ERR_INVALID_NETWORK_CONFIG, "must be called as chained plugin")
    if not conf.mappings:
        return prev
    pods = rules.container_ips(prev, args.ifname)
    comment = rules.owner_comment(conf.network, args.container_id)
    if conf.snat and "ip" in pods:
        _enable_route_localnet(pods["ip"])
    script = "".join(rules.add_script(f, ip, conf, comment) for f, ip in pods.items())
    if script:
        _apply(script, f"unable to set up nftables rules for port mappings of {comment}")
    _delete_udp_conntrack(conf, pods)
    return prev


def cmd_del(args: skel.CmdArgs) -> None:
    """Remove this attachment's rules; success if nothing is mapped (as the reference) or left."""
    if not args.runtime_config.get("portMappings"):
        return
    comment = rules.owner_comment(args.config["name"], args.container_id)
    what = f"error deleting nftables rules of {comment}"
    _remove(lambda c: c == comment, what, _families_added(args))


def _families_added(args: skel.CmdArgs) -> tuple[str, ...]:
    """The families ADD wrote rules in, from the cached result DEL gets (0.4.0 on); both
    when there is none or it cannot be read, as the reference always clears both."""
    try:
        prev = args.prev_result
        return tuple(rules.container_ips(prev, args.ifname)) if prev else rules.FAMILIES
    except (CNIError, LookupError, TypeError, AttributeError):  # DEL must not trip on it
        return rules.FAMILIES


def cmd_gc(args: skel.CmdArgs) -> None:
    """Remove the rules of this network's attachments that are not in the valid list."""
    network = args.config["name"]
    valid = args.config.get("cni.dev/valid-attachments", args.config.get("cni.dev/attachments"))
    keep = {rules.owner_comment(network, str(a.get("containerID"))) for a in _attachments(valid)}
    prefix = rules.network_prefix(network)

    def stale(comment: str) -> bool:
        return comment.startswith(prefix) and comment not in keep

    _remove(stale, f"error deleting stale nftables rules of network {network!r}")


def _attachments(valid: object) -> list[dict[str, Any]]:
    if not isinstance(valid, list) or not all(isinstance(a, dict) for a in valid):
        detail = f"cni.dev/valid-attachments must be a list of objects, not {valid!r}"
        raise CNIError(spec.ERR_INVALID_NETWORK_CONFIG, "invalid GC request", detail)
    return valid


def cmd_check(args: skel.CmdArgs) -> None:
    conf = rules.parse_config(args.config)
    prev = args.prev_result
    if prev is None:
        raise CNIError(spec.ERR_INVALID_NETWORK_CONFIG, "required prevResult missing")
    if not conf.mappings:
        return
    comment = rules.owner_comment(conf.network, args.container_id)
    for family, ip in rules.container_ips(prev, args.ifname).items():
        listing = _list(family)
        problems = rules.check_problems(family, ip, conf, comment, listing)
        if problems:
            msg = f"missing hostport rules for {comment} in table {family} {rules.TABLE}"
            raise CNIError(spec.ERR_INTERNAL, msg, "; ".join(problems))


def cmd_status(args: skel.CmdArgs) -> None:
    rules.parse_config(args.config)
    try:
        nft.nft_binary()
    except PrerequisiteError as exc:
        raise CNIError(spec.ERR_NOT_AVAILABLE, "portmap cannot program nftables", str(exc)) from exc


# --- nftables ------------------------------------------------------------------------------


def _apply(script: str, what: str) -> None:
    try:
        nft.apply(script)
    except CommandError as exc:
        raise CNIError(spec.ERR_INTERNAL, what, exc.output.split("\n", 1)[0]) from exc


def _list(family: str) -> list[dict[str, Any]]:
    try:
        return nft.list_json("table", family, rules.TABLE)
    except CommandError as exc:
        msg = f"could not list rules in table {family} {rules.TABLE}"
        raise CNIError(spec.ERR_INTERNAL, msg, exc.output) from exc


def _remove(
    doomed: Callable[[str], bool], what: str, families: tuple[str, ...] = rules.FAMILIES
) -> None:
    """Delete matching rules; re-read and retry when a concurrent ADD won (see portmap_rules)."""
    for attempt in range(REMOVE_ATTEMPTS):
        script = "".join(rules.removal_script(f, _list(f), doomed) for f in families)
        if not script:
            return
        try:
            nft.apply(script)
            return
        except CommandError as exc:
            if attempt == REMOVE_ATTEMPTS - 1:
                raise CNIError(spec.ERR_INTERNAL, what, exc.output.split("\n", 1)[0]) from exc


# --- side effects of ADD -------------------------------------------------------------------


def route_interface(proc_net_route: str, address: str) -> str | None:
    """The interface the IPv4 main table routes ``address`` through (longest prefix, then
    lowest metric), from the text of ``/proc/net/route``; None if nothing routes it."""
    target = int.from_bytes(bytes(int(part) for part in address.split(".")), "big")
    best: tuple[int, int, str] | None = None
    for line in proc_net_route.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or not int(fields[3], 16) & 1:  # RTF_UP
            continue
        dest, mask = _route_word(fields[1]), _route_word(fields[7])
        if target & mask == dest:
            key = (bin(mask).count("1"), -int(fields[6]), fields[0])
            best = key if best is None or key[:2] > best[:2] else best
    return best[2] if best else None


def _route_word(text: str) -> int:
    """/proc/net/route prints a big-endian address as a host-order number."""
    return int.from_bytes(int(text, 16).to_bytes(4, sys.byteorder), "big")


def _enable_route_localnet(pod_ip: str) -> None:
    """``route_localnet=1`` on the interface toward the pod, so 127.0.0.1 may be routed there."""
    with open("/proc/net/route") as f:
        interface = route_interface(f.read(), pod_ip)
    if interface is None:
        return
    try:
        sysctl.write(f"net/ipv4/conf/{interface}/route_localnet", "1")
    except OSError as exc:
        raise CNIError(spec.ERR_INTERNAL, "unable to enable route_localnet", str(exc)) from exc


def _delete_udp_conntrack(conf: rules.PortMapConf, pods: dict[str, str]) -> None:
    """Forget tracked UDP flows to the mapped host ports; failures are only logged.
    ``conntrack`` runs only for what /proc/net/nf_conntrack shows (an exec is ~15 ms)."""
    ports = {m.host_port for m in conf.mappings if m.protocol == "udp"}
    if not ports:
        return
    import shutil

    binary = shutil.which("conntrack", path=SBIN) or "conntrack"
    for family, port in sorted(_tracked(ports, tuple(pods))):
        argv = [binary, "-D", "-f", CONNTRACK_FAMILY[family], "-p", "udp", "--dport", str(port)]
        if not _run_logged(argv):
            return


def _tracked(ports: set[int], families: tuple[str, ...]) -> set[tuple[str, int]]:
    """(family, port) pairs with UDP entries; every pair when the table cannot be read."""
    try:
        with open("/proc/net/nf_conntrack") as f:
            return tracked_udp(f.read(), ports, families)
    except OSError:
        return {(family, port) for family in families for port in ports}


def tracked_udp(
    nf_conntrack: str, ports: set[int], families: tuple[str, ...]
) -> set[tuple[str, int]]:
    """Which (family, port) of ``ports`` have UDP entries in /proc/net/nf_conntrack's text
    (``ipv4 2 udp 17 29 src=... dst=... sport=... dport=5353 ...``, original tuple first)."""
    names = {"ipv4": "ip", "ipv6": "ip6"}
    found = set()
    for line in nf_conntrack.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[2] != "udp" or names.get(fields[0]) not in families:
            continue
        dport = next((f[6:] for f in fields if f.startswith("dport=")), "")
        if dport.isdigit() and int(dport) in ports:
            found.add((names[fields[0]], int(dport)))
    return found


def _run_logged(argv: list[str]) -> bool:
    """Run ``argv``; exit status 1 means there was nothing to delete. False if it cannot run."""
    import subprocess

    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as exc:
        sys.stderr.write(f"portmap: stale UDP conntrack entries not deleted: {exc}\n")
        return False
    if done.returncode not in (0, 1):
        sys.stderr.write(f"portmap: {' '.join(argv)}: {done.stderr.strip()}\n")
    return True


PLUGIN = skel.Plugin(
    "CNI portmap plugin (kin, nftables)",
    cmd_add,
    cmd_del,
    check=cmd_check,
    status=cmd_status,
    gc=cmd_gc,
)


def main() -> NoReturn:
    skel.main(PLUGIN)
