"""The user's kubeconfig, as kind keeps it: a cluster's entries merged in on create and
``export kubeconfig``, and taken out on delete.

The entries are the control plane's ``admin.conf`` with its cluster, user and context all
renamed ``kin-<name>`` and (unless ``internal``) the server set to the published API
port. Which file: ``--kubeconfig`` alone when given; else ``$KUBECONFIG``'s list, merged
into the first file that exists (or the last when none does) and removed from every one;
else ``~/.kube/config``. A same-named entry is replaced, others are kept, and
``current-context`` is set; on removal it is cleared if it named the cluster. The file is
locked as client-go locks it (``<file>.lock`` created exclusively, a few short retries),
missing directories are made, and the file is written 0600 in one rename, through a
symlink to where it points and keeping its owner (kin runs as root; the file may be a
user's).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from kin.cluster.controlplane import admin_kubeconfig
from kin.cluster.plan import ClusterPlan
from kin.cluster.state import node_dir
from kin.errors import KinError
from kin.linux.files import write_atomic

__all__ = ["context_name", "export_kubeconfig", "merge", "remove_kubeconfig", "unmerge"]

Obj = dict[str, Any]
LOCK_RETRIES = (0.0, 0.001, 0.05, 0.1)
SECTIONS = ("clusters", "users", "contexts")


def context_name(cluster: str) -> str:
    return f"kin-{cluster}"


def export_kubeconfig(
    plan: ClusterPlan, explicit: str = "", internal: bool = False,
    environ: Mapping[str, str] | None = None,
) -> str:  # fmt: skip
    """Merge the cluster's entries into the user's kubeconfig; the path written."""
    root = os.path.join(node_dir(plan.name, plan.control_plane.name), "fs")
    entries = _renamed(yaml.safe_load(admin_kubeconfig(plan, root, internal)), plan.name)
    path = os.path.realpath(_write_target(explicit, os.environ if environ is None else environ))
    with _locked(path):
        _save(path, merge(_load(path), entries))
    return path


def remove_kubeconfig(
    cluster: str, explicit: str = "", environ: Mapping[str, str] | None = None
) -> None:
    """Take the cluster's entries out of every kubeconfig file it may be in."""
    for target in _all_targets(explicit, os.environ if environ is None else environ):
        path = os.path.realpath(target)
        if not os.path.exists(path):
            continue
        with _locked(path):
            document = _load(path)
            changed = unmerge(document, context_name(cluster))
            if changed != document:
                _save(path, changed)


def merge(document: Obj, entries: Obj) -> Obj:
    """``document`` with ``entries``' clusters, users and contexts replacing same-named
    ones (or appended) and its current context."""
    merged = dict(document)
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    merged.setdefault("preferences", {})
    for section in SECTIONS:
        incoming = entries.get(section) or []
        names = {entry["name"] for entry in incoming}
        kept = [e for e in merged.get(section) or [] if e.get("name") not in names]
        merged[section] = kept + incoming
    merged["current-context"] = entries["current-context"]
    return merged


def unmerge(document: Obj, name: str) -> Obj:
    """``document`` without the entries named ``name``."""
    changed = dict(document)
    for section in SECTIONS:
        if section in changed:
            changed[section] = [e for e in changed[section] or [] if e.get("name") != name]
    if changed.get("current-context") == name:
        changed["current-context"] = ""
    return changed


def _renamed(admin: Obj, cluster: str) -> Obj:
    name = context_name(cluster)
    if any(len(admin.get(section) or []) != 1 for section in SECTIONS):
        raise KinError("the control plane's admin.conf must hold one cluster, user and context")
    return {
        "clusters": [{"name": name, "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": name, "user": admin["users"][0]["user"]}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


def _write_target(explicit: str, environ: Mapping[str, str]) -> str:
    if explicit:
        return explicit
    paths = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if paths:
        return next((p for p in paths if os.path.exists(p)), paths[-1])
    return os.path.join(os.path.expanduser("~"), ".kube", "config")


def _all_targets(explicit: str, environ: Mapping[str, str]) -> list[str]:
    if explicit:
        return [explicit]
    paths = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return paths or [os.path.join(os.path.expanduser("~"), ".kube", "config")]


def _load(path: str) -> Obj:
    try:
        with open(path) as f:
            document = yaml.safe_load(f)
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise KinError(f"failed to read kubeconfig {path}: {exc}") from exc
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise KinError(f"kubeconfig {path} is not a mapping")
    return document


def _save(path: str, document: Obj) -> None:
    try:
        owner = os.stat(path) if os.path.exists(path) else None
        write_atomic(path, yaml.safe_dump(document, sort_keys=False), mode=0o600)
        if owner is not None:
            os.chown(path, owner.st_uid, owner.st_gid)
    except OSError as exc:
        raise KinError(f"failed to write kubeconfig {path}: {exc.strerror}") from exc


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """client-go's lock: ``<path>.lock`` created exclusively, removed afterwards."""
    directory = os.path.dirname(os.path.abspath(path))
    lock = f"{path}.lock"
    try:
        os.makedirs(directory, exist_ok=True)
        for delay in LOCK_RETRIES:
            time.sleep(delay)
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                break
            except FileExistsError:
                continue
        else:
            raise KinError(f"failed to lock kubeconfig {path}: {lock} exists (another kin "
                           "or kubectl is writing it; remove the file if nothing is)")  # fmt: skip
    except OSError as exc:
        raise KinError(f"failed to lock kubeconfig {path}: {exc.strerror}") from exc
    os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
