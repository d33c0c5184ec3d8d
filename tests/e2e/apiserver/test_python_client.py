"""The official Python client (``kubernetes``) against the same server: configured from
the server's kubeconfig (client certificate over HTTPS), typed list/create/read, watch
streams with resourceVersion resume, and ApiException statuses.

The client's models make every field Optional, so what it returns is read as ``Any``
here: the assertions pin the exact values, which is the check that matters.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch

from kin.testing.apiserver import Client, ServerProcess
from kin.testing.names import random_name

WATCH_SECONDS = 10


@pytest.fixture(scope="module")
def api_client(server: ServerProcess) -> Iterator[client.ApiClient]:
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=server.kubeconfig, client_configuration=configuration
    )
    assert configuration.host == server.url
    made: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=server.kubeconfig
    )
    with made as api:
        assert api.configuration.host == server.url
        yield api


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


def typed_pod(name: str, labels: dict[str, str] | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="web",
                    image="nginx:1.25",
                    ports=[client.V1ContainerPort(container_port=80)],
                )
            ]
        ),
    )


def test_list_namespaces_with_label_selectors(core: client.CoreV1Api, namespace: str) -> None:
    everything: Any = core.list_namespace()
    names = {ns.metadata.name for ns in everything.items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease", namespace} <= names
    assert int(everything.metadata.resource_version) > 0

    only: Any = core.list_namespace(label_selector=f"kubernetes.io/metadata.name={namespace}")
    assert [ns.metadata.name for ns in only.items] == [namespace]
    assert only.items[0].status.phase == "Active"
    system: Any = core.list_namespace(
        label_selector="kubernetes.io/metadata.name in (kube-system,kube-public)"
    )
    assert sorted(ns.metadata.name for ns in system.items) == ["kube-public", "kube-system"]


def test_list_pods_with_label_selectors(core: client.CoreV1Api, namespace: str) -> None:
    for name, labels in (("a", {"env": "prod"}), ("b", {"env": "dev"}), ("c", {})):
        core.create_namespaced_pod(namespace, typed_pod(name, labels))
    cases = {"env=prod": ["a"], "env!=prod": ["b", "c"], "env": ["a", "b"], "!env": ["c"]}
    for selector, names in cases.items():
        found: Any = core.list_namespaced_pod(namespace, label_selector=selector)
        assert [p.metadata.name for p in found.items] == names, selector
    everywhere: Any = core.list_pod_for_all_namespaces(label_selector="env=dev")
    assert [(p.metadata.namespace, p.metadata.name) for p in everywhere.items] == [(namespace, "b")]


def test_create_and_read_a_pod(core: client.CoreV1Api, namespace: str, stored: Any) -> None:
    created: Any = core.create_namespaced_pod(namespace, typed_pod("web", {"app": "web"}))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.status.phase == "Pending"
    read: Any = core.read_namespaced_pod("web", namespace)
    assert read.metadata.uid == created.metadata.uid
    assert read.spec.containers[0].ports[0].container_port == 80
    assert read.spec.containers[0].ports[0].protocol == "TCP"
    assert read.spec.restart_policy == "Always"
    live = stored(f"/api/v1/namespaces/{namespace}/pods/web")
    assert live["metadata"]["uid"] == created.metadata.uid
    assert live["metadata"]["labels"] == {"app": "web"}


def test_create_and_read_a_deployment(apps: client.AppsV1Api, namespace: str, stored: Any) -> None:
    labels = {"app": "api"}
    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="api", labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="api", image="nginx:1.25")]
                ),
            ),
        ),
    )
    created: Any = apps.create_namespaced_deployment(namespace, body)
    assert created.metadata.generation == 1
    read: Any = apps.read_namespaced_deployment("api", namespace)
    assert read.spec.replicas == 3
    assert read.spec.selector.match_labels == labels
    assert read.spec.strategy.type == "RollingUpdate"
    scaled: Any = apps.patch_namespaced_deployment_scale(
        "api", namespace, {"spec": {"replicas": 1}}
    )
    assert scaled.spec.replicas == 1
    live = stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/api")
    assert live["spec"]["replicas"] == 1
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"


def changes(core: client.CoreV1Api, namespace: str) -> None:
    """A create, a label change and a delete of one pod, as a test's background writer."""
    core.create_namespaced_pod(namespace, typed_pod("w1"))
    core.patch_namespaced_pod("w1", namespace, {"metadata": {"labels": {"seen": "yes"}}})
    core.delete_namespaced_pod("w1", namespace)


