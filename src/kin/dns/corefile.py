"""CoreDNS's Corefile, the part a cluster's DNS uses, read into ``DnsConfig``.

kubeadm gives CoreDNS its configuration in ConfigMap ``coredns`` (key ``Corefile``), and
people edit it: kin's DNS server reads the same file (``-conf``, as CoreDNS). One server
block (``.:53 { ... }``) with these plugins:

- ``kubernetes ZONE [ZONE...] { ttl N; pods insecure|disabled; fallthrough ... }``: the
  cluster zone (the first one; the reverse zones are always served) and its TTL;
- ``forward . ADDRESS[:PORT] ...``: the resolver for names outside the cluster (the first
  address; ``/etc/resolv.conf`` means its first nameserver). kin's own Corefile has none,
  so outside names are NXDOMAIN: nothing leaves the cluster unless someone adds it;
- ``health [:PORT]`` and ``ready [:PORT]``: the probe endpoints (8080 and 8181);
- ``errors``, ``log``, ``cache``, ``loop``, ``reload``, ``loadbalance``, ``prometheus``:
  accepted, with nothing for them to change here.

Anything else is an error naming the line, as CoreDNS refuses a plugin it does not have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kin.errors import ConfigError

__all__ = ["DnsConfig", "parse_corefile", "read_corefile"]

ACCEPTED = {"errors", "log", "cache", "loop", "reload", "loadbalance", "prometheus"}


@dataclass
class DnsConfig:
    zone: str = "cluster.local"
    ttl: int = 30
    port: int = 53
    upstream: str = ""  # HOST[:PORT], empty: outside names are NXDOMAIN
    health_port: int = 8080
    ready_port: int = 8181
    pods: bool = True
    zones: list[str] = field(default_factory=list)


@dataclass
class _Directive:
    name: str
    args: list[str]
    line: int
    block: list[_Directive] = field(default_factory=list)


def read_corefile(path: str) -> DnsConfig:
    try:
        with open(path) as f:
            return parse_corefile(f.read(), path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def parse_corefile(text: str, where: str = "Corefile") -> DnsConfig:
    directives = _parse_block(_tokens(text, where), where, top=True)
    if len(directives) != 1:
        raise ConfigError(f"{where}: one server block is served, not {len(directives)}")
    server = directives[0]
    config = DnsConfig()
    config.port = _server_port(server, where)
    for plugin in server.block:
        _apply(config, plugin, where)
    return config


def _tokens(text: str, where: str) -> list[tuple[str, int]]:
    """Words and braces with their line numbers; comments dropped."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0]
        for word in re.findall(r"[{}]|[^\s{}]+", line):
            found.append((word, number))
    return found


def _parse_block(tokens: list[tuple[str, int]], where: str, top: bool = False) -> list[_Directive]:
    directives: list[_Directive] = []
    while tokens:
        word, line = tokens.pop(0)
        if word == "}":
            if top:
                raise ConfigError(f"{where}:{line}: a '}}' closes nothing")
            return directives
        if word == "{":
            raise ConfigError(f"{where}:{line}: a '{{' without a name before it")
        directive = _Directive(word, [], line)
        while tokens and tokens[0][1] == line and tokens[0][0] not in "{}":
            directive.args.append(tokens.pop(0)[0])
        if tokens and tokens[0][0] == "{":
            tokens.pop(0)
            directive.block = _parse_block(tokens, where)
        directives.append(directive)
    if not top:
        raise ConfigError(f"{where}: a '{{' is never closed")
    return directives


def _server_port(server: _Directive, where: str) -> int:
    match = re.fullmatch(r"(?:dns://)?\.(?::(\d+))?", server.name)
    if match is None:
        raise ConfigError(f"{where}:{server.line}: the server block must be '.:PORT', "
                          f"not {server.name!r}")  # fmt: skip
    return int(match.group(1) or 53)


def _apply(config: DnsConfig, plugin: _Directive, where: str) -> None:
    at = f"{where}:{plugin.line}"
    if plugin.name == "kubernetes":
        if not plugin.args:
            raise ConfigError(f"{at}: kubernetes needs a zone")
        config.zones = [z.strip(".").lower() for z in plugin.args]
        config.zone = next((z for z in config.zones if not z.endswith(".arpa")), config.zone)
        for option in plugin.block:
            if option.name == "ttl" and len(option.args) == 1 and option.args[0].isdigit():
                config.ttl = int(option.args[0])
            elif option.name == "pods" and option.args in (["insecure"], ["disabled"]):
                config.pods = option.args == ["insecure"]
            elif option.name not in ("fallthrough", "pods", "ttl"):
                raise ConfigError(f"{where}:{option.line}: kubernetes: unknown option "
                                  f"{option.name!r}")  # fmt: skip
            elif option.name != "fallthrough":
                raise ConfigError(f"{where}:{option.line}: kubernetes: bad {option.name} "
                                  f"{' '.join(option.args)!r}")  # fmt: skip
    elif plugin.name == "forward":
        if len(plugin.args) < 2 or plugin.args[0] != ".":
            raise ConfigError(f"{at}: forward needs '. ADDRESS'")
        config.upstream = plugin.args[1]
    elif plugin.name in ("health", "ready"):
        port = _listen_port(plugin, at)
        if port:
            setattr(config, f"{plugin.name}_port", port)
    elif plugin.name not in ACCEPTED:
        raise ConfigError(f"{at}: unknown plugin {plugin.name!r}")


def _listen_port(plugin: _Directive, at: str) -> int:
    if not plugin.args:
        return 0
    match = re.fullmatch(r"[\w.]*:(\d+)", plugin.args[0])
    if match is None:
        raise ConfigError(f"{at}: {plugin.name} takes [HOST]:PORT, not {plugin.args[0]!r}")
    return int(match.group(1))
