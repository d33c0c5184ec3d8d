"""Cluster DNS as the DNS-based service discovery spec words it, read back by dnspython.

Queries are made and answers read by dnspython, an independent codec: what kin writes
must be what any resolver reads.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

from kin.dns.records import build
from kin.dns.server import DnsServer
from kin.dns.wire import FormatError, parse_query


def service(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    spec.setdefault("clusterIP", "10.96.0.50")
    spec.setdefault("ports", [{"name": "http", "port": 80, "protocol": "TCP"}])
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def endpoints(name: str, *members: dict[str, Any], namespace: str = "default") -> Any:
    return {"metadata": {"name": f"{name}-x", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": list(members)}  # fmt: skip


SERVICES = [
    service("web"),
    service("db", clusterIP="None"),
    service("docs", type="ExternalName", externalName="docs.example.org", clusterIP=""),
    service("api", "prod", clusterIP="10.96.7.8",
            ports=[{"name": "dns", "port": 53, "protocol": "UDP"}]),
]  # fmt: skip
SLICES = [
    endpoints("db", {"addresses": ["10.244.1.5"], "hostname": "db-0"},
              {"addresses": ["10.244.2.6"], "conditions": {"ready": True}},
              {"addresses": ["10.244.2.7"], "conditions": {"ready": False}}),
]  # fmt: skip
SERVER = DnsServer(lambda: build(SERVICES, SLICES, "cluster.local", 30))


def ask(name: str, rdtype: str = "A", tcp: bool = False, **kw: Any) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kw)
    reply = asyncio.run(SERVER.answer(query.to_wire(), 0 if tcp else 512))
    assert reply is not None
    return dns.message.from_wire(reply)


def texts(reply: dns.message.Message, rdtype: str = "") -> list[str]:
    return sorted(
        r.to_text()
        for rrset in reply.answer
        if not rdtype or rrset.rdtype == dns.rdatatype.from_text(rdtype)
        for r in rrset
    )


def test_a_service_has_an_address_a_port_and_a_reverse_name() -> None:
    reply = ask("web.default.svc.cluster.local")
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    assert texts(reply) == ["10.96.0.50"] and reply.answer[0].ttl == 30
    srv = ask("_http._tcp.web.default.svc.cluster.local", "SRV")
    assert texts(srv) == ["0 100 80 web.default.svc.cluster.local."]
    assert [r.to_text() for rrset in srv.additional for r in rrset] == ["10.96.0.50"]
    assert texts(ask("50.0.96.10.in-addr.arpa", "PTR")) == ["web.default.svc.cluster.local."]
    assert texts(ask("_dns._udp.api.prod.svc.cluster.local", "SRV")) == [
        "0 100 53 api.prod.svc.cluster.local."
    ]


def test_a_headless_service_answers_its_ready_endpoints_by_name() -> None:
    assert texts(ask("db.default.svc.cluster.local")) == ["10.244.1.5", "10.244.2.6"]
    assert texts(ask("db-0.db.default.svc.cluster.local")) == ["10.244.1.5"]
    assert texts(ask("10-244-2-6.db.default.svc.cluster.local")) == ["10.244.2.6"]
    assert texts(ask("5.1.244.10.in-addr.arpa", "PTR")) == ["db-0.db.default.svc.cluster.local."]
    assert texts(ask("_http._tcp.db.default.svc.cluster.local", "SRV")) == [
        "0 50 8080 10-244-2-6.db.default.svc.cluster.local.",
        "0 50 8080 db-0.db.default.svc.cluster.local.",
    ]
    assert ask("10-244-2-7.db.default.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN


def test_external_names_pods_and_the_spec_version() -> None:
    assert texts(ask("docs.default.svc.cluster.local")) == ["docs.example.org."]
    assert texts(ask("10-244-1-9.default.pod.cluster.local")) == ["10.244.1.9"]
    assert texts(ask("dns-version.cluster.local", "TXT")) == ['"1.1.0"']


def test_names_are_matched_without_case_and_asked_case_is_kept() -> None:
    reply = ask("WEB.Default.SVC.cluster.LOCAL")
    assert texts(reply) == ["10.96.0.50"]
    assert reply.question[0].name.to_text() == "WEB.Default.SVC.cluster.LOCAL."


def test_unknown_names_are_nxdomain_and_known_ones_without_the_type_nodata() -> None:
    missing = ask("nope.default.svc.cluster.local")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.authority[0].rdtype == dns.rdatatype.SOA  # negative answers can be cached
    nodata = ask("web.default.svc.cluster.local", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer and nodata.authority
    namespace = ask("default.svc.cluster.local")  # exists: a parent of names
    assert namespace.rcode() == dns.rcode.NOERROR and not namespace.answer


def test_outside_names_are_nxdomain_at_once_and_not_authoritative() -> None:
    reply = ask("example.com")
    assert reply.rcode() == dns.rcode.NXDOMAIN and not reply.flags & dns.flags.AA
    assert not reply.authority


def test_a_big_answer_is_truncated_over_udp_and_whole_over_tcp() -> None:
    many = [{"addresses": [f"10.244.3.{i}"]} for i in range(1, 60)]
    server = DnsServer(lambda: build([service("big", clusterIP="None")],
                                     [endpoints("big", *many)], "cluster.local", 30))  # fmt: skip
    query = dns.message.make_query("big.default.svc.cluster.local", "A")
    udp = dns.message.from_wire(asyncio.run(server.answer(query.to_wire(), 512)) or b"")
    assert udp.flags & dns.flags.TC and not udp.answer
    tcp = dns.message.from_wire(asyncio.run(server.answer(query.to_wire(), 0)) or b"")
    assert len(texts(tcp)) == 59
    edns = dns.message.make_query("big.default.svc.cluster.local", "A", use_edns=0, payload=4096)
    bigger = dns.message.from_wire(asyncio.run(server.answer(edns.to_wire(), 512)) or b"")
    assert not bigger.flags & dns.flags.TC and len(texts(bigger)) == 59


def test_bad_queries_get_formerr_or_are_dropped_and_odd_ones_notimp() -> None:
    query = dns.message.make_query("web.default.svc.cluster.local", "A")
    wire = query.to_wire()
    cut = asyncio.run(SERVER.answer(wire[:20], 512))
    assert cut is not None and dns.rcode.from_flags(int.from_bytes(cut[2:4], "big"), 0) == 1
    assert asyncio.run(SERVER.answer(b"\x00\x01", 512)) is None
    query.set_opcode(dns.opcode.NOTIFY)
    notify = dns.message.from_wire(asyncio.run(SERVER.answer(query.to_wire(), 512)) or b"")
    assert notify.rcode() == dns.rcode.NOTIMP


@pytest.mark.parametrize(
    "packet",
    [
        b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",  # loop
        b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05ab",  # label cut short
        b"\x00\x01\x81\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01",  # a response
        b"\x00\x01\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01",  # 2 questions
    ],
)
def test_malformed_packets_are_format_errors(packet: bytes) -> None:
    with pytest.raises(FormatError):
        parse_query(packet)


def test_outside_names_go_to_an_upstream_only_when_one_is_configured() -> None:
    async def scenario() -> tuple[bytes | None, bytes | None]:
        loop = asyncio.get_running_loop()

        class Upstream(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                reply = dns.message.make_response(dns.message.from_wire(data))
                reply.set_rcode(dns.rcode.REFUSED)  # any answer of its own will do
                self.transport.sendto(reply.to_wire(), addr)  # type: ignore[attr-defined]

        transport, _ = await loop.create_datagram_endpoint(Upstream, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        query = dns.message.make_query("example.com", "A").to_wire()
        relayed = await DnsServer(SERVER.zone, ("127.0.0.1", port)).answer(query, 512)
        transport.close()
        silent = await DnsServer(SERVER.zone, ("127.0.0.1", port)).answer(query, 512)
        return relayed, silent

    relayed, silent = asyncio.run(scenario())
    assert dns.message.from_wire(relayed or b"").rcode() == dns.rcode.REFUSED  # its answer
    assert dns.message.from_wire(silent or b"").rcode() == dns.rcode.SERVFAIL  # it is gone
