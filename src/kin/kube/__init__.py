"""A Kubernetes API client for kin's own daemons (flanneld; later the kubelet, the
controllers, kube-proxy): kubeconfig loading and an asyncio client over aiohttp.

Small on purpose: the daemons need get, list, watch, create, update and patch of a few
kinds, with kube's errors as ``APIError``s, and nothing that touches the kernel.
"""
