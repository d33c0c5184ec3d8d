"""Semantics this suite first found missing: clients that send no Content-Type, `kind:
List` under kubectl's default validation (OpenAPI v2), Secret stringData, label and
container-name validation, immutable fields, renames by PATCH, LoadBalancer defaults.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kin.testing.apiserver import ServerProcess

if TYPE_CHECKING:
    from tests.e2e.apiserver.conftest import Kubectl

Stored = Callable[[str], Any]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - {name: app, image: nginx:1.25}
"""


def test_python_client_creates_without_a_content_type(
    server: ServerProcess, namespace: str, stored: Stored
) -> None:
    """Client 37 sends create and replace bodies (JSON) with no Content-Type header;
    kube-apiserver's NegotiateInputSerializerForMediaType takes an empty media type as
    its first supported one, application/json (aiohttp would call it octet-stream)."""
    from kubernetes import client, config

    made: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=server.kubeconfig
    )
    with made as api_client:
        core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx")]),
        )
        core.create_namespaced_pod(namespace, pod)
        assert (
            stored(f"/api/v1/namespaces/{namespace}/pods/web")["spec"]["containers"][0]["image"]
            == "nginx"
        )
        labels = {"app": "api"}
        deployment = client.V1Deployment(
            metadata=client.V1ObjectMeta(name="api"),
            spec=client.V1DeploymentSpec(
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="a", image="x")]),
                ),
            ),
        )
        apps.create_namespaced_deployment(namespace, deployment)
        read: Any = apps.read_namespaced_deployment("api", namespace)
        read.spec.replicas = 4
        apps.replace_namespaced_deployment("api", namespace, read)
        assert (
            stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/api")["spec"]["replicas"] == 4
        )


def test_apply_a_list_under_default_validation(k: Kubectl, namespace: str, stored: Stored) -> None:
    """``kind: List`` (what ``kubectl get -o yaml`` writes for several objects) has no
    PATCH operation in /openapi/v3, so kubectl validates it client-side against the
    protobuf /openapi/v2 (without it: ``error validating data: the server was unable to
    respond with a content type that the client supports``)."""
    manifest = """\
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: c1}, data: {a: "1"}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: c2}, data: {b: "2"}}
"""
    done = k("apply", "-f", "-", input=manifest, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "configmap/c1 created\nconfigmap/c2 created\n"
    assert stored(f"/api/v1/namespaces/{namespace}/configmaps/c2")["data"] == {"b": "2"}


def test_secret_string_data_is_merged_into_data(k: Kubectl, namespace: str, stored: Stored) -> None:
    """kube-apiserver's Secret strategy moves write-only ``stringData`` into ``data``
    (base64) on create and update."""
    manifest = "apiVersion: v1\nkind: Secret\nmetadata: {name: s1}\nstringData: {pw: hunter2}\ndata: {a: YQ==}\n"
    k("apply", "-f", "-", input=manifest)
    live = stored(f"/api/v1/namespaces/{namespace}/secrets/s1")
    assert live["data"] == {"a": "YQ==", "pw": "aHVudGVyMg=="}
    assert "stringData" not in live


INVALID_UPDATES = [
    (
        "label key",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1, labels: {'bad key!': x}}\n",
        'The ConfigMap "c1" is invalid: metadata.labels: Invalid value: "bad key!": name part '
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
        "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
        "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')\n",
    ),
    (
        "container name",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\nspec: {containers: [{name: Bad_C, image: x}]}\n",
        'The Pod "p1" is invalid: spec.containers[0].name: Invalid value: "Bad_C": a lowercase '
        "RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
        "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
        "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')\n",
    ),
]


def test_label_keys_and_container_names_are_validated(k: Kubectl, namespace: str) -> None:
    """kube-apiserver's ValidateLabels (IsQualifiedName) and ValidateDNS1123Label on
    container names."""
    for what, manifest, message in INVALID_UPDATES:
        failed = k("create", "-f", "-", input=manifest, check=False)
        assert (failed.returncode, failed.stderr) == (1, message), what


def test_immutable_fields_stay(k: Kubectl, namespace: str, stored: Stored) -> None:
    """apps/v1 Deployment ``spec.selector`` and Secret ``type`` are immutable
    (ValidateImmutableField: ``field is immutable``)."""
    k("create", "-f", "-", input=DEPLOYMENT)
    relabel = {"spec": {"selector": {"matchLabels": {"app": "z"}},
                        "template": {"metadata": {"labels": {"app": "z"}}}}}  # fmt: skip
    failed = k("patch", "deployment", "web", "--type=merge", "-p", json.dumps(relabel), check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith(
        'The Deployment "web" is invalid: spec.selector: Invalid value: '
    )
    assert failed.stderr.endswith(": field is immutable\n")
    live = stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert live["spec"]["selector"] == {"matchLabels": {"app": "web"}}

    k("create", "secret", "generic", "s1", "--from-literal=a=b")
    failed = k(
        "patch", "secret", "s1", "--type=merge", "-p", '{"type":"example.com/x"}', check=False
    )
    assert (failed.returncode, failed.stderr) == (
        1,
        'The Secret "s1" is invalid: type: Invalid value: "example.com/x": field is immutable\n',
    )
    assert stored(f"/api/v1/namespaces/{namespace}/secrets/s1")["type"] == "Opaque"


def test_a_patch_may_not_rename(k: Kubectl, namespace: str, stored: Stored) -> None:
    """kube-apiserver's patcher runs checkName on the patched object: 400
    ``the name of the object (other) does not match the name on the URL (c1)``."""
    k("create", "configmap", "c1", "--from-literal=a=1")
    failed = k(
        "patch",
        "configmap",
        "c1",
        "--type=merge",
        "-p",
        '{"metadata":{"name":"other"}}',
        check=False,
    )
    assert (failed.returncode, failed.stderr) == (
        1,
        "Error from server (BadRequest): the name of the object (other) does not match "
        "the name on the URL (c1)\n",
    )


def test_load_balancer_defaults_allocate_node_ports(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    """SetDefaults_Service sets ``allocateLoadBalancerNodePorts: true`` for type
    LoadBalancer."""
    k("create", "service", "loadbalancer", "lb1", "--tcp=443:8443")
    spec = stored(f"/api/v1/namespaces/{namespace}/services/lb1")["spec"]
    assert spec["allocateLoadBalancerNodePorts"] is True
