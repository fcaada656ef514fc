#!/usr/bin/env python3
"""Writes the fuzz seed corpora and the ClientHello benchmark data.

Why a script: the seeds are real handshakes and captures from the
third-party conformance corpus (shared/corpus beside the repository) and the
certificate fixtures, cut into the input layout each fuzz target expects.
tshark does the dissection and TCP reassembly, so the seeds do not depend on
the code they are meant to test. Only the files this writes are kept in the
repository; rerunning it rewrites the same files byte for byte.

Usage: fuzz/extract_seeds.py [CORPUS_DIR]   (default: ../shared/corpus)
Needs tshark and editcap (Debian package tshark).
"""

import json
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "corpus"
SURICATA = CORPUS / "suricata-verify" / "tests"
SALESFORCE = CORPUS / "salesforce-ja3" / "testing" / "Traces"
CERT_FIXTURES = REPO / "fixtures" / "certs"
SEEDS = REPO / "fuzz" / "corpus"
BENCH_DATA = REPO / "parsers" / "benches" / "data"

MAX_SEED_BYTES = 64 * 1024
MAX_SEEDS_PER_TARGET = 10

CLIENT_HELLO = 1
SERVER_HELLO = 2
CERTIFICATE = 11

# (seed name, capture) in order of preference; one hello from each.
CLIENT_HELLO_SOURCES = [
    ("chrome", SALESFORCE / "ssl-chrome.pcap"),
    ("curl", SALESFORCE / "ssl-curl.pcap"),
    ("tls12-ecdhe", SURICATA / "ja4-tls" / "input.pcap"),
    ("tls13-draft28", SURICATA / "tls" / "tls13-draft28" / "tls13_draft28.pcap"),
    ("alpn", SURICATA / "tls-alpn-log-detect-02" / "input.pcap"),
    ("ipv6", SURICATA / "community-id-ipv6" / "input.pcap"),
    ("ldap-starttls", SURICATA / "ldap-starttls" / "input.pcap"),
    ("quic", SURICATA / "ja4-quic" / "input.pcap"),
]
SERVER_HELLO_SOURCES = [
    ("tls12-ecdhe", SURICATA / "ja4-tls" / "input.pcap"),
    ("tls13-draft28", SURICATA / "tls" / "tls13-draft28" / "tls13_draft28.pcap"),
    ("tls13-draft18", SURICATA / "tls" / "tls13-draft18" / "tls13_draft18.pcap"),
    ("chrome", SALESFORCE / "ssl-chrome.pcap"),
    ("curl", SALESFORCE / "ssl-curl.pcap"),
    ("client-auth", SURICATA / "tls" / "tls-store-02" / "tls-client-auth.pcap"),
    ("ldap-starttls", SURICATA / "ldap-starttls" / "input.pcap"),
]
# The QUIC ServerHello, from the one capture with both QUIC directions.
QUIC_SERVER_HELLO_CAPTURE = SURICATA / "ja4-tls-quic" / "input.pcap"
CERTIFICATE_FIXTURES = [
    "leaf-rsa2048",
    "leaf-ec-p256",
    "leaf-ed25519",
    "leaf-rsa-pss",
    "leaf-dsa2048",
    "leaf-many-sans",
    "names-escaping",
    "v1-rsa2048",
]
RECORD_STREAM_SOURCES = [
    # (seed name, capture, initiator segment length, responder segment length)
    ("tls12-ecdhe", SURICATA / "ja4-tls" / "input.pcap", 0, 0),
    ("tls13-draft28", SURICATA / "tls" / "tls13-draft28" / "tls13_draft28.pcap", 0, 0),
    ("chrome", SALESFORCE / "ssl-chrome.pcap", 200, 97),
    ("client-auth", SURICATA / "tls" / "tls-store-02" / "tls-client-auth.pcap", 61, 255),
    ("alert", SURICATA / "tls" / "tls-certs-alert" / "input.pcap", 0, 1),
    ("hello-fragmented", SURICATA / "tls" / "tls-client-hello-frag-01" / "dump_mtu300.pcap", 0, 0),
    ("duplicate-hello", SURICATA / "tls-duplicate-hello" / "input.pcap", 3, 0),
    ("ldap-starttls", SURICATA / "ldap-starttls" / "input.pcap", 0, 0),
    ("pgsql-starttls", SURICATA / "pgsql" / "pgsql-upgrade-tls" / "input.pcap", 17, 0),
    ("sslv2-hello", SURICATA / "sslv2-tls-upgrade-01" / "ssl-v2-s1.pcap", 0, 0),
]
TCP_REASSEMBLY_SOURCES = [
    # (seed name, capture, which follow node: 0 initiator, 1 responder)
    ("out-of-order", SURICATA / "bug-2430" / "backwards.pcap", 0),
    ("out-of-order-responder", SURICATA / "bug-2430" / "backwards.pcap", 1),
    ("small-segments", SURICATA / "tls" / "tls-client-hello-frag-01" / "dump_mtu300.pcap", 0),
    ("syn-data", SURICATA / "tcp-fastopen-10-syn-data-ignore" / "input.pcap", 0),
    ("fin-close", SURICATA / "tls" / "tls-fin-close-data-01" / "debug-s13.pcap", 1),
    ("handshake-ack-data", SURICATA / "bug-7264-tcp-3whs-ack-data-tls-01" / "input.pcap", 0),
    ("tls12-server", SURICATA / "ja4-tls" / "input.pcap", 1),
]
# (seed name, capture, frame number): client Initial datagrams, one server one.
QUIC_SOURCES = [
    ("client-initial-1", SURICATA / "ja4-quic" / "input.pcap", 1),
    ("client-initial-2", SURICATA / "ja4-quic" / "input.pcap", 2),
    ("client-initial-3", SURICATA / "ja4-quic" / "input.pcap", 5),
    ("client-initial-4", SURICATA / "ja4-tls-quic" / "input.pcap", 47),
    ("server-initial", SURICATA / "ja4-tls-quic" / "input.pcap", 48),
]
# (seed name, capture, editcap output format or None to copy as is)
PCAP_SOURCES = [
    ("ethernet.pcap", SURICATA / "bug-5713-01" / "TLSv1-Extracted-MaliciousC2.pcap", None),
    ("bsd-loopback.pcap", SURICATA / "tls-duplicate-hello" / "input.pcap", None),
    ("raw-ip.pcap", SURICATA / "tls" / "tls-pre-1970" / "input.pcap", None),
    ("ipv6.pcap", SURICATA / "community-id-ipv6" / "input.pcap", None),
    ("quic.pcap", SURICATA / "ja4-quic" / "input.pcap", None),
    ("tls12.pcapng", SURICATA / "ja4-tls" / "input.pcap", "pcapng"),
    ("nanosecond.pcap", SURICATA / "tls-alpn-log-detect-02" / "input.pcap", "nsecpcap"),
]
BENCH_CLIENT_HELLOS = [
    "chrome",
    "curl",
    "tls12-ecdhe",
    "tls13-draft28",
    "alpn",
    "ipv6",
    "ldap-starttls",
    "quic",
]


