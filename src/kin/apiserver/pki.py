"""The cluster PKI, as kubeadm lays it out: a CA, the API server's serving certificate, and
client certificates for the admin and every node.

kubectl checks the serving certificate strictly: it must carry the address it dials as an
IP SAN (``127.0.0.1`` for the published port) and the names it may use as DNS SANs; a
Common Name alone is refused. Client certificates identify users the way kube-apiserver
reads them: CN is the user, each O is a group (``O=system:masters`` is the admin,
``CN=system:node:<node>, O=system:nodes`` a kubelet). Keys are EC P-256, which the real
kubectl accepts and which is fast to generate.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CertKey",
    "apiserver_sans",
    "issue",
    "load",
    "new_ca",
    "node_identity",
    "write",
    "write_cluster_pki",
]

VALIDITY = datetime.timedelta(days=3650)
CA_VALIDITY = datetime.timedelta(days=3650 * 3)


@dataclass(frozen=True)
class CertKey:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def new_ca(common_name: str = "kubernetes") -> CertKey:
    """A self-signed CA that can sign server and client certificates."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertKey(cert, key)


def issue(
    ca: CertKey,
    common_name: str,
    organizations: tuple[str, ...] = (),
    *,
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
    server: bool = False,
) -> CertKey:
    """A certificate signed by ``ca``: for a server (SANs, serverAuth) or a client (clientAuth)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organizations))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return CertKey(builder.sign(ca.key, hashes.SHA256()), key)


def write(pair: CertKey, cert_path: str, key_path: str) -> None:
    """PEM files; the key is readable by root only."""
    os.makedirs(os.path.dirname(cert_path) or ".", exist_ok=True)
    with open(cert_path, "wb") as f:
        f.write(pair.cert_pem())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pair.key_pem())


def load(cert_path: str, key_path: str) -> CertKey:
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path}: expected an EC private key")
    return CertKey(cert, key)


def apiserver_sans(
    service_cidr: str, addresses: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(DNS names, IP addresses) of kube-apiserver's certificate, as kubeadm chooses them:
    the ``kubernetes`` service's names and first service IP, loopback, and ``addresses``."""
    dns = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
           "kubernetes.default.svc.cluster.local", "localhost")  # fmt: skip
    service_ip = str(ipaddress.ip_network(service_cidr)[1])
    ips = tuple(dict.fromkeys((service_ip, "127.0.0.1", *addresses)))
    return dns, ips


def node_identity(node: str) -> tuple[str, tuple[str, ...]]:
    """The user and groups a kubelet authenticates as."""
    return f"system:node:{node}", ("system:nodes",)


def write_self_signed_server(cert_path: str, key_path: str, name: str, ip: str = "") -> None:
    """A serving certificate signed by a CA of its own, as a kubelet makes for itself."""
    ca = new_ca(f"{name}-ca")
    ips = (ip,) if ip else ()
    write(issue(ca, name, dns_names=(name,), ip_addresses=ips, server=True), cert_path, key_path)


def write_cluster_pki(
    directory: str, service_cidr: str, addresses: tuple[str, ...], nodes: tuple[str, ...]
) -> CertKey:
    """kubeadm's layout under ``directory`` (``/etc/kubernetes/pki``): ca, apiserver,
    apiserver-kubelet-client, admin, scheduler (``system:kube-scheduler``), controller-manager
    (``system:kube-controller-manager``) and
    ``node-<name>`` for each node. Returns the CA."""
    ca = new_ca()
    write(ca, f"{directory}/ca.crt", f"{directory}/ca.key")
    dns, ips = apiserver_sans(service_cidr, addresses)
    server = issue(ca, "kube-apiserver", dns_names=dns, ip_addresses=ips, server=True)
    write(server, f"{directory}/apiserver.crt", f"{directory}/apiserver.key")
    admin = issue(ca, "kubernetes-admin", ("system:masters",))
    write(admin, f"{directory}/admin.crt", f"{directory}/admin.key")
    scheduler = issue(ca, "system:kube-scheduler")
    write(scheduler, f"{directory}/scheduler.crt", f"{directory}/scheduler.key")
    manager = issue(ca, "system:kube-controller-manager")
    write(manager, f"{directory}/controller-manager.crt", f"{directory}/controller-manager.key")
    kubelet_client = issue(ca, "kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",))
    write(kubelet_client, f"{directory}/apiserver-kubelet-client.crt",
          f"{directory}/apiserver-kubelet-client.key")  # fmt: skip
    for node in nodes:
        user, groups = node_identity(node)
        pair = issue(ca, user, groups)
        write(pair, f"{directory}/node-{node}.crt", f"{directory}/node-{node}.key")
    return ca
