"""Pod volumes on the node: where each lives, and the CRI mounts a container gets.

``emptyDir`` is a directory under ``/var/lib/kubelet/pods/<uid>/volumes``; ``hostPath`` is
the node's path (created for ``DirectoryOrCreate``/``FileOrCreate``, checked for the other
types); ``persistentVolumeClaim`` is the path of the claim's bound PersistentVolume when
that is a ``hostPath`` or ``local`` one (what the local-path provisioner makes);
``configMap``, ``secret``, ``downwardAPI`` and ``projected`` are files the kubelet writes
(atomically, refreshed on every sync). Beside them the kubelet keeps the pod's
``etc-hosts``, mounted at ``/etc/hosts`` unless the pod uses the host network.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
from collections.abc import Callable
from typing import Any

from kin.kubelet.criconfig import NodeContext, host_network
from kin.kubelet.environment import EnvironmentError_, Fetch, field_value
from kin.linux.files import write_atomic
from kin.runtime.cri import api_pb2 as cri

__all__ = ["VolumeError", "Volumes"]

Pod = dict[str, Any]
PLUGIN_DIRS = {
    "emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}  # fmt: skip


class VolumeError(EnvironmentError_):
    """A volume cannot be set up; the message says which and why."""


class Volumes:
    def __init__(self, node: NodeContext, fetch: Fetch | None) -> None:
        self.node = node
        self.fetch = fetch

    async def setup(self, pod: Pod, pod_ip: str) -> dict[str, str]:
        """Every volume of ``pod`` ready on the node; their host paths by name."""
        paths = {}
        for volume in pod["spec"].get("volumes") or []:
            paths[volume["name"]] = await self._setup_one(pod, volume, pod_ip)
        self._write_etc_hosts(pod, pod_ip)
        return paths

    async def _setup_one(self, pod: Pod, volume: dict[str, Any], pod_ip: str) -> str:
        name = volume["name"]
        if "hostPath" in volume:
            return _host_path(volume["hostPath"], name)
        if "persistentVolumeClaim" in volume:
            return await self._claimed_path(pod, volume["persistentVolumeClaim"], name)
        kind = next((k for k in PLUGIN_DIRS if k in volume), None)
        if kind is None:
            raise VolumeError(
                f"volume {name!r}: this volume type is not supported by kin's kubelet"
            )
        path = os.path.join(self.node.pod_dir(pod), "volumes", PLUGIN_DIRS[kind], name)
        os.makedirs(path, exist_ok=True)
        if kind == "emptyDir":
            os.chmod(path, 0o777)
            return path
        files = await self._files(pod, kind, volume[kind], pod_ip)
        _write_files(path, files, int(volume[kind].get("defaultMode", 0o644)))
        return path

    async def _claimed_path(self, pod: Pod, source: dict[str, Any], name: str) -> str:
        namespace, claim = pod["metadata"]["namespace"], source.get("claimName", "")
        pvc = await self.fetch("persistentvolumeclaims", namespace, claim) if self.fetch else None
        if pvc is None:
            raise VolumeError(f'volume {name!r}: persistentvolumeclaim "{claim}" not found')
        volume_name = (pvc.get("spec") or {}).get("volumeName")
        if not volume_name or (pvc.get("status") or {}).get("phase") != "Bound":
            raise VolumeError(f'volume {name!r}: persistentvolumeclaim "{claim}" is not bound')
        pv = await self.fetch("persistentvolumes", "", volume_name) if self.fetch else None
        spec = (pv or {}).get("spec") or {}
        if "hostPath" in spec:
            return _host_path(spec["hostPath"], name)
        if "local" in spec:
            return _host_path({"path": spec["local"].get("path", ""), "type": "Directory"}, name)
        raise VolumeError(f'volume {name!r}: persistentvolume "{volume_name}" is not a hostPath '
                          "or local volume, the kinds kin's kubelet mounts")  # fmt: skip

    async def _files(
        self, pod: Pod, kind: str, source: dict[str, Any], pod_ip: str
    ) -> dict[str, bytes]:
        namespace = pod["metadata"]["namespace"]
        if kind == "downwardAPI":
            host_ip = self.node.node_ip
            fields = {i["path"]: i["fieldRef"]["fieldPath"] for i in source.get("items") or []
                      if "fieldRef" in i}  # fmt: skip
            return {
                path: field_value(pod, f, pod_ip, host_ip).encode() for path, f in fields.items()
            }
        if kind == "projected":
            files: dict[str, bytes] = {}
            for projection in source.get("sources") or []:
                for sub in ("configMap", "secret", "downwardAPI"):
                    if sub in projection:
                        files.update(await self._files(pod, sub, projection[sub], pod_ip))
            return files
        resource = "configmaps" if kind == "configMap" else "secrets"
        object_name = source.get("name") or source.get("secretName", "")
        obj = await self.fetch(resource, namespace, object_name) if self.fetch else None
        if obj is None:
            if source.get("optional"):
                return {}
            raise VolumeError(f'{kind} "{object_name}" not found')
        data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        if resource == "secrets":
            data = {k: base64.b64decode(v) for k, v in data.items()}
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        items = source.get("items")
        if items:
            return {item["path"]: data[item["key"]] for item in items if item["key"] in data}
        return data

    def _write_etc_hosts(self, pod: Pod, pod_ip: str) -> None:
        if host_network(pod):
            return
        hostname = pod["spec"].get("hostname") or pod["metadata"]["name"]
        lines = [
            "# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
            "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters",
        ]  # fmt: skip
        if pod_ip:
            lines.append(f"{pod_ip}\t{hostname}")
        for alias in pod["spec"].get("hostAliases") or []:
            lines.append(f"{alias['ip']}\t{' '.join(alias.get('hostnames') or [])}")
        os.makedirs(self.node.pod_dir(pod), exist_ok=True)
        write_atomic(self.etc_hosts(pod), "\n".join(lines) + "\n")

    def etc_hosts(self, pod: Pod) -> str:
        return os.path.join(self.node.pod_dir(pod), "etc-hosts")

    def mounts(self, pod: Pod, container: dict[str, Any], paths: dict[str, str]) -> list[cri.Mount]:
        found = []
        for mount in container.get("volumeMounts") or []:
            name = mount["name"]
            if name not in paths:
                raise VolumeError(f"volumeMounts: volume {name!r} is not defined in the pod")
            source = paths[name]
            if mount.get("subPath"):
                source = os.path.join(source, mount["subPath"])
                if not os.path.exists(source):
                    os.makedirs(source, exist_ok=True)
            found.append(cri.Mount(container_path=mount["mountPath"], host_path=source,
                                   readonly=bool(mount.get("readOnly"))))  # fmt: skip
        targets = {m.container_path for m in found}
        if not host_network(pod) and "/etc/hosts" not in targets:
            found.append(cri.Mount(container_path="/etc/hosts", host_path=self.etc_hosts(pod)))
        return found

    def cleanup(self, pod: Pod) -> None:
        """Remove the pod's volumes and files (never what a hostPath points at)."""
        shutil.rmtree(self.node.pod_dir(pod), ignore_errors=True)


def _host_path(source: dict[str, Any], name: str) -> str:
    path = source["path"]
    kind = source.get("type", "")
    if kind == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif kind == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()
    checks: dict[str, Callable[[int], bool]] = {
        "Directory": stat.S_ISDIR, "File": stat.S_ISREG, "Socket": stat.S_ISSOCK,
        "CharDevice": stat.S_ISCHR, "BlockDevice": stat.S_ISBLK,
    }  # fmt: skip
    if kind in checks and not (os.path.exists(path) and checks[kind](os.stat(path).st_mode)):
        raise VolumeError(f"hostPath volume {name!r}: {path} is not a {kind}")
    return str(path)


def _write_files(directory: str, files: dict[str, bytes], mode: int) -> None:
    wanted = set()
    for relative, content in files.items():
        target = os.path.normpath(os.path.join(directory, relative))
        if not target.startswith(directory + os.sep):
            raise VolumeError(f"volume item path {relative!r} escapes the volume")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = f"{target}.kin-tmp"
        with open(tmp, "wb") as f:
            f.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        wanted.add(target)
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            if path not in wanted:
                os.unlink(path)
