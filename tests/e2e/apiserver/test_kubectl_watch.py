"""``kubectl get -w``: kubectl runs in the background, the test makes changes, reads the
lines kubectl prints, and kills it by its Popen handle.

A list watch resumes after the list's resourceVersion (so nothing prints twice); a
single-object watch asks for resourceVersion 0 and throws the first event away, so the
server must send the synthetic ADDED first or the first real change is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kin.testing.apiserver import Client
from kin.testing.names import random_name

if TYPE_CHECKING:
    from tests.e2e.apiserver.conftest import Kubectl, Lines

MERGE = "application/merge-patch+json"


def cells(line: str) -> list[str]:
    return line.split()


def running(api: Client, namespace: str, name: str) -> None:
    status = {
        "phase": "Running",
        "podIP": "10.244.2.8",
        "containerStatuses": [{
            "name": name, "ready": True, "restartCount": 0, "image": "nginx:1.25",
            "imageID": "", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
        }],
    }  # fmt: skip
    path = f"/api/v1/namespaces/{namespace}/pods/{name}/status"
    assert api.patch(path, {"status": status}, MERGE).status == 200


def header_and_rows(watch: Lines, rows: int) -> list[list[str]]:
    return [cells(line) for line in watch.take(1 + rows)]


def test_watch_list_prints_each_change_once(k: Kubectl, namespace: str, api: Client) -> None:
    k("run", "before", "--image=nginx:1.25")
    with k.start("get", "pods", "-w") as watch:
        header, row = header_and_rows(watch, 1)
        assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert row[:3] == ["before", "0/1", "Pending"]
        assert watch.quiet(0.5), "the list's pod is not replayed by the watch"

        k("run", "after", "--image=nginx:1.25")
        assert cells(watch.next())[:3] == ["after", "0/1", "Pending"]
        running(api, namespace, "after")
        assert cells(watch.next())[:3] == ["after", "1/1", "Running"]
        k("delete", "pod", "before")
        assert cells(watch.next())[:3] == ["before", "0/1", "Pending"]
        assert watch.quiet(0.5)
        assert watch.proc.poll() is None, "the watch stays open"


def test_watch_output_watch_events_names_event_types(
    k: Kubectl, namespace: str, api: Client
) -> None:
    with k.start("get", "pods", "-w", "--output-watch-events") as watch:
        k("run", "w1", "--image=nginx:1.25", "--labels=app=w")
        first = watch.next()
        if first.startswith("EVENT"):  # the header comes with the first row
            assert cells(first)[:3] == ["EVENT", "NAME", "READY"]
            first = watch.next()
        assert cells(first)[:2] == ["ADDED", "w1"]
        k("label", "pod", "w1", "tier=web")
        assert cells(watch.next())[:2] == ["MODIFIED", "w1"]
        k("delete", "pod", "w1")
        assert cells(watch.next())[:2] == ["DELETED", "w1"]


def test_watch_with_label_selector_sees_only_matches(k: Kubectl, namespace: str) -> None:
    with k.start("get", "pods", "-w", "-l", "app=seen", "--output-watch-events") as watch:
        k("run", "hidden", "--image=nginx:1.25", "--labels=app=hidden")
        k("run", "seen", "--image=nginx:1.25", "--labels=app=seen")
        lines = [line for line in watch.take(2) if not line.startswith("EVENT")]
        if not lines:
            lines = [watch.next()]
        assert cells(lines[0])[:2] == ["ADDED", "seen"]
        k("label", "pod", "hidden", "x=y")
        k("label", "pod", "seen", "app=gone", "--overwrite")
        assert cells(watch.next())[:2] == ["DELETED", "seen"], "leaving the selector is a delete"
        assert watch.quiet(0.5)


def test_watch_all_namespaces(kubectl: Kubectl, k: Kubectl, namespace: str, api: Client) -> None:
    mark = random_name("w")
    with kubectl.start("get", "pods", "-A", "-w", "-l", f"mark={mark}") as watch:
        k("run", "w1", "--image=nginx:1.25", f"--labels=mark={mark}")
        header, row = header_and_rows(watch, 1)
        assert header[:2] == ["NAMESPACE", "NAME"]
        assert row[:4] == [namespace, "w1", "0/1", "Pending"]


def test_watch_single_pod_shows_the_first_real_change(
    k: Kubectl, namespace: str, api: Client
) -> None:
    k("run", "one", "--image=nginx:1.25")
    k("run", "other", "--image=nginx:1.25")
    with k.start("get", "pod", "one", "-w") as watch:
        header, row = header_and_rows(watch, 1)
        assert header[0] == "NAME"
        assert row[:3] == ["one", "0/1", "Pending"]
        assert watch.quiet(1.0), "the synthetic ADDED is swallowed, not printed"
        running(api, namespace, "other")
        running(api, namespace, "one")
        assert cells(watch.next())[:3] == ["one", "1/1", "Running"]
        k("label", "pod", "one", "x=y")
        assert cells(watch.next())[:3] == ["one", "1/1", "Running"]
        assert watch.quiet(0.3), "other pods never show"


def test_watch_only_skips_the_list(k: Kubectl, namespace: str) -> None:
    k("run", "old", "--image=nginx:1.25")
    with k.start("get", "pods", "--watch-only") as watch:
        assert watch.quiet(1.0), "the list is made (for its resourceVersion), not printed"
        k("run", "new", "--image=nginx:1.25")
        header, row = header_and_rows(watch, 1)
        assert header[0] == "NAME"
        assert row[:3] == ["new", "0/1", "Pending"]


def test_wait_for_a_condition_and_for_deletion(k: Kubectl, namespace: str, api: Client) -> None:
    k("run", "r1", "--image=nginx:1.25")
    with k.start("wait", "--for=condition=Ready", "pod/r1", "--timeout=10s") as waiting:
        assert waiting.quiet(0.5), "not Ready yet"
        status = {"conditions": [{"type": "Ready", "status": "True"}]}
        path = f"/api/v1/namespaces/{namespace}/pods/r1/status"
        assert api.patch(path, {"status": status}, MERGE).status == 200
        assert waiting.next() == "pod/r1 condition met"
        assert waiting.wait() == 0
    with k.start("wait", "--for=delete", "pod/r1", "--timeout=10s") as waiting:
        assert waiting.quiet(0.5), "not deleted yet"
        k("delete", "pod", "r1", "--wait=false")
        assert waiting.next() == "pod/r1 condition met"
        assert waiting.wait() == 0
