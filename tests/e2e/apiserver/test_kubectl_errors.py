"""Bad input and missing objects: what kubectl prints (its exit code 1 and the server's
Status as kubectl renders it), and that nothing was stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kin.testing.apiserver import Client

if TYPE_CHECKING:
    from tests.e2e.apiserver.conftest import Kubectl

NAME_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def pod(name: str, container: str) -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n{container}"
    )


TYPO = pod("typo", "  - name: a\n    imagee: nginx:1.25\n")
EXTRA = pod("extra", "  - name: a\n    image: nginx:1.25\n    colour: red\n")


def absent(api: Client, namespace: str, name: str) -> bool:
    return api.get(f"/api/v1/namespaces/{namespace}/pods/{name}").status == 404


@pytest.mark.parametrize("verb", ["apply", "create"])
def test_unknown_field_is_a_strict_decoding_error(
    k: Kubectl, namespace: str, api: Client, verb: str
) -> None:
    failed = k(verb, "-f", "-", input=TYPO, check=False)
    assert failed.returncode == 1
    assert failed.stderr == (
        'Error from server (BadRequest): error when creating "STDIN": Pod in version "v1" '
        'cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee"\n'
    )
    assert absent(api, namespace, "typo")


def test_unknown_field_with_validation_warn_or_off(k: Kubectl, namespace: str, api: Client) -> None:
    warned = k("create", "-f", "-", "--validate=warn", input=EXTRA)
    assert warned.stdout == "pod/extra created\n"
    assert warned.stderr == 'Warning: unknown field "spec.containers[0].colour"\n'
    live = api.get(f"/api/v1/namespaces/{namespace}/pods/extra").json()
    assert "colour" not in live["spec"]["containers"][0], "unknown fields are dropped"
    k("delete", "pod", "extra")
    silent = k("create", "-f", "-", "--validate=false", input=EXTRA)
    assert (silent.stdout, silent.stderr) == ("pod/extra created\n", "")


def test_invalid_name(k: Kubectl, namespace: str, api: Client) -> None:
    failed = k(
        "apply", "-f", "-", input=pod("Bad_Name", "  - {name: a, image: nginx}\n"), check=False
    )
    assert failed.returncode == 1
    assert failed.stderr == (
        f'The Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {NAME_RULE}\n'
    )
    listed = api.get(f"/api/v1/namespaces/{namespace}/pods").json()
    assert listed["items"] == []


def test_invalid_name_from_a_generator(k: Kubectl, namespace: str) -> None:
    failed = k("create", "configmap", "Bad_Name", check=False)
    assert failed.returncode == 1
    assert failed.stderr == (
        'error: failed to create configmap: ConfigMap "Bad_Name" is invalid: '
        f'metadata.name: Invalid value: "Bad_Name": {NAME_RULE}\n'
    )


def test_missing_required_field(k: Kubectl, namespace: str, api: Client) -> None:
    failed = k("apply", "-f", "-", input=pod("noimage", "  - name: a\n"), check=False)
    assert failed.returncode == 1
    assert (
        failed.stderr == 'The Pod "noimage" is invalid: spec.containers[0].image: Required value\n'
    )
    assert absent(api, namespace, "noimage")


def test_several_invalid_fields_are_listed_together(
    k: Kubectl, namespace: str, api: Client
) -> None:
    manifest = pod("multi", "  - name: a\n    ports: [{containerPort: 70000}]\n")
    failed = k("create", "-f", "-", input=manifest, check=False)
    assert failed.returncode == 1
    assert failed.stderr == (
        'The Pod "multi" is invalid: \n'
        "* spec.containers[0].image: Required value\n"
        "* spec.containers[0].ports[0].containerPort: Invalid value: 70000: "
        "must be between 1 and 65535, inclusive\n"
    )
    assert absent(api, namespace, "multi")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("pod", "nope"), 'pods "nope" not found'),
        (("deployment", "nope"), 'deployments.apps "nope" not found'),
        (("lease", "nope"), 'leases.coordination.k8s.io "nope" not found'),
        (("node", "kt-no-such-node"), 'nodes "kt-no-such-node" not found'),
        (("namespace", "kt-no-such-ns"), 'namespaces "kt-no-such-ns" not found'),
    ],
)
def test_get_missing_object(k: Kubectl, args: tuple[str, str], message: str) -> None:
    failed = k("get", *args, check=False)
    assert failed.returncode == 1
    assert (failed.stdout, failed.stderr) == ("", f"Error from server (NotFound): {message}\n")


def test_get_in_a_missing_namespace_is_empty(kubectl: Kubectl) -> None:
    done = kubectl("get", "pods", "--namespace=kt-no-such-ns")
    assert done.stderr == "No resources found in kt-no-such-ns namespace.\n"


def test_create_in_a_missing_namespace(kubectl: Kubectl, api: Client) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1, namespace: kt-no-such-ns}\n"
    failed = kubectl("create", "-f", "-", input=manifest, check=False)
    assert failed.returncode == 1
    assert failed.stderr == (
        'Error from server (NotFound): error when creating "STDIN": '
        'namespaces "kt-no-such-ns" not found\n'
    )
    assert api.get("/api/v1/namespaces/kt-no-such-ns/configmaps/c1").status == 404


def test_unknown_resource_type(kubectl: Kubectl) -> None:
    failed = kubectl("get", "widgets", check=False)
    assert failed.returncode == 1
    assert failed.stderr == 'error: the server doesn\'t have a resource type "widgets"\n'
