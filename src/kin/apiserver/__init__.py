"""kin's Kubernetes-compatible API server: the REST API that the real kubectl drives.

Run as ``python -m kin.apiserver``. Parts: ``storage`` (SQLite or etcd v3 behind one
interface), ``schema`` (the built-in types: validation, OpenAPI, protobuf), ``patch``
(merge, JSON and strategic merge patches, server-side apply), ``selectors`` and
``tables`` (what ``kubectl get`` prints), the resource registry and the HTTP app.
It never touches the kernel: an import-linter contract forbids ``kin.linux``.
"""
