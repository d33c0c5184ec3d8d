"""POST: what the server assigns and defaults, and each way a create is refused."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any

from kin.testing.apiserver import Client, InProcessServer

Obj = dict[str, Any]
UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def pod(name: str = "web", **spec: Any) -> Obj:
    spec.setdefault("containers", [{"name": "app", "image": "nginx:1.27"}])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def pods(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def test_create_assigns_name_uid_timestamp_and_a_string_resource_version(
    api: Client, ns: str
) -> None:
    body = pod()
    body["metadata"] = {"generateName": "web-", "uid": "mine", "resourceVersion": "0"}
    created = api.post(pods(ns), body)
    assert created.status == 201, created
    metadata = created.json()["metadata"]
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", metadata["name"])
    assert UID.match(metadata["uid"])
    assert TIMESTAMP.match(metadata["creationTimestamp"])
    assert isinstance(metadata["resourceVersion"], str) and int(metadata["resourceVersion"]) > 0
    assert metadata["namespace"] == ns
    assert metadata["generation"] == 1
    got = api.get(f"{pods(ns)}/{metadata['name']}").json()
    assert got["metadata"] == metadata
    again = api.post(pods(ns), body).json()["metadata"]
    assert again["name"] != metadata["name"] and again["uid"] != metadata["uid"]
    assert int(again["resourceVersion"]) > int(metadata["resourceVersion"])


def test_a_resource_version_copied_into_a_create_is_refused(api: Client, ns: str) -> None:
    body = pod()
    body["metadata"]["resourceVersion"] = "12"
    refused = api.post(pods(ns), body)
    assert refused.status == 500, refused
    assert refused.json()["message"] == "resourceVersion should not be set on objects to be created"
    assert api.get(f"{pods(ns)}/web").status == 404
    assert api.post(pods(ns) + "?dryRun=All", body).status == 201  # dry runs skip the check
    body["metadata"]["resourceVersion"] = "-1"  # not a resourceVersion: ignored, as in kube
    created = api.post(pods(ns), body)
    assert created.status == 201, created
    assert created.json()["metadata"]["resourceVersion"] != "-1"


def test_create_applies_the_pod_defaults(api: Client, ns: str) -> None:
    containers = [
        {"name": "untagged", "image": "nginx"},
        {"name": "latest", "image": "registry.local:5000/team/nginx:latest"},
        {"name": "tagged", "image": "registry.local:5000/nginx:1.27"},
        {"name": "digest", "image": "nginx@sha256:" + "a" * 64},
        {"name": "chosen", "image": "nginx", "imagePullPolicy": "Never"},
    ]
    created = api.post(pods(ns), pod(containers=containers))
    assert created.status == 201, created
    spec = created.json()["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["serviceAccountName"] == "default"
    policies = {c["name"]: c["imagePullPolicy"] for c in spec["containers"]}
    assert policies == {
        "untagged": "Always",
        "latest": "Always",
        "tagged": "IfNotPresent",
        "digest": "IfNotPresent",
        "chosen": "Never",
    }
    for container in spec["containers"]:
        assert container["terminationMessagePath"] == "/dev/termination-log"
        assert container["terminationMessagePolicy"] == "File"
    assert created.json()["status"]["phase"] == "Pending"


def test_create_keeps_what_the_client_chose(api: Client, ns: str) -> None:
    spec: Obj = {
        "restartPolicy": "Never",
        "dnsPolicy": "Default",
        "terminationGracePeriodSeconds": 5,
    }
    created = api.post(pods(ns), pod(**spec)).json()["spec"]
    assert {k: created[k] for k in spec} == spec


def test_a_taken_name_is_409_already_exists_with_details(api: Client, ns: str) -> None:
    assert api.post(pods(ns), pod("dup")).status == 201
    again = api.post(pods(ns), pod("dup"))
    assert again.status == 409, again
    status = again.json()
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'pods "dup" already exists'
    assert status["details"] == {"name": "dup", "kind": "pods"}


def test_bad_name_and_missing_image_are_422_invalid_with_causes(api: Client, ns: str) -> None:
    body = pod("Bad_Name", containers=[{"name": "app"}])
    refused = api.post(pods(ns), body)
    assert refused.status == 422, refused
    status = refused.json()
    assert status["reason"] == "Invalid"
    assert status["details"]["name"] == "Bad_Name" and status["details"]["kind"] == "Pod"
    causes = {c["field"]: c for c in status["details"]["causes"]}
    assert set(causes) == {"metadata.name", "spec.containers[0].image"}
    assert causes["spec.containers[0].image"]["reason"] == "FieldValueRequired"
    assert causes["metadata.name"]["reason"] == "FieldValueInvalid"
    assert status["message"].startswith('Pod "Bad_Name" is invalid: metadata.name: Invalid value')
    assert api.get(f"{pods(ns)}/Bad_Name").status == 404


def test_labels_annotations_and_owner_references_are_validated(api: Client, ns: str) -> None:
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    cases: list[tuple[Obj, str, str]] = [
        (
            {"labels": {"bad key": "v"}},
            "metadata.labels",
            'Invalid value: "bad key": name part must consist of alphanumeric characters',
        ),
        (
            {"labels": {"k": "bad value!"}},
            "metadata.labels",
            'Invalid value: "bad value!": a valid label must be an empty string',
        ),
        (
            {"annotations": {"a/b/c": "v"}},
            "metadata.annotations",
            'Invalid value: "a/b/c": a qualified name must consist of',
        ),
        (
            {"ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o"}]},
            "metadata.ownerReferences.uid",
            'Invalid value: "": uid must not be empty',
        ),
    ]
    for metadata, field, message in cases:
        refused = api.post(cms, {"metadata": {"name": "cm", **metadata}})
        assert refused.status == 422, (metadata, refused)
        [cause] = refused.json()["details"]["causes"]
        assert cause["field"] == field and cause["message"].startswith(message), cause
    fine = {
        "labels": {"example.com/tier": "web", "empty": ""},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u"}
        ],
    }
    assert api.post(cms, {"metadata": {"name": "cm", **fine}}).status == 201
    refused = api.patch(
        f"{cms}/cm", {"metadata": {"labels": {"x": "no spaces"}}}, "application/merge-patch+json"
    )
    assert refused.status == 422, refused


def test_annotations_are_limited_to_256_kib_in_all(api: Client, ns: str) -> None:
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    big = {"a": "x" * (128 * 1024), "b": "y" * (128 * 1024)}
    refused = api.post(cms, {"metadata": {"name": "cm", "annotations": big}})
    assert refused.status == 422, refused
    [cause] = refused.json()["details"]["causes"]
    assert cause == {
        "field": "metadata.annotations",
        "reason": "FieldValueTooLong",
        "message": "Too long: must have at most 262144 bytes",
    }


def test_container_names_are_dns_labels(api: Client, ns: str) -> None:
    refused = api.post(pods(ns), pod(containers=[{"name": "Bad_C", "image": "x"}]))
    assert refused.status == 422, refused
    assert refused.json()["message"] == (
        'Pod "web" is invalid: spec.containers[0].name: Invalid value: "Bad_C": a lowercase '
        "RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
        "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
        "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    )


def test_a_name_with_a_trailing_newline_is_invalid(api: Client, ns: str) -> None:
    refused = api.post(pods(ns), pod("web\n"))
    assert refused.status == 422, refused
    assert refused.json()["details"]["causes"][0]["field"] == "metadata.name"


def test_a_name_is_required(api: Client, ns: str) -> None:
    body = pod()
    del body["metadata"]["name"]
    refused = api.post(pods(ns), body)
    assert refused.status == 422, refused
    assert refused.json()["details"]["causes"][0]["field"] == "metadata.name"


def test_malformed_json_is_400(api: Client, ns: str) -> None:
    for raw in (b'{"metadata": ', b"[1, 2]", b'"a string"'):
        refused = api.post(pods(ns), raw)
        assert refused.status == 400, (raw, refused)
        assert refused.json()["reason"] == "BadRequest"


def test_nan_and_infinity_are_400_and_nothing_is_stored(api: Client, ns: str) -> None:
    """Python's json reads NaN and Infinity, YAML has .nan and .inf; JSON has neither."""
    head = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},'
    spec = '"spec":{"containers":[{"name":"a","image":"x"}],"priority":%s}}'
    bodies = [((head + spec % c).encode(), "application/json") for c in ("NaN", "-Infinity")]
    as_yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {priority: .nan}\n"
    for raw, media in [*bodies, (as_yaml.encode(), "application/yaml")]:
        refused = api.post(pods(ns), raw, content_type=media)
        assert refused.status == 400, (raw, refused)
        assert "NaN" in refused.json()["message"] or "Infinity" in refused.json()["message"]
    assert api.get(f"{pods(ns)}/web").status == 404