def pods_resource_version(core: client.CoreV1Api, namespace: str) -> str:
    listed: Any = core.list_namespaced_pod(namespace)
    return str(listed.metadata.resource_version)


def watch_pods(
    core: client.CoreV1Api, namespace: str, resource_version: str, count: int
) -> list[Any]:
    """The first ``count`` events of ``watch.Watch().stream`` over the namespace's pods."""
    watcher = watch.Watch()  # type: ignore[no-untyped-call]
    stream = watcher.stream(  # type: ignore[no-untyped-call]
        core.list_namespaced_pod,
        namespace,
        resource_version=resource_version,
        timeout_seconds=WATCH_SECONDS,
    )
    events: list[Any] = []
    for event in stream:
        events.append(event)
        if len(events) == count:
            watcher.stop()  # type: ignore[no-untyped-call]
    return events


def test_watch_sees_added_modified_deleted(core: client.CoreV1Api, namespace: str) -> None:
    start = pods_resource_version(core, namespace)
    writer = threading.Thread(target=changes, args=(core, namespace))
    writer.start()
    try:
        events = watch_pods(core, namespace, start, 3)
    finally:
        writer.join()
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("ADDED", "w1"),
        ("MODIFIED", "w1"),
        ("DELETED", "w1"),
    ]
    assert events[1]["object"].metadata.labels == {"seen": "yes"}
    versions = [int(e["object"].metadata.resource_version) for e in events]
    assert versions == sorted(versions) and versions[0] > int(start)


def test_watch_resumes_from_a_resource_version(core: client.CoreV1Api, namespace: str) -> None:
    """Changes made while no one watches are delivered to a watch that resumes after them."""
    start = pods_resource_version(core, namespace)
    changes(core, namespace)
    events = watch_pods(core, namespace, start, 3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    after_add = events[0]["object"].metadata.resource_version
    resumed = watch_pods(core, namespace, after_add, 2)
    assert [(e["type"], e["object"].metadata.labels) for e in resumed] == [
        ("MODIFIED", {"seen": "yes"}),
        ("DELETED", {"seen": "yes"}),
    ]


def test_watch_from_zero_starts_with_current_objects(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, typed_pod("exists"))
    (event,) = watch_pods(core, namespace, "0", 1)
    assert (event["type"], event["object"].metadata.name) == ("ADDED", "exists")


def test_api_exception_not_found(core: client.CoreV1Api, namespace: str) -> None:
    with pytest.raises(client.ApiException) as raised:
        core.read_namespaced_pod("nope", namespace)
    assert raised.value.status == 404
    status = json.loads(str(raised.value.body))
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "NotFound", 404)
    assert status["message"] == 'pods "nope" not found'
    assert status["details"] == {"name": "nope", "kind": "pods"}


def test_api_exception_already_exists(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, typed_pod("twice"))
    with pytest.raises(client.ApiException) as raised:
        core.create_namespaced_pod(namespace, typed_pod("twice"))
    assert raised.value.status == 409
    status = json.loads(str(raised.value.body))
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'pods "twice" already exists'


def test_api_exception_conflict_on_a_stale_update(
    core: client.CoreV1Api, namespace: str, api: Client
) -> None:
    created: Any = core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1"), data={"a": "1"}),
    )
    core.patch_namespaced_config_map("c1", namespace, {"data": {"a": "2"}})
    created.data = {"a": "stale"}
    with pytest.raises(client.ApiException) as raised:
        core.replace_namespaced_config_map("c1", namespace, created)
    assert raised.value.status == 409
    assert json.loads(str(raised.value.body))["reason"] == "Conflict"
    live = api.get(f"/api/v1/namespaces/{namespace}/configmaps/c1").json()
    assert live["data"] == {"a": "2"}


def test_delete_a_namespace_through_the_client(
    core: client.CoreV1Api, api: Client, eventually: Any
) -> None:
    name = random_name("kt")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        core.create_namespaced_config_map(
            name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1"))
        )
        core.delete_namespace(name)
        eventually(lambda: api.get(f"/api/v1/namespaces/{name}").status == 404)
        with pytest.raises(client.ApiException) as raised:
            core.read_namespaced_config_map("c1", name)
        assert raised.value.status == 404
    finally:
        api.delete(f"/api/v1/namespaces/{name}")
