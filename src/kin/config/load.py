"""Loading a kind config: read, identify, decode strictly, default, convert.

The order is kind's (``pkg/internal/apis/config/encoding/load.go``) and it decides which
message a broken file gets: a first, lenient pass reads only ``kind`` and ``apiVersion``
(so a syntax error reads ``could not determine kind / apiVersion for config: yaml: ...``),
the version is checked, and only then is the document decoded strictly
(``unable to decode config: ...``). Validation is separate (``validate.validate``) because
kind runs it only after the ``--name`` / ``--image`` overrides.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from yaml import Node as YamlNode

from kin.config import internal, v1alpha4
from kin.config.yamlstrict import (
    Abort,
    DecodeErrors,
    Decoder,
    Handler,
    SyntaxProblem,
    compose_first,
)
from kin.errors import ConfigError

__all__ = ["load_config", "parse_config", "resolve_cluster_name"]

NAME_ENV = "KIND_CLUSTER_NAME"


def load_config(path: str | None, stdin: TextIO | None = None) -> internal.Cluster:
    """The config at ``path``: None or "" is kind's default config, "-" reads stdin."""
    if not path:
        cluster = internal.Cluster()
        internal.set_defaults(cluster)
        return cluster
    raw = _read_stdin(stdin or sys.stdin) if path == "-" else _read_file(path)
    return parse_config(raw)


def parse_config(raw: str | bytes) -> internal.Cluster:
    """Decode, default and convert one config document (kind's ``encoding.Parse``)."""
    root = _compose(raw)
    if root is None:  # an empty stream has no apiVersion, as in kind
        raise ConfigError("unknown apiVersion: ")
    api_version, kind = _type_meta(root)
    if api_version != v1alpha4.API_VERSION:
        raise ConfigError(f"unknown apiVersion: {api_version}")
    if kind != v1alpha4.KIND:
        raise ConfigError(f"unknown kind {kind} for apiVersion: {api_version}")
    cluster = _decode_strict(root)
    v1alpha4.set_defaults(cluster)
    return internal.convert_v1alpha4(cluster)


def resolve_cluster_name(
    flag: str | None, env: Mapping[str, str], cluster: internal.Cluster
) -> str:
    """``--name`` > ``KIND_CLUSTER_NAME`` > the config's name > ``kind``.

    As in kind, the variable counts only when ``--name`` was not given (``flag`` is None)
    and is not empty; an explicit empty ``--name ""`` falls through to the config.
    """
    name = env.get(NAME_ENV, "") if flag is None else flag
    return name or cluster.name or internal.DEFAULT_CLUSTER_NAME


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as config_file:
            return config_file.read()
    except IsADirectoryError as exc:
        raise ConfigError(f"error reading file: read {path}: is a directory") from exc
    except OSError as exc:
        raise ConfigError(f"error reading file: {_go_path_error(path, exc)}") from exc


def _go_path_error(path: str, exc: OSError) -> str:
    """Go's ``*PathError`` text: ``open <path>: <errno text in lower case>``."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"


def _read_stdin(stdin: TextIO) -> str | bytes:
    try:
        buffer = getattr(stdin, "buffer", None)
        return buffer.read() if buffer is not None else stdin.read()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"error reading config from stdin: {exc}") from exc


def _compose(raw: str | bytes) -> YamlNode | None:
    try:
        return compose_first(raw)
    except SyntaxProblem as exc:
        raise ConfigError(f"could not determine kind / apiVersion for config: {exc}") from exc


def _type_meta(root: YamlNode) -> tuple[str, str]:
    """The lenient first pass: only ``apiVersion`` and ``kind``; other keys are skipped."""
    meta = {"apiVersion": "", "kind": ""}
    decoder = Decoder(known_fields=False)
    try:
        decoder.struct(root, "encoding.typeMeta", {key: _store(decoder, meta, key) for key in meta})
        decoder.check()
    except (DecodeErrors, Abort, RecursionError) as exc:
        raise ConfigError(f"could not determine kind / apiVersion for config: {exc}") from exc
    return meta["apiVersion"], meta["kind"]


def _store(decoder: Decoder, meta: dict[str, str], key: str) -> Handler:
    def handler(node: YamlNode) -> None:
        meta[key] = decoder.string(node) or meta[key]

    return handler


def _decode_strict(root: YamlNode) -> v1alpha4.Cluster:
    decoder = Decoder(known_fields=True)
    try:
        cluster = v1alpha4.decode_cluster(decoder, root)
        decoder.check()
    except (DecodeErrors, Abort) as exc:
        raise ConfigError(f"unable to decode config: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError("unable to decode config: yaml: anchor value contains itself") from exc
    return cluster
