"""host-local's configuration, read and validated as the reference plugin does.

Sources: ``backend/allocator/{config,range,range_set}.go`` of containernetworking/plugins
1.1.1 (Debian's ``/usr/lib/cni/host-local``, the peer kin is tested against). The order of
range sets (``runtimeConfig.ipRanges``, then the legacy top-level ``subnet``, then
``ranges``), the defaults (gateway and rangeStart network+1, rangeEnd the last address but
broadcast) and the validation messages are the reference's, so a config behaves the same
under either plugin and allocates from the same addresses.

Two deliberate differences: configuration errors are code 7 (the reference answers 999
for everything), and a value the reference's JSON decoder rejects is reported with its
field path (``ipam.ranges[0][1].rangeStart: invalid IP address: x``) because Go's decoder
messages do not say where the bad value is.

JSON keys match case-insensitively, as Go's ``encoding/json`` does, so a config written
for the reference (``"rangestart"``) means the same here.
"""

from __future__ import annotations

from kin.cni import spec
from kin.cni.args import known_args
from kin.cni.ipam import cidr_text, format_ip, parse_cidr, parse_ip
from kin.errors import CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kin.cni.ipam import CIDR, IP

    RawRange = tuple[CIDR | None, IP | None, IP | None, IP | None]

__all__ = [
    "IPAMConfig",
    "Range",
    "RangeError",
    "RangeSet",
    "canonical_range",
    "canonical_set",
    "load",
]

ROUTE_FIELDS_1_1 = ("mtu", "advmss", "priority", "table", "scope")


class RangeError(ValueError):
    """A range or range set is invalid; the message is the reference's wording."""


# --- ranges ----------------------------------------------------------------------------


class Range:
    """One canonical range: subnet, inclusive start and end, gateway (reference ``Range``)."""

    __slots__ = ("bits", "end", "gateway", "network", "prefix", "start")

    def __init__(self, network: IP, prefix: int, start: IP, end: IP, gateway: IP) -> None:
        self.bits = network[0]
        self.network = network
        self.prefix = prefix
        self.start = start
        self.end = end
        self.gateway = gateway

    def in_subnet(self, ip: IP) -> bool:
        shift = self.bits - self.prefix
        return ip[0] == self.bits and ip[1] >> shift == self.network[1] >> shift

    def contains(self, ip: IP) -> bool:
        return self.in_subnet(ip) and self.start[1] <= ip[1] <= self.end[1]

    def overlaps(self, other: Range) -> bool:
        if self.bits != other.bits:
            return False
        return (
            self.contains(other.start)
            or self.contains(other.end)
            or other.contains(self.start)
            or other.contains(self.end)
        )

    def __str__(self) -> str:
        return f"{format_ip(self.start)}-{format_ip(self.end)}"


def canonical_range(raw: RawRange) -> Range:
    """Defaults filled in and checked, in the order and wording of ``Range.Canonicalize``."""
    subnet, start, end, gateway = raw
    if subnet is None:
        raise RangeError("IP <nil> not v4 nor v6")
    (bits, value), prefix = subnet
    if prefix > bits - 2:
        raise RangeError(f"Network {cidr_text(subnet)} too small to allocate from")
    if bits == 128 and value >> 32 == 0xFFFF:
        raise RangeError("IPNet IP and Mask version mismatch")
    host_mask = (1 << (bits - prefix)) - 1
    network = (bits, value & ~host_mask)
    if value & host_mask:
        raise RangeError(
            "Network has host bits set. For a subnet mask of length "
            f"{prefix} the network address is {format_ip(network)}"
        )
    first = (bits, network[1] + 1)
    start = _checked("RangeStart", start, end, subnet, network) or first
    end = _checked("RangeEnd", end, start, subnet, network)
    last = (bits, network[1] | host_mask) if bits == 128 else (bits, (network[1] | host_mask) - 1)
    return Range(network, prefix, start, end or last, gateway or first)


def _checked(what: str, ip: IP | None, other: IP | None, subnet: CIDR, network: IP) -> IP | None:
    """``ip`` if inside the subnet and on the right side of ``other`` (the other bound)."""
    if ip is None:
        return None
    bits, prefix = network[0], subnet[1]
    shift = bits - prefix
    inside = ip[0] == bits and ip[1] >> shift == network[1] >> shift
    ordered = other is None or (ip[1] <= other[1] if what == "RangeStart" else ip[1] >= other[1])
    if not (inside and ordered):
        raise RangeError(f"{what} {format_ip(ip)} not in network {cidr_text(subnet)}")
    return ip


