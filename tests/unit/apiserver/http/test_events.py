"""One Event, two APIs: core v1 and events.k8s.io/v1 see the same objects, converted."""

from __future__ import annotations

import urllib.parse
from typing import Any

from kin.testing.apiserver import Client

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"


def core(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/events"


def new(ns: str) -> str:
    return f"/apis/events.k8s.io/v1/namespaces/{ns}/events"


def regarding(ns: str) -> Obj:
    return {"kind": "Pod", "namespace": ns, "name": "web", "uid": "pod-uid", "apiVersion": "v1"}


def test_an_events_v1_event_reads_as_a_core_event(api: Client, ns: str) -> None:
    body = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.1"},
        "eventTime": "2024-05-01T10:00:00.000000Z",
        "reportingController": "kin.io/scheduler",
        "reportingInstance": "scheduler-1",
        "action": "Binding",
        "reason": "Scheduled",
        "type": "Normal",
        "note": "Successfully assigned web to node-a",
        "regarding": regarding(ns),
    }
    created = api.post(new(ns), body)
    assert created.status == 201, created
    assert created.json()["note"] == "Successfully assigned web to node-a"
    assert (created.json()["apiVersion"], created.json()["kind"]) == ("events.k8s.io/v1", "Event")
    event = api.get(f"{core(ns)}/web.1").json()
    assert (event["apiVersion"], event["kind"]) == ("v1", "Event")
    assert event["message"] == "Successfully assigned web to node-a"
    assert event["involvedObject"] == regarding(ns)
    assert event["reportingComponent"] == "kin.io/scheduler"
    assert event["reportingInstance"] == "scheduler-1"
    assert (event["reason"], event["type"], event["action"]) == ("Scheduled", "Normal", "Binding")
    assert event["eventTime"] == "2024-05-01T10:00:00.000000Z"
    assert "note" not in event and "regarding" not in event
    assert event["metadata"]["uid"] == created.json()["metadata"]["uid"]


def test_a_core_event_reads_as_an_events_v1_event(api: Client, ns: str) -> None:
    body = {
        "metadata": {"name": "web.2"},
        "involvedObject": regarding(ns),
        "reason": "Pulled",
        "message": "Container image already present",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": "2024-05-01T10:00:00Z",
        "lastTimestamp": "2024-05-01T10:05:00Z",
        "count": 3,
    }
    assert api.post(core(ns), body).status == 201
    event = api.get(f"{new(ns)}/web.2").json()
    assert (event["apiVersion"], event["kind"]) == ("events.k8s.io/v1", "Event")
    assert event["note"] == "Container image already present"
    assert event["regarding"] == regarding(ns)
    assert event["deprecatedSource"] == {"component": "kubelet", "host": "node-a"}
    assert event["deprecatedFirstTimestamp"] == "2024-05-01T10:00:00Z"
    assert event["deprecatedLastTimestamp"] == "2024-05-01T10:05:00Z"
    assert event["deprecatedCount"] == 3
    assert "message" not in event and "involvedObject" not in event and "count" not in event


def test_both_apis_list_the_same_events(api: Client, ns: str) -> None:
    api.post(core(ns), {"metadata": {"name": "a"}, "involvedObject": regarding(ns), "message": "m"})
    api.post(
        new(ns),
        {
            "metadata": {"name": "b"},
            "eventTime": "2024-05-01T10:00:00.000000Z",
            "reportingController": "c",
            "reportingInstance": "i",
            "action": "A",
            "reason": "R",
            "type": "Normal",
            "note": "n",
            "regarding": regarding(ns),
        },
    )
    old_list = api.get(core(ns)).json()
    new_list = api.get(new(ns)).json()
    assert old_list["kind"] == "EventList" and old_list["apiVersion"] == "v1"
    assert new_list["kind"] == "EventList" and new_list["apiVersion"] == "events.k8s.io/v1"
    assert [e["metadata"]["name"] for e in old_list["items"]] == ["a", "b"]
    assert [e["metadata"]["name"] for e in new_list["items"]] == ["a", "b"]
    assert [e.get("message") for e in old_list["items"]] == ["m", "n"]
    assert [e.get("note") for e in new_list["items"]] == ["m", "n"]


def test_a_change_through_one_api_shows_through_the_other(api: Client, ns: str) -> None:
    api.post(core(ns), {"metadata": {"name": "c"}, "involvedObject": regarding(ns), "count": 1})
    patched = api.patch(f"{new(ns)}/c", {"deprecatedCount": 2}, MERGE)
    assert patched.status == 200, patched
    assert api.get(f"{core(ns)}/c").json()["count"] == 2
    assert api.delete(f"{new(ns)}/c").status == 200
    assert api.get(f"{core(ns)}/c").status == 404


def test_field_selectors_use_each_api_s_names(api: Client, ns: str) -> None:
    api.post(core(ns), {"metadata": {"name": "d"}, "involvedObject": regarding(ns)})
    other = dict(regarding(ns), name="other")
    api.post(core(ns), {"metadata": {"name": "e"}, "involvedObject": other})
    by_old = urllib.parse.urlencode({"fieldSelector": "involvedObject.name=web"})
    by_new = urllib.parse.urlencode({"fieldSelector": "regarding.name=web"})
    assert [e["metadata"]["name"] for e in api.get(f"{core(ns)}?{by_old}").json()["items"]] == ["d"]
    assert [e["metadata"]["name"] for e in api.get(f"{new(ns)}?{by_new}").json()["items"]] == ["d"]
