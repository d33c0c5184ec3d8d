"""PATCH bodies by media type, turned into a change function for the registry's
read-modify-write loop (so a conflicting concurrent write simply re-applies the patch).

* ``application/merge-patch+json``: RFC 7386 (kubectl label, annotate, scale).
* ``application/strategic-merge-patch+json``: the built-in types' merge keys and
  directives (kubectl apply, taint, cordon, patch, set image).
* ``application/json-patch+json``: RFC 6902.
* ``application/apply-patch+yaml``: server-side apply, with managed fields and conflicts;
  it also creates the object when it does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kin.apiserver import errors
from kin.apiserver.patch import json_patch, merge_patch, strategic_merge_patch
from kin.apiserver.patch.apply import apply as server_side_apply
from kin.apiserver.resources import Resource
from kin.apiserver.schema import catalog

__all__ = ["APPLY", "patcher"]

APPLY = "application/apply-patch+yaml"

Obj = dict[str, Any]


def patcher(
    media: str, body: Any, res: Resource, manager: str, force: bool, sub: str = ""
) -> Callable[[Obj | None], Obj]:
    typedef = catalog.for_gvk(res.group, res.version, res.kind)
    if media == "application/merge-patch+json":
        return lambda live: merge_patch(_live(live), body)
    if media == "application/strategic-merge-patch+json":
        return lambda live: strategic_merge_patch(_live(live), body, typedef, catalog.lookup)
    if media == "application/json-patch+json":
        return lambda live: json_patch(_live(live), body)
    if media == APPLY:
        if not isinstance(body, dict):
            raise errors.bad_request("the applied configuration must be an object")
        return lambda live: server_side_apply(
            live, body, manager, force, typedef, catalog.lookup, subresource=sub
        )
    raise errors.unsupported_media_type(media)


def _live(live: Obj | None) -> Obj:
    if live is None:
        raise errors.APIError(404, "NotFound", "the object to patch does not exist")
    return live
