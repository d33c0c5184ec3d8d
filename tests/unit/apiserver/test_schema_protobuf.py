"""Protobuf request bodies: the exact bytes kubectl 1.32's generator commands send
(recorded from ``kubectl create ...``) decode to the JSON ``--dry-run=client -o json``
prints, hand-built bodies cover what the generators do not send, and malformed input
fails with ProtobufError, never another exception."""

from __future__ import annotations

import json
import struct

import pytest

from kin.apiserver.schema import protobuf
from kin.apiserver.schema.model import INTEGER, NUMBER, Field, TypeDef, array
from kin.apiserver.schema.protobuf import ProtobufError

# (command, body recorded on the wire, what the same command prints with --dry-run=client -o json)
CAPTURED = [
    (
        "create deployment web --image=nginx:1.25 --replicas=3 --port=8080",
        "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412be010a1f0a0377656212001a0022002a"
        "003200380042005a0a0a036170701203776562128c010803120c0a0a0a0361707012037765621a720a1c0a00"
        "12001a0022002a003200380042005a0a0a036170701203776562125212340a056e67696e78120a6e67696e78"
        "3a312e32352a00320b0a00100018903f22002a0042006a007200800100880100900100a201001a0032004200"
        "4a0052005800600068008201008a01009a0100c2010022020a00280038001a0c080010001800200028003800"
        "1a002200",
        '{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.25","ports":[{"containerPort":8080}],"resources":{}}]}},"strategy":{}},"status":{}}',
    ),
    (
        "create deployment zero --image=nginx --replicas=0",
        "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412af010a210a047a65726f12001a002200"
        "2a003200380042005a0b0a0361707012047a65726f127c0800120d0a0b0a0361707012047a65726f1a610a1d"
        "0a0012001a0022002a003200380042005a0b0a0361707012047a65726f124012220a056e67696e7812056e67"
        "696e782a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01"
        "009a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
        '{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"zero","labels":{"app":"zero"}},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"zero"}},"template":{"metadata":{"labels":{"app":"zero"}},"spec":{"containers":[{"name":"nginx","image":"nginx","resources":{}}]}},"strategy":{}},"status":{}}',
    ),
    (
        "create namespace team-a",
        "6b3873000a0f0a02763112094e616d657370616365121e0a160a067465616d2d6112001a0022002a00320038"
        "00420012001a020a001a002200",
        '{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"team-a"},"spec":{},"status":{}}',
    ),
    (
        "create configmap cfg --from-literal=a=1 --from-literal=b=two --from-file=blob",
        "6b3873000a0f0a0276311209436f6e6669674d617012370a130a0363666712001a0022002a00320038004200"
        "12060a016112013112080a0162120374776f1a0e0a04626c6f621206fffe0062696e1a002200",
        '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cfg"},"data":{"a":"1","b":"two"},"binaryData":{"blob":"//4AYmlu"}}',
    ),
    (
        "create secret generic sec --from-literal=user=admin --from-literal=pass=s3cr3t",
        "6b3873000a0c0a027631120653656372657412360a130a0373656312001a0022002a00320038004200120e0a"
        "04706173731206733363723374120d0a0475736572120561646d696e1a001a002200",
        '{"kind":"Secret","apiVersion":"v1","metadata":{"name":"sec"},"data":{"pass":"czNjcjN0","user":"YWRtaW4="}}',
    ),
    (
        "create secret docker-registry reg --docker-server=r.io --docker-username=u --docker-password=p",
        "6b3873000a0c0a0276311206536563726574128c010a130a0372656712001a0022002a003200380042001255"
        "0a112e646f636b6572636f6e6669676a736f6e12407b226175746873223a7b22722e696f223a7b2275736572"
        "6e616d65223a2275222c2270617373776f7264223a2270222c2261757468223a2264547077227d7d7d1a1e6b"
        "756265726e657465732e696f2f646f636b6572636f6e6669676a736f6e1a002200",
        '{"kind":"Secret","apiVersion":"v1","metadata":{"name":"reg"},"data":{".dockerconfigjson":"eyJhdXRocyI6eyJyLmlvIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgiOiJkVHB3In19fQ=="},"type":"kubernetes.io/dockerconfigjson"}',
    ),
    (
        "create service clusterip svc --tcp=80:8080 --tcp=443:https",
        "6b3873000a0d0a027631120753657276696365128d010a1f0a0373766312001a0022002a003200380042005a"
        "0a0a03617070120373766312660a1b0a0738302d38303830120354435018502207080010903f1a0028000a22"
        "0a093434332d6874747073120354435018bb03220b080110001a0568747470732800120a0a03617070120373"
        "76631a002209436c757374657249503a00420052005a00600068001a020a001a002200",
        '{"kind":"Service","apiVersion":"v1","metadata":{"name":"svc","labels":{"app":"svc"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080},{"name":"443-https","protocol":"TCP","port":443,"targetPort":"https"}],"selector":{"app":"svc"},"type":"ClusterIP"},"status":{"loadBalancer":{}}}',
    ),
    (
        "create service nodeport np --tcp=80:8080 --node-port=30080",
        "6b3873000a0d0a02763112075365727669636512670a1d0a026e7012001a0022002a003200380042005a090a"
        "0361707012026e7012420a1d0a0738302d38303830120354435018502207080010903f1a002880eb0112090a"
        "0361707012026e701a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200",
        '{"kind":"Service","apiVersion":"v1","metadata":{"name":"np","labels":{"app":"np"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080}],"selector":{"app":"np"},"type":"NodePort"},"status":{"loadBalancer":{}}}',
    ),
    (
        "create serviceaccount sa1",
        "6b3873000a140a027631120e536572766963654163636f756e7412150a130a0373613112001a0022002a0032"
        "00380042001a002200",
        '{"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"sa1"}}',
    ),
    (
        "create job j1 --image=busybox -- echo hi",
        "6b3873000a0f0a0862617463682f763112034a6f621284010a120a026a3112001a0022002a00320038004200"
        "126432620a100a0012001a0022002a00320038004200124e122b0a026a31120762757379626f781a04656368"
        "6f1a0268692a0042006a007200800100880100900100a201001a054e65766572320042004a00520058006000"
        "68008201008a01009a0100c201001a082000280030003a001a002200",
        '{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"j1"},"spec":{"template":{"metadata":{},"spec":{"containers":[{"name":"j1","image":"busybox","command":["echo","hi"],"resources":{}}],"restartPolicy":"Never"}}},"status":{}}',
    ),
    (
        'create cronjob cj --image=busybox --schedule="*/5 * * * *" -- date',
        "6b3873000a130a0862617463682f7631120743726f6e4a6f6212a4010a120a02636a12001a0022002a003200"
        "38004200128b010a0b2a2f35202a202a202a202a1a002a7a0a120a02636a12001a0022002a00320038004200"
        "126432620a100a0012001a0022002a00320038004200124e12270a02636a120762757379626f781a04646174"
        "652a0042006a007200800100880100900100a201001a094f6e4661696c757265320042004a00520058006000"
        "68008201008a01009a0100c201001a001a002200",
        '{"kind":"CronJob","apiVersion":"batch/v1","metadata":{"name":"cj"},"spec":{"schedule":"*/5 * * * *","jobTemplate":{"metadata":{"name":"cj"},"spec":{"template":{"metadata":{},"spec":{"containers":[{"name":"cj","image":"busybox","command":["date"],"resources":{}}],"restartPolicy":"OnFailure"}}}}},"status":{}}',
    ),
]


