"""Read a kubeconfig as kubectl does: the current context's cluster and user.

Certificates and keys may be inline (``*-data``, base64) or files (relative paths are
relative to the kubeconfig, as in client-go); a user may carry a bearer ``token`` instead.
The result is what a client needs: the server URL, a TLS context that trusts the cluster's
CA and presents the user's certificate, and the token if any. Problems are ConfigErrors
that name the file and the entry.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kin.errors import ConfigError

__all__ = ["Connection", "in_cluster", "load"]


@dataclass(frozen=True)
class Connection:
    server: str  # https://172.18.0.2:6443
    ssl_context: ssl.SSLContext | None  # None for plain http
    token: str = ""


def load(path: str | Path, context: str = "") -> Connection:
    """The connection of ``context`` (default: the current context) in the file at ``path``."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"kubeconfig {path} is not YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    name = context or str(document.get("current-context") or "")
    if not name:
        raise ConfigError(f"kubeconfig {path}: no context given and no current-context")
    chosen = _named(document, "contexts", name, path)["context"]
    cluster = _named(document, "clusters", str(chosen.get("cluster", "")), path)["cluster"]
    user = _named(document, "users", str(chosen.get("user", "")), path).get("user") or {}
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise ConfigError(f"kubeconfig {path}: cluster of context {name!r} has no https server")
    tls = _ssl_context(cluster, user, path) if server.startswith("https://") else None
    return Connection(server.rstrip("/"), tls, str(user.get("token") or ""))


def _named(document: dict[str, Any], section: str, name: str, path: Path) -> dict[str, Any]:
    for entry in document.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    raise ConfigError(f"kubeconfig {path}: no entry {name!r} in {section}")


def _ssl_context(cluster: dict[str, Any], user: dict[str, Any], path: Path) -> ssl.SSLContext:
    # Not create_default_context(): it reads the system's whole CA bundle (50 ms of CPU and
    # some MiB in every client) where a cluster's own CA is all there is to trust.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        ca = _pem(cluster, "certificate-authority", path)
        if ca is not None:
            context.load_verify_locations(cadata=ca.decode())
        else:  # a server with a publicly trusted certificate
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    cert, key = _pem(user, "client-certificate", path), _pem(user, "client-key", path)
    if cert is not None and key is not None:
        _load_pair(context, cert, key, path)
    return context


def _pem(entry: dict[str, Any], field: str, path: Path) -> bytes | None:
    """``field-data`` (base64) or the file ``field`` names."""
    inline = entry.get(f"{field}-data")
    if inline:
        try:
            return base64.b64decode(str(inline), validate=True)
        except ValueError as exc:
            raise ConfigError(f"kubeconfig {path}: {field}-data is not base64: {exc}") from exc
    name = entry.get(field)
    if not name:
        return None
    file = Path(str(name))
    file = file if file.is_absolute() else path.parent / file
    try:
        return file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"kubeconfig {path}: cannot read {field} {file}: {exc.strerror}") from exc


def _load_pair(context: ssl.SSLContext, cert: bytes, key: bytes, path: Path) -> None:
    """``load_cert_chain`` reads files only: hand it a private temporary file."""
    with tempfile.TemporaryDirectory(prefix="kin-kubeconfig-") as directory:
        pem = Path(directory, "pair.pem")
        descriptor = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(cert.rstrip(b"\n") + b"\n" + key)
        try:
            context.load_cert_chain(str(pem))
        except ssl.SSLError as exc:
            raise ConfigError(
                f"kubeconfig {path}: client certificate and key do not load: {exc}"
            ) from exc


SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def in_cluster(environ: dict[str, str], account: Path = SERVICE_ACCOUNT) -> Connection:
    """What a pod uses (client-go's rest.InClusterConfig): ``KUBERNETES_SERVICE_HOST`` and
    ``_PORT``, and its service account's token and CA."""
    host, port = (
        environ.get("KUBERNETES_SERVICE_HOST", ""),
        environ.get("KUBERNETES_SERVICE_PORT", ""),
    )
    if not host or not port:
        raise ConfigError(
            "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset "
            "(give a kubeconfig file)"
        )
    try:
        token = (account / "token").read_text().strip()
        ca = (account / "ca.crt").read_text()
    except OSError as exc:
        raise ConfigError(f"in-cluster service account: {exc.filename}: {exc.strerror}") from exc
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca)
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return Connection(server, context, token)
