"""The public surface of kin.config is exactly what the rest of kin may use."""

from __future__ import annotations

import kin.config


def test_all_is_exact():
    assert sorted(kin.config.__all__) == [
        "API_VERSION",
        "CONTROL_PLANE",
        "Cluster",
        "DEFAULT_CLUSTER_NAME",
        "DEFAULT_NODE_IMAGE",
        "Mount",
        "Networking",
        "Node",
        "PatchJSON6902",
        "PortMapping",
        "WORKER",
        "check_supported",
        "load_config",
        "name_length_warning",
        "parse_config",
        "resolve_cluster_name",
        "set_defaults",
        "unsupported_warnings",
        "validate",
    ]


def test_every_export_exists():
    for name in kin.config.__all__:
        assert getattr(kin.config, name) is not None


def test_public_names_not_in_all_are_modules_only():
    public = {name for name in vars(kin.config) if not name.startswith("_")}
    modules = {"internal", "load", "v1alpha4", "yamlstrict"}  # validate is the function
    assert public - set(kin.config.__all__) == modules
