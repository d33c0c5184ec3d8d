"""iptables through its own programs: restore a batch atomically, ensure a rule, list chains.

The legacy (x_tables) variant, as an iptables wrapper in a kube-proxy or kind node image
picks one of the two: ``iptables-nft-restore`` looks every jump target up among all
chains by name, so a restore costs chains x jumps (11.6 s for kube-proxy's 1,000 services
of 10 endpoints), where ``iptables-legacy-restore`` takes 0.5 s. A kin node's own
``iptables``, ``iptables-save`` and ``iptables-restore`` (``/opt/kin/bin``, first on its
PATH) are the legacy ones too, so ``kin exec NODE -- iptables-save`` shows these rules.
Like ``nft`` (see ``kin.linux.nft``) the programs act in the calling process's network
namespace. ``restore`` runs ``iptables-restore --noflush``: only the chains the input
declares are flushed and refilled, each table in one commit; ``-w`` waits for the xtables
lock that other users of the node's iptables hold.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass

from kin.errors import CommandError, PrerequisiteError

__all__ = ["PROGRAMS", "Saved", "delete_rule", "restore", "save"]

SBIN = "/usr/sbin:/usr/bin:/sbin:/bin"
PROGRAMS = {"iptables": "iptables-legacy", "iptables-save": "iptables-legacy-save",
            "iptables-restore": "iptables-legacy-restore"}  # fmt: skip


def _binary(name: str) -> str:
    path = shutil.which(PROGRAMS[name], path=SBIN)
    if path is None:
        raise PrerequisiteError(f"{PROGRAMS[name]} not found: install the Debian package iptables")
    return path


def _run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)


def restore(text: str) -> None:
    """``iptables-restore --noflush`` of ``text``; CommandError naming the failing line."""
    argv = [_binary("iptables-restore"), "-w", "5", "--noflush"]
    done = _run(argv, text)
    if done.returncode != 0:
        raise CommandError(argv, done.returncode, done.stderr.strip() + _context(text, done.stderr))


def _context(text: str, stderr: str) -> str:
    """The line iptables-restore names in ``line N failed``, to read the error with."""
    words = stderr.split()
    for i, word in enumerate(words[:-1]):
        if word == "line" and words[i + 1].isdigit():
            lines = text.splitlines()
            number = int(words[i + 1])
            if 0 < number <= len(lines):
                return f"\nline {number}: {lines[number - 1]}"
    return ""


@dataclass(frozen=True)
class Saved:
    """A table as ``iptables-save`` prints it: user-defined chains and every ``-A`` line."""

    chains: tuple[str, ...]
    rules: frozenset[str]


def save(table: str) -> Saved:
    """``iptables-save -t table`` (empty if the table does not exist)."""
    argv = [_binary("iptables-save"), "-t", table]
    done = _run(argv)
    if done.returncode != 0:
        raise CommandError(argv, done.returncode, done.stderr.strip())
    chains, rules = [], set()
    for line in done.stdout.splitlines():
        if line.startswith(":"):
            name, policy = line[1:].split(" ", 2)[:2]
            if policy == "-":
                chains.append(name)
        elif line.startswith("-A "):
            rules.add(line)
    return Saved(tuple(chains), frozenset(rules))


def delete_rule(table: str, chain: str, rule: str) -> None:
    """Delete every copy of ``rule`` (as iptables-save words it) from ``chain``; a rule or
    table not there is fine."""
    argv = [_binary("iptables"), "-w", "5", "-t", table, "-D", chain, *shlex.split(rule)]
    while _run(argv).returncode == 0:
        pass
