"""Every way a client changes part of an object: the three PATCH content types and apply.

* ``merge_patch``: ``application/merge-patch+json`` (RFC 7386; kubectl label, annotate, scale);
* ``json_patch``: ``application/json-patch+json`` (RFC 6902; ``kubectl patch --type=json``);

All are pure functions over decoded JSON: they never modify their inputs and raise
``PatchError`` (an ``APIError`` carrying the Status code and message Kubernetes uses).
"""

from kin.apiserver.patch.jsonpatch import json_patch
from kin.apiserver.patch.merge import PatchError, merge_patch

__all__ = ["PatchError", "json_patch", "merge_patch"]