def tshark(*args):
    return subprocess.run(
        ["tshark", *args], check=True, capture_output=True, text=True
    ).stdout


def dissect(capture, display_filter):
    """Packets as tshark's JSON, with the raw bytes of every field."""
    output = tshark("-r", str(capture), "-Y", display_filter, "-T", "json", "-x", "--no-duplicate-keys")
    return json.loads(output) if output.strip() else []


def raw_values(node, key):
    """Every `key` (a tshark `*_raw` field) anywhere under `node`, as bytes."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                yield from raw_entries(value)
            else:
                yield from raw_values(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from raw_values(item, key)


def raw_entries(value):
    # One field: [hex, offset, length, bitmask, type]; repeated fields: a list of those.
    if value and isinstance(value[0], str):
        yield bytes.fromhex(value[0])
    else:
        for entry in value:
            yield from raw_entries(entry)


def handshake_messages(capture, message_type, only_in="tls"):
    """Complete plaintext handshake messages (header included), in capture order."""
    packets = dissect(capture, f"tls.handshake.type == {message_type} and {only_in}")
    for packet in packets:
        for message in raw_values(packet["_source"]["layers"], "tls.handshake_raw"):
            declared = int.from_bytes(message[1:4], "big") if len(message) >= 4 else -1
            if message[:1] == bytes([message_type]) and declared == len(message) - 4:
                yield message


def first_body(capture, message_type, only_in="tls"):
    """Body of the first complete handshake message of that type."""
    for message in handshake_messages(capture, message_type, only_in):
        return message[4:]
    raise ValueError(f"no handshake message of type {message_type} in {capture}")


def first_tls_stream(capture):
    """Index of the first TCP stream that carries TLS (or SSLv2)."""
    output = tshark("-r", str(capture), "-Y", "tls", "-T", "fields", "-e", "tcp.stream")
    return int(next(line for line in output.splitlines() if line.strip()))


def follow_stream(capture, stream):
    """Both directions' reassembled bytes: (node 0, node 1)."""
    output = tshark("-r", str(capture), "-q", "-z", f"follow,tcp,raw,{stream}")
    directions = [bytearray(), bytearray()]
    in_data = False
    for line in output.splitlines():
        if line.startswith("Node 1:"):
            in_data = True
            continue
        if not in_data or line.startswith("====") or not line.strip():
            continue
        node = 1 if line.startswith("\t") else 0
        directions[node] += bytes.fromhex(line.strip())
    return bytes(directions[0]), bytes(directions[1])


def tcp_segments(capture, stream, node):
    """One direction's segments in capture order: (seq, syn, fin, payload)."""
    output = tshark(
        "-r", str(capture), "-Y", f"tcp.stream == {stream}", "-T", "fields",
        "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
        "-e", "tcp.seq_raw", "-e", "tcp.flags.syn", "-e", "tcp.flags.fin", "-e", "tcp.payload",
    )
    rows = [line.split("\t") for line in output.splitlines()]
    senders = []
    for row in rows:
        sender = (row[0] or row[1], row[2])
        if sender not in senders:
            senders.append(sender)
    wanted = senders[node]
    for row in rows:
        if (row[0] or row[1], row[2]) == wanted:
            yield int(row[3]), row[4] in ("1", "True"), row[5] in ("1", "True"), bytes.fromhex(row[6])


