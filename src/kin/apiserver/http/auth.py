"""Who is asking: a client certificate signed by the cluster CA, or a bearer token.

As kube-apiserver reads them: a certificate's CN is the user and each O a group
(``O=system:masters`` is the admin, ``CN=system:node:<name>, O=system:nodes`` a
kubelet); tokens come from a ``--token-auth-file`` CSV (``token,user,uid,"group1,group2"``).
Requests with neither are anonymous and get 401, but for the health endpoints, which
kube also serves to anyone. Every authenticated user may do everything: kin has no RBAC.
"""

from __future__ import annotations

import csv
import hmac
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kin.apiserver import errors

__all__ = ["ANONYMOUS_PATHS", "USER", "TokenFile", "User", "authenticate", "self_subject_review"]

ANONYMOUS_PATHS = ("/healthz", "/livez", "/readyz")


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""


class TokenFile:
    """Static bearer tokens, one per line: ``token,user,uid[,"group1,group2"]``."""

    def __init__(self, path: str = "") -> None:
        self.tokens: dict[str, User] = {}
        if path:
            with open(path, newline="") as f:
                for row in csv.reader(f):
                    self._add(row)

    def _add(self, row: list[str]) -> None:
        if len(row) < 3 or row[0].startswith("#"):
            return
        groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
        self.tokens[row[0]] = User(row[1], groups, row[2])

    def user(self, token: str) -> User | None:
        for known, user in self.tokens.items():
            if hmac.compare_digest(known, token):
                return user
        return None


def _from_certificate(request: web.Request) -> User | None:
    transport = request.transport
    cert: Any = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return None
    common, groups = "", []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                common = value
            elif key == "organizationName":
                groups.append(value)
    return User(common, tuple(groups)) if common else None


def authenticate(request: web.Request, tokens: TokenFile) -> User | None:
    """The requesting user, or None when anonymous."""
    user = _from_certificate(request)
    if user is not None:
        return user
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = tokens.user(header[len("Bearer ") :].strip())
        if user is None:
            raise errors.unauthorized()
        return user
    return None


USER: web.RequestKey[User] = web.RequestKey("user")


def self_subject_review(user: User) -> dict[str, Any]:
    """``kubectl auth whoami``: who the server thinks is asking."""
    groups = [*user.groups, "system:authenticated"]
    info: dict[str, Any] = {"username": user.name, "groups": groups}
    if user.uid:
        info["uid"] = user.uid
    return {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": info},
    }
