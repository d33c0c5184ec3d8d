"""?watch=true: where a watch starts, what it sends, selectors, timeouts, expiry, Tables,
and every event of a thousand concurrent writes, in order, with nothing missing."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Generator, Iterator
from typing import Any, cast

import pytest

from kin.apiserver.http import watchstream
from kin.testing.apiserver import Client, InProcessServer

Obj = dict[str, Any]
Event = dict[str, Any]
MERGE = "application/merge-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
OnServer = Callable[[Coroutine[Any, Any, Any]], Any]


def configmap(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": labels}, "data": {"v": "0"}}


def watch_path(path: str, **params: str) -> str:
    return f"{path}?{urllib.parse.urlencode({'watch': '1', **params})}"


@contextlib.contextmanager
def watching(api: Client, path: str, timeout: float = 10.0) -> Iterator[Iterator[Event]]:
    """``api.watch(path)``, its connection closed on the way out."""
    events = api.watch(path, timeout)
    try:
        yield events
    finally:
        cast(Generator[Event, None, None], events).close()


def rv(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


def take(events: Iterator[Event], count: int) -> list[tuple[str, str, int]]:
    """The next ``count`` events as (type, name, resourceVersion)."""
    taken = []
    for _ in range(count):
        event = next(events)
        taken.append((event["type"], event["object"]["metadata"]["name"], rv(event["object"])))
    return taken


def current_rv(api: Client, path: str) -> int:
    return int(api.get(path).json()["metadata"]["resourceVersion"])


def test_a_watch_without_resource_version_starts_with_the_current_objects(
    api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    existing = [("ADDED", name, rv(api.post(path, configmap(name)).json())) for name in "ab"]
    for params in ({}, {"resourceVersion": "0"}):
        with watching(api, watch_path(path, **params)) as events:
            assert take(events, len(existing)) == existing
            name = f"c{len(params)}"
            created = api.post(path, configmap(name)).json()
            assert take(events, 1) == [("ADDED", name, rv(created))]
            existing.append(("ADDED", name, rv(created)))


def test_a_watch_from_a_resource_version_gets_what_came_strictly_after(
    api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    a = api.post(path, configmap("a")).json()
    changed = api.patch(f"{path}/a", {"data": {"v": "1"}}, MERGE).json()
    b = api.post(path, configmap("b")).json()
    with watching(api, watch_path(path, resourceVersion=str(rv(a)))) as events:
        assert take(events, 2) == [("MODIFIED", "a", rv(changed)), ("ADDED", "b", rv(b))]


def test_a_delete_is_a_deleted_event_with_the_last_state(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    start = api.post(path, configmap("a", keep="me")).json()
    with watching(api, watch_path(path, resourceVersion=str(rv(start)))) as events:
        gone = api.delete(f"{path}/a")
        assert gone.status == 200, gone
        event = next(events)
        assert event["type"] == "DELETED"
        assert event["object"]["metadata"]["labels"] == {"keep": "me"}
        assert event["object"]["metadata"]["uid"] == start["metadata"]["uid"]
        assert event["object"]["kind"] == "ConfigMap"
        assert rv(event["object"]) > rv(start)
        assert rv(event["object"]) <= current_rv(api, path)


def test_a_watch_sends_only_what_its_selectors_match(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    start = current_rv(api, path)
    api.post(path, configmap("a", app="web"))
    api.post(path, configmap("b", app="db"))
    api.patch(f"{path}/b", {"data": {"v": "1"}}, MERGE)
    api.patch(f"{path}/a", {"data": {"v": "1"}}, MERGE)
    api.delete(f"{path}/b")
    api.delete(f"{path}/a")
    params = {"resourceVersion": str(start), "labelSelector": "app=web"}
    with watching(api, watch_path(path, **params)) as events:
        assert [t[:2] for t in take(events, 3)] == [
            ("ADDED", "a"),
            ("MODIFIED", "a"),
            ("DELETED", "a"),
        ]
    by_name = watch_path(path, resourceVersion=str(start), fieldSelector="metadata.name=b")
    with watching(api, by_name) as events:
        assert [t[:2] for t in take(events, 3)] == [
            ("ADDED", "b"),
            ("MODIFIED", "b"),
            ("DELETED", "b"),
        ]


def test_an_object_entering_or_leaving_a_selection_is_added_or_deleted(
    api: Client, ns: str
) -> None:
    """As kube's watch cache does: a watcher that filters never sees an object it was not
    told about, and learns when one it was told about stops matching."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(path, configmap("a", app="db"))
    start = current_rv(api, path)
    relabel = api.patch(f"{path}/a", {"metadata": {"labels": {"app": "web"}}}, MERGE).json()
    api.patch(f"{path}/a", {"data": {"v": "1"}}, MERGE)
    leave = api.patch(f"{path}/a", {"metadata": {"labels": {"app": "db"}}}, MERGE).json()
    api.patch(f"{path}/a", {"data": {"v": "2"}}, MERGE)
    api.post(path, configmap("end", app="web"))
    params = {"resourceVersion": str(start), "labelSelector": "app=web"}
    with watching(api, watch_path(path, **params)) as events:
        first = next(events)
        assert (first["type"], rv(first["object"])) == ("ADDED", rv(relabel))
        assert next(events)["type"] == "MODIFIED"
        left = next(events)
        assert (left["type"], rv(left["object"])) == ("DELETED", rv(leave))
        assert left["object"]["metadata"]["labels"] == {"app": "web"}  # as last seen matching
        assert take(events, 1)[0][:2] == ("ADDED", "end")


