"""The generic REST registry: get, list, watch, create, update and delete for every resource.

It sits between the HTTP layer and storage and applies what every kind shares: object
metadata (uid, names, timestamps, generation), the kind's strategy (defaults, validation,
status ownership), optimistic concurrency on ``metadata.resourceVersion``, dry runs,
managed fields, namespace lifecycle checks, and selector filtering. Kind-specific verbs
(scale, binding, finalize ...) live in ``subresources``; deletion in ``deletion``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
from collections.abc import AsyncGenerator
from typing import Any

from kin.apiserver import errors, hooks
from kin.apiserver.convert import converts, from_storage, to_storage
from kin.apiserver.deletion import Deleter
from kin.apiserver.objectmeta import finalizer_causes, meta, set_create_metadata
from kin.apiserver.resources import Resource, find
from kin.apiserver.storage.base import ADDED, Storage, Texts
from kin.apiserver.strategies import strategy_for

__all__ = ["ListOptions", "Registry", "WriteOptions"]

Obj = dict[str, Any]
Causes = list[dict[str, str]]
NAMESPACES = find("", "v1", "namespaces")
CONFLICT_RETRIES = 1000
"""Read-modify-writes retry lost races as kube's GuaranteedUpdate does (it never gives
up); the bound only stops a livelock."""


class WriteOptions:
    """What a write request asked for besides its body."""

    def __init__(
        self, dry_run: bool = False, manager: str = "", validation: str = "Ignore"
    ) -> None:
        self.dry_run = dry_run
        self.manager = manager
        self.validation = validation  # Ignore | Warn | Strict (fieldValidation)
        self.applying = False  # server-side apply records its own managedFields
        self.warnings: list[str] = []


class ListOptions:
    def __init__(
        self,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
    ) -> None:
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.limit = limit
        self.continue_token = continue_token
        self.resource_version = resource_version


class Registry:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.write_lock = asyncio.Lock()  # Service allocations: read the taken, decide, write
        self.hooks = hooks.Hooks(self)
        self.deleter = Deleter(self)
        # NamespaceLifecycle's view: namespace -> terminating. Every namespace write goes
        # through this registry, which keeps it exact; a create then needs no read.
        self._namespaces: dict[str, bool] = {}
        self._namespace_writes = 0
        services = find("", "v1", "services")
        assert services is not None
        self.services = services

    # -- reads ------------------------------------------------------------------------------

    async def get(self, res: Resource, namespace: str, name: str) -> Obj:
        try:
            stored = await self.storage.get(res.key(namespace, name))
        except errors.APIError as exc:
            raise self._named(exc, res, name) from None
        return from_storage(res, stored)

    async def list(
        self, res: Resource, namespace: str, opts: ListOptions
    ) -> tuple[list[Obj], int, str]:
        """Matching objects, the list's revision, and a continue token when ``limit`` cut it.

        Pages are filtered after reading, so a page is full even when most objects do not
        match; every page of one listing reads the store at the first page's revision.
        """
        match = hooks.matcher(res, opts.label_selector, opts.field_selector)
        revision, after = decode_continue(opts.continue_token)
        items, rev, _ = await self.storage.list(res.prefix(namespace), 0, after, revision)
        chosen = [from_storage(res, o) for o in items if match(o)]
        if opts.limit and len(chosen) > opts.limit:
            chosen = chosen[: opts.limit]
            return chosen, rev, encode_continue(rev, res, chosen[-1])
        return chosen, rev, ""

    async def list_json(
        self, res: Resource, namespace: str, opts: ListOptions
    ) -> tuple[Texts, int, str] | None:
        """``list`` as the objects' JSON texts, straight from storage, when nothing needs
        decoding (no selectors, stored as served); None otherwise."""
        if opts.label_selector or opts.field_selector or converts(res):
            return None
        revision, after = decode_continue(opts.continue_token)
        prefix = res.prefix(namespace)
        texts, rev, last = await self.storage.list_json(prefix, opts.limit, after, revision)
        return texts, rev, continue_token(rev, last) if last else ""

    async def watch(
        self, res: Resource, namespace: str, opts: ListOptions
    ) -> AsyncGenerator[tuple[str, Obj], None]:
        """Events after ``resourceVersion``; with none or ``0``, the current objects first.

        With selectors, an object that starts matching is ADDED and one that stops is
        DELETED (see ``hooks.Selection``), which needs what matched at the start: the
        listing at ``resourceVersion`` (410 when that is compacted)."""
        match = hooks.matcher(res, opts.label_selector, opts.field_selector)
        selection = hooks.Selection(match, bool(opts.label_selector or opts.field_selector))
        prefix, after = res.prefix(namespace), _revision(opts.resource_version)
        if after == 0:
            items, after, _ = await self.storage.list(prefix)
            for obj in selection.start(items):
                yield ADDED, from_storage(res, obj)
        elif selection.tracking:
            at = min(after, await self.storage.revision())
            selection.start((await self.storage.list(prefix, revision=at))[0])
        async for event in self.storage.watch(prefix, after):
            seen = selection.see(event)
            if seen is not None:
                yield seen[0], from_storage(res, seen[1])

    # -- writes -----------------------------------------------------------------------------

    async def create(self, res: Resource, namespace: str, body: Obj, opts: WriteOptions) -> Obj:
        obj = self._own(res, body, namespace)
        stale = _set_on_create(obj)
        self.hooks.check_fields(res, obj, opts)
        strategy = strategy_for(res.group, res.plural)
        set_create_metadata(obj, namespace if res.namespaced else "")
        strategy.defaults(obj)
        strategy.prepare_create(obj)
        self._validate(res, obj, strategy.validate(obj))
        await self._check_namespace(res, namespace, str(meta(obj).get("name", "")))
        obj = self.hooks.manage(res, obj, None, opts)
        async with self._lock(res):
            await self.hooks.before_write(res, obj, None)
            if opts.dry_run:
                return from_storage(res, obj)
            if stale:  # etcd3 store's check, which a dry run never reaches
                raise errors.APIError(
                    500, "", "resourceVersion should not be set on objects to be created"
                )
            stored = await self._store_new(res, namespace, obj)
        return from_storage(res, stored)

    async def _store_new(self, res: Resource, namespace: str, obj: Obj) -> Obj:
        try:
            stored = await self.storage.create(
                res.key(namespace, meta(obj)["name"]), to_storage(res, obj)
            )
        except errors.APIError as exc:
            raise self._named(exc, res, str(meta(obj)["name"])) from None
        self._note_namespace(res, stored)
        return stored

    async def update(
        self, res: Resource, namespace: str, name: str, body: Obj, opts: WriteOptions, sub: str = ""
    ) -> Obj:
        """PUT: replace the object (or its status), honouring ``metadata.resourceVersion``."""
        new = self._own(res, body, namespace)
        if meta(new).get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta(new).get('name')}) does not match "
                f"the name on the URL ({name})"
            )
        old = await self.get(res, namespace, name)
        expected = _revision(str(meta(new).get("resourceVersion", "")))
        return await self._replace(res, namespace, old, new, opts, _Mode(sub), expected)

    async def replace_with(
        self,
        res: Resource,
        namespace: str,
        name: str,
        change: Any,
        opts: WriteOptions,
        sub: str = "",
        *,
        allow_deletion_fields: bool = False,
        status_too: bool = False,
    ) -> Obj:
        """Read-modify-write with ``change(old) -> new``, retried on conflicts (PATCH, and the
        server's own writes: ``allow_deletion_fields`` and ``status_too`` are for those).

        A ``metadata.resourceVersion`` that the change sets is a precondition, as in a
        PATCH body: another one than the stored object's is a 409, never retried."""
        mode = _Mode(sub, allow_deletion_fields, status_too)
        for attempt in range(CONFLICT_RETRIES):
            old = await self.get(res, namespace, name)
            new = change(copy.deepcopy(old))
            _check_name(new, name, namespace)
            current = str(meta(old)["resourceVersion"])
            wanted = str(meta(new).get("resourceVersion") or current)
            if wanted != current:
                raise errors.conflict(res.plural, name, res.group)
            try:
                expected = _revision(current)
                return await self._replace(res, namespace, old, new, opts, mode, expected)
            except errors.APIError as exc:
                if exc.code != 409 or attempt == CONFLICT_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def remove(self, res: Resource, namespace: str, name: str) -> Obj:
        """Delete from storage now (the deleter decides when); return the last state."""
        try:
            gone = await self.storage.delete(res.key(namespace, name))
        except errors.APIError as exc:
            raise self._named(exc, res, name) from None
        if res is NAMESPACES:
            self._namespace_writes += 1
            self._namespaces.pop(name, None)
        return from_storage(res, gone)

    async def _replace(
        self,
        res: Resource,
        namespace: str,
        old: Obj,
        new: Obj,
        opts: WriteOptions,
        mode: _Mode,
        expected: int,
    ) -> Obj:
        strategy = strategy_for(res.group, res.plural)
        self.hooks.check_fields(res, new, opts)
        self._keep_identity(new, old, mode.allow_deletion_fields)
        if mode.sub == "status":
            strategy.prepare_status_update(new, old)
        elif not mode.status_too:
            strategy.defaults(new)
            strategy.prepare_update(new, old)
        # the server's own writes (binding, namespace termination) may change what no
        # client update may
        causes = strategy.validate(new) if mode.status_too else strategy.validate_update(new, old)
        if not mode.allow_deletion_fields:
            causes += finalizer_causes(new, old)
        self._validate(res, new, causes)
        new = self.hooks.manage(res, new, old, opts, mode.sub)
        if opts.dry_run:
            return from_storage(res, new)
        if await self.hooks.finish_deletion_if_done(res, namespace, new):
            return from_storage(res, new)
        async with self._lock(res):
            await self.hooks.before_write(res, new, old)
            if _unchanged(new, old):  # as etcd3's GuaranteedUpdate: no write, no event
                if expected and expected != _revision(str(meta(old)["resourceVersion"])):
                    raise errors.conflict(res.plural, str(meta(old)["name"]), res.group)
                return old
            stored = await self._store(res, namespace, new, expected)
        return from_storage(res, stored)

    async def delete(
        self, res: Resource, namespace: str, name: str, options: Obj, opts: WriteOptions
    ) -> Obj:
        return await self.deleter.delete(res, namespace, name, options, opts)

    async def _store(self, res: Resource, namespace: str, obj: Obj, expected: int) -> Obj:
        name = str(meta(obj)["name"])
        try:
            stored = await self.storage.update(
                res.key(namespace, name), to_storage(res, obj), expected or None
            )
        except errors.APIError as exc:
            raise self._named(exc, res, name) from None
        self._note_namespace(res, stored)
        return stored

    # -- helpers ----------------------------------------------------------------------------

    def _own(self, res: Resource, body: Obj, namespace: str) -> Obj:
        """``body`` with kind/apiVersion checked and the request's namespace applied.

        Create and update take ownership of the body they are given (a request's, freshly
        decoded): defaults and strategies change it in place, as a deep copy of every
        body cost a tenth of a create."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = dict(body)
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind not in (None, "", res.kind) or api_version not in (None, "", res.api_version):
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match "
                f"the expected API version ({res.api_version})"
                if api_version != res.api_version
                else f"the kind in the data ({kind}) does not match the expected kind ({res.kind})"
            )
        obj["kind"], obj["apiVersion"] = res.kind, res.api_version
        body_ns = meta(obj).get("namespace")
        if res.namespaced and body_ns and body_ns != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match "
                "the namespace sent on the request"
            )
        return obj

    def _keep_identity(self, new: Obj, old: Obj, deletion_too: bool = False) -> None:
        """What no client update may change: name, namespace, uid, creation time, and the
        deletion fields (only the server's deleter sets those)."""
        keys = ["name", "namespace", "uid", "creationTimestamp"]
        if not deletion_too:
            keys += ["deletionTimestamp", "deletionGracePeriodSeconds"]
        for key in keys:
            if key in meta(old):
                meta(new)[key] = meta(old)[key]
            else:
                meta(new).pop(key, None)

    def _validate(self, res: Resource, obj: Obj, causes: Causes) -> None:
        if causes:
            raise errors.invalid(res.kind, str(meta(obj).get("name", "")), causes, res.group)

    async def _check_namespace(self, res: Resource, namespace: str, name: str) -> None:
        """404 for a missing namespace, 403 for a Terminating one (NamespaceLifecycle)."""
        if not res.namespaced or NAMESPACES is None:
            return
        terminating = self._namespaces.get(namespace)
        if terminating is None:
            writes = self._namespace_writes
            ns = await self.get(NAMESPACES, "", namespace)
            terminating = bool(meta(ns).get("deletionTimestamp"))
            if writes == self._namespace_writes:  # no namespace write raced the read
                self._namespaces[namespace] = terminating
        if terminating:
            raise _terminating(res, namespace, name)

    def _lock(self, res: Resource) -> contextlib.AbstractAsyncContextManager[object]:
        """The write lock for writes that allocate (read the taken, decide, write); others
        go straight to storage, so concurrent writes reach it together (one commit)."""
        return self.write_lock if self.hooks.allocates(res) else contextlib.nullcontext()

    def _note_namespace(self, res: Resource, stored: Obj) -> None:
        if res is NAMESPACES:
            self._namespace_writes += 1
            name = str(meta(stored)["name"])
            self._namespaces[name] = bool(meta(stored).get("deletionTimestamp"))

    def _named(self, exc: errors.APIError, res: Resource, name: str) -> errors.APIError:
        """Storage speaks in keys; the API names the resource (``pods "web" not found``)."""
        if exc.code == 404:
            return errors.not_found(res.plural, name, res.group)
        if exc.reason == "AlreadyExists":
            return errors.already_exists(res.plural, name, res.group)
        if exc.code == 409:
            return errors.conflict(res.plural, name, res.group)
        return exc


class _Mode:
    """How a replace treats the stored object: ``sub`` is "" or "status"."""

    def __init__(
        self, sub: str = "", allow_deletion_fields: bool = False, status_too: bool = False
    ) -> None:
        self.sub = sub
        self.allow_deletion_fields = allow_deletion_fields
        self.status_too = status_too


def _check_name(obj: Obj, name: str, namespace: str) -> None:
    """A patch may not rename or move the object (kube's patcher runs checkName)."""
    got = meta(obj).get("name") or ""
    if got != name:
        raise errors.bad_request(
            f"the name of the object ({got}) does not match the name on the URL ({name})"
        )
    moved = meta(obj).get("namespace")
    if namespace and moved and moved != namespace:
        raise errors.bad_request(
            f"the namespace of the object ({moved}) does not match the namespace on the URL "
            f"({namespace})"
        )


def _unchanged(new: Obj, old: Obj) -> bool:
    """Would storing ``new`` over ``old`` change nothing but the resourceVersion?"""

    def bare(obj: Obj) -> Obj:
        metadata = {k: v for k, v in meta(obj).items() if k != "resourceVersion"}
        return {**obj, "metadata": metadata}

    return bare(new) == bare(old)


def _set_on_create(obj: Obj) -> bool:
    """A create whose body carries a resourceVersion (one that parses as a nonzero uint64,
    so "-1" or "abc" pass, as in kube) was probably copied from a live object: refused."""
    text = str(meta(obj).get("resourceVersion") or "")
    return text.isdigit() and int(text) != 0


def _terminating(res: Resource, namespace: str, name: str) -> errors.APIError:
    """403 as the NamespaceLifecycle admission plugin words it."""
    why = f"unable to create new content in namespace {namespace} because it is being terminated"
    details: dict[str, object] = {"name": name, "kind": res.plural}
    if res.group:
        details["group"] = res.group
    details["causes"] = [
        {"reason": "NamespaceTerminating", "message": why, "field": "metadata.namespace"}
    ]
    message = f'{errors.qualified(res.plural, res.group)} "{name}" is forbidden: {why}'
    return errors.APIError(403, "Forbidden", message, details)


def _revision(text: str) -> int:
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise errors.bad_request(f'invalid resource version "{text}"') from None
    if value < 0:
        raise errors.bad_request(f'invalid resource version "{text}"')
    return value


def encode_continue(revision: int, res: Resource, last: Obj) -> str:
    """An opaque token: the listing's revision and the last key returned."""
    key = res.key(str(meta(last).get("namespace", "")), str(meta(last)["name"]))
    return continue_token(revision, key)


def continue_token(revision: int, key: str) -> str:
    raw = json.dumps({"rv": revision, "start": key}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token: str) -> tuple[int, str]:
    if not token:
        return 0, ""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(raw["rv"]), str(raw["start"])
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion "
            "(version meta.k8s.io/v1)"
        ) from None