@pytest.mark.parametrize(("command", "body", "expected"), CAPTURED, ids=[c[0] for c in CAPTURED])
def test_kubectl_generator_bodies_decode_to_their_json(
    command: str, body: str, expected: str
) -> None:
    assert protobuf.decode(bytes.fromhex(body)) == json.loads(expected)


# -- a tiny encoder, with the field numbers written out by hand ---------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = b""
    while True:
        out += bytes([n & 0x7F | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def fld(number: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def msg(*parts: bytes) -> bytes:
    return b"".join(parts)


def entry(key: str, value: bytes | str) -> bytes:
    return msg(fld(1, key), fld(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + msg(fld(1, msg(fld(1, api_version), fld(2, kind))), fld(2, raw))


def test_a_full_deployment_round_trips() -> None:
    http_get = msg(fld(1, "/healthz"), fld(2, msg(fld(1, 1), fld(3, "http"))))  # port "http"
    liveness = msg(
        fld(1, fld(2, http_get)),  # the inlined ProbeHandler travels as field 1
        fld(2, 5),  # initialDelaySeconds
        fld(4, 0),  # periodSeconds 0: a plain int32, dropped
    )
    tcp = msg(fld(1, fld(2, 8080)))  # IntOrString with intVal 8080
    readiness = fld(1, fld(3, tcp))
    secret_ref = msg(fld(1, fld(1, "db")), fld(2, "pw"))  # LocalObjectReference inlined as 1
    resources = msg(fld(1, entry("cpu", fld(1, "500m"))), fld(2, entry("memory", fld(1, "64Mi"))))
    container = msg(
        fld(1, "web"),
        fld(2, "nginx:1.25"),
        fld(6, msg(fld(1, "http"), fld(3, 8080), fld(4, "TCP"))),
        fld(7, msg(fld(1, "MODE"), fld(2, "prod"))),
        fld(7, msg(fld(1, "PASS"), fld(3, fld(4, secret_ref)))),
        fld(8, resources),
        fld(9, msg(fld(1, "cfg"), fld(2, 1), fld(3, "/etc/cfg"))),
        fld(10, liveness),
        fld(11, readiness),
    )
    config_map = msg(fld(1, fld(1, "app-config")), fld(3, 0o644))
    volume = msg(fld(1, "cfg"), fld(2, fld(19, config_map)))  # VolumeSource inlined as 2
    pod_spec = msg(
        fld(1, volume),
        fld(2, container),
        fld(11, 0),  # hostNetwork false: omitempty, dropped
        fld(21, 0),  # automountServiceAccountToken false: a pointer, kept
        fld(14, fld(4, b"\x0a\xe8\x07\xd0\x0f")),  # supplementalGroups, packed: 10, 1000, 2000
        fld(22, msg(fld(1, "dedicated"), fld(2, "Equal"), fld(3, "web"), fld(4, "NoSchedule"))),
    )
    meta = msg(fld(1, "web"), fld(3, "prod"), fld(7, -5), fld(8, fld(1, 1714557600)))
    rolling = msg(fld(1, msg(fld(1, 1), fld(3, "25%"))), fld(2, fld(2, 1)))
    spec = msg(
        fld(1, 0),  # replicas: 0 explicitly
        fld(2, fld(1, entry("app", "web"))),
        fld(3, msg(fld(1, fld(11, entry("app", "web"))), fld(2, pod_spec))),
        fld(4, msg(fld(1, "RollingUpdate"), fld(2, rolling))),
        fld(99, "a field from the future"),
        fld(98, 12345),
    )
    body = envelope("apps/v1", "Deployment", msg(fld(1, meta), fld(2, spec)))
    assert protobuf.decode(body) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "prod",
            "generation": -5,
            "creationTimestamp": "2024-05-01T10:00:00Z",
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "volumes": [
                        {"name": "cfg", "configMap": {"name": "app-config", "defaultMode": 420}}
                    ],
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "env": [
                                {"name": "MODE", "value": "prod"},
                                {
                                    "name": "PASS",
                                    "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}},
                                },
                            ],
                            "resources": {
                                "limits": {"cpu": "500m"},
                                "requests": {"memory": "64Mi"},
                            },
                            "volumeMounts": [
                                {"name": "cfg", "readOnly": True, "mountPath": "/etc/cfg"}
                            ],
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "initialDelaySeconds": 5,
                            },
                            "readinessProbe": {"tcpSocket": {"port": 8080}},
                        }
                    ],
                    "automountServiceAccountToken": False,
                    "securityContext": {"supplementalGroups": [10, 1000, 2000]},
                    "tolerations": [
                        {
                            "key": "dedicated",
                            "operator": "Equal",
                            "value": "web",
                            "effect": "NoSchedule",
                        }
                    ],
                },
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1},
            },
        },
    }