def test_a_bound_pod_enters_a_node_s_watch(api: Client, ns: str) -> None:
    """The kubelet watches ``spec.nodeName=<node>``: binding is an ADDED for it."""
    path = f"/api/v1/namespaces/{ns}/pods"
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    start = rv(api.post(path, {"metadata": {"name": "p"}, "spec": spec}).json())
    binding = {"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "node-a"}}
    assert api.post(f"{path}/p/binding", binding).status == 201
    params = {"resourceVersion": str(start), "fieldSelector": "spec.nodeName=node-a"}
    with watching(api, watch_path(path, **params)) as events:
        event = next(events)
        assert event["type"] == "ADDED"
        assert event["object"]["spec"]["nodeName"] == "node-a"


def test_a_watch_that_cannot_start_is_a_plain_error(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for params, code in (
        ({"labelSelector": "a in b"}, 400),
        ({"fieldSelector": "spec.colour=red"}, 400),
        ({"resourceVersion": "abc"}, 400),
        ({"timeoutSeconds": "soon"}, 400),
    ):
        refused = api.get(watch_path(path, **params))
        assert refused.status == code, (params, refused)
        assert refused.json()["kind"] == "Status"


def test_bookmarks_carry_a_resource_version_a_watch_may_resume_from(
    api: Client, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watchstream, "BOOKMARK_EVERY", 0.1)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    start = current_rv(api, path)
    params = {"resourceVersion": str(start), "allowWatchBookmarks": "true", "timeoutSeconds": "5"}
    with watching(api, watch_path(path, **params)) as events:
        first = next(events)
        assert first["type"] == "BOOKMARK"
        assert (first["object"]["kind"], first["object"]["apiVersion"]) == ("ConfigMap", "v1")
        assert int(first["object"]["metadata"]["resourceVersion"]) >= start
        elsewhere = api.post("/api/v1/namespaces/default/configmaps", configmap(f"{ns}-far"))
        beyond = rv(elsewhere.json())
        marks = (int(e["object"]["metadata"]["resourceVersion"]) for e in events)
        assert next(m for m in marks if m >= beyond) == beyond  # moves past unseen writes
    api.delete(f"/api/v1/namespaces/default/configmaps/{ns}-far")
    created = rv(api.post(path, configmap("a")).json())
    with watching(api, watch_path(path, resourceVersion=str(beyond))) as resumed:
        assert take(resumed, 1) == [("ADDED", "a", created)]


def test_timeout_seconds_ends_the_stream(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(path, configmap("a"))
    started = time.monotonic()
    events = list(api.watch(watch_path(path, timeoutSeconds="1")))
    took = time.monotonic() - started
    assert [e["type"] for e in events] == ["ADDED"]
    assert 0.9 <= took < 3.0


def test_a_watch_across_all_namespaces(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    start = current_rv(api, path)
    api.post(path, configmap("a", marker=ns))
    api.post("/api/v1/namespaces/default/configmaps", configmap(f"{ns}-x", marker=ns))
    params = {"resourceVersion": str(start), "labelSelector": f"marker={ns}"}
    with watching(api, watch_path("/api/v1/configmaps", **params)) as events:
        got = [next(events)["object"]["metadata"] for _ in range(2)]
        assert [(m["namespace"], m["name"]) for m in got] == [(ns, "a"), ("default", f"{ns}-x")]
    api.delete(f"/api/v1/namespaces/default/configmaps/{ns}-x")


def test_a_compacted_resource_version_is_410_expired(
    api: Client, ns: str, server: InProcessServer, on_server: OnServer
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    old = rv(api.post(path, configmap("a")).json())
    for i in range(3):
        api.patch(f"{path}/a", {"data": {"v": str(i)}}, MERGE)
    storage = server.server.storage
    assert storage is not None
    on_server(storage.compact(current_rv(api, path)))
    answer = api.get(watch_path(path, resourceVersion=str(old), timeoutSeconds="2"))
    if answer.status == 200:
        lines = [json.loads(line) for line in answer.body.splitlines() if line.strip()]
        assert [e["type"] for e in lines] == ["ERROR"], lines
        status = lines[0]["object"]
    else:
        status = answer.json()
    assert status["code"] == 410 and status["reason"] == "Expired", status
    assert status["message"].startswith(f"too old resource version: {old} (")
    with watching(api, watch_path(path, resourceVersion=str(current_rv(api, path)))) as fresh:
        api.patch(f"{path}/a", {"data": {"v": "new"}}, MERGE)
        assert next(fresh)["type"] == "MODIFIED"


def test_a_continue_token_at_a_compacted_revision_is_410(
    api: Client, ns: str, server: InProcessServer, on_server: OnServer
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for i in range(3):
        api.post(path, configmap(f"c{i}"))
    token = api.get(f"{path}?limit=1").json()["metadata"]["continue"]
    api.post(path, configmap("later"))
    storage = server.server.storage
    assert storage is not None
    on_server(storage.compact(current_rv(api, path)))
    expired = api.get(f"{path}?limit=1&continue={token}")
    assert expired.status == 410, expired
    assert expired.json()["reason"] == "Expired"


def test_a_table_watch_sends_rows(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    start = current_rv(api, path)
    api.post(path, configmap("a"))
    api.post(path, configmap("b"))
    answer = api.get(watch_path(path, resourceVersion=str(start), timeoutSeconds="1"), accept=TABLE)
    assert answer.status == 200, answer
    events = [json.loads(line) for line in answer.body.splitlines() if line.strip()]
    assert [e["type"] for e in events] == ["ADDED", "ADDED"]
    first, second = (e["object"] for e in events)
    assert (first["kind"], first["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in first["columnDefinitions"]][:1] == ["Name"]
    assert not second.get("columnDefinitions")
    assert [r["cells"][0] for r in (first["rows"] + second["rows"])] == ["a", "b"]
    row_object = first["rows"][0]["object"]
    assert row_object["kind"] == "PartialObjectMetadata"
    assert row_object["metadata"]["name"] == "a"


WRITERS, PER_WRITER, OBJECTS_PER_WRITER = 8, 125, 25


def test_a_watch_sees_every_event_of_a_thousand_concurrent_writes_in_order(
    server: InProcessServer, api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    start = current_rv(api, path)
    acked: list[tuple[int, str, str]] = []
    lock = threading.Lock()
    failures: list[str] = []

    def write(writer: int) -> None:
        client = server.client()
        try:
            for step in range(PER_WRITER):
                name = f"w{writer}-{step % OBJECTS_PER_WRITER}"
                if step < OBJECTS_PER_WRITER:
                    answer, kind = client.post(path, configmap(name)), "ADDED"
                else:
                    patch = {"data": {"v": str(step)}}
                    answer, kind = client.patch(f"{path}/{name}", patch, MERGE), "MODIFIED"
                if answer.status not in (200, 201):
                    failures.append(repr(answer))
                    return
                with lock:
                    acked.append((rv(answer.json()), kind, name))
        finally:
            client.close()

    seen: list[tuple[int, str, str]] = []

    def read() -> None:
        watcher = server.client()
        with watching(watcher, watch_path(path, resourceVersion=str(start)), 30) as events:
            for event in events:
                obj = event["object"]
                seen.append((rv(obj), event["type"], obj["metadata"]["name"]))
                if len(seen) == WRITERS * PER_WRITER:
                    break
        watcher.close()

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    reader.join(30)
    assert not failures, failures[:3]
    assert len(acked) == WRITERS * PER_WRITER
    revisions = [r for r, _, _ in seen]
    assert all(a < b for a, b in itertools.pairwise(revisions)), "out of order"
    assert seen == sorted(acked), "the watch and the acknowledged writes differ"
