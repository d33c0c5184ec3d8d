"""kin's CRI proto against the fact sheet's tables of CRI v1 messages and field numbers.

``tests/testdata/cri/messages.md`` is section 1.3 of the CRI fact sheet, as written
there from kubernetes/cri-api's api.proto. Every message and enum it lists must be
served by kin with the same field numbers, names, labels and types (or be named
below as not served, with the reason), and kin's proto may not invent fields.
The generated Python code must be what the proto compiles to today.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from kin.runtime.cri import api_pb2

pytestmark = pytest.mark.unit

SHEET = Path(__file__).parents[2] / "testdata" / "cri" / "messages.md"
SRC = Path(__file__).parents[3] / "src"

NOT_SERVED_MESSAGES = {
    # Windows sandboxes and containers: kin runs Linux namespaces only.
    "WindowsPodSandboxConfig", "WindowsContainerConfig",
    # Evented PLEG (an alpha kubelet feature gate) streams these; kin answers UNIMPLEMENTED.
    "GetEventsRequest", "ContainerEventResponse",
}  # fmt: skip
NOT_SERVED_FIELDS = {
    ("PodSandboxConfig", "windows"), ("ContainerConfig", "windows"),
    ("ContainerResources", "windows"), ("UpdateContainerResourcesRequest", "windows"),
    # Swap, IO and pressure stats: kin reports CPU and memory basics.
    ("ContainerStats", "swap"), ("ContainerStats", "io"),
    ("CpuUsage", "psi"), ("MemoryUsage", "psi"),
}  # fmt: skip
NOT_SERVED_ENUMS = {"ContainerEventType"}

SCALARS = {
    FieldDescriptor.TYPE_STRING: "string", FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_BOOL: "bool", FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_INT64: "int64", FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
}  # fmt: skip

DEFINITION = re.compile(r"(enum )?\*\*([\w.]+)\*\* — ")
FIELD = re.compile(r"\b(\d+) ([A-Za-z_]\w*)(?::(repeated )?(map<[^>]*>|[\w.]+))?")
ENUM_VALUE = re.compile(r"(\w+?)(?:(\d+)\.\.(\d+))?=(\d+)(?:\.\.(\d+))?")


def sheet_definitions() -> tuple[dict[str, str], dict[str, str]]:
    """Message and enum bodies by name, from every ``**Name** — ...`` on the sheet."""
    messages: dict[str, str] = {}
    enums: dict[str, str] = {}
    for line in SHEET.read_text().splitlines():
        if not line.startswith("- "):
            continue
        line = re.sub(r"\([^)]*\)", "", line)  # remarks in parentheses
        starts = list(DEFINITION.finditer(line))
        for i, match in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(line)
            body = line[match.end() : end].rstrip(" ;")
            (enums if match.group(1) else messages)[match.group(2)] = body
    return messages, enums


def sheet_fields(body: str) -> dict[str, tuple[int, str | None]]:
    """``name -> (number, type as written or None)``; ``repeated`` kept in the type."""
    fields = {}
    for number, name, repeated, type_ in FIELD.findall(body):
        fields[name] = (int(number), f"{repeated}{type_}" if type_ else None)
    return fields


def sheet_enum_values(body: str) -> dict[str, int]:
    values = {}
    for name, first, last, number, last_number in ENUM_VALUE.findall(body):
        if first:  # NAME1..15=36..50 and NAME14..1=51..64
            step = 1 if int(last) >= int(first) else -1
            for offset, n in enumerate(range(int(first), int(last) + step, step)):
                values[f"{name}{n}"] = int(number) + offset
        else:
            values[name] = int(number)
        assert not last_number or first, body
    # The sheet writes the signal names as Go spells its constants (Signal_SIGTERM ->
    # SIGNAL_SIGTERM); the proto's own value names have no prefix.
    return {name.removeprefix("SIGNAL_"): n for name, n in values.items()}


def describe_type(field: FieldDescriptor) -> str:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = (
            field.message_type.fields_by_name["key"],
            field.message_type.fields_by_name["value"],
        )
        return f"map<{describe_type(key)},{describe_type(value)}>"
    if field.message_type is not None:
        name = field.message_type.name
    elif field.enum_type is not None:
        name = field.enum_type.full_name.removeprefix("runtime.v1.")
    else:
        name = SCALARS[field.type]
    return f"repeated {name}" if field.is_repeated else name


def same_type(served: str, written: str) -> bool:
    """The sheet writes a map of strings as just ``map`` and a nested type by its own name."""
    written = written.replace(" ", "").replace("repeated", "repeated ")
    if written == "map":
        return served == "map<string,string>"
    return served == written or served.rpartition(".")[2] == written


def lookup(name: str) -> Descriptor | EnumDescriptor | None:
    pool = api_pb2.DESCRIPTOR.pool
    for find in (pool.FindMessageTypeByName, pool.FindEnumTypeByName):
        try:
            found: Descriptor | EnumDescriptor = find(f"runtime.v1.{name}")
            return found
        except KeyError:
            continue
    return None


MESSAGES, ENUMS = sheet_definitions()


def test_the_sheet_was_read_whole() -> None:
    assert len(MESSAGES) > 100 and len(ENUMS) >= 10
    assert MESSAGES["ContainerConfig"].startswith("1 metadata:ContainerMetadata")


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_every_message_has_the_sheets_numbers_names_and_types(name: str) -> None:
    if name in NOT_SERVED_MESSAGES:
        assert lookup(name) is None
        return
    descriptor = lookup(name)
    assert isinstance(descriptor, Descriptor), f"{name} is missing from kin's proto"
    expected = sheet_fields(MESSAGES[name])
    served = {f.name: f for f in descriptor.fields}
    for field_name, (number, type_) in expected.items():
        if (name, field_name) in NOT_SERVED_FIELDS:
            assert field_name not in served
            assert number not in descriptor.fields_by_number  # the number stays free
            continue
        assert field_name in served, f"{name}.{field_name} is missing"
        field = served[field_name]
        assert field.number == number, f"{name}.{field_name}"
        if type_ is not None:
            assert same_type(describe_type(field), type_), f"{name}.{field_name}"
    invented = set(served) - set(expected)
    assert not invented, f"{name} has fields the sheet does not list: {invented}"


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_every_enum_has_the_sheets_values(name: str) -> None:
    if name in NOT_SERVED_ENUMS:
        assert lookup(name) is None
        return
    descriptor = lookup(name)
    assert isinstance(descriptor, EnumDescriptor), f"enum {name} is missing"
    assert {v.name: v.number for v in descriptor.values} == sheet_enum_values(ENUMS[name])


def test_the_services_answer_on_the_names_clients_call() -> None:
    runtime = api_pb2.DESCRIPTOR.services_by_name["RuntimeService"]
    assert runtime.full_name == "runtime.v1.RuntimeService"
    for method in ("Version", "Status", "RunPodSandbox", "ExecSync", "ReopenContainerLog"):
        assert method in runtime.methods_by_name
    image = api_pb2.DESCRIPTOR.services_by_name["ImageService"]
    assert set(image.methods_by_name) >= {"ListImages", "ImageStatus", "PullImage", "ImageFsInfo"}


def test_the_generated_code_is_what_the_proto_compiles_to(tmp_path: Path) -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpcio-tools is not installed (it comes with the dev extras)")
    proto = "kin/runtime/cri/api.proto"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{SRC}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", str(SRC / proto)],
        check=True,
    )  # fmt: skip
    for generated in ("api_pb2.py", "api_pb2.pyi", "api_pb2_grpc.py"):
        fresh = (tmp_path / "kin/runtime/cri" / generated).read_text()
        assert fresh == (SRC / "kin/runtime/cri" / generated).read_text(), (
            f"{generated} is stale: run `make proto`"
        )
