"""The real kubectl 1.32 against the schema package, through a small loopback server.

The server answers discovery from a resource list, serves /openapi/v3 from
``openapi_root``/``openapi_document``, decodes write bodies (JSON or protobuf) and
records them. kubectl then shows what it concluded: ``fieldValidation=Strict`` on
create and apply means it found the PATCH operations it looks for; ``explain`` renders
the component schemas; ``create deployment`` sends protobuf that must decode to what
``--dry-run=client -o json`` prints. Skipped where kubectl 1.32 is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kin.apiserver.schema import openapi, protobuf
from kin.apiserver.schema.openapi import Resource

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")
pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl 1.32 is not installed")

RESOURCES = (
    Resource("", "v1", "Pod", "pods", True, ("status", "log", "exec")),
    Resource("", "v1", "Namespace", "namespaces", False, ("status",)),
    Resource("", "v1", "ConfigMap", "configmaps", True),
    Resource("apps", "v1", "Deployment", "deployments", True, ("status", "scale")),
)
POD = """
apiVersion: v1
kind: Pod
metadata: {name: p1, labels: {app: p1}}
spec:
  containers:
  - name: c
    image: nginx
    ports: [{containerPort: 80}]
    readinessProbe: {httpGet: {path: /, port: 80}}
"""
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: d1}
spec:
  selector: {matchLabels: {app: d1}}
  template:
    metadata: {labels: {app: d1}}
    spec: {containers: [{name: c, image: nginx, resources: {limits: {cpu: 500m}}}]}
"""


@dataclass
class Write:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: dict[str, Any]


@dataclass
class FakeAPI:
    strip_field_validation: bool = False
    writes: list[Write] = field(default_factory=list)

    def document(self, path: str) -> dict[str, Any] | None:
        gv = openapi.group_version(path)
        if gv is None or gv not in {(r.group, r.version) for r in RESOURCES}:
            return None
        doc = openapi.openapi_document(*gv, RESOURCES)
        if self.strip_field_validation:
            for item in doc["paths"].values():
                for op in item.values():
                    if isinstance(op, dict) and "parameters" in op:
                        op["parameters"] = [
                            p for p in op["parameters"] if p["name"] != "fieldValidation"
                        ]
        return doc

    def discovery(self, path: str) -> dict[str, Any] | None:
        if path == "/version":
            return {"major": "1", "minor": "32", "gitVersion": "v1.32.0"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            group = {"groupVersion": "apps/v1", "version": "v1"}
            entry = {"name": "apps", "versions": [group], "preferredVersion": group}
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [entry]}
        gv = openapi.group_version(path)
        mine = [r for r in RESOURCES if (r.group, r.version) == gv]
        if not mine:
            return None
        listed = [
            {
                "name": r.plural,
                "singularName": r.kind.lower(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
            }
            for r in mine
        ]
        group_version = f"{gv[0]}/{gv[1]}" if gv and gv[0] else "v1"
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": listed,
        }


def handler(api: FakeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def reply(self, code: int, obj: object) -> None:
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/openapi/v3":
                found: object = openapi.openapi_root(RESOURCES)
            elif path.startswith("/openapi/v3/"):
                found = api.document(path.removeprefix("/openapi/v3/"))
            else:
                found = api.discovery(path)
            if found is None:
                missing = {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "NotFound",
                }
                self.reply(404, {**missing, "code": 404})
            else:
                self.reply(200, found)

        def do_write(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            kind = self.headers.get("Content-Type", "")
            body = protobuf.decode(raw) if "protobuf" in kind else json.loads(raw)
            url = urlsplit(self.path)
            api.writes.append(Write(self.command, url.path, parse_qs(url.query), kind, body))
            self.reply(201, body)

        do_POST = do_PATCH = do_PUT = do_write

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[FakeAPI, str]]:
    api = FakeAPI()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(api))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield api, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def kubectl(server: tuple[FakeAPI, str], tmp_path: Path):
    config = tmp_path / "kubeconfig"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server[1]}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [
                    {"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "default"}}
                ],
                "current-context": "x",
            }
        )
    )
    env = {**os.environ, "HOME": str(tmp_path), "KUBECACHEDIR": str(tmp_path / "cache")}

    def run(*args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(KUBECTL), "--kubeconfig", str(config), "--request-timeout=20s", *args]
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, env=env, timeout=60
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    return run


def test_create_f_leaves_validation_to_the_server(server, kubectl) -> None:
    api, _ = server
    assert kubectl("create", "-f", "-", stdin=POD).stdout.strip() == "pod/p1 created"
    (write,) = api.writes
    assert (write.method, write.path) == ("POST", "/api/v1/namespaces/default/pods")
    assert write.query["fieldValidation"] == ["Strict"]
    assert write.body["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]


def test_apply_client_and_server_side_send_strict(server, kubectl) -> None:
    api, _ = server
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    kubectl("apply", "--server-side", "-f", "-", stdin=DEPLOYMENT)
    create, patch = api.writes
    assert (create.method, create.query["fieldValidation"]) == ("POST", ["Strict"])
    assert (patch.method, patch.content_type) == ("PATCH", "application/apply-patch+yaml")
    assert patch.query["fieldValidation"] == ["Strict"] and patch.query["fieldManager"] == [
        "kubectl"
    ]


def test_without_the_parameter_kubectl_does_not_trust_the_server(server, kubectl) -> None:
    api, _ = server
    api.strip_field_validation = True
    done = kubectl("create", "-f", "-", stdin=POD, check=False)
    assert done.returncode != 0 and "error validating data" in done.stderr
    assert api.writes == []


def test_explain_reads_the_component_schemas(kubectl) -> None:
    out = kubectl("explain", "pods.spec.containers.ports").stdout
    assert "FIELD: ports <[]ContainerPort>" in out
    assert "containerPort\t<integer> -required-" in out
    assert "protocol\t<string>" in out
    out = kubectl("explain", "deployments.spec.template.spec.containers.resources.limits").stdout
    assert "map[string]Quantity" in out


def test_create_deployment_protobuf_decodes_to_the_dry_run_json(server, kubectl) -> None:
    api, _ = server
    args = ("create", "deployment", "web", "--image=nginx:1.25", "--replicas=0", "--port=8080")
    expected = json.loads(kubectl(*args, "--dry-run=client", "-o", "json").stdout)
    assert kubectl(*args).stdout.strip() == "deployment.apps/web created"
    (write,) = api.writes
    assert write.content_type == "application/vnd.kubernetes.protobuf"
    assert write.body["spec"]["replicas"] == 0
    del (
        expected["metadata"]["creationTimestamp"],
        expected["spec"]["template"]["metadata"]["creationTimestamp"],
    )
    assert write.body == expected
