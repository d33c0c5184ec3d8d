"""Label and field selectors: kube's grammar, matching, per-kind fields and error wording."""

from __future__ import annotations

from typing import Any

import pytest

from kin.apiserver.fields import (
    FieldSelector,
    escape_value,
    field_set,
    matcher,
    matches,
    parse_field_selector,
)
from kin.apiserver.selectors import parse_label_selector, selector_from_object
from kin.errors import APIError

NAME_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
LABELS = {"app": "web", "tier": "front", "version": "3", "empty": ""}


# --- label selector grammar and matching --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical", "selected"),
    [
        ("", "", True),
        ("app=web", "app=web", True),
        ("app==web", "app==web", True),
        ("app!=web", "app!=web", False),
        ("app!=db", "app!=db", True),
        ("missing!=x", "missing!=x", True),  # != holds when the label is absent
        ("app in (web,db)", "app in (db,web)", True),
        ("app notin (web,db)", "app notin (db,web)", False),
        ("missing notin (x)", "missing notin (x)", True),
        ("app", "app", True),
        ("!app", "!app", False),
        ("!missing", "!missing", True),
        ("version>2", "version>2", True),
        ("version<3", "version<3", False),
        ("app>2", "app>2", False),  # not an integer label: no match
        ("empty=", "empty=", True),  # the empty value
        ("empty in ()", "empty in ()", True),  # () is the empty value too
        ("x in (foo,,baz)", "x in (,baz,foo)", False),
        ("app in (web,)", "app in (,web)", True),
        (" app = web ,  tier ", "app=web,tier", True),  # whitespace between tokens
        ("tier=front,app=web", "app=web,tier=front", True),  # sorted by key, ANDed
        ("app=web,tier=back", "app=web,tier=back", False),
        ("in=in", "in=in", False),  # in/notin are values where values stand
        ("app in (in,notin)", "app in (in,notin)", False),
        ("example.com/role=x", "example.com/role=x", False),
    ],
)
def test_label_selector_grammar_and_matching(text: str, canonical: str, selected: bool) -> None:
    selector = parse_label_selector(text)
    assert str(selector) == canonical
    assert selector.matches(LABELS) is selected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        ("a,,b", "found ',', expected: identifier after ','"),
        ("(", "found '(', expected: !, identifier, or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
        ("-a=b", f'unable to parse requirement: <nil>: Invalid value: "-a": {NAME_RULE}'),
        ("a=-b", f'unable to parse requirement: values[0][a]: Invalid value: "-b": {VALUE_RULE}'),
        ("/a", 'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'),
        ("k=" + "v" * 64, 'unable to parse requirement: values[0][k]: Invalid value: "' + "v" * 64 + '": must be no more than 63 characters'),
        ("a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"),
    ],
)  # fmt: skip
def test_label_selector_errors_are_kubes(text: str, message: str) -> None:
    with pytest.raises(APIError) as caught:
        parse_label_selector(text)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message == message


def test_several_bad_values_are_listed_in_brackets() -> None:
    with pytest.raises(APIError) as caught:
        parse_label_selector("k in (a,-b,-c)")
    assert caught.value.message == (
        f'unable to parse requirement: [values[0][k]: Invalid value: "-b": {VALUE_RULE}, '
        f'values[1][k]: Invalid value: "-c": {VALUE_RULE}]'
    )


def test_prefix_must_be_a_lower_case_dns_subdomain() -> None:
    with pytest.raises(APIError) as caught:
        parse_label_selector("Example.com/x")
    assert "prefix part a DNS-1123 subdomain must consist of lower case" in caught.value.message


# --- LabelSelector objects ----------------------------------------------------------------


def test_selector_object_to_string_and_matching() -> None:
    selector = selector_from_object(
        {
            "matchLabels": {"tier": "front", "app": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "app", "operator": "Exists"},
            ],
        }
    )
    assert str(selector) == "app=web,app,env in (dev,prod),!legacy,tier=front,zone notin (b)"
    assert selector.matches({"app": "web", "tier": "front", "env": "dev"})
    assert not selector.matches({"app": "web", "tier": "front", "env": "qa"})


