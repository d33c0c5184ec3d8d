"""load_config's entry points (default, file, stdin), read errors, and name precedence."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kin import config
from kin.errors import ConfigError

SEED = Path(__file__).parents[3] / "examples" / "kind-2node.yaml"  # the seed note's file
SEED_COPY = Path(__file__).parents[2] / "testdata" / "config" / "valid-seed-kind-2node.yaml"
MINIMAL = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"


@pytest.mark.parametrize("path", [None, ""])
def test_no_path_gives_kinds_default_config(path):
    cluster = config.load_config(path)
    assert cluster == config.Cluster(
        name="kind",
        nodes=[config.Node(role="control-plane", image=config.DEFAULT_NODE_IMAGE)],
        networking=config.Networking(
            ip_family="ipv4",
            api_server_address="127.0.0.1",
            pod_subnet="10.244.0.0/16",
            service_subnet="10.96.0.0/16",
            kube_proxy_mode="iptables",
        ),
    )


def test_default_node_image_is_kind_v0_32_default_tag():
    assert config.DEFAULT_NODE_IMAGE == "kindest/node:v1.36.1"


def test_a_file_without_name_keeps_it_empty_until_the_create_flow():
    cluster = config.parse_config(MINIMAL)
    assert cluster.name == ""
    config.set_defaults(cluster)
    assert cluster.name == "kind"


@pytest.mark.parametrize("seed", [SEED, SEED_COPY], ids=["example", "testdata-copy"])
def test_seed_two_node_file(seed: Path):
    cluster = config.load_config(str(seed))
    assert [node.role for node in cluster.nodes] == ["control-plane", "worker"]
    assert cluster.nodes[0].extra_port_mappings == []
    assert cluster.nodes[1].extra_port_mappings == [
        config.PortMapping(31000, 31000, "0.0.0.0", "TCP"),  # "tcp" upper-cased, as kind does
        config.PortMapping(31001, 31001, "", ""),  # defaults are the provider's, not the file's
    ]
    cluster.name = config.resolve_cluster_name(None, {}, cluster)
    config.validate(cluster)
    config.check_supported(cluster)
    assert config.unsupported_warnings(cluster) == []


def test_dash_reads_stdin():
    stdin = io.StringIO(MINIMAL + "name: from-stdin\n")
    assert config.load_config("-", stdin).name == "from-stdin"


def test_dash_reads_stdin_bytes_when_there_is_a_buffer():
    stdin = io.TextIOWrapper(io.BytesIO((MINIMAL + "name: bytes\n").encode()))
    assert config.load_config("-", stdin).name == "bytes"


def test_stdin_errors_are_decoded_like_files():
    with pytest.raises(ConfigError) as caught:
        config.load_config("-", io.StringIO(MINIMAL + "bogus: 1\n"))
    assert str(caught.value) == (
        "unable to decode config: yaml: unmarshal errors:\n"
        "  line 3: field bogus not found in type v1alpha4.Cluster"
    )


def test_missing_file_reads_like_gos_os_error(tmp_path: Path):
    path = tmp_path / "x.yaml"
    with pytest.raises(ConfigError) as caught:
        config.load_config(str(path))
    assert str(caught.value) == f"error reading file: open {path}: no such file or directory"


def test_relative_missing_file_keeps_the_given_path(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        config.load_config("x.yaml")
    assert str(caught.value) == "error reading file: open x.yaml: no such file or directory"


def test_directory_reads_like_gos_read_error(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        config.load_config(str(tmp_path))
    assert str(caught.value) == f"error reading file: read {tmp_path}: is a directory"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "secret.yaml"
    path.write_text(MINIMAL)

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("builtins.open", denied)  # root could read a mode-0 file
    with pytest.raises(ConfigError) as caught:
        config.load_config(str(path))
    assert str(caught.value) == f"error reading file: open {path}: permission denied"


def test_utf8_bom_and_crlf_are_accepted(tmp_path: Path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (MINIMAL + "name: bom\n").replace("\n", "\r\n").encode())
    assert config.load_config(str(path)).name == "bom"


def test_invalid_utf8_is_a_yaml_error(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MINIMAL.encode() + b"name: caf\xff\n")
    with pytest.raises(ConfigError) as caught:
        config.load_config(str(path))
    assert str(caught.value) == (
        "could not determine kind / apiVersion for config: yaml: invalid leading UTF-8 octet"
    )


def test_loaded_clusters_share_no_lists():
    first, second = config.parse_config(MINIMAL), config.parse_config(MINIMAL)
    first.nodes[0].labels["a"] = "b"
    assert second.nodes[0].labels == {}


NAMED = config.Cluster(name="from-config")
UNNAMED = config.Cluster()


@pytest.mark.parametrize(
    ("flag", "env", "cluster", "expected"),
    [
        ("flag", {"KIND_CLUSTER_NAME": "env"}, NAMED, "flag"),
        (None, {"KIND_CLUSTER_NAME": "env"}, NAMED, "env"),
        (None, {"KIND_CLUSTER_NAME": ""}, NAMED, "from-config"),
        (None, {}, NAMED, "from-config"),
        (None, {}, UNNAMED, "kind"),
        ("", {"KIND_CLUSTER_NAME": "env"}, NAMED, "from-config"),  # explicit --name ""
        ("", {"KIND_CLUSTER_NAME": "env"}, UNNAMED, "kind"),
    ],
)
def test_cluster_name_precedence(flag, env, cluster, expected):
    assert config.resolve_cluster_name(flag, env, cluster) == expected