def udp_payload(capture, frame):
    output = tshark("-r", str(capture), "-Y", f"frame.number == {frame}", "-T", "fields", "-e", "udp.payload")
    return bytes.fromhex(output.strip())


def write_seeds(target, seeds):
    directory = SEEDS / target
    directory.mkdir(parents=True, exist_ok=True)
    written, contents = 0, set()
    for name, data in seeds:
        if data in contents or len(data) > MAX_SEED_BYTES or written == MAX_SEEDS_PER_TARGET:
            print(f"  {target}: skipped {name} ({len(data)} bytes, duplicate or over a limit)")
            continue
        contents.add(data)
        (directory / name).write_bytes(data)
        written += 1
    print(f"{target}: {written} seeds")


def record_stream_seed(capture, initiator_step, responder_step):
    """Layout of the tls_record_stream target: header, initiator, responder."""
    initiator, responder = follow_stream(capture, first_tls_stream(capture))
    budget = MAX_SEED_BYTES - 4
    initiator = initiator[: min(len(initiator), budget // 2, 0xFFFF)]
    responder = responder[: budget - len(initiator)]
    return struct.pack(">HBB", len(initiator), initiator_step, responder_step) + initiator + responder


def tcp_reassembly_seed(capture, node):
    """Layout of the tcp_reassembly target: (seq, flags, length, payload) per segment."""
    seed = bytearray()
    for seq, syn, fin, payload in tcp_segments(capture, first_tls_stream(capture), node):
        flags = (0x01 if syn else 0) | (0x02 if fin else 0) | 0x04
        if len(seed) + 7 + len(payload) > MAX_SEED_BYTES:
            break
        seed += struct.pack(">IBH", seq, flags, len(payload)) + payload
    return bytes(seed)


def sslv2_client_hello_body(capture):
    """The first SSLv2-format hello, from its message type byte on."""
    for _, _, _, payload in tcp_segments(capture, first_tls_stream(capture), 0):
        if payload and payload[0] & 0x80:
            return payload[2:]
    raise ValueError(f"no SSLv2 hello in {capture}")


def converted_capture(capture, output_format):
    if output_format is None:
        return capture.read_bytes()
    with tempfile.TemporaryDirectory() as directory:
        converted = pathlib.Path(directory) / "converted"
        subprocess.run(["editcap", "-F", output_format, str(capture), str(converted)], check=True)
        return converted.read_bytes()


def main():
    if shutil.which("tshark") is None:
        sys.exit("tshark is needed (apt-get install tshark)")

    client_hellos = [(name, first_body(capture, CLIENT_HELLO)) for name, capture in CLIENT_HELLO_SOURCES]
    sslv2 = sslv2_client_hello_body(SURICATA / "sslv2-tls-upgrade-01" / "ssl-v2-s1.pcap")
    write_seeds("client_hello", client_hellos + [("sslv2", sslv2)])

    server_hellos = [(name, first_body(capture, SERVER_HELLO)) for name, capture in SERVER_HELLO_SOURCES]
    server_hellos.append(("quic", first_body(QUIC_SERVER_HELLO_CAPTURE, SERVER_HELLO, only_in="quic")))
    write_seeds("server_hello", server_hellos)

    certificate_seeds = [(name, (CERT_FIXTURES / f"{name}.der").read_bytes()) for name in CERTIFICATE_FIXTURES]
    chain_capture = SURICATA / "tls" / "tls-certs-alert" / "input.pcap"
    certificate_seeds.append(("chain-message", first_body(chain_capture, CERTIFICATE)))
    leaf_capture = SURICATA / "ja4-tls" / "input.pcap"
    leaf_packets = dissect(leaf_capture, "tls.handshake.certificate")
    certificate_seeds.append(("server-leaf", next(raw_values(leaf_packets, "tls.handshake.certificate_raw"))))
    write_seeds("certificate", certificate_seeds)

    write_seeds(
        "tls_record_stream",
        [(name, record_stream_seed(capture, i, r)) for name, capture, i, r in RECORD_STREAM_SOURCES],
    )
    write_seeds(
        "tcp_reassembly",
        [(name, tcp_reassembly_seed(capture, node)) for name, capture, node in TCP_REASSEMBLY_SOURCES],
    )
    write_seeds("quic_initial", [(name, udp_payload(capture, frame)) for name, capture, frame in QUIC_SOURCES])
    write_seeds("pcap_reader", [(name, converted_capture(capture, fmt)) for name, capture, fmt in PCAP_SOURCES])

    BENCH_DATA.mkdir(parents=True, exist_ok=True)
    by_name = dict(client_hellos)
    for name in BENCH_CLIENT_HELLOS:
        (BENCH_DATA / f"{name}.bin").write_bytes(by_name[name])
    print(f"bench data: {len(BENCH_CLIENT_HELLOS)} ClientHello bodies in {BENCH_DATA.relative_to(REPO)}")


if __name__ == "__main__":
    main()
