#!/usr/bin/env bash
# Install what kin needs from Debian, idempotently: only missing packages are installed,
# and `apt-get update` runs only when something is missing. Needs root.
set -euo pipefail

packages=(
    iproute2        # ip, bridge: looking at what kin made
    nftables        # nft: node firewalls, and the leak check of the host's ruleset
    iptables        # iptables-save: the leak check; kube-proxy's iptables mode later
    catatonit       # the pause process of pod sandboxes
    iputils-ping    # ping inside nodes and pods
    tcpdump         # watching the packets
    iperf3          # the pod network benchmark (make bench)
    util-linux      # nsenter, unshare, findmnt
    procps          # ps, sysctl
    containernetworking-plugins  # the reference CNI plugins: test peers only (/usr/lib/cni)
    conntrack       # looking at NAT state in tests
    etcd-server     # the etcd v3 datastore, and a test peer of kin's storage
    etcd-client     # etcdctl: looking at what kin stored
    busybox-static  # tests build a small image archive from it (kin load image-archive)
    ca-certificates
)

if [ "$(id -u)" != 0 ]; then
    echo "ERROR: setup installs Debian packages and must run as root (try: sudo make setup)" >&2
    exit 1
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    packages+=(python3-venv)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl is a prerequisite, not a dependency: keep any kubectl the machine has, since
# Debian's old kubernetes-client conflicts with the packaged ones.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
