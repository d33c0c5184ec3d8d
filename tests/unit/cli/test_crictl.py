"""kin's crictl prints what crictl prints: tables compared with golden samples.

The samples in ``tests/testdata/crictl`` were written from crictl's layout (tabwriter
columns of at least 20, padded by 3; docker's human durations and sizes; IDs cut to
13 characters) for the fixed sandboxes and containers below, seen 90 s after creation.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from kin.cli import crictl
from kin.cli.tabular import human_duration, human_size, tabwrite
from kin.runtime.cri import api_pb2 as cri
from kin.runtime.logs import read_records

GOLDEN = Path(__file__).parents[2] / "testdata" / "crictl"
NOW = 1_800_000_000.0
CREATED = int((NOW - 90) * 1e9)
POD_ID = "6fbdee270d0f90a69071bc475810f56c7b6682b8cb43360fec6772c0f1cb2ab5"
CTR_ID = "9d63fa371ab0c0d94f73670718009cb0b983232107ce156de7524857572fd47b"
IMAGE_ID = "sha256:d86b74bf5349c7e3e7d4b2b1f2b3ce4d8d1e1d9c0b1a2f3e4d5c6b7a8f9e0d1c"


class FakeRuntime:
    def ListPodSandbox(
        self, request: cri.ListPodSandboxRequest, **_: Any
    ) -> cri.ListPodSandboxResponse:
        pods = [
            cri.PodSandbox(id=POD_ID, metadata=cri.PodSandboxMetadata(name="web", namespace="default", uid="u", attempt=0),
                           state=cri.SANDBOX_READY, created_at=CREATED),
            cri.PodSandbox(id="1" * 64, metadata=cri.PodSandboxMetadata(name="kube-proxy-x2x7k", namespace="kube-system", uid="v", attempt=1),
                           state=cri.SANDBOX_NOTREADY, created_at=CREATED - 7200 * 10**9, runtime_handler="runc"),
        ]  # fmt: skip
        return cri.ListPodSandboxResponse(
            items=[p for p in pods if not request.filter.id or p.id.startswith(request.filter.id)]
        )

    def ListContainers(
        self, request: cri.ListContainersRequest, **_: Any
    ) -> cri.ListContainersResponse:
        container = cri.Container(
            id=CTR_ID, pod_sandbox_id=POD_ID, metadata=cri.ContainerMetadata(name="app", attempt=2),
            image=cri.ImageSpec(image=IMAGE_ID), image_ref=IMAGE_ID, state=cri.CONTAINER_RUNNING,
            created_at=CREATED, labels={"io.kubernetes.pod.name": "web", "io.kubernetes.pod.namespace": "default"},
        )  # fmt: skip
        wanted = request.filter.state.state if request.filter.HasField("state") else None
        return cri.ListContainersResponse(
            containers=[container] if wanted in (None, cri.CONTAINER_RUNNING) else []
        )

    def Version(self, request: cri.VersionRequest, **_: Any) -> cri.VersionResponse:
        return cri.VersionResponse(
            version="0.1.0", runtime_name="kin", runtime_version="0.1.0", runtime_api_version="v1"
        )

    def PodSandboxStatus(
        self, request: cri.PodSandboxStatusRequest, **_: Any
    ) -> cri.PodSandboxStatusResponse:
        status = cri.PodSandboxStatus(id=POD_ID, metadata=cri.PodSandboxMetadata(name="web", namespace="default", uid="u"),
                                      state=cri.SANDBOX_READY, created_at=CREATED)  # fmt: skip
        status.network.ip = "10.244.1.2"
        return cri.PodSandboxStatusResponse(status=status, info={"info": json.dumps({"pid": 32})})


class FakeImages:
    def ListImages(self, request: cri.ListImagesRequest, **_: Any) -> cri.ListImagesResponse:
        return cri.ListImagesResponse(images=[
            cri.Image(id=IMAGE_ID, repo_tags=["docker.io/library/nginx:latest"], size=1024),
            cri.Image(id="sha256:" + "e" * 64, repo_tags=["localhost:5000/app:v1.2", "registry.k8s.io/pause:3.10"], size=736_000),
            cri.Image(id="sha256:" + "f" * 64, size=45_300_000),
        ])  # fmt: skip


class FakeClient:
    runtime = FakeRuntime()
    images = FakeImages()


def run(*argv: str) -> str:
    out = io.StringIO()
    args = crictl._parser().parse_args(list(argv))
    tool = crictl.Crictl(FakeClient(), out=out, now=lambda: NOW)  # type: ignore[arg-type]
    assert getattr(tool, args.command)(args) == 0
    return out.getvalue()


@pytest.mark.parametrize(
    ("argv", "golden"),
    [
        (["pods"], "pods.txt"),
        (["ps"], "ps.txt"),
        (["ps", "-a", "--no-trunc"], "ps-no-trunc.txt"),
        (["images"], "images.txt"),
        (["version"], "version.txt"),
    ],
)
def test_output_matches_crictl(argv: list[str], golden: str) -> None:
    assert run(*argv) == (GOLDEN / golden).read_text()


def test_quiet_lists_full_ids() -> None:
    assert run("pods", "-q") == f"{POD_ID}\n{'1' * 64}\n"
    assert run("ps", "-q") == f"{CTR_ID}\n"


def test_inspectp_shows_the_status_with_rfc3339_times_and_info() -> None:
    document = json.loads(run("inspectp", POD_ID[:5]))
    assert document["status"]["createdAt"] == "2027-01-15T07:58:30Z"
    assert document["status"]["network"]["ip"] == "10.244.1.2"
    assert document["status"]["state"] == "SANDBOX_READY"
    assert document["info"] == {"pid": 32}


def test_tabwriter_pads_to_twenty_or_the_widest_cell_plus_three() -> None:
    assert tabwrite([["A", "B", "C"], ["a-much-longer-cell-here", "b", "c"]]) == (
        "A                         B                   C\n"
        "a-much-longer-cell-here   b                   c\n"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (61, "About a minute"),
     (150, "2 minutes"), (3600, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"),
     (3 * 86400, "3 days"), (20 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years")],
)  # fmt: skip
def test_human_durations_are_docker_units(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0B"),
        (999, "999B"),
        (1024, "1.02kB"),
        (736_000, "736kB"),
        (45_300_000, "45.3MB"),
        (10**9, "1GB"),
    ],
)
def test_human_sizes_are_docker_units(size: int, text: str) -> None:
    assert human_size(size) == text


def test_an_unknown_config_key_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "crictl.yaml"
    config.write_text("runtime-endpoint: unix:///x.sock\nimage-endpint: typo\n")
    with pytest.raises(Exception, match="Config option 'image-endpint' is not valid"):
        crictl.endpoint_from_config("", str(config))
    config.write_text("runtime-endpoint: unix:///run/x.sock\n")
    assert crictl.endpoint_from_config("", str(config)) == "unix:///run/x.sock"
    assert crictl.endpoint_from_config("/flag.sock", str(config)) == "/flag.sock"


def test_logs_join_partial_records_and_honour_tail(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    log.write_text(
        "2026-11-27T10:00:00.1Z stdout F one\n"
        "2026-11-27T10:00:00.2Z stdout P tw\n"
        "2026-11-27T10:00:00.3Z stdout F o\n"
        "2026-11-27T10:00:00.4Z stdout F three\n"
    )
    assert [t for _, _, t in read_records(str(log))] == ["one\n", "two\n", "three\n"]


def test_namespace_args_parse() -> None:
    args = crictl._parser().parse_args(["exec", "-s", "abc", "ls", "-l"])
    assert isinstance(args, argparse.Namespace) and args.cmd == ["ls", "-l"] and args.sync


def test_the_layout_of_crictls_own_documented_sample() -> None:
    """cri-tools' docs/crictl.md shows (before crictl added the RUNTIME column)::

    POD ID              CREATED             STATE               NAME                NAMESPACE           ATTEMPT
    f84dd361f8dc5       17 seconds ago      Ready               nginx-sandbox       default             1
    """
    rows = [["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT"],
            ["f84dd361f8dc5", human_duration(17) + " ago", "Ready", "nginx-sandbox", "default", "1"]]  # fmt: skip
    assert tabwrite(rows) == (
        "POD ID              CREATED             STATE               NAME                NAMESPACE           ATTEMPT\n"
        "f84dd361f8dc5       17 seconds ago      Ready               nginx-sandbox       default             1\n"
    )