def test_a_body_without_a_content_type_is_json(server: InProcessServer, ns: str) -> None:
    connection = http.client.HTTPConnection(server.server.config.bind_address, server.server.port)
    try:
        body = json.dumps(pod()).encode()
        headers = {"Authorization": f"Bearer {server.token}"}
        connection.request("POST", pods(ns), body, headers)
        answer = connection.getresponse()
        assert answer.status == 201, answer.read()
    finally:
        connection.close()


def test_wrong_kind_or_api_version_in_the_body_is_400(api: Client, ns: str) -> None:
    service = pod()
    service["kind"] = "Service"
    assert api.post(pods(ns), service).status == 400
    apps = pod()
    apps["apiVersion"] = "apps/v1"
    refused = api.post(pods(ns), apps)
    assert refused.status == 400, refused
    assert "apps/v1" in refused.json()["message"]
    assert api.get(f"{pods(ns)}/web").status == 404


def test_kind_and_api_version_may_be_left_out(api: Client, ns: str) -> None:
    body = pod()
    del body["kind"], body["apiVersion"]
    created = api.post(pods(ns), body)
    assert created.status == 201, created
    assert (created.json()["kind"], created.json()["apiVersion"]) == ("Pod", "v1")


def test_a_namespace_in_the_body_must_match_the_url(api: Client, ns: str) -> None:
    body = pod()
    body["metadata"]["namespace"] = "default"
    refused = api.post(pods(ns), body)
    assert refused.status == 400, refused
    assert "does not match the namespace" in refused.json()["message"]
    body["metadata"]["namespace"] = ns
    assert api.post(pods(ns), body).status == 201