def test_secret_bytes_become_base64_and_times_rfc3339() -> None:
    secret = envelope(
        "v1",
        "Secret",
        msg(fld(1, msg(fld(1, "s"))), fld(2, entry("key", b"\x00\xffhi")), fld(3, "Opaque")),
    )
    assert protobuf.decode(secret)["data"] == {"key": "AP9oaQ=="}
    lease = msg(
        fld(1, msg(fld(1, "n1"))),
        fld(2, msg(fld(1, "n1"), fld(4, msg(fld(1, 1714557600), fld(2, 123456000))))),
    )
    decoded = protobuf.decode(envelope("coordination.k8s.io/v1", "Lease", lease))
    assert decoded["spec"] == {"holderIdentity": "n1", "renewTime": "2024-05-01T10:00:00.123456Z"}


def test_fields_v1_doubles_and_negative_repeated_ints() -> None:
    managed = msg(fld(1, "kubectl"), fld(7, msg(fld(1, b'{"f:metadata":{}}'))))
    obj = protobuf.decode(
        envelope("v1", "ConfigMap", msg(fld(1, msg(fld(1, "c"), fld(17, managed)))))
    )
    assert obj["metadata"] == {
        "name": "c",
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:metadata": {}}}],
    }
    typedef = TypeDef("x.Ratio", [Field("ratio", NUMBER, 1), Field("ids", array(INTEGER), 2)])
    raw = varint(1 << 3 | 1) + struct.pack("<d", 1.5) + fld(2, 7) + fld(2, -1)
    assert protobuf.decode_message(raw, typedef) == {"ratio": 1.5, "ids": [7, -1]}


MALFORMED = [
    (b"{}", "magic"),
    (b"k8s\x00\x0a", "truncated"),
    (b"k8s\x00" + fld(1, msg(fld(1, "v1"), fld(2, "Pod")))[:-2], "past the end"),
    (b"k8s\x00\x0b", "wire type 3"),
    (b"k8s\x00" + b"\xff" * 11, "overlong"),
    (envelope("v1", "NoSuchKind", b""), "no protobuf decoding for kind 'NoSuchKind'"),
    (envelope("v1", "Pod", fld(1, 7)), "expected a length-delimited field"),
    (envelope("v1", "Pod", fld(1, fld(1, b"\xff\xfe"))), "not UTF-8"),
    (envelope("v1", "Pod", fld(1, fld(8, fld(1, 10**15)))), "out of range"),
    (envelope("v1", "Pod", fld(1, fld(17, fld(7, fld(1, b"{nope"))))), "not JSON"),
    (envelope("v1", "Pod", b"") + fld(3, "gzip"), "compressed"),
    (b"k8s\x00\x00", "field number 0"),
]


@pytest.mark.parametrize(("body", "error"), MALFORMED, ids=[e for _, e in MALFORMED])
def test_malformed_bodies_raise_protobuf_error(body: bytes, error: str) -> None:
    with pytest.raises(ProtobufError, match=error):
        protobuf.decode(body)
    assert issubclass(ProtobufError, ValueError)