class RangeSet:
    """Ranges of one family, one address allocated from the set (reference ``RangeSet``)."""

    __slots__ = ("bits", "ranges")

    def __init__(self, ranges: list[Range]) -> None:
        self.ranges = ranges
        self.bits = ranges[0].start[0]

    def index_of(self, ip: IP) -> int | None:
        """The index of the range holding ``ip``, or None."""
        for i, r in enumerate(self.ranges):
            if r.contains(ip):
                return i
        return None

    def contains(self, ip: IP) -> bool:
        return self.index_of(ip) is not None

    def overlaps(self, other: RangeSet) -> bool:
        return any(r.overlaps(o) for r in self.ranges for o in other.ranges)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.ranges)


def canonical_set(raw: list[RawRange]) -> RangeSet:
    if not raw:
        raise RangeError("empty range set")
    ranges = [canonical_range(r) for r in raw]
    if any(r.start[0] != ranges[0].start[0] for r in ranges):
        raise RangeError("mixed address families")
    for i, r1 in enumerate(ranges):
        for r2 in ranges[i + 1 :]:
            if r1.overlaps(r2):
                raise RangeError(f"subnets {r1} and {r2} overlap")
    return RangeSet(ranges)


# --- the network config ----------------------------------------------------------------


class IPAMConfig:
    """What host-local takes from a network config, validated (reference ``IPAMConfig``)."""

    __slots__ = ("data_dir", "name", "range_sets", "requested", "resolv_conf", "routes")

    def __init__(
        self,
        name: str,
        range_sets: list[RangeSet],
        routes: list[dict[str, Any]],
        requested: list[IP],
        data_dir: str = "",
        resolv_conf: str = "",
    ) -> None:
        self.name = name
        self.range_sets = range_sets
        self.routes = routes
        self.requested = requested
        self.data_dir = data_dir
        self.resolv_conf = resolv_conf

    def routes_for(self, version: str) -> list[dict[str, Any]]:
        """The routes as ``version`` knows them: mtu, advmss, ... only from 1.1.0."""
        if spec.at_least(version, "1.1.0"):
            return [dict(r) for r in self.routes]
        return [{k: v for k, v in r.items() if k in ("dst", "gw")} for r in self.routes]


def load(config: dict[str, Any], cni_args: str = "") -> IPAMConfig:
    """The IPAM config of a network config and ``CNI_ARGS``; CNIError (code 7) if invalid."""
    ipam = _field(config, "ipam")
    if ipam is None:
        raise _invalid("IPAM config missing 'ipam' key")
    ipam = _object(ipam, "ipam")
    runtime = _object(_field(config, "runtimeConfig"), "runtimeConfig")
    raw_sets = _decode_sets(_field(runtime, "ipRanges"), "runtimeConfig.ipRanges")
    legacy = _decode_range(ipam, "ipam")
    if legacy[0] is not None:
        raw_sets.append([legacy])
    raw_sets += _decode_sets(_field(ipam, "ranges"), "ipam.ranges")
    routes = _as_list(_field(ipam, "routes"), "ipam.routes")
    routes = [_route(r, f"ipam.routes[{i}]") for i, r in enumerate(routes)]
    data_dir = _string(ipam, "dataDir", "ipam")
    resolv_conf = _string(ipam, "resolvConf", "ipam")
    requested = _requested(config, runtime, cni_args)
    version = str(config.get("cniVersion") or "")
    range_sets = _range_sets(raw_sets, version)
    return IPAMConfig(config["name"], range_sets, routes, requested, data_dir, resolv_conf)


def _range_sets(raw_sets: list[list[RawRange]], version: str) -> list[RangeSet]:
    if not raw_sets:
        raise _invalid("no IP ranges specified")
    sets = []
    for i, raw in enumerate(raw_sets):
        try:
            sets.append(canonical_set(raw))
        except RangeError as exc:
            raise _invalid(f"invalid range set {i}: {exc}") from None
    v4 = sum(s.bits == 32 for s in sets)
    if (v4 > 1 or len(sets) - v4 > 1) and not _at_least(version, "0.3.0"):
        what = f"CNI version {version} does not support more than 1 address per family"
        raise _invalid(what)
    for i, first in enumerate(sets):
        for j in range(i + 1, len(sets)):
            if first.overlaps(sets[j]):
                raise _invalid(f"range set {i} overlaps with {j}")
    return sets


