"""Static pods: the Pod manifests in the kubelet's manifest directory, as the kubelet reads them.

Every regular file whose name does not start with a dot is one Pod (YAML or JSON, any
extension), read in name order; an invalid one is reported and skipped, and the others
still run. Each pod gets the kubelet's defaults: the name ``<name>-<node>``, namespace
``default`` when unset, ``spec.nodeName``, a UID hashed from the manifest, its path and
the node (so any change makes it a new pod), the ``kubernetes.io/config.*`` annotations
and a toleration of every NoExecute taint.

The directory is polled (twice a second by default): a listing of names, sizes and
modification times is cheap, and a change is picked up within the 1 s users expect.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from typing import Any

import yaml

from kin.kubelet import pods

__all__ = ["ManifestDirectory", "apply_static_defaults", "parse_manifest"]

MAX_MANIFEST = 10 * 1024 * 1024
Pod = dict[str, Any]


class ManifestDirectory:
    """The pods of one directory, re-read only when its listing changed."""

    def __init__(self, directory: str, node_name: str) -> None:
        self.directory = directory
        self.node_name = node_name
        self._signature: tuple[tuple[str, int, int, int], ...] | None = None
        self.pods: dict[str, Pod] = {}
        """Pods by UID, from the last read."""

    def changed(self) -> bool:
        signature = self._listing()
        if signature == self._signature:
            return False
        self._signature = signature
        return True

    def read(self) -> list[str]:
        """Read every manifest again; return one problem line per file that was skipped."""
        found: dict[str, Pod] = {}
        problems = []
        seen_names: set[str] = set()
        for name, *_ in self._signature or self._listing():
            path = os.path.join(self.directory, name)
            try:
                pod = parse_manifest(path, self.node_name)
            except Exception as exc:  # any shape of bad YAML: reported, and the rest runs
                problems.append(f"Could not process manifest file {path}: {exc}")
                continue
            full_name = pods.full_name(pod)
            if full_name in seen_names:
                problems.append(f"manifest file {path}: pod {full_name} is defined twice; ignored")
                continue
            seen_names.add(full_name)
            previous = self.pods.get(pods.uid(pod))
            if previous is not None:
                seen = previous["metadata"]["annotations"][pods.CONFIG_SEEN]
                pod["metadata"]["annotations"][pods.CONFIG_SEEN] = seen
            found[pods.uid(pod)] = pod
        self.pods = found
        return problems

    def _listing(self) -> tuple[tuple[str, int, int, int], ...]:
        try:
            names = sorted(os.listdir(self.directory))
        except (FileNotFoundError, NotADirectoryError):
            return ()
        entries = []
        for name in names:
            if name.startswith("."):
                continue
            try:
                st = os.stat(os.path.join(self.directory, name))
            except OSError:  # gone meanwhile, or a dangling or looping link
                continue
            if os.path.isdir(os.path.join(self.directory, name)):
                continue
            entries.append((name, st.st_size, st.st_mtime_ns, st.st_ino))
        return tuple(entries)


def parse_manifest(path: str, node_name: str) -> Pod:
    with open(path, "rb") as f:
        raw = f.read(MAX_MANIFEST + 1)
    if len(raw) > MAX_MANIFEST:
        raise ValueError(f"larger than {MAX_MANIFEST} bytes")
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError("expected one Pod object")
    if document.get("kind") != "Pod" or document.get("apiVersion") != "v1":
        raise ValueError(f"expected kind Pod in apiVersion v1, got {document.get('kind')!r}")
    problems = pods.validate(document)
    if problems:
        raise ValueError("invalid pod: " + "; ".join(problems))
    return apply_static_defaults(document, path, node_name)


def apply_static_defaults(document: Pod, path: str, node_name: str) -> Pod:
    pod = copy.deepcopy(document)
    pods.apply_defaults(pod)
    digest = hashlib.sha256()
    digest.update(json.dumps(document, sort_keys=True, default=str).encode())
    digest.update(f"host:{node_name}".encode())
    digest.update(f"file:{path}".encode())
    uid = digest.hexdigest()[:32]
    meta = pod["metadata"]
    meta["uid"] = uid
    meta["name"] = f"{meta['name']}-{node_name.lower()}"
    meta.setdefault("namespace", "default")
    annotations = meta.setdefault("annotations", {})
    annotations[pods.CONFIG_HASH] = uid
    annotations[pods.CONFIG_SOURCE] = "file"
    annotations.setdefault(pods.CONFIG_SEEN, pods.now_rfc3339())
    spec = pod["spec"]
    spec["nodeName"] = node_name
    tolerations = spec.setdefault("tolerations", [])
    everything = {"operator": "Exists", "effect": "NoExecute"}
    if everything not in tolerations:
        tolerations.append(everything)
    pod["status"] = {"phase": "Pending"}
    return pod