def test_nil_selector_selects_nothing_and_empty_selects_everything() -> None:
    assert not selector_from_object(None).matches({"a": "b"})
    assert selector_from_object({}).matches({"a": "b"})
    assert selector_from_object({"matchLabels": {}, "matchExpressions": []}).empty


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"key": "a", "operator": "In"}, "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"),
        ({"key": "a", "operator": "Exists", "values": ["x"]}, 'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist'),
        ({"key": "a", "operator": "Equals", "values": ["x"]}, '"Equals" is not a valid label selector operator'),
    ],
)  # fmt: skip
def test_selector_object_errors(expression: dict[str, Any], message: str) -> None:
    with pytest.raises(APIError) as caught:
        selector_from_object({"matchExpressions": [expression]})
    assert caught.value.message == message


# --- field selectors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("metadata.name=web", "metadata.name=web"),
        ("metadata.name==web", "metadata.name=web"),
        ("status.phase!=Failed", "status.phase!=Failed"),
        ("involvedObject.namespace=", "involvedObject.namespace="),
        ("b=2,a=1", "a=1,b=2"),
        (",,a=1,", "a=1"),
        ("a=x\\,y\\=z\\\\", "a=x\\,y\\=z\\\\"),
        ("a= b", "a= b"),  # no whitespace trimming: the value is " b"
    ],
)
def test_field_selector_grammar(text: str, canonical: str) -> None:
    assert str(parse_field_selector(text)) == canonical


def test_field_selector_unescapes_values() -> None:
    (term,) = parse_field_selector("a=x\\,y\\=z\\\\").terms
    assert term.value == "x,y=z\\"
    assert escape_value(term.value) == "x\\,y\\=z\\\\"


@pytest.mark.parametrize(
    ("text", "resource", "message"),
    [
        ("foo", None, "invalid selector: 'foo'; can't understand 'foo'"),
        ("a=b,foo", None, "invalid selector: 'a=b,foo'; can't understand 'foo'"),
        ("a=b\\x", None, "invalid field selector: invalid escape sequence: \\x"),
        ("a=b\\", None, "invalid field selector: invalid escape sequence: \\"),
        ("a=b=c", None, "invalid field selector: unescaped character in value: 61"),
        ("foo=bar", "pods", "field label not supported: foo"),
        ("metadata.namespace=x", "nodes", "field label not supported: metadata.namespace"),
        ("spec.nodeName=x", "namespaces", "field label not supported: spec.nodeName"),
        ("data=x", "configmaps", '"data" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        ("status.replicas=1", "deployments.apps", '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        ("involvedObject.name=x", "events.events.k8s.io", "field label not supported: involvedObject.name"),
        ("regarding.name=x", "events", "field label not supported: regarding.name"),
    ],
)  # fmt: skip
def test_field_selector_errors(text: str, resource: str | None, message: str) -> None:
    with pytest.raises(APIError) as caught:
        parse_field_selector(text, resource)
    assert (caught.value.code, caught.value.message) == (400, message)


def test_labels_map_to_stored_fields() -> None:
    assert str(parse_field_selector("spec.host=n1", "pods")) == "spec.nodeName=n1"
    events_v1 = parse_field_selector(
        "regarding.name=x,reportingController=kubelet", "events.events.k8s.io"
    )
    assert str(events_v1) == "involvedObject.name=x,reportingComponent=kubelet"
    assert FieldSelector().empty
    exact = parse_field_selector("metadata.name=a,status.phase!=b")
    assert exact.requires_exact_match("metadata.name") == "a"
    assert exact.requires_exact_match("status.phase") is None


# --- the objects kubectl describe selects -------------------------------------------------

POD = {
    "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"nodeName": "node1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccount": "builder", "hostNetwork": True},
    "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.244.1.5"}]},
}  # fmt: skip
EVENT = {
    "metadata": {"name": "web-1.17f", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "u-1",
                       "apiVersion": "v1", "fieldPath": "spec.containers{web}"},
    "reason": "Pulled", "type": "Normal", "source": {"component": "kubelet", "host": "node1"},
}  # fmt: skip
NODE_EVENT = {
    "metadata": {"name": "node1.17f", "namespace": "default"},
    "regarding": {"kind": "Node", "name": "node1", "uid": "node1"},
    "reason": "Starting", "type": "Normal", "reportingController": "kubelet", "note": "Starting.",
}  # fmt: skip


