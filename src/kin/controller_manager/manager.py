"""The controller manager: shared informers and every controller on one event loop.

``--controllers`` chooses them as kube-controller-manager's flag does (``*`` for all,
``-name`` to leave one out); node IPAM runs when ``--allocate-node-cidrs`` is set with a
``--cluster-cidr``. A controller that stops (it never should) stops the manager, which
its kubelet then restarts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from kin.controller_manager.controller import Controller, Informers
from kin.controller_manager.daemonset import DaemonSetController
from kin.controller_manager.deployment import DeploymentController
from kin.controller_manager.endpoints import EndpointsController
from kin.controller_manager.localpath import LocalPathProvisioner
from kin.controller_manager.nodeipam import NodeIpamController
from kin.controller_manager.nodelifecycle import GRACE, NodeLifecycleController
from kin.controller_manager.replicaset import ReplicaSetController
from kin.controller_manager.serviceaccounts import NamespaceDefaultsController
from kin.controller_manager.volumes import PersistentVolumeController
from kin.errors import KinError
from kin.kube.client import Client

__all__ = ["ALL", "ManagerConfig", "build_controllers", "run_controllers"]

ALL = ("deployment", "replicaset", "daemonset", "endpoints", "serviceaccount",
       "nodeipam", "nodelifecycle", "persistentvolume-binder", "localpath")  # fmt: skip


@dataclass
class ManagerConfig:
    controllers: list[str] = field(default_factory=lambda: ["*"])
    cluster_cidr: str = ""
    allocate_node_cidrs: bool = False
    node_cidr_mask_size: int = 24
    root_ca: str = ""
    """The cluster CA certificate (PEM) published as ``kube-root-ca.crt``; empty: none."""
    node_monitor_grace_period: float = GRACE


def enabled(config: ManagerConfig) -> list[str]:
    chosen: list[str] = []
    for item in config.controllers:
        name = item.lstrip("-")
        if name != "*" and name not in ALL:
            raise KinError(f"--controllers: unknown controller {name!r} (known: {', '.join(ALL)})")
    for name in ALL:
        if f"-{name}" in config.controllers:
            continue
        if "*" in config.controllers or name in config.controllers:
            chosen.append(name)
    if "nodeipam" in chosen and not (config.allocate_node_cidrs and config.cluster_cidr):
        chosen.remove("nodeipam")
    return chosen


def build_controllers(api: Client, config: ManagerConfig) -> tuple[Informers, list[Controller]]:
    informers = Informers(api)
    makers: dict[str, Callable[[], Controller]] = {
        "deployment": lambda: DeploymentController(api, informers),
        "replicaset": lambda: ReplicaSetController(api, informers),
        "daemonset": lambda: DaemonSetController(api, informers),
        "endpoints": lambda: EndpointsController(api, informers),
        "serviceaccount": lambda: NamespaceDefaultsController(api, informers, config.root_ca),
        "nodeipam": lambda: NodeIpamController(
            api, informers, config.cluster_cidr, config.node_cidr_mask_size
        ),
        "nodelifecycle": lambda: NodeLifecycleController(
            api, informers, config.node_monitor_grace_period
        ),
        "persistentvolume-binder": lambda: PersistentVolumeController(api, informers),
        "localpath": lambda: LocalPathProvisioner(api, informers),
    }
    controllers: list[Controller] = [makers[name]() for name in enabled(config)]
    return informers, controllers


async def run_controllers(api: Client, config: ManagerConfig) -> None:
    informers, controllers = build_controllers(api, config)
    tasks = [asyncio.create_task(i.run()) for i in informers.by_path.values()]
    tasks += [asyncio.create_task(c.run()) for c in controllers]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
