"""The baseline for kin's udp backend: a naive per-packet Python TUN <-> UDP forwarder.

What ../shared/reference/perf_baselines.md measured as "Python TUN<->UDP, threads" (0.77
Gbit/s there): two blocking threads, one packet per system call, no batching, no TTL or
checksum work. Run inside a node's namespace (``ip netns exec``) by bench_flannel:

    naive_udp_forwarder.py TUN_NAME NODE_INDEX LOCAL_IP PEER_SUBNET=PEER_IP ...

It makes the TUN with ``10.244.<i>.0/16`` (so the kernel routes the pod network into it),
MTU 1472, and forwards until killed.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
import struct
import subprocess
import sys
import threading

TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000


def main() -> None:
    name, index, local, *pairs = sys.argv[1:]
    peers = {ipaddress.IPv4Network(p.split("=")[0]): p.split("=")[1] for p in pairs}
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    for command in (f"addr add 10.244.{index}.0/16 dev {name}", f"link set {name} mtu 1472 up"):
        subprocess.run(["ip", *command.split()], check=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((local, 8285))
    by_prefix = {net.network_address.packed[:3]: (ip, 8285) for net, ip in peers.items()}

    def tun_to_udp() -> None:
        while True:
            packet = os.read(tun, 65535)
            peer = by_prefix.get(packet[16:19])
            if peer is not None:
                sock.sendto(packet, peer)

    def udp_to_tun() -> None:
        while True:
            os.write(tun, sock.recv(65535))

    threading.Thread(target=tun_to_udp, daemon=True).start()
    print("ready", flush=True)
    udp_to_tun()


if __name__ == "__main__":
    main()
