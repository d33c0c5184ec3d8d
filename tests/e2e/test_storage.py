"""kind's storage on kin: the default StorageClass ``standard`` gives a claim a node
directory, which a pod mounts; deleting the claim removes the directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kin.cluster.state import node_dir
from kin.testing.clusters import TWO_NODES, kubeconfig_for, kubectl, temporary_cluster
from kin.testing.waiting import eventually

CLAIM_AND_POD = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo hello from the claim > /data/file; sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with temporary_cluster(TWO_NODES, None, "--wait", "60s") as name:
        yield name, kubeconfig_for(name, str(tmp_path_factory.mktemp("kubeconfig")))


def test_the_standard_class_gives_a_claim_a_directory_on_the_pods_node(
    cluster: tuple[str, str],
) -> None:
    name, config = cluster
    classes = kubectl(config, "get", "storageclass").stdout.splitlines()
    assert classes[1].split()[:5] == [
        "standard", "(default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer",
    ]  # fmt: skip
    kubectl(config, "apply", "-f", "-", stdin=CLAIM_AND_POD)
    kubectl(config, "wait", "--for=condition=Ready", "pod/writer", "--timeout=60s")
    pvc = json.loads(kubectl(config, "get", "pvc", "data", "-o", "json").stdout)
    assert pvc["status"]["phase"] == "Bound" and pvc["spec"]["storageClassName"] == "standard"
    pod = json.loads(kubectl(config, "get", "pod", "writer", "-o", "json").stdout)
    node = pod["spec"]["nodeName"]
    assert node == f"{name}-worker"
    volume = pvc["spec"]["volumeName"]
    directory = (Path(node_dir(name, node)) / "fs/var/local-path-provisioner"
                 / f"{volume}_default_data")  # fmt: skip
    assert eventually(lambda: (directory / "file").exists(), timeout=10)
    assert (directory / "file").read_text() == "hello from the claim\n"
    listed = kubectl(config, "get", "pv").stdout
    assert volume in listed and "Bound" in listed and "default/data" in listed
    kubectl(config, "delete", "pod", "writer")
    kubectl(config, "delete", "pvc", "data")
    eventually(lambda: not directory.exists(), timeout=30)
    eventually(lambda: volume not in kubectl(config, "get", "pv").stdout, timeout=30)
