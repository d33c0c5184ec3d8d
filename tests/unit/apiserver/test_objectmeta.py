"""Names, generateName and create-time metadata, with Kubernetes' messages."""

from __future__ import annotations

import datetime
import uuid

from kin.apiserver import objectmeta
from kin.apiserver.objectmeta import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    generate_name,
    name_causes,
    set_create_metadata,
)


def test_valid_names_have_no_causes() -> None:
    assert name_causes("web-1", DNS1123_LABEL) == []
    assert name_causes("kube-dns.kube-system", DNS1123_SUBDOMAIN) == []


def test_a_dot_is_fine_in_a_subdomain_but_not_in_a_label() -> None:
    assert name_causes("a.b", DNS1123_SUBDOMAIN) == []
    [cause] = name_causes("a.b", DNS1123_LABEL)
    assert cause["field"] == "metadata.name"
    assert 'Invalid value: "a.b": a lowercase RFC 1123 label' in cause["message"]


def test_upper_case_and_length_are_reported() -> None:
    [cause] = name_causes("Web", DNS1123_SUBDOMAIN)
    assert "lowercase RFC 1123 subdomain" in cause["message"]
    long_label = "a" * 64
    [cause] = name_causes(long_label, DNS1123_LABEL)
    assert "must be no more than 63 characters" in cause["message"]


def test_a_missing_name_is_required() -> None:
    [cause] = name_causes("", DNS1123_SUBDOMAIN)
    assert cause["reason"] == "FieldValueRequired"
    assert "name or generateName is required" in cause["message"]


def test_generate_name_appends_five_safe_characters() -> None:
    names = {generate_name("web-") for _ in range(50)}
    assert len(names) > 40
    for name in names:
        suffix = name.removeprefix("web-")
        assert len(suffix) == 5
        assert not set(suffix) & set("aeiou013")


def test_create_metadata_sets_identity_and_drops_what_clients_may_not_set() -> None:
    obj = {
        "metadata": {
            "generateName": "web-",
            "namespace": "other",
            "resourceVersion": "7",
            "deletionTimestamp": "2020-01-01T00:00:00Z",
        }
    }
    set_create_metadata(obj, "default")
    metadata = obj["metadata"]
    assert metadata["name"].startswith("web-")
    assert metadata["namespace"] == "default"
    assert len(metadata["uid"]) == 36
    assert metadata["creationTimestamp"].endswith("Z")
    assert "resourceVersion" not in metadata
    assert "deletionTimestamp" not in metadata


def test_cluster_scoped_objects_lose_their_namespace() -> None:
    obj = {"metadata": {"name": "n1", "namespace": "default"}}
    set_create_metadata(obj, "")
    assert "namespace" not in obj["metadata"]


def test_uids_are_random_version_4_uuids_in_their_usual_form() -> None:
    uids = {objectmeta.new_uid() for _ in range(200)}
    assert len(uids) == 200
    for uid in uids:
        parsed = uuid.UUID(uid)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, uid)


def test_timestamps_are_now_to_the_second() -> None:
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    stamp = objectmeta.now_rfc3339()
    after = datetime.datetime.now(datetime.UTC)
    parsed = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    assert before <= parsed <= after