def test_a_body_over_3_mib_is_413(api: Client, ns: str) -> None:
    body = pod()
    body["metadata"]["annotations"] = {"big": "x" * (3 * 1024 * 1024)}
    refused = api.post(pods(ns), body)
    assert refused.status == 413, refused
    assert refused.json()["reason"] == "RequestEntityTooLarge"
    assert api.get(f"{pods(ns)}/web").status == 404


def test_a_body_under_3_mib_is_read_whole(api: Client, ns: str) -> None:
    data = {f"k{i}": "v" * (256 * 1024) for i in range(10)}  # 2.5 MiB
    body = {"metadata": {"name": "big"}, "data": data}
    created = api.post(f"/api/v1/namespaces/{ns}/configmaps", body)
    assert created.status == 201, created
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/big").json()["data"] == data


def test_unknown_fields_are_refused_when_strict(api: Client, ns: str) -> None:
    body = pod()
    body["spec"]["containers"][0]["imagee"] = "typo"
    refused = api.post(pods(ns) + "?fieldValidation=Strict", body)
    assert refused.status == 400, refused
    assert refused.json()["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].imagee"'
    )
    assert api.get(f"{pods(ns)}/web").status == 404


def test_unknown_fields_warn_and_are_dropped(api: Client, ns: str) -> None:
    body = pod("warned")
    body["spec"]["containers"][0]["imagee"] = "typo"
    body["spec"]["bogus"] = {"deep": 1}
    body["metadata"]["colour"] = "red"
    created = api.post(pods(ns) + "?fieldValidation=Warn", body)
    assert created.status == 201, created
    warnings = created.headers.get_all("Warning") or []
    assert sorted(warnings) == [
        '299 - "unknown field \\"metadata.colour\\""',
        '299 - "unknown field \\"spec.bogus\\""',
        '299 - "unknown field \\"spec.containers[0].imagee\\""',
    ]
    _assert_dropped(api, ns, "warned", created.json())


def test_unknown_fields_are_dropped_silently_when_ignored(api: Client, ns: str) -> None:
    body = pod("ignored")
    body["spec"]["containers"][0]["imagee"] = "typo"
    body["spec"]["bogus"] = {"deep": 1}
    body["metadata"]["colour"] = "red"
    created = api.post(pods(ns) + "?fieldValidation=Ignore", body)
    assert created.status == 201, created
    assert created.headers.get_all("Warning") is None
    _assert_dropped(api, ns, "ignored", created.json())


