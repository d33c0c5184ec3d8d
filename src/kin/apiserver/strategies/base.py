"""What a kind does on create, update and status update: the REST strategy of kube-apiserver.

The generic registry calls these hooks; a kind overrides the ones it needs. The defaults
implement the rules most kinds share: names are DNS-1123 subdomains, ``status`` belongs
to the status subresource (a spec write keeps the stored status, a status write keeps the
stored spec), and ``metadata.generation`` counts spec changes.
"""

from __future__ import annotations

import copy
from typing import Any

from kin.apiserver.objectmeta import DNS1123_SUBDOMAIN, meta, metadata_causes, name_causes

__all__ = ["Strategy"]

Obj = dict[str, Any]
Causes = list[dict[str, str]]


class Strategy:
    name_rule = DNS1123_SUBDOMAIN
    has_status = True
    tracks_generation = True
    allow_create_on_update = False
    allow_unconditional_update = True

    def defaults(self, obj: Obj) -> None:
        """Fill in defaulted fields, as the kind's SetDefaults functions do."""

    def validate(self, obj: Obj) -> Causes:
        """Validation causes for a new object (empty when valid)."""
        name = str(meta(obj).get("name", ""))
        return name_causes(name, self.name_rule) + metadata_causes(obj)

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        return self.validate(new)

    def prepare_create(self, obj: Obj) -> None:
        """Reset what a client may not choose at create time."""
        if self.has_status:
            obj["status"] = self.initial_status(obj)
        if self.tracks_generation:
            meta(obj)["generation"] = 1

    def initial_status(self, obj: Obj) -> Obj:
        return {}

    def prepare_update(self, new: Obj, old: Obj) -> None:
        """A write to the main resource: keep the stored status, count spec changes."""
        if self.has_status and "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        elif self.has_status:
            new.pop("status", None)
        if self.tracks_generation:
            generation = int(meta(old).get("generation", 1))
            changed = _spec(new) != _spec(old)
            meta(new)["generation"] = generation + 1 if changed else generation

    def prepare_status_update(self, new: Obj, old: Obj) -> None:
        """A write to the status subresource: only status (and not metadata) may change."""
        status = new.get("status")
        new.clear()
        new.update(copy.deepcopy(old))
        if status is not None:
            new["status"] = status


def _spec(obj: Obj) -> object:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}
