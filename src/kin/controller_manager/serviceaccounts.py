"""Per-namespace defaults: the ``default`` ServiceAccount (the serviceaccount controller)
and, given the cluster CA, the ``kube-root-ca.crt`` ConfigMap (the root CA publisher)
in every namespace that is not being deleted. Either is recreated if someone deletes it."""

from __future__ import annotations

import logging
from typing import Any

from kin.controller_manager.controller import Controller, Informers
from kin.errors import APIError
from kin.kube.client import Client

__all__ = ["NamespaceDefaultsController"]

log = logging.getLogger("kin.controller_manager")
Obj = dict[str, Any]
NAMESPACES = "/api/v1/namespaces"
ACCOUNTS = "/api/v1/serviceaccounts"
CONFIGMAPS = "/api/v1/configmaps"
ROOT_CA = "kube-root-ca.crt"


class NamespaceDefaultsController(Controller):
    name = "serviceaccount"

    def __init__(self, api: Client, informers: Informers, root_ca: str = "") -> None:
        super().__init__(api, informers)
        self.root_ca = root_ca
        self.namespaces = self.watch(NAMESPACES)
        self.accounts = self.watch(ACCOUNTS)
        self.namespaces.add_handler(lambda kind, obj: self.enqueue(obj))
        self.accounts.add_handler(self._owned_changed)
        if root_ca:
            self.configmaps = self.watch(CONFIGMAPS)
            self.configmaps.add_handler(self._owned_changed)

    async def resync_all(self) -> None:
        for key in self.namespaces.objects:
            self.enqueue(key)

    def _owned_changed(self, kind: str, obj: Obj) -> None:
        if kind == "DELETED":
            self.enqueue(str(obj["metadata"].get("namespace")))

    async def sync(self, key: str) -> None:
        namespace = self.namespaces.objects.get(key)
        if namespace is None or namespace["metadata"].get("deletionTimestamp"):
            return
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            return
        if f"{key}/default" not in self.accounts.objects:
            account = {"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": "default", "namespace": key}}  # fmt: skip
            await self._ensure(f"/api/v1/namespaces/{key}/serviceaccounts", account, self.accounts)
        if self.root_ca and f"{key}/{ROOT_CA}" not in self.configmaps.objects:
            configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": ROOT_CA, "namespace": key},
                         "data": {"ca.crt": self.root_ca}}  # fmt: skip
            await self._ensure(f"/api/v1/namespaces/{key}/configmaps", configmap, self.configmaps)

    async def _ensure(self, path: str, body: Obj, cache: Any) -> None:
        try:
            cache.remember(await self.api.create(path, body))
        except APIError as exc:
            if exc.code == 409:
                return  # there already: the cache lags
            if exc.code in (403, 404):  # the namespace is going or gone
                log.info("%s: %s", self.name, exc.message)
                return
            raise
        log.info("%s: created %s in %s", self.name, body["metadata"]["name"],
                 body["metadata"]["namespace"])  # fmt: skip