def _assert_dropped(api: Client, ns: str, name: str, returned: Obj) -> None:
    for obj in (returned, api.get(f"{pods(ns)}/{name}").json()):
        assert "bogus" not in obj["spec"]
        assert "imagee" not in obj["spec"]["containers"][0]
        assert "colour" not in obj["metadata"]
        assert obj["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_unknown_fields_in_an_update_are_dropped_too(api: Client, ns: str) -> None:
    created = api.post(pods(ns), pod()).json()
    created["spec"]["bogus"] = True
    updated = api.put(f"{pods(ns)}/web?fieldValidation=Ignore", created)
    assert updated.status == 200, updated
    assert "bogus" not in api.get(f"{pods(ns)}/web").json()["spec"]
    patched = api.patch(f"{pods(ns)}/web", {"spec": {"bogus": 1}}, "application/merge-patch+json")
    assert patched.status == 200, patched
    assert "bogus" not in api.get(f"{pods(ns)}/web").json()["spec"]


def test_a_round_trip_of_a_stored_object_has_no_unknown_fields(api: Client, ns: str) -> None:
    created = api.post(pods(ns), pod()).json()
    updated = api.put(f"{pods(ns)}/web?fieldValidation=Strict", created)
    assert updated.status == 200, updated
    assert updated.headers.get_all("Warning") is None


def test_wrong_json_types_are_400_whatever_the_validation(api: Client, ns: str) -> None:
    body = pod()
    body["spec"]["terminationGracePeriodSeconds"] = "thirty"
    refused = api.post(pods(ns) + "?fieldValidation=Ignore", body)
    assert refused.status == 400, refused
    assert "cannot unmarshal string" in refused.json()["message"]


def test_creating_in_a_missing_namespace_is_404(api: Client) -> None:
    refused = api.post(pods("no-such-namespace"), pod())
    assert refused.status == 404, refused
    status = refused.json()
    assert status["reason"] == "NotFound"
    assert status["message"] == 'namespaces "no-such-namespace" not found'


def test_creating_in_a_terminating_namespace_is_403(api: Client, ns: str) -> None:
    held = {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    assert api.post(f"/api/v1/namespaces/{ns}/configmaps", held).status == 201
    assert api.delete(f"/api/v1/namespaces/{ns}").status == 200
    refused = api.post(pods(ns), pod())
    assert refused.status == 403, refused
    status = refused.json()
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        f'pods "web" is forbidden: unable to create new content in namespace {ns} '
        "because it is being terminated"
    )
    release = {"metadata": {"finalizers": None}}
    path = f"/api/v1/namespaces/{ns}/configmaps/held"
    assert api.patch(path, release, "application/merge-patch+json").status == 200


def test_dry_run_create_stores_nothing(api: Client, ns: str) -> None:
    created = api.post(pods(ns) + "?dryRun=All", pod())
    assert created.status == 201, created
    assert created.json()["spec"]["restartPolicy"] == "Always"
    assert api.get(f"{pods(ns)}/web").status == 404


def test_a_dry_run_other_than_all_is_422_and_writes_nothing(api: Client, ns: str) -> None:
    refused = api.post(pods(ns) + "?dryRun=true", pod())
    assert refused.status == 422, refused
    status = refused.json()
    assert status["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: '
        'dryRun: Unsupported value: []string{"true"}: supported values: "All"'
    )
    assert status["details"]["causes"][0]["field"] == "dryRun"
    assert api.get(f"{pods(ns)}/web").status == 404
    assert api.delete(f"{pods(ns)}/web?dryRun=yes").status == 422


def test_an_unknown_field_validation_is_422(api: Client, ns: str) -> None:
    refused = api.post(pods(ns) + "?fieldValidation=Loose", pod())
    assert refused.status == 422, refused
    assert refused.json()["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: '
        '"Loose": supported values: "Ignore", "Strict", "Warn"'
    )
    assert api.get(f"{pods(ns)}/web").status == 404


def test_the_response_is_json_with_kind_and_api_version(api: Client, ns: str) -> None:
    created = api.post(pods(ns), pod())
    assert created.headers["Content-Type"].startswith("application/json")
    decoded = json.loads(created.body)
    assert (decoded["kind"], decoded["apiVersion"]) == ("Pod", "v1")