def test_pod_fields_are_read_as_kube_stores_them() -> None:
    assert field_set("pods", POD) == {
        "metadata.name": "web-1",
        "metadata.namespace": "default",
        "spec.nodeName": "node1",
        "spec.restartPolicy": "Always",
        "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "builder",  # the deprecated alias counts when alone
        "spec.hostNetwork": "true",
        "status.phase": "Running",
        "status.podIP": "10.244.1.5",  # podIPs[0] wins over podIP
        "status.nominatedNodeName": "",
    }


@pytest.mark.parametrize(
    ("resource", "obj", "field_selector", "selected"),
    [
        # kubectl describe pod
        ("events", EVENT, "involvedObject.name=web-1,involvedObject.namespace=default,involvedObject.uid=u-1", True),
        ("events", EVENT, "involvedObject.name=web-1,involvedObject.namespace=default,involvedObject.uid=u-2", False),
        # kubectl describe node: its pods, then its cluster-scoped events (namespace empty)
        ("pods", POD, "spec.nodeName=node1,status.phase!=Succeeded,status.phase!=Failed", True),
        ("pods", POD | {"status": {"phase": "Succeeded"}}, "spec.nodeName=node1,status.phase!=Succeeded,status.phase!=Failed", False),
        ("pods", POD, "spec.nodeName=node2,status.phase!=Succeeded", False),
        ("events", EVENT, "involvedObject.namespace=", False),
        ("events", NODE_EVENT, "involvedObject.uid=node1,involvedObject.name=node1,involvedObject.namespace=,involvedObject.kind=Node", True),
        ("events", NODE_EVENT, "source=kubelet,reportingComponent=kubelet", True),
        ("events.events.k8s.io", NODE_EVENT, "regarding.kind=Node,regarding.namespace=", True),
        ("events", EVENT, "involvedObject.fieldPath=spec.containers{web},source=kubelet", True),
        ("pods", POD, "spec.hostNetwork=true,status.podIP=10.244.1.5", True),
        ("pods", POD, "metadata.namespace=kube-system", False),
        ("nodes", {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}, "spec.unschedulable=true", True),
        ("nodes", {"metadata": {"name": "n1"}}, "spec.unschedulable=false,metadata.name=n1", True),
        ("namespaces", {"metadata": {"name": "a"}, "status": {"phase": "Active"}}, "status.phase=Active", True),
        ("secrets", {"metadata": {"name": "s"}, "type": "Opaque"}, "type!=kubernetes.io/tls", True),
        ("configmaps", {"metadata": {"name": "c", "namespace": "d"}}, "metadata.name=c,metadata.namespace=d", True),
    ],
)  # fmt: skip
def test_matching_objects(
    resource: str, obj: dict[str, Any], field_selector: str, selected: bool
) -> None:
    assert matches(resource, obj, "", field_selector) is selected


def test_label_and_field_selectors_together() -> None:
    assert matches("pods", POD, "app=web", "spec.nodeName=node1")
    assert not matches("pods", POD, "app=db", "spec.nodeName=node1")
    assert not matches("pods", POD, "app=web", "spec.nodeName=node2")
    match = matcher(
        "pods", parse_label_selector("app"), parse_field_selector("status.phase=Running")
    )
    assert match(POD) and not match({"metadata": {"name": "x", "labels": {"app": "a"}}})


def test_label_selector_is_checked_before_the_field_selector() -> None:
    with pytest.raises(APIError) as caught:
        matcher("pods", "a b", "foo=bar")
    assert caught.value.message.startswith("unable to parse requirement")
