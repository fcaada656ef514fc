//! `replay` gives CNFlow records too: per flow and direction, the packets,
//! wire bytes and TCP flags tshark counts in the same capture; every
//! session names its flow's record; the records are schema-valid and the
//! same on a second replay.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use cipherlens_integration::schema::{assert_valid_cnflow_record, assert_valid_session_record};
use serde_json::Value;

use common::{repo_root, tshark};

fn replay(pcap: &Path) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_cipherlens"))
        .arg("replay")
        .arg(pcap)
        .output()
        .expect("cipherlens replay");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect()
}

/// tshark's (packets, bytes, TCP flags OR) per direction of each flow, by
/// (sender address, sender port, receiver address, receiver port).
type Counts = BTreeMap<(String, u64, String, u64), (u64, u64, u8)>;

fn tshark_counts(pcap: &Path, transport: &str) -> Counts {
    let fields = if transport == "tcp" {
        ["tcp.srcport", "tcp.dstport", "tcp.flags"]
    } else {
        ["udp.srcport", "udp.dstport", "udp.length"]
    };
    let text = tshark(&[
        "-r",
        pcap.to_str().expect("UTF-8 path"),
        "-Y",
        transport,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "ip.src",
        "-e",
        "ipv6.src",
        "-e",
        "ip.dst",
        "-e",
        "ipv6.dst",
        "-e",
        fields[0],
        "-e",
        fields[1],
        "-e",
        "frame.len",
        "-e",
        fields[2],
    ]);
    let mut counts = Counts::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        let source = if f[0].is_empty() { f[1] } else { f[0] };
        let destination = if f[2].is_empty() { f[3] } else { f[2] };
        let flags = if transport == "tcp" {
            u8::from_str_radix(f[7].trim_start_matches("0x").trim_start_matches("00"), 16)
                .or_else(|_| {
                    u16::from_str_radix(f[7].trim_start_matches("0x"), 16).map(|v| v as u8)
                })
                .expect("tcp.flags")
        } else {
            0
        };
        let entry = counts
            .entry((
                source.to_owned(),
                f[4].parse().expect("port"),
                destination.to_owned(),
                f[5].parse().expect("port"),
            ))
            .or_default();
        entry.0 += 1;
        entry.1 += f[6].parse::<u64>().expect("frame.len");
        entry.2 |= flags;
    }
    counts
}

fn flag_letters(flags: u8) -> String {
    [
        (0x02, 'S'),
        (0x10, 'A'),
        (0x01, 'F'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'C'),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, letter)| *letter)
    .collect()
}

#[test]
fn flows_of_a_capture_count_like_tshark_and_sessions_point_to_them() {
    for (name, transport) in [
        ("tls12-openssl", "tcp"),
        ("tls13-ipv6", "tcp"),
        ("tls12-resume-ticket", "tcp"),
        ("quic-aioquic", "udp"),
    ] {
        let pcap = repo_root().join(format!("fixtures/pcaps/{name}.pcap"));
        let records = replay(&pcap);
        let flows: Vec<&Value> = records
            .iter()
            .filter(|r| r["schema"] == "cipherlens.cnflow/v1")
            .collect();
        let sessions: Vec<&Value> = records
            .iter()
            .filter(|r| r["schema"] == "cipherlens.session/v1")
            .collect();
        assert!(!flows.is_empty() && !sessions.is_empty(), "{name}");
        let counts = tshark_counts(&pcap, transport);
        // Every direction tshark saw is in one flow record, counted alike.
        let mut covered = 0;
        for flow in &flows {
            assert_valid_cnflow_record(flow);
            assert_eq!(flow["network"]["transport"], transport, "{name}");
            assert!(flow["host"].is_null(), "{flow}");
            let endpoint = |side: &str| {
                (
                    flow[side]["address"].as_str().expect("address").to_owned(),
                    flow[side]["port"].as_u64().expect("port"),
                )
            };
            let (client, server) = (endpoint("client"), endpoint("server"));
            for (from, to, direction) in [
                (&client, &server, "client_to_server"),
                (&server, &client, "server_to_client"),
            ] {
                let record = &flow["cnflow"][direction];
                let key = (from.0.clone(), from.1, to.0.clone(), to.1);
                let (packets, bytes, flags) = counts.get(&key).copied().unwrap_or_default();
                assert_eq!(
                    record["packets"].as_u64(),
                    Some(packets),
                    "{name} {direction}: {flow}"
                );
                assert_eq!(
                    record["bytes"].as_u64(),
                    Some(bytes),
                    "{name} {direction}: {flow}"
                );
                if transport == "tcp" {
                    assert_eq!(
                        record["tcp_flags"],
                        flag_letters(flags).as_str(),
                        "{name}: {flow}"
                    );
                }
                covered += usize::from(packets > 0);
            }
        }
        assert_eq!(covered, counts.len(), "{name}: every direction tshark saw");
        // Each session names a flow record of its own 5-tuple.
        for session in &sessions {
            assert_valid_session_record(session);
            let id = session["cipherlens"]["cnflow_id"]
                .as_str()
                .expect("cnflow_id");
            let flow = flows
                .iter()
                .find(|f| f["cnflow"]["id"] == id)
                .unwrap_or_else(|| panic!("{name}: no flow {id}"));
            // (A UDP flow without a SYN is oriented by the live rule: the
            // lower port serves; the session knows its initiator.)
            let mut flow_ports = [
                flow["client"]["port"].as_u64(),
                flow["server"]["port"].as_u64(),
            ];
            let mut session_ports = [
                session["client"]["port"].as_u64(),
                session["server"]["port"].as_u64(),
            ];
            flow_ports.sort();
            session_ports.sort();
            assert_eq!(flow_ports, session_ports, "{name}");
        }
        // Reproducible: the same records again.
        assert_eq!(replay(&pcap), records, "{name}");
    }
}
