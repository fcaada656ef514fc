//! TLS 1.3 handshakes decrypted with the secrets clients wrote: openssl
//! clients with `-keylogfile`, live (the sensor follows the file as it
//! grows), replayed with `--keylog-file`, and replayed from a pcapng whose
//! Decryption Secrets Block carries the same secrets (editcap
//! --inject-secrets). tshark, given the same key log, shows the same
//! certificates.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cipherlens_integration::{Certificate, KeyType, TestBed, replay_sessions};
use serde_json::Value;

/// What one decrypted session must show, by server name.
struct Expected {
    alpn: Option<&'static str>,
    client_chain: bool,
}

fn by_server_name(records: &[Value]) -> BTreeMap<String, Value> {
    records
        .iter()
        .filter(|r| r["schema"] == "cipherlens.session/v1")
        .filter_map(|r| {
            Some((
                r["tls"]["client"]["server_name"].as_str()?.to_owned(),
                r.clone(),
            ))
        })
        .collect()
}

fn fingerprints(record: &Value, chain: &str) -> Vec<String> {
    record["cipherlens"]["tls"][chain]
        .as_array()
        .map(|certificates| {
            certificates
                .iter()
                .filter_map(|c| c["fingerprint_sha256"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// SHA-256 of a certificate tshark printed as hex, as openssl computes it.
fn der_sha256(dir: &Path, hex: &str) -> String {
    let der: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let path = dir.join("tshark-cert.der");
    std::fs::write(&path, der).expect("write");
    let output = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .arg(&path)
        .output()
        .expect("openssl dgst");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn tls13_handshakes_open_with_the_clients_key_log_live_replayed_and_from_pcapng() {
    let bed = TestBed::new("keylog");
    let link = &bed.link;
    let ca = Certificate::self_signed(bed.dir(), "keylog CA");
    let leaf = ca.issue(
        bed.dir(),
        "keylog.test",
        KeyType::Rsa2048,
        "subjectAltName=DNS:keylog.test",
    );
    let client_leaf = ca.issue(
        bed.dir(),
        "client.keylog.test",
        KeyType::EcP256,
        "subjectAltName=DNS:client.keylog.test",
    );
    // Every client is asked for a certificate (optional: `-verify`).
    let server = bed.s_server(
        &leaf,
        &[
            "-tls1_3",
            "-cert_chain",
            &ca.cert,
            "-alpn",
            "h2,http/1.1",
            "-verify",
            "1",
            "-CAfile",
            &ca.cert,
        ],
    );
    let keys = bed.dir().join("client-keys.log");
    let keys_arg = keys.display().to_string();
    let dump = bed.tcpdump("keylog.pcap");
    let sensor = bed.sensor(&["--keylog-file", &keys_arg]);
    let address = format!("{}:{}", link.host_v4, server.port);

    let mut expected: BTreeMap<&str, Expected> = BTreeMap::new();
    link.s_client(
        &address,
        "aes128.test",
        &[
            "-ciphersuites",
            "TLS_AES_128_GCM_SHA256",
            "-alpn",
            "h2",
            "-keylogfile",
            &keys_arg,
        ],
    );
    expected.insert(
        "aes128.test",
        Expected {
            alpn: Some("h2"),
            client_chain: false,
        },
    );
    link.s_client(
        &address,
        "aes256.test",
        &[
            "-ciphersuites",
            "TLS_AES_256_GCM_SHA384",
            "-alpn",
            "http/1.1",
            "-keylogfile",
            &keys_arg,
        ],
    );
    expected.insert(
        "aes256.test",
        Expected {
            alpn: Some("http/1.1"),
            client_chain: false,
        },
    );
    link.s_client(
        &address,
        "chacha.test",
        &[
            "-ciphersuites",
            "TLS_CHACHA20_POLY1305_SHA256",
            "-cert",
            &client_leaf.cert,
            "-key",
            &client_leaf.key,
            "-keylogfile",
            &keys_arg,
        ],
    );
    expected.insert(
        "chacha.test",
        Expected {
            alpn: None,
            client_chain: true,
        },
    );
    // Its secrets are written nowhere.
    link.s_client(&address, "nokeys.test", &[]);
    std::thread::sleep(Duration::from_millis(500));
    let (records, stats, _) = sensor.stop();
    let pcap = dump.finish();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert!(
        stats["pipeline"]["handshakes_without_keys"].as_u64() >= Some(1),
        "stats: {stats}"
    );

    let server_chain = vec![leaf.sha256(), ca.sha256()];
    let check = |records: &[Value], source: &str| {
        let sessions = by_server_name(records);
        for (name, want) in &expected {
            let record = sessions
                .get(*name)
                .unwrap_or_else(|| panic!("{source}: no record for {name}: {records:#?}"));
            let tls = &record["cipherlens"]["tls"];
            let decrypted = &tls["decrypted_handshake"];
            assert!(
                decrypted["server_records"].as_u64() >= Some(1),
                "{source} {name}: {record}"
            );
            assert!(
                tls["certificate_source"].is_null(),
                "{source} {name}: the wire's chain"
            );
            assert_eq!(
                fingerprints(record, "server_certificates"),
                server_chain,
                "{source} {name}"
            );
            assert_eq!(tls["certificate_requested"], true, "{source} {name}");
            assert_eq!(
                record["tls"]["next_protocol"].as_str(),
                want.alpn,
                "{source} {name}"
            );
            assert_eq!(
                record["tls"]["server"]["subject"], "CN=keylog.test",
                "{source} {name}"
            );
            let client_chain = fingerprints(record, "client_certificates");
            if want.client_chain {
                assert_eq!(client_chain, vec![client_leaf.sha256()], "{source} {name}");
                assert!(decrypted["client_records"].as_u64() >= Some(2), "{record}");
            } else {
                assert!(client_chain.is_empty(), "{source} {name}");
            }
        }
        let nokeys = sessions.get("nokeys.test").expect("nokeys.test");
        assert!(
            nokeys["cipherlens"]["tls"]["decrypted_handshake"].is_null(),
            "{source}: {nokeys}"
        );
    };
    check(&records, "live");
    check(
        &replay_sessions(&["--keylog-file", &keys_arg], &pcap),
        "replay --keylog-file",
    );

    // The secrets inside the capture: a pcapng with a Decryption Secrets Block.
    let pcapng = bed.dir().join("keylog.pcapng");
    let status = Command::new("editcap")
        .args(["--inject-secrets", &format!("tls,{keys_arg}")])
        .arg(&pcap)
        .arg(&pcapng)
        .status()
        .expect("editcap");
    assert!(status.success());
    check(
        &replay_sessions(&[], &pcapng),
        "replay of a pcapng with secrets",
    );

    // tshark with the same key log: the same server chain per connection.
    let output = Command::new("tshark")
        .args(["-o", &format!("tls.keylog_file:{keys_arg}")])
        .args(["-d", &format!("tcp.port=={},tls", server.port)])
        .arg("-r")
        .arg(&pcap)
        .args([
            "-Y",
            "tls.handshake.type == 11",
            "-T",
            "fields",
            "-E",
            "separator=|",
        ])
        .args(["-e", "tcp.dstport", "-e", "tls.handshake.certificate"])
        .output()
        .expect("tshark");
    let text = String::from_utf8_lossy(&output.stdout);
    let server_chains: Vec<Vec<String>> = text
        .lines()
        .filter(|line| line.split('|').next() != Some(&server.port.to_string()))
        .map(|line| {
            line.split('|')
                .nth(1)
                .unwrap_or_default()
                .split(',')
                .map(|hex| der_sha256(bed.dir(), hex))
                .collect()
        })
        .collect();
    assert_eq!(server_chains.len(), expected.len(), "tshark: {text}");
    assert!(
        server_chains.iter().all(|chain| *chain == server_chain),
        "tshark: {server_chains:?}"
    );
}
