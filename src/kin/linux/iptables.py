"""iptables through its own programs: restore a batch atomically, ensure a rule, list chains.

Debian's ``iptables`` is iptables-nft: the rules land in nftables tables ``ip nat`` and
``ip filter`` that ``nft list ruleset`` shows too. Like ``nft`` (see ``kin.linux.nft``) the
programs act in the calling process's network namespace. ``restore`` runs
``iptables-restore --noflush``: only the chains the input declares are flushed and
refilled, each table in one transaction; ``-w`` waits for the xtables lock that other
users of the node's iptables hold.
"""

from __future__ import annotations

import shutil
import subprocess

from kin.errors import CommandError, PrerequisiteError

__all__ = ["chains", "delete_rule", "ensure_rule", "restore"]

SBIN = "/usr/sbin:/usr/bin:/sbin:/bin"


def _binary(name: str) -> str:
    path = shutil.which(name, path=SBIN)
    if path is None:
        raise PrerequisiteError(f"{name} not found: install the Debian package iptables")
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


def ensure_rule(table: str, chain: str, rule: list[str], first: bool = True) -> bool:
    """Add ``rule`` to ``chain`` unless it is there (at the top, or the end if not
    ``first``); True if it was added."""
    iptables = _binary("iptables")
    if _run([iptables, "-w", "5", "-t", table, "-C", chain, *rule]).returncode == 0:
        return False
    argv = [iptables, "-w", "5", "-t", table, "-I" if first else "-A", chain, *rule]
    done = _run(argv)
    if done.returncode != 0:
        raise CommandError(argv, done.returncode, done.stderr.strip())
    return True


def chains(table: str) -> list[str]:
    """The user-defined chains of ``table`` (empty if the table does not exist)."""
    argv = [_binary("iptables-save"), "-t", table]
    done = _run(argv)
    if done.returncode != 0:
        raise CommandError(argv, done.returncode, done.stderr.strip())
    found = []
    for line in done.stdout.splitlines():
        if line.startswith(":"):
            name, policy = line[1:].split(" ", 2)[:2]
            if policy == "-":
                found.append(name)
    return found


def delete_rule(table: str, chain: str, rule: list[str]) -> None:
    """Delete every copy of ``rule`` from ``chain``; a rule (or table) not there is fine."""
    iptables = _binary("iptables")
    while _run([iptables, "-w", "5", "-t", table, "-D", chain, *rule]).returncode == 0:
        pass
