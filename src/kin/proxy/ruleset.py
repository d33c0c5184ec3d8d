"""An nftables table as data, and the one transaction that turns one version into the next.

kube-proxy's nftables mode owns one table. Rewriting it whole on every sync would be
simple but slow (thousands of chains) and would forget what the dynamic sets learnt
(session affinity). So a ``Ruleset`` is the desired content — chains with their rules,
set and map declarations, and the elements of the maps kube-proxy fills — and
``transaction`` writes the ``nft -f`` script that changes the previous content into it:
new chains and sets added, changed chains flushed and refilled, map elements added and
deleted one by one, chains and sets no longer wanted deleted last (once nothing refers to
them). The first sync, or one after a failure, rebuilds the table from nothing, still in
one transaction, so traffic never sees a half-written table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

__all__ = ["Ruleset", "transaction"]

ELEMENTS_PER_LINE = 500


@dataclass(frozen=True)
class Ruleset:
    family: str
    table: str
    comment: str = ""
    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Every chain (regular and base) and its rules, in order."""
    hooks: dict[str, str] = field(default_factory=dict)
    """Base chains: ``type nat hook output priority -100``."""
    declarations: dict[str, str] = field(default_factory=dict)
    """Sets and maps: name -> ``set { type ipv4_addr ; }`` or ``map { ... }``."""
    elements: dict[str, dict[str, str]] = field(default_factory=dict)
    """Managed sets and maps: name -> key -> value (empty for a set's element)."""

    @property
    def prefix(self) -> str:
        return f"{self.family} {self.table}"


def transaction(previous: Ruleset | None, desired: Ruleset) -> str:
    """The nft script that makes the table ``desired``, from ``previous`` (None: unknown)."""
    if previous is None or _redeclared(previous, desired):
        return "\n".join(_rebuild(desired)) + "\n"
    return "\n".join(_update(previous, desired)) + "\n"


def _redeclared(previous: Ruleset, desired: Ruleset) -> bool:
    """A set, map or base chain whose definition changed: nft cannot alter one in place."""
    for name, body in desired.declarations.items():
        if previous.declarations.get(name, body) != body:
            return True
    return any(previous.hooks.get(n, h) != h for n, h in desired.hooks.items())


def _rebuild(rs: Ruleset) -> Iterator[str]:
    yield _table(rs)
    yield f"delete table {rs.prefix}"
    yield _table(rs)
    yield from _declare(rs, rs.chains, rs.declarations)
    for name, rules in rs.chains.items():
        yield from _rules(rs, name, rules)
    for name, elements in rs.elements.items():
        yield from _elements(rs, "add", name, elements)


def _update(old: Ruleset, new: Ruleset) -> Iterator[str]:
    yield _table(new)
    added = {n: r for n, r in new.chains.items() if n not in old.chains}
    changed = {n: r for n, r in new.chains.items() if n in old.chains and old.chains[n] != r}
    declared = {n: d for n, d in new.declarations.items() if n not in old.declarations}
    yield from _declare(new, added, declared)
    for name in changed:
        yield f"flush chain {new.prefix} {name}"
    for name, elements in old.elements.items():
        wanted = new.elements.get(name, {})
        gone = {k: v for k, v in elements.items() if wanted.get(k) != v}
        yield from _elements(new, "delete", name, gone, with_values=False)
    for name, rules in {**changed, **added}.items():
        yield from _rules(new, name, rules)
    for name, elements in new.elements.items():
        had = old.elements.get(name, {})
        fresh = {k: v for k, v in elements.items() if had.get(k) != v}
        yield from _elements(new, "add", name, fresh)
    for name in old.chains.keys() - new.chains.keys():
        yield f"delete chain {new.prefix} {name}"
    for name in old.declarations.keys() - new.declarations.keys():
        kind = old.declarations[name].split(" ", 1)[0]
        yield f"delete {kind} {new.prefix} {name}"


def _table(rs: Ruleset) -> str:
    comment = f' {{ comment "{rs.comment}" ; }}' if rs.comment else ""
    return f"add table {rs.prefix}{comment}"


def _declare(
    rs: Ruleset, chains: Mapping[str, object], declarations: Mapping[str, str]
) -> Iterator[str]:
    for name in chains:
        hook = rs.hooks.get(name)
        body = f" {{ {hook} ; }}" if hook else ""
        yield f"add chain {rs.prefix} {name}{body}"
    for name, declaration in declarations.items():
        kind, body = declaration.split(" ", 1)
        yield f"add {kind} {rs.prefix} {name} {body}"


def _rules(rs: Ruleset, chain: str, rules: tuple[str, ...]) -> Iterator[str]:
    for rule in rules:
        yield f"add rule {rs.prefix} {chain} {rule}"


def _elements(
    rs: Ruleset, verb: str, name: str, elements: Mapping[str, str], with_values: bool = True
) -> Iterator[str]:
    items = [f"{k} : {v}" if v and with_values else k for k, v in elements.items()]
    for start in range(0, len(items), ELEMENTS_PER_LINE):
        chunk = ", ".join(items[start : start + ELEMENTS_PER_LINE])
        yield f"{verb} element {rs.prefix} {name} {{ {chunk} }}"
