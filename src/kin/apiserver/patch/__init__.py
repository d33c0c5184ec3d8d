"""Every way a client changes part of an object: the three PATCH content types and apply.

* ``merge_patch``: ``application/merge-patch+json`` (RFC 7386; kubectl label, annotate, scale);
* ``json_patch``: ``application/json-patch+json`` (RFC 6902; ``kubectl patch --type=json``);
* ``strategic_merge_patch``: ``application/strategic-merge-patch+json`` (client-side apply,
  ``kubectl patch``, taint, cordon), driven by the merge keys and strategies of the TypeDefs;
* ``apply``: ``application/apply-patch+yaml`` (``kubectl apply --server-side``), with
  managedFields and conflicts; ``update_managed_fields`` records every other write's manager.

All are pure functions over decoded JSON: they never modify their inputs and raise
``PatchError`` (an ``APIError`` carrying the Status code and message Kubernetes uses).
"""

from kin.apiserver.patch.apply import apply, update_managed_fields
from kin.apiserver.patch.jsonpatch import json_patch
from kin.apiserver.patch.merge import PatchError, merge_patch
from kin.apiserver.patch.strategic import Lookup, strategic_merge_patch

__all__ = [
    "Lookup",
    "PatchError",
    "apply",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
    "update_managed_fields",
]
