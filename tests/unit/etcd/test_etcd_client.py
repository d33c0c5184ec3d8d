"""kin.etcd: the proto against etcd's field numbers and service names, the generated code
against the proto, endpoint parsing, and what a client says when no endpoint answers.

The field numbers below are etcd's (api/etcdserverpb/rpc.proto and api/mvccpb/kv.proto
at etcd v3.4 and later, unchanged since v3.0 for these fields): a wrong number would
still round-trip through kin's own code, so only this table catches it before a real
etcd does. The client against a real etcd is tests/netns/test_storage_backends.py and
tests/netns/test_flannel_etcd.py.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kin.errors import KinError
from kin.etcd import rpc_pb2
from kin.etcd.client import EtcdClient, EtcdUnavailable, prefix_end

pytestmark = pytest.mark.unit

SRC = Path(__file__).parents[3] / "src"

ETCD_FIELDS = {
    "KeyValue": "key=1 create_revision=2 mod_revision=3 version=4 value=5 lease=6",
    "Event": "type=1 kv=2 prev_kv=3",
    "ResponseHeader": "cluster_id=1 member_id=2 revision=3 raft_term=4",
    "RangeRequest": "key=1 range_end=2 limit=3 revision=4 serializable=7 keys_only=8 count_only=9",
    "RangeResponse": "header=1 kvs=2 more=3 count=4",
    "PutRequest": "key=1 value=2 lease=3 prev_kv=4",
    "PutResponse": "header=1 prev_kv=2",
    "DeleteRangeRequest": "key=1 range_end=2 prev_kv=3",
    "DeleteRangeResponse": "header=1 deleted=2 prev_kvs=3",
    "RequestOp": "request_range=1 request_put=2 request_delete_range=3",
    "ResponseOp": "response_range=1 response_put=2 response_delete_range=3",
    "Compare": "result=1 target=2 key=3 version=4 create_revision=5 mod_revision=6 value=7 "
    "lease=8 range_end=64",
    "TxnRequest": "compare=1 success=2 failure=3",
    "TxnResponse": "header=1 succeeded=2 responses=3",
    "CompactionRequest": "revision=1 physical=2",
    "CompactionResponse": "header=1",
    "WatchRequest": "create_request=1 cancel_request=2 progress_request=3",
    "WatchCreateRequest": "key=1 range_end=2 start_revision=3 progress_notify=4 prev_kv=6 "
    "watch_id=7 fragment=8",
    "WatchCancelRequest": "watch_id=1",
    "WatchResponse": "header=1 watch_id=2 created=3 canceled=4 compact_revision=5 "
    "cancel_reason=6 fragment=7 events=11",
    "LeaseGrantRequest": "TTL=1 ID=2",
    "LeaseGrantResponse": "header=1 ID=2 TTL=3 error=4",
    "LeaseRevokeRequest": "ID=1",
    "LeaseRevokeResponse": "header=1",
    "LeaseTimeToLiveRequest": "ID=1 keys=2",
    "LeaseTimeToLiveResponse": "header=1 ID=2 TTL=3 grantedTTL=4 keys=5",
}
ETCD_ENUMS = {
    "Event.EventType": "PUT=0 DELETE=1",
    "Compare.CompareResult": "EQUAL=0 GREATER=1 LESS=2 NOT_EQUAL=3",
    "Compare.CompareTarget": "VERSION=0 CREATE=1 MOD=2 VALUE=3 LEASE=4",
}


@pytest.mark.parametrize("name", sorted(ETCD_FIELDS))
def test_every_message_has_etcds_field_numbers(name: str) -> None:
    message = rpc_pb2.DESCRIPTOR.message_types_by_name[name]
    got = {field.name: field.number for field in message.fields}
    wanted = {k: int(v) for k, v in (pair.split("=") for pair in ETCD_FIELDS[name].split())}
    assert got == wanted


def test_no_message_is_left_unchecked() -> None:
    assert set(rpc_pb2.DESCRIPTOR.message_types_by_name) - {"WatchProgressRequest"} == set(
        ETCD_FIELDS
    )


@pytest.mark.parametrize("name", sorted(ETCD_ENUMS))
def test_enums_have_etcds_values(name: str) -> None:
    message, enum = name.split(".")
    values = rpc_pb2.DESCRIPTOR.message_types_by_name[message].enum_types_by_name[enum].values
    assert {v.name: v.number for v in values} == {
        k: int(v) for k, v in (pair.split("=") for pair in ETCD_ENUMS[name].split())
    }


def test_services_are_called_by_etcds_names() -> None:
    services = rpc_pb2.DESCRIPTOR.services_by_name
    assert {s.full_name for s in services.values()} == {
        "etcdserverpb.KV", "etcdserverpb.Watch", "etcdserverpb.Lease",
    }  # fmt: skip
    assert set(services["KV"].methods_by_name) == {"Range", "Put", "DeleteRange", "Txn", "Compact"}
    watch = services["Watch"].methods_by_name["Watch"]
    assert watch.client_streaming and watch.server_streaming


def test_the_generated_code_is_what_the_proto_compiles_to(tmp_path: Path) -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpcio-tools is not installed (it comes with the dev extras)")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{SRC}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", str(SRC / "kin/etcd/rpc.proto")],
        check=True,
    )  # fmt: skip
    for generated in ("rpc_pb2.py", "rpc_pb2.pyi", "rpc_pb2_grpc.py"):
        fresh = (tmp_path / "kin/etcd" / generated).read_text()
        assert fresh == (SRC / "kin/etcd" / generated).read_text(), (
            f"{generated} is stale: run `make proto`"
        )


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        (b"/registry/pods/", b"/registry/pods0"),
        (b"a\xff", b"b"),
        (b"\xff\xff", b"\x00"),
        (b"", b"\x00"),
    ],
)
def test_prefix_end_bounds_every_key_with_the_prefix(prefix: bytes, end: bytes) -> None:
    assert prefix_end(prefix) == end


@pytest.mark.parametrize(
    ("endpoint", "error"),
    [
        ("https://127.0.0.1:2379", "only http:// (plaintext gRPC) is supported"),
        ("unix:///run/etcd.sock", "only http:// (plaintext gRPC) is supported"),
        ("http://127.0.0.1:2379/v3", "want http://host:port"),
        ("http://", "want http://host:port"),
    ],
)
def test_endpoints_kin_cannot_reach_are_refused_with_the_reason(endpoint: str, error: str) -> None:
    with pytest.raises(KinError, match=re.escape(f"etcd endpoint {endpoint!r}: {error}")):
        EtcdClient([endpoint])
    with pytest.raises(KinError, match="no endpoints given"):
        EtcdClient([])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nobody listens once it is closed


def test_no_endpoint_answering_is_unavailable_naming_each_one_at_once() -> None:
    """Nothing listens on either port: the error names both, fast (not the call
    timeout), and a second call after gRPC's reconnect backoff fails the same way."""
    urls = [f"http://127.0.0.1:{closed_port()}", f"127.0.0.1:{closed_port()}"]

    async def ask() -> list[tuple[EtcdUnavailable, float]]:
        etcd = EtcdClient(urls, timeout=30)
        found = []
        try:
            for _ in range(2):
                started = time.monotonic()
                with pytest.raises(EtcdUnavailable) as caught:
                    await etcd.range(b"/registry/")
                found.append((caught.value, time.monotonic() - started))
        finally:
            await etcd.close()
        return found

    for error, took in asyncio.run(ask()):
        assert all(url in str(error) for url in urls), error
        assert "Range" in error.message
        assert took < 5, took
