#!/usr/bin/env python3
"""Writes the `kernel_event` seeds: events as the kernel programs write them.

Why a script: the seeds must be what the TC programs really put in the ring
buffer, not what the decoder under test expects. It builds the sensor's
`dump_kernel_events` example, re-executes itself under `unshare --net` (a
scratch network namespace, so the host's interfaces are untouched),
attaches the programs to its loopback, makes real TLS 1.2 and 1.3
handshakes over IPv4 and IPv6 with openssl and Python's ssl (one carrying
40 KB of application data, so large events hold later chunks of offloaded
packets)
and sends a real QUIC Initial (from the quic_initial seeds) over UDP, then
picks one event of each kind (hellos, the first large chunk and a later
chunk of a 40 KB write, a FIN without payload, QUIC over IPv4 and IPv6). Hostile seeds are made from a real one:
cut short, with lying lengths.

Events are in host byte order; the seeds were taken on x86_64. Timestamps,
cookies, ports and keys differ on every run, so a rerun writes equivalent,
not identical, files.

Usage (root, from anywhere): fuzz/kernel_event_seeds.py
Needs openssl, iproute2 and util-linux's unshare.
"""

import os
import pathlib
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
SEEDS = REPO / "fuzz" / "corpus" / "kernel_event"
DUMPER = REPO / "target" / "debug" / "examples" / "dump_kernel_events"
QUIC_INITIAL = REPO / "fuzz" / "corpus" / "quic_initial" / "client-initial-1"

# sensor-ebpf/common/src/lib.rs, PacketEventOf (repr(C)): five u64, then
# ifindex, packet_len, payload_offset, payload_len (u32), header_len (u16),
# direction and flags (u8), 4 bytes of padding, the flow's first time (u64);
# the data area starts at 72 with a 192-byte header area.
EVENT_HEADER = struct.Struct("=QQQQQIIIIHBB4xQ")
HEADER_CAPACITY = 192
LARGE_EVENT = EVENT_HEADER.size + HEADER_CAPACITY + 16384
PAYLOAD_LEN_AT, HEADER_LEN_AT = 52, 56


def describe(event):
    """(ip version, protocol, tcp flags, payload offset, event size, payload) of an event."""
    fields = EVENT_HEADER.unpack_from(event)
    payload_offset, payload_len, header_len = fields[7], fields[8], fields[9]
    data = event[EVENT_HEADER.size :]
    headers = data[:header_len]
    payload = data[HEADER_CAPACITY : HEADER_CAPACITY + payload_len]
    ether_type = struct.unpack_from("!H", headers, 12)[0]
    if ether_type == 0x0800:
        version, protocol, l4 = 4, headers[23], 14 + (headers[14] & 0x0F) * 4
    elif ether_type == 0x86DD:
        version, protocol, l4 = 6, headers[20], 54
    else:
        return None
    flags = headers[l4 + 13] if protocol == 6 else 0
    return version, protocol, flags, payload_offset, len(event), payload


def wanted(description):
    """The seed name an event stands for, or None."""
    version, protocol, flags, offset, size, payload = description
    if protocol == 17 and payload[:1] and payload[0] & 0xC0 == 0xC0:
        return f"udp{version}-quic-initial"
    if protocol != 6:
        return None
    if payload[:2] == b"\x16\x03" and len(payload) > 5 and offset == 0:
        return {1: f"tcp{version}-client-hello", 2: f"tcp{version}-server-hello"}.get(payload[5])
    if offset > 0:
        return f"tcp{version}-later-chunk"
    if size == LARGE_EVENT:
        return f"tcp{version}-large-chunk"
    if flags & 0x01 and not payload:
        return f"tcp{version}-fin"
    return None


KEEP = [
    "tcp4-client-hello",
    "tcp4-large-chunk",
    "tcp4-later-chunk",
    "tcp4-fin",
    "tcp6-server-hello",
    "udp4-quic-initial",
    "udp6-quic-initial",
]


def traffic(directory):
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=seed.example"],
                   check=True, stderr=subprocess.DEVNULL)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    servers = [
        subprocess.Popen(["openssl", "s_server", "-accept", address, "-cert", str(cert),
                          "-key", str(key), "-quiet", "-naccept", str(count)], **quiet)
        for address, count in (("127.0.0.1:4433", 2), ("[::1]:4434", 1))
    ]
    time.sleep(1)
    client = ["openssl", "s_client", "-servername", "seed.example", "-connect"]
    subprocess.run([*client, "127.0.0.1:4433", "-tls1_2"], input=b"", **quiet)
    # One 40 KB write: the kernel sees TLS records larger than a large event's chunk.
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", 4433)) as tcp:
        with context.wrap_socket(tcp, server_hostname="seed.example") as tls:
            tls.sendall(os.urandom(40_000))
    subprocess.run([*client, "[::1]:4434"], input=b"", **quiet)
    initial = QUIC_INITIAL.read_bytes()
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_DGRAM) as sender:
            sender.sendto(initial, (address, 443))
    for server in servers:
        server.kill()


def capture(directory):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    events = directory / "events"
    events.mkdir()
    dumper = subprocess.Popen([str(DUMPER), str(events), str(socket.if_nametoindex("lo")), "8"],
                              stderr=subprocess.PIPE, text=True)
    if dumper.stderr.readline().strip() != "attached":
        raise SystemExit("dump_kernel_events did not attach")
    traffic(directory)
    dumper.wait()
    return [path.read_bytes() for path in sorted(events.iterdir())]


def main():
    if os.environ.get("CIPHERLENS_SEED_NETNS") != "1":
        subprocess.run(["cargo", "build", "-p", "cipherlens-sensor", "--example",
                        "dump_kernel_events"], cwd=REPO, check=True)
        os.environ["CIPHERLENS_SEED_NETNS"] = "1"
        os.execvp("unshare", ["unshare", "--net", sys.executable, __file__])
    with tempfile.TemporaryDirectory() as directory:
        events = capture(pathlib.Path(directory))
    print(f"{len(events)} events")

    seeds = {}
    for event in events:
        description = describe(event)
        name = description and wanted(description)
        if name in KEEP and name not in seeds:
            seeds[name] = event
    missing = [name for name in KEEP if name not in seeds]
    if missing:
        raise SystemExit(f"no event for {missing}")

    hello = seeds["tcp4-client-hello"]
    # Cut inside the fixed header.
    seeds["short-header"] = hello[:40]
    # Headers longer than the header area.
    lying = bytearray(hello)
    struct.pack_into("=H", lying, HEADER_LEN_AT, 0xFFFF)
    seeds["header-length-overflow"] = bytes(lying)
    # A payload length beyond the event.
    lying = bytearray(hello)
    struct.pack_into("=I", lying, PAYLOAD_LEN_AT, 0xFFFFFFFF)
    seeds["payload-length-overflow"] = bytes(lying)

    SEEDS.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (SEEDS / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