def _at_least(version: str, minimum: str) -> bool:
    try:
        return spec.at_least(version, minimum)
    except CNIError:
        return False


def _requested(config: dict[str, Any], runtime: dict[str, Any], cni_args: str) -> list[IP]:
    """Requested IPs from CNI_ARGS ``IP=``, ``args.cni.ips``, ``runtimeConfig.ips``, in order."""
    found: list[IP] = []
    env_ip = known_args(cni_args, ("IP",)).get("IP", "")
    if env_ip:
        ip = parse_ip(env_ip)
        if ip is None:
            pair = f'"IP={env_ip}"'
            what = f"ARGS: error parsing value of pair {pair}: invalid IP address {env_ip}"
            raise CNIError(spec.ERR_INVALID_ENV, what)
        found.append(ip)
    cni = _object(_field(_object(_field(config, "args"), "args"), "cni"), "args.cni")
    found += _ips(_as_list(_field(cni, "ips"), "args.cni.ips"), "args.cni.ips", False)
    found += _ips(_as_list(_field(runtime, "ips"), "runtimeConfig.ips"), "runtimeConfig.ips", True)
    return list(dict.fromkeys(found))


def _ips(values: list[Any], where: str, with_prefix: bool) -> list[IP]:
    """Addresses; with ``with_prefix`` an entry may be a CIDR (the reference ``ip.IP``)."""
    out = []
    for i, value in enumerate(values):
        text = value if isinstance(value, str) else ""
        if with_prefix and "/" in text:
            text = text.partition("/")[0] if parse_cidr(text) else ""
        ip = parse_ip(text)
        if ip is None:
            raise _invalid(f"{where}[{i}]: invalid IP address {value}")
        out.append(ip)
    return out


def _decode_sets(value: Any, where: str) -> list[list[RawRange]]:
    return [_decode_set(s, f"{where}[{i}]") for i, s in enumerate(_as_list(value, where))]


def _decode_set(value: Any, where: str) -> list[RawRange]:
    items = enumerate(_as_list(value, where))
    return [_decode_range(_object(r, f"{where}[{j}]"), f"{where}[{j}]") for j, r in items]


def _decode_range(obj: dict[str, Any], where: str) -> RawRange:
    subnet = _cidr(obj, "subnet", where)
    start = _ip(obj, "rangeStart", where)
    end = _ip(obj, "rangeEnd", where)
    return subnet, start, end, _ip(obj, "gateway", where)


def _route(value: Any, where: str) -> dict[str, Any]:
    obj = _object(value, where)
    dst = _cidr(obj, "dst", where)
    if dst is None:
        raise _invalid(f"{where}.dst: missing")
    route: dict[str, Any] = {"dst": cidr_text(dst)}
    gw = _ip(obj, "gw", where)
    if gw is not None:
        route["gw"] = format_ip(gw)
    for key in ROUTE_FIELDS_1_1:
        extra = _field(obj, key)
        if extra is None:
            continue
        if isinstance(extra, bool) or not isinstance(extra, int):
            raise _invalid(f"{where}.{key}: expected an integer")
        route[key] = extra
    return route


# --- JSON fields, as Go's encoding/json reads them -----------------------------------------


def _field(obj: dict[str, Any], key: str) -> Any:
    """``obj[key]``, else a key equal but for case (Go matches JSON keys case-insensitively)."""
    if key in obj:
        return obj[key]
    folded = key.lower()
    return next((v for k, v in obj.items() if k.lower() == folded), None)


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(f"{where}: expected an object")
    return value


def _as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(f"{where}: expected a list")
    return value


def _string(obj: dict[str, Any], key: str, where: str) -> str:
    value = _field(obj, key)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{where}.{key}: expected a string")
    return value or ""


def _ip(obj: dict[str, Any], key: str, where: str) -> IP | None:
    text = _string(obj, key, where)
    ip = parse_ip(text) if text else None
    if text and ip is None:
        raise _invalid(f"{where}.{key}: invalid IP address: {text}")
    return ip


def _cidr(obj: dict[str, Any], key: str, where: str) -> CIDR | None:
    if _field(obj, key) is None:
        return None
    text = _string(obj, key, where)
    cidr = parse_cidr(text)
    if cidr is None:
        raise _invalid(f"{where}.{key}: invalid CIDR address: {text}")
    return cidr


def _invalid(message: str) -> CNIError:
    return CNIError(spec.ERR_INVALID_NETWORK_CONFIG, message)
