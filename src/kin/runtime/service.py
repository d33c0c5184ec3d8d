"""The CRI v1 gRPC services: protobuf in, ``Runtime`` calls, protobuf out.

Every handler logs one line per change it makes and turns kin's errors into gRPC
statuses: ``CRIError`` subclasses carry their code (NOT_FOUND for unknown IDs, which
the kubelet and crictl test by code), anything else unexpected is INTERNAL with the
message; the server keeps serving either way.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from kin.errors import CRIError, CRIInvalid, CRIPrecondition, KinError
from kin.runtime.cri import api_pb2 as cri
from kin.runtime.cri import api_pb2_grpc as cri_grpc
from kin.runtime.images import Image
from kin.runtime.runtime import API_VERSION, KUBELET_API_VERSION, NAME, Runtime
from kin.runtime.store import ContainerRecord, SandboxRecord
from kin.runtime.streaming import StreamingServer

__all__ = ["ImageService", "RuntimeService", "add_services"]

log = logging.getLogger("kin.runtime")

F = TypeVar("F", bound=Callable[..., Any])


def handler(method: F) -> F:
    """Run a CRI method; map failures onto gRPC status codes."""

    @functools.wraps(method)
    def serve(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except CRIError as exc:
            if exc.grpc_code != "NOT_FOUND":
                log.warning("%s: %s", method.__name__, exc)
            context.abort(getattr(grpc.StatusCode, exc.grpc_code), str(exc))
        except (KinError, OSError) as exc:
            log.warning("%s failed: %s", method.__name__, exc)
            context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        except Exception as exc:  # a bug: said as such, and the server goes on
            log.exception("%s failed unexpectedly", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")

    return serve  # type: ignore[return-value]


class RuntimeService(cri_grpc.RuntimeServiceServicer):
    def __init__(self, runtime: Runtime, streaming: StreamingServer | None = None) -> None:
        self.rt = runtime
        self.streaming = streaming

    @handler
    def Version(self, request: cri.VersionRequest, context: Any) -> cri.VersionResponse:
        return cri.VersionResponse(
            version=KUBELET_API_VERSION,
            runtime_name=NAME,
            runtime_version=self.rt.version,
            runtime_api_version=API_VERSION,
        )

    @handler
    def Status(self, request: cri.StatusRequest, context: Any) -> cri.StatusResponse:
        conditions = [
            cri.RuntimeCondition(type=t, status=s, reason=r, message=m)
            for t, s, r, m in self.rt.conditions()
        ]
        info = {}
        if request.verbose:
            info["config"] = json.dumps(
                {"podCIDR": self.rt.pod_cidr, "cniConfDir": self.rt.paths.cni_conf,
                 "cniBinDirs": list(self.rt.paths.cni_bin), "stateDir": self.rt.paths.state}
            )  # fmt: skip
        return cri.StatusResponse(
            status=cri.RuntimeStatus(conditions=conditions),
            info=info,
            runtime_handlers=[cri.RuntimeHandler(name="", features=cri.RuntimeHandlerFeatures())],
        )

    @handler
    def UpdateRuntimeConfig(
        self, request: cri.UpdateRuntimeConfigRequest, context: Any
    ) -> cri.UpdateRuntimeConfigResponse:
        cidr = request.runtime_config.network_config.pod_cidr
        if cidr and cidr != self.rt.pod_cidr:
            self.rt.pod_cidr = cidr
            log.info("pod CIDR is %s", cidr)
        return cri.UpdateRuntimeConfigResponse()

    @handler
    def RuntimeConfig(
        self, request: cri.RuntimeConfigRequest, context: Any
    ) -> cri.RuntimeConfigResponse:
        linux = cri.LinuxRuntimeConfiguration(cgroup_driver=cri.CGROUPFS)
        return cri.RuntimeConfigResponse(linux=linux)

    # -- sandboxes ------------------------------------------------------------------------

    @handler
    def RunPodSandbox(
        self, request: cri.RunPodSandboxRequest, context: Any
    ) -> cri.RunPodSandboxResponse:
        started = time.monotonic()
        id_ = self.rt.sandboxes.run(request.config, request.runtime_handler)
        meta = request.config.metadata
        log.info(
            "RunPodSandbox %s/%s -> %s (%.0f ms)",
            meta.namespace, meta.name, id_[:13], (time.monotonic() - started) * 1000,
        )  # fmt: skip
        return cri.RunPodSandboxResponse(pod_sandbox_id=id_)

    @handler
    def StopPodSandbox(
        self, request: cri.StopPodSandboxRequest, context: Any
    ) -> cri.StopPodSandboxResponse:
        record = self.rt.sandbox_records.find(request.pod_sandbox_id)
        if record is not None:
            self.rt.stop_sandbox(record)
            log.info("StopPodSandbox %s", record.id[:13])
        return cri.StopPodSandboxResponse()

    @handler
    def RemovePodSandbox(
        self, request: cri.RemovePodSandboxRequest, context: Any
    ) -> cri.RemovePodSandboxResponse:
        record = self.rt.sandbox_records.find(request.pod_sandbox_id)
        if record is not None:
            self.rt.remove_sandbox(record)
            log.info("RemovePodSandbox %s", record.id[:13])
        return cri.RemovePodSandboxResponse()

    @handler
    def PodSandboxStatus(
        self, request: cri.PodSandboxStatusRequest, context: Any
    ) -> cri.PodSandboxStatusResponse:
        record = self.rt.sandbox_records.get(request.pod_sandbox_id)
        info = {}
        if request.verbose:
            info["info"] = json.dumps(self._sandbox_info(record))
        return cri.PodSandboxStatusResponse(status=self._sandbox_status(record), info=info)

    @handler
    def ListPodSandbox(
        self, request: cri.ListPodSandboxRequest, context: Any
    ) -> cri.ListPodSandboxResponse:
        filter_ = request.filter if request.HasField("filter") else None
        items = [self._sandbox(r) for r in self.rt.sandboxes.select(filter_)]
        return cri.ListPodSandboxResponse(items=items)

    def _state(self, record: SandboxRecord) -> cri.PodSandboxState:
        return cri.SANDBOX_READY if self.rt.sandboxes.ready(record) else cri.SANDBOX_NOTREADY

    def _sandbox(self, record: SandboxRecord) -> cri.PodSandbox:
        config = record.config
        return cri.PodSandbox(
            id=record.id, metadata=config.metadata, state=self._state(record),
            created_at=record.facts["created_at"], labels=config.labels,
            annotations=config.annotations, runtime_handler=record.facts.get("handler", ""),
        )  # fmt: skip

    def _sandbox_status(self, record: SandboxRecord) -> cri.PodSandboxStatus:
        config = record.config
        status = cri.PodSandboxStatus(
            id=record.id, metadata=config.metadata, state=self._state(record),
            created_at=record.facts["created_at"], labels=config.labels,
            annotations=config.annotations, runtime_handler=record.facts.get("handler", ""),
        )  # fmt: skip
        options = config.linux.security_context.namespace_options
        status.linux.namespaces.options.CopyFrom(options)
        ips = record.facts.get("ips") or []
        if ips and record.facts.get("netns"):
            status.network.ip = ips[0]
            status.network.additional_ips.extend(cri.PodIP(ip=ip) for ip in ips[1:])
        return status

    def _sandbox_info(self, record: SandboxRecord) -> dict[str, Any]:
        pause = record.facts.get("pause") or {}
        return {
            "pid": pause.get("pid", 0),
            "processStatus": "running" if self.rt.sandboxes.ready(record) else "stopped",
            "netNamespaceClosed": not record.facts.get("netns"),
            "netns": record.facts.get("netns", ""),
            "shim": (record.facts.get("shim") or {}).get("pid", 0),
            "cniResult": record.facts.get("cni_result"),
            "bundle": record.dir,
        }

    # -- containers -----------------------------------------------------------------------

    @handler
    def CreateContainer(
        self, request: cri.CreateContainerRequest, context: Any
    ) -> cri.CreateContainerResponse:
        sandbox = self.rt.sandbox_records.get(request.pod_sandbox_id)
        id_ = self.rt.containers.create(sandbox, request.config, request.sandbox_config)
        log.info(
            "CreateContainer %s in %s -> %s",
            request.config.metadata.name,
            sandbox.id[:13],
            id_[:13],
        )
        return cri.CreateContainerResponse(container_id=id_)

    @handler
    def StartContainer(
        self, request: cri.StartContainerRequest, context: Any
    ) -> cri.StartContainerResponse:
        record = self.rt.container_records.get(request.container_id)
        self.rt.containers.start(record)
        log.info("StartContainer %s", record.id[:13])
        return cri.StartContainerResponse()

    @handler
    def StopContainer(
        self, request: cri.StopContainerRequest, context: Any
    ) -> cri.StopContainerResponse:
        record = self.rt.container_records.find(request.container_id)
        if record is not None:
            self.rt.containers.stop(record, int(request.timeout))
            log.info("StopContainer %s", record.id[:13])
        return cri.StopContainerResponse()

    @handler
    def RemoveContainer(
        self, request: cri.RemoveContainerRequest, context: Any
    ) -> cri.RemoveContainerResponse:
        record = self.rt.container_records.find(request.container_id)
        if record is not None:
            self.rt.containers.remove(record)
            log.info("RemoveContainer %s", record.id[:13])
        return cri.RemoveContainerResponse()

    @handler
    def ListContainers(
        self, request: cri.ListContainersRequest, context: Any
    ) -> cri.ListContainersResponse:
        filter_ = request.filter if request.HasField("filter") else None
        return cri.ListContainersResponse(
            containers=[self._container(r) for r in self.rt.containers.select(filter_)]
        )

    @handler
    def ContainerStatus(
        self, request: cri.ContainerStatusRequest, context: Any
    ) -> cri.ContainerStatusResponse:
        record = self.rt.container_records.get(request.container_id)
        info = {}
        if request.verbose:
            info["info"] = json.dumps(
                {
                    "sandboxID": record.facts["sandbox"],
                    "pid": (record.facts.get("process") or {}).get("pid", 0),
                }
            )
        return cri.ContainerStatusResponse(status=self._container_status(record), info=info)

    def _image_spec(self, record: ContainerRecord) -> cri.ImageSpec:
        spec = cri.ImageSpec()
        spec.CopyFrom(record.config.image)
        return spec

    def _container(self, record: ContainerRecord) -> cri.Container:
        config = record.config
        return cri.Container(
            id=record.id, pod_sandbox_id=record.facts["sandbox"], metadata=config.metadata,
            image=self._image_spec(record), image_ref=record.facts["image_id"],
            image_id=record.facts["image_id"], state=self.rt.containers.state(record),
            created_at=record.facts["created_at"], labels=config.labels,
            annotations=config.annotations,
        )  # fmt: skip

    def _container_status(self, record: ContainerRecord) -> cri.ContainerStatus:
        config = record.config
        status = cri.ContainerStatus(
            id=record.id, metadata=config.metadata, state=self.rt.containers.state(record),
            created_at=record.facts["created_at"], started_at=record.facts.get("started_at", 0),
            image=self._image_spec(record), image_ref=record.facts["image_id"],
            image_id=record.facts["image_id"], labels=config.labels, annotations=config.annotations,
            mounts=config.mounts, log_path=record.facts["log_path"], stop_signal=config.stop_signal,
        )  # fmt: skip
        ended = self.rt.containers.exit_info(record)
        if ended is not None:
            status.exit_code = ended.code
            status.finished_at = ended.finished_at
            status.reason = ended.reason
            status.message = ended.message
        if config.linux.HasField("resources"):
            status.resources.linux.CopyFrom(config.linux.resources)
        return status

    @handler
    def UpdateContainerResources(
        self, request: cri.UpdateContainerResourcesRequest, context: Any
    ) -> cri.UpdateContainerResourcesResponse:
        self.rt.container_records.get(request.container_id)
        return cri.UpdateContainerResourcesResponse()

    @handler
    def ReopenContainerLog(
        self, request: cri.ReopenContainerLogRequest, context: Any
    ) -> cri.ReopenContainerLogResponse:
        self.rt.containers.reopen_log(self.rt.container_records.get(request.container_id))
        return cri.ReopenContainerLogResponse()

    @handler
    def ExecSync(self, request: cri.ExecSyncRequest, context: Any) -> cri.ExecSyncResponse:
        record = self.rt.container_records.get(request.container_id)
        out, err, code = self.rt.containers.exec_sync(
            record, list(request.cmd), int(request.timeout)
        )
        return cri.ExecSyncResponse(stdout=out, stderr=err, exit_code=code)

    @handler
    def Exec(self, request: cri.ExecRequest, context: Any) -> cri.ExecResponse:
        record = self.rt.container_records.get(request.container_id)
        self.rt.containers.running_pid(record)
        if not request.cmd:
            raise CRIInvalid("exec command is empty")
        if not (request.stdin or request.stdout or request.stderr):
            raise CRIInvalid("one of stdin, stdout, or stderr must be set")
        if request.tty and request.stderr:
            raise CRIInvalid("tty and stderr cannot both be true")
        wanted = {
            "container_id": record.id, "cmd": list(request.cmd), "tty": request.tty,
            "stdin": request.stdin, "stdout": request.stdout, "stderr": request.stderr,
        }  # fmt: skip
        return cri.ExecResponse(url=self._streaming().url("exec", wanted))

    @handler
    def PortForward(self, request: cri.PortForwardRequest, context: Any) -> cri.PortForwardResponse:
        record = self.rt.sandbox_records.get(request.pod_sandbox_id)
        self.rt.sandboxes.pause_pid(record)
        wanted = {"pod_sandbox_id": record.id, "ports": list(request.port)}
        return cri.PortForwardResponse(url=self._streaming().url("portforward", wanted))

    @handler
    def Attach(self, request: cri.AttachRequest, context: Any) -> cri.AttachResponse:
        record = self.rt.container_records.get(request.container_id)
        self.rt.containers.running_pid(record)
        if not (request.stdin or request.stdout or request.stderr):
            raise CRIInvalid("one of stdin, stdout, or stderr must be set")
        if request.stdin and not record.config.stdin:
            raise CRIInvalid(f"container {record.id[:13]} was not created with stdin: true")
        wanted = {
            "container_id": record.id, "stdin": request.stdin, "stdout": request.stdout,
            "stderr": request.stderr and not record.config.tty,
        }  # fmt: skip
        return cri.AttachResponse(url=self._streaming().url("attach", wanted))

    def _streaming(self) -> StreamingServer:
        if self.streaming is None:
            raise CRIError("this runtime runs without a streaming server")
        return self.streaming

    @handler
    def ContainerStats(
        self, request: cri.ContainerStatsRequest, context: Any
    ) -> cri.ContainerStatsResponse:
        record = self.rt.container_records.get(request.container_id)
        return cri.ContainerStatsResponse(stats=self._stats(record))

    @handler
    def ListContainerStats(
        self, request: cri.ListContainerStatsRequest, context: Any
    ) -> cri.ListContainerStatsResponse:
        f = request.filter
        filter_ = cri.ContainerFilter(
            id=f.id, pod_sandbox_id=f.pod_sandbox_id, label_selector=f.label_selector
        )
        running = cri.ContainerStateValue(state=cri.CONTAINER_RUNNING)
        filter_.state.CopyFrom(running)
        return cri.ListContainerStatsResponse(
            stats=[self._stats(r) for r in self.rt.containers.select(filter_)]
        )

    def _stats(self, record: ContainerRecord) -> cri.ContainerStats:
        config = record.config
        now = time.time_ns()
        stats = cri.ContainerStats(
            attributes=cri.ContainerAttributes(
                id=record.id,
                metadata=config.metadata,
                labels=config.labels,
                annotations=config.annotations,
            )
        )
        pid = (record.facts.get("process") or {}).get("pid", 0)
        cpu_ns, rss = (
            _process_usage(pid)
            if self.rt.containers.state(record) == cri.CONTAINER_RUNNING
            else (0, 0)
        )
        stats.cpu.timestamp = now
        stats.cpu.usage_core_nano_seconds.value = cpu_ns
        group = self.rt.containers.group(record)
        usage = group.read("memory", "memory.usage_in_bytes") if group is not None else None
        stats.memory.timestamp = now
        stats.memory.working_set_bytes.value = int(usage) if usage else rss
        stats.memory.usage_bytes.value = int(usage) if usage else rss
        stats.memory.rss_bytes.value = rss
        stats.writable_layer.timestamp = now
        stats.writable_layer.fs_id.mountpoint = self.rt.paths.root
        stats.writable_layer.used_bytes.value = 0
        return stats


class ImageService(cri_grpc.ImageServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    @handler
    def ListImages(self, request: cri.ListImagesRequest, context: Any) -> cri.ListImagesResponse:
        wanted = request.filter.image.image
        images = self.rt.images.all()
        if wanted:
            found = self.rt.images.find(wanted)
            images = [found] if found is not None else []
        return cri.ListImagesResponse(images=[_image(i) for i in images])

    @handler
    def ImageStatus(self, request: cri.ImageStatusRequest, context: Any) -> cri.ImageStatusResponse:
        found = self.rt.images.find(request.image.image)
        if found is None:
            return cri.ImageStatusResponse()
        info = (
            {"info": json.dumps({"rootfs": found.rootfs or "(the node's files)"})}
            if request.verbose
            else {}
        )
        return cri.ImageStatusResponse(image=_image(found), info=info)

    @handler
    def PullImage(self, request: cri.PullImageRequest, context: Any) -> cri.PullImageResponse:
        if not request.image.image:
            raise CRIInvalid("image name is empty")
        known = self.rt.images.find(request.image.image)
        image = self.rt.images.pull(request.image.image)
        if known is None:
            log.info("PullImage %s: no registry is reachable; runs on the node's files as %s",
                     request.image.image, image.id[:19])  # fmt: skip
        return cri.PullImageResponse(image_ref=image.id)

    @handler
    def RemoveImage(self, request: cri.RemoveImageRequest, context: Any) -> cri.RemoveImageResponse:
        found = self.rt.images.find(request.image.image)
        if found is None:
            return cri.RemoveImageResponse()
        users = [
            r.id[:13] for r in self.rt.container_records.all() if r.facts["image_id"] == found.id
        ]
        if users:
            raise CRIPrecondition(f"image {found.id[:19]} is used by containers {', '.join(users)}")
        self.rt.images.remove(found.id)
        if found.rootfs:  # the unpacked files go with it
            shutil.rmtree(os.path.dirname(found.rootfs), ignore_errors=True)
        return cri.RemoveImageResponse()

    @handler
    def ImageFsInfo(self, request: cri.ImageFsInfoRequest, context: Any) -> cri.ImageFsInfoResponse:
        usage = _filesystem_usage(self.rt.paths.root)
        return cri.ImageFsInfoResponse(image_filesystems=[usage], container_filesystems=[usage])


def _image(image: Image) -> cri.Image:
    return cri.Image(
        id=image.id, repo_tags=image.tags, size=image.size, spec=cri.ImageSpec(image=image.id)
    )


def _filesystem_usage(path: str) -> cri.FilesystemUsage:
    os.makedirs(path, exist_ok=True)
    st = os.statvfs(path)
    usage = cri.FilesystemUsage(timestamp=time.time_ns())
    usage.fs_id.mountpoint = path
    usage.used_bytes.value = (st.f_blocks - st.f_bfree) * st.f_frsize
    usage.inodes_used.value = st.f_files - st.f_ffree
    return usage


def _process_usage(pid: int) -> tuple[int, int]:
    """CPU time in nanoseconds and resident bytes of one process (0, 0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/statm") as f:
            resident_pages = int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0, 0
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) * 1_000_000_000 // ticks
    return cpu, resident_pages * os.sysconf("SC_PAGE_SIZE")


def add_services(
    server: grpc.Server, runtime: Runtime, streaming: StreamingServer | None = None
) -> None:
    cri_grpc.add_RuntimeServiceServicer_to_server(RuntimeService(runtime, streaming), server)  # type: ignore[no-untyped-call]
    cri_grpc.add_ImageServiceServicer_to_server(ImageService(runtime), server)  # type: ignore[no-untyped-call]
