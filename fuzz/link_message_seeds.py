#!/usr/bin/env python3
"""Writes the `link_message` seeds: real rtnetlink datagrams from this kernel.

Why a script: the seeds must be what the kernel really sends, not what the
decoder under test expects. It runs in a scratch network namespace (it
re-executes itself under `unshare --net`, so the host's links are not
touched), subscribes to RTMGRP_LINK like the sensor, creates a veth pair,
renames one end, brings it up and deletes the pair with iproute2, asks for a link dump and for a
link that does not exist (an error reply), and saves the datagrams as
received. Hostile seeds are made from a real one: cut, with lying lengths,
behind an overrun notice.

Netlink messages are in host byte order; the seeds were taken on x86_64.
The kernel fills in fields such as statistics and MAC addresses, so a rerun
writes equivalent, not identical, files.

Usage (root): fuzz/link_message_seeds.py
"""

import os
import pathlib
import socket
import struct
import subprocess
import sys

SEEDS = pathlib.Path(__file__).resolve().parent / "corpus" / "link_message"

# linux/rtnetlink.h, linux/netlink.h, linux/if_link.h
RTMGRP_LINK = 1
NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN = 2, 3, 4
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFLA_IFNAME = 3
NLMSG_HEADER = struct.Struct("=IHHII")  # len, type, flags, seq, pid
IFINFOMSG = struct.Struct("=BxHiII")  # family, pad, type, index, flags, change


def messages(datagram):
    """(type, message bytes) of each message, by the kernel's own lengths."""
    while len(datagram) >= NLMSG_HEADER.size:
        length, kind = NLMSG_HEADER.unpack_from(datagram)[:2]
        yield kind, datagram[:length]
        datagram = datagram[(length + 3) & ~3 :]


def link_name(message):
    attributes = message[NLMSG_HEADER.size + IFINFOMSG.size :]
    while len(attributes) >= 4:
        length, kind = struct.unpack_from("=HH", attributes)
        if kind == IFLA_IFNAME:
            return attributes[4:length].split(b"\0")[0].decode()
        attributes = attributes[(length + 3) & ~3 :]
    return None


def receive_all(sock):
    datagrams = []
    sock.settimeout(0.5)
    while True:
        try:
            datagrams.append(sock.recv(1 << 16))
        except TimeoutError:
            return datagrams


def request(sock, flags, index, seq):
    body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0)
    sock.send(NLMSG_HEADER.pack(NLMSG_HEADER.size + len(body), RTM_GETLINK, flags, seq, 0) + body)
    return receive_all(sock)


def ip(*arguments):
    subprocess.run(["ip", *arguments], check=True)


def capture():
    watcher = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    watcher.bind((0, RTMGRP_LINK))
    ip("link", "set", "lo", "up")
    ip("link", "add", "clseed0", "type", "veth", "peer", "name", "clseed-peer")
    ip("link", "set", "clseed0", "name", "clseed1")
    ip("link", "set", "clseed1", "up")
    notifications = receive_all(watcher)

    asker = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    asker.bind((0, 0))
    dump = request(asker, NLM_F_REQUEST | NLM_F_DUMP, 0, 1)
    error = request(asker, NLM_F_REQUEST, 9999, 2)

    ip("link", "del", "clseed1")
    notifications += receive_all(watcher)
    return notifications, dump, error


def pick(datagrams, kind, name=None):
    for datagram in datagrams:
        for message_kind, message in messages(datagram):
            if message_kind == kind and (name is None or link_name(message) == name):
                return datagram
    raise SystemExit(f"no message of type {kind} for {name}")


def main():
    if os.environ.get("CIPHERLENS_SEED_NETNS") != "1":
        os.environ["CIPHERLENS_SEED_NETNS"] = "1"
        os.execvp("unshare", ["unshare", "--net", sys.executable, __file__])
    notifications, dump, error = capture()

    created = pick(notifications, RTM_NEWLINK, "clseed0")
    seeds = {
        "newlink-created": created,
        "newlink-renamed": pick(notifications, RTM_NEWLINK, "clseed1"),
        "newlink-peer": pick(notifications, RTM_NEWLINK, "clseed-peer"),
        "dellink": pick(notifications, RTM_DELLINK),
        "dump-reply": dump[0],
        "error-reply": pick(error, NLMSG_ERROR),
    }
    attributes_at = NLMSG_HEADER.size + IFINFOMSG.size
    # The message length says 40 bytes: the first attribute is cut.
    cut = bytearray(created[: attributes_at + 8])
    struct.pack_into("=I", cut, 0, len(cut))
    seeds["cut-in-attributes"] = bytes(cut)
    # A message length far beyond the datagram.
    lying = bytearray(created)
    struct.pack_into("=I", lying, 0, 0xFFFFFFFF)
    seeds["message-length-overflow"] = bytes(lying)
    # The first attribute's length beyond the message.
    lying = bytearray(created)
    struct.pack_into("=H", lying, attributes_at, 0xFFFF)
    seeds["attribute-length-overflow"] = bytes(lying)
    # An overrun notice (header only), then a real message.
    seeds["overrun-then-newlink"] = NLMSG_HEADER.pack(NLMSG_HEADER.size, NLMSG_OVERRUN, 0, 0, 0) + created

    SEEDS.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (SEEDS / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
