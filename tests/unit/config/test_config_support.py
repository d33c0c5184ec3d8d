"""kin's own checks: fields it ignores (warnings) and cannot do yet (errors)."""

from __future__ import annotations

import pytest

from kin import config
from kin.errors import ConfigError

FULL = """kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
featureGates: {Foo: true}
runtimeConfig: {api/all: "true"}
kubeadmConfigPatches: ["kind: ClusterConfiguration"]
kubeadmConfigPatchesJSON6902: [{kind: ClusterConfiguration, patch: "[]"}]
containerdConfigPatches: ["[plugins]"]
containerdConfigPatchesJSON6902: ["[]"]
nodes:
- role: control-plane
- role: worker
  image: kindest/node:v1.30.0
  kubeadmConfigPatches: ["kind: JoinConfiguration"]
  kubeadmConfigPatchesJSON6902: [{kind: JoinConfiguration, patch: "[]"}]
  extraMounts:
  - {hostPath: /a, containerPath: /a}
  - {hostPath: /b, containerPath: /b, selinuxRelabel: true}
"""


def test_every_ignored_field_is_named_with_its_place():
    warnings = config.unsupported_warnings(config.parse_config(FULL))
    assert warnings == [
        "kubeadmConfigPatches: kin does not run kubeadm; ignored",
        "kubeadmConfigPatchesJSON6902: kin does not run kubeadm; ignored",
        "containerdConfigPatches: kin does not run containerd; ignored",
        "containerdConfigPatchesJSON6902: kin does not run containerd; ignored",
        "featureGates: kin's components have no feature gates to set; ignored",
        "runtimeConfig: kin's API server has no --runtime-config; ignored",
        "nodes[1].image: kin runs on the host's files and ignores node images",
        "nodes[1].kubeadmConfigPatches: kin does not run kubeadm; ignored",
        "nodes[1].kubeadmConfigPatchesJSON6902: kin does not run kubeadm; ignored",
        "nodes[1].extraMounts[1].selinuxRelabel: kin bind-mounts host paths without SELinux "
        "relabelling; ignored",
    ]


def test_a_plain_config_has_no_warnings():
    assert config.unsupported_warnings(config.load_config(None)) == []


def test_warnings_never_raise_even_on_an_invalid_config():
    cluster = config.Cluster(nodes=[config.Node(role="bogus", image="x")])
    assert config.unsupported_warnings(cluster) == [
        "nodes[0].image: kin runs on the host's files and ignores node images"
    ]


def test_ipvs_is_a_warning_and_the_default_mode_is_used():
    cluster = config.parse_config(HEAD + "networking: {kubeProxyMode: ipvs}")
    assert config.unsupported_warnings(cluster) == [
        "networking.kubeProxyMode: ipvs needs IPVS, which this kernel lacks; "
        "kin uses the default mode, iptables, instead"
    ]


def supported_problems(text: str) -> list[str]:
    try:
        config.check_supported(config.parse_config(text))
    except ConfigError as exc:
        return exc.problems
    return []


HEAD = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", []),
        (
            "networking: {ipFamily: ipv6}",
            ["networking.ipFamily: ipv6 is not supported by kin yet (only ipv4)"],
        ),
        (
            "networking: {ipFamily: dual}",
            ["networking.ipFamily: dual is not supported by kin yet (only ipv4)"],
        ),
        (
            "networking: {apiServerPort: -1}",
            [
                "networking.apiServerPort: -1 (a port picked by the container runtime) is not "
                "supported by kin; use 0 for a random free port"
            ],
        ),
        ("networking: {kubeProxyMode: ipvs}", []),
        (
            "networking: {podSubnet: 10.96.0.0/12, serviceSubnet: 10.96.0.0/16}",
            [
                "networking.podSubnet 10.96.0.0/12 and networking.serviceSubnet 10.96.0.0/16 "
                "overlap: pods and Services need addresses of their own"
            ],
        ),
        ("networking: {podSubnet: 10.100.0.0/16, serviceSubnet: 10.101.0.0/16}", []),
        ("networking: {kubeProxyMode: nftables, apiServerPort: 6443}", []),
        (
            "nodes: [{role: control-plane}, {role: control-plane}, {role: worker}]",
            ["nodes: 2 control-plane nodes; kin supports exactly one"],
        ),
        (
            "nodes: [{role: control-plane, extraPortMappings: [{containerPort: 1, hostPort: -1}]}]",
            [
                "nodes[0].extraPortMappings[0].hostPort: -1 (a port picked by the container "
                "runtime) is not supported by kin; use 0 for a random free port"
            ],
        ),
        (
            "nodes: [{role: control-plane, extraPortMappings: [{containerPort: 1, protocol: udp},"
            " {containerPort: 2, protocol: sctp}]}]",
            [
                "nodes[0].extraPortMappings[1].protocol: SCTP is not supported by kin's port "
                "publisher (TCP and UDP only)"
            ],
        ),
    ],
)
def test_unsupported_settings(body, expected):
    assert supported_problems(HEAD + body) == expected


def test_all_unsupported_settings_are_reported_at_once():
    body = (
        "networking: {ipFamily: dual, apiServerPort: -1}\n"
        "nodes:\n"
        "- role: control-plane\n"
        "- role: control-plane\n"
        "  extraPortMappings: [{containerPort: 5, hostPort: -1, protocol: SCTP}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        config.check_supported(config.parse_config(HEAD + body))
    assert len(caught.value.problems) == 5
    assert str(caught.value).startswith("[networking.ipFamily: dual is not supported")
