"""Certificates a kubeconfig and kubelets can use, and who the server thinks is asking."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kin.apiserver import pki
from kin.apiserver.http.auth import TokenFile


def test_server_certificate_names_its_addresses_and_chains_to_the_ca() -> None:
    ca = pki.new_ca()
    server = pki.issue(
        ca, "kube-apiserver", dns_names=("kubernetes",), ip_addresses=("127.0.0.1",), server=True
    )
    sans = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["kubernetes"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usage = server.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage
    server.cert.verify_directly_issued_by(ca.cert)


def test_client_certificate_carries_user_and_groups() -> None:
    ca = pki.new_ca()
    admin = pki.issue(ca, "kubernetes-admin", ("system:masters",))
    subject = admin.cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes-admin"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"


def test_written_pairs_load_back_and_the_key_is_private(tmp_path: Path) -> None:
    ca = pki.new_ca()
    pki.write(ca, str(tmp_path / "ca.crt"), str(tmp_path / "ca.key"))
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    loaded = pki.load(str(tmp_path / "ca.crt"), str(tmp_path / "ca.key"))
    assert loaded.cert == ca.cert
    assert loaded.key_pem() == ca.key_pem()


def test_token_file_rows_and_groups(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(
        '# comment,x,y\nsecret,admin,1,"system:masters,dev"\nshort,bob\nplain,carol,3\n'
    )
    tokens = TokenFile(str(path))
    admin = tokens.user("secret")
    assert admin is not None and admin.name == "admin"
    assert admin.groups == ("system:masters", "dev")
    assert tokens.user("short") is None  # a row without a uid is not a token
    carol = tokens.user("plain")
    assert carol is not None and carol.groups == ()
    assert tokens.user("wrong") is None


def test_cluster_pki_has_kubeadms_files_and_identities(tmp_path: Path) -> None:
    ca = pki.write_cluster_pki(str(tmp_path), "10.96.0.0/16", ("172.18.0.2",), ("n1", "n2"))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        f"{base}.{ext}"
        for base in ("ca", "apiserver", "apiserver-kubelet-client", "admin", "scheduler",
                     "controller-manager", "node-n1", "node-n2")
        for ext in ("crt", "key")
    )  # fmt: skip
    scheduler = pki.load(str(tmp_path / "scheduler.crt"), str(tmp_path / "scheduler.key"))
    scheduler_cn = scheduler.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert scheduler_cn == "system:kube-scheduler"  # as kubeadm's scheduler.conf names it
    manager = pki.load(str(tmp_path / "controller-manager.crt"),
                       str(tmp_path / "controller-manager.key"))  # fmt: skip
    manager_cn = manager.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert manager_cn == "system:kube-controller-manager"
    server = pki.load(str(tmp_path / "apiserver.crt"), str(tmp_path / "apiserver.key"))
    sans = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert ips == {"10.96.0.1", "127.0.0.1", "172.18.0.2"}
    assert "kubernetes.default.svc.cluster.local" in sans.get_values_for_type(x509.DNSName)
    node = pki.load(str(tmp_path / "node-n2.crt"), str(tmp_path / "node-n2.key"))
    node.cert.verify_directly_issued_by(ca.cert)
    subject = node.cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n2"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
