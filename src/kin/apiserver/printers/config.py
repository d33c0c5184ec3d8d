"""Configuration kinds: configmaps, secrets and serviceaccounts.

Each shows a count rather than contents: DATA is the number of keys (a configmap's
``data`` plus ``binaryData``; a secret's ``data`` plus any ``stringData`` keys, which
kube merges into ``data`` before printing), SECRETS the length of a serviceaccount's
``secrets`` list (0 for the token-less accounts of current Kubernetes).
"""

from __future__ import annotations

from datetime import datetime

from kin.apiserver.printers.base import (
    AGE,
    NAME,
    Column,
    Obj,
    Printer,
    Row,
    age,
    count,
    get,
    name,
    text,
)
from kin.apiserver.printers.descriptions import DOCS

__all__ = ["CONFIG_MAPS", "SECRETS", "SERVICE_ACCOUNTS"]


def _keys(obj: Obj, field: str) -> set[str]:
    value = get(obj, field)
    return set(value) if isinstance(value, dict) else set()


def _secret_row(secret: Obj, now: datetime) -> Row:
    keys = len(_keys(secret, "data") | _keys(secret, "stringData"))
    return {"cells": [name(secret), text(secret, "type"), keys, age(secret, now)]}


CONFIG_MAPS = Printer(
    (NAME, Column("Data", "string", DOCS["cm.data"]), AGE),
    lambda cm, now: {
        "cells": [name(cm), count(cm, "data") + count(cm, "binaryData"), age(cm, now)]
    },
)

SECRETS = Printer(
    (
        NAME,
        Column("Type", "string", DOCS["secret.type"]),
        Column("Data", "string", DOCS["secret.data"]),
        AGE,
    ),
    _secret_row,
)

SERVICE_ACCOUNTS = Printer(
    (NAME, Column("Secrets", "string", DOCS["sa.secrets"]), AGE),
    lambda sa, now: {"cells": [name(sa), count(sa, "secrets"), age(sa, now)]},
)
