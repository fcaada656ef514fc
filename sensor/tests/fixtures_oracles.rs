//! The project's own captures (fixtures/pcaps, made by
//! scripts/make-fixtures.sh from real openssl, curl, Python, node and
//! aioquic peers) against two independent sources recorded beside each
//! capture in fixtures/expected: tshark's dissection, and what each client
//! and server was configured to do.

mod common;

use common::{at, replay_records, repo_root, str_at};
use serde_json::Value;

fn int(value: &Value) -> u64 {
    match value {
        Value::String(text) => {
            let text = text.trim();
            match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).expect("hex"),
                None => text.parse().expect("decimal"),
            }
        }
        Value::Number(number) => number.as_u64().expect("unsigned"),
        other => panic!("not a number: {other}"),
    }
}

/// tshark's value as a list of numbers (a scalar is a one-item list, null an empty one).
fn ints(value: Option<&Value>) -> Vec<u64> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.iter().filter(|v| !v.is_null()).map(int).collect(),
        Some(scalar) => vec![int(scalar)],
    }
}

fn our_codes(record: &Value, path: &str) -> Vec<u64> {
    at(record, path)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|item| item.get("code").and_then(Value::as_u64))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn version_code(name: &str) -> u64 {
    match name {
        "TLSv1" | "TLSv1.0" => 0x0301,
        "TLSv1.1" => 0x0302,
        "TLSv1.2" => 0x0303,
        "TLSv1.3" => 0x0304,
        other => panic!("unknown configured version {other}"),
    }
}

#[test]
fn fixture_sessions_match_tshark_and_client_configuration() {
    let expected_dir = repo_root().join("fixtures/expected");
    let mut files: Vec<_> = std::fs::read_dir(&expected_dir)
        .expect("fixtures/expected")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the fixture set, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    let mut checks = 0usize;
    for file in &files {
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("JSON");
        let name = expected["capture"].as_str().unwrap_or_default().to_string();
        let records = replay_records(&repo_root().join(expected["pcap"].as_str().expect("pcap")));
        let mut check = |what: String, ours: Value, theirs: Value| {
            checks += 1;
            if ours != theirs {
                failures.push(format!("{name}: {what}: ours {ours}, expected {theirs}"));
            }
        };
        for stream in expected["tshark"]["streams"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let client_port = stream["client"]["port"].as_u64();
            let Some(record) = records
                .iter()
                .find(|r| at(r, "client.port").and_then(Value::as_u64) == client_port)
            else {
                check(
                    format!("record for client port {client_port:?}"),
                    Value::Null,
                    Value::from("present"),
                );
                continue;
            };
            check(
                "server port".into(),
                at(record, "server.port").cloned().unwrap_or(Value::Null),
                stream["server"]["port"].clone(),
            );
            // Every fixture is a full handshake between live peers.
            check(
                "session complete".into(),
                at(record, "cipherlens.session.complete")
                    .cloned()
                    .unwrap_or(Value::Null),
                Value::Bool(true),
            );
            if let Some(hello) = stream["client_hellos"].get(0) {
                check(
                    "ja3".into(),
                    at(record, "tls.client.ja3").cloned().unwrap_or(Value::Null),
                    hello["tls.handshake.ja3"].clone(),
                );
                check(
                    "ja3_full".into(),
                    at(record, "cipherlens.tls.fingerprints.ja3_full")
                        .cloned()
                        .unwrap_or(Value::Null),
                    hello["tls.handshake.ja3_full"].clone(),
                );
                check(
                    "sni".into(),
                    at(record, "tls.client.server_name")
                        .cloned()
                        .unwrap_or(Value::Null),
                    hello["tls.handshake.extensions_server_name"].clone(),
                );
                check(
                    "offered cipher suites".into(),
                    Value::from(our_codes(
                        record,
                        "cipherlens.tls.client_hello.cipher_suites",
                    )),
                    Value::from(ints(hello.get("tls.handshake.ciphersuite"))),
                );
                check(
                    "extensions in wire order".into(),
                    Value::from(our_codes(record, "cipherlens.tls.client_hello.extensions")),
                    Value::from(ints(hello.get("tls.handshake.extension.type"))),
                );
                check(
                    "offered groups".into(),
                    Value::from(our_codes(
                        record,
                        "cipherlens.tls.client_hello.supported_groups",
                    )),
                    Value::from(ints(hello.get("tls.handshake.extensions_supported_group"))),
                );
                check(
                    "offered ALPN".into(),
                    Value::from(strings(at(record, "cipherlens.tls.client_hello.alpn"))),
                    Value::from(strings(hello.get("tls.handshake.extensions_alpn_str"))),
                );
            }
            if let Some(hello) = stream["server_hellos"].get(0) {
                check(
                    "ja3s".into(),
                    at(record, "tls.server.ja3s")
                        .cloned()
                        .unwrap_or(Value::Null),
                    hello["tls.handshake.ja3s"].clone(),
                );
                let chosen = ints(hello.get("tls.handshake.ciphersuite"));
                check(
                    "chosen cipher suite".into(),
                    Value::from(
                        at(record, "cipherlens.tls.cipher.code")
                            .and_then(Value::as_u64)
                            .into_iter()
                            .collect::<Vec<_>>(),
                    ),
                    Value::from(chosen),
                );
                let selected = ints(hello.get("tls.handshake.extensions.supported_version"));
                if let Some(version) = selected.first() {
                    check(
                        "negotiated version (supported_versions)".into(),
                        at(record, "cipherlens.tls.version.code")
                            .cloned()
                            .unwrap_or(Value::Null),
                        Value::from(*version),
                    );
                }
            }
            // tshark lists Certificate messages, each with its chain.
            let tshark_certificates: usize = stream["certificates"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|message| message["from"] == "server")
                .map(|message| message["chain"].as_array().map_or(0, Vec::len))
                .sum();
            if tshark_certificates > 0 {
                check(
                    "server certificates in clear".into(),
                    Value::from(
                        at(record, "cipherlens.tls.server_certificates")
                            .and_then(Value::as_array)
                            .map_or(0, Vec::len),
                    ),
                    Value::from(tshark_certificates),
                );
            }
        }
        // What the clients were told to send.
        for (index, connection) in expected["client_config"]["connections"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let candidates: Vec<&Value> = records
                .iter()
                .filter(|r| {
                    at(r, "server.port").and_then(Value::as_u64)
                        == connection["server_port"].as_u64()
                })
                .collect();
            let Some(record) = candidates.get(index.min(candidates.len().saturating_sub(1))) else {
                check(
                    format!("record for configured connection {index}"),
                    Value::Null,
                    Value::from("present"),
                );
                continue;
            };
            if let Some(sni) = connection["sni"].as_str() {
                check(
                    format!("configured SNI #{index}"),
                    Value::from(str_at(record, "tls.client.server_name")),
                    Value::from(sni),
                );
            }
            let alpn = strings(connection.get("alpn"));
            if !alpn.is_empty() {
                check(
                    format!("configured ALPN #{index}"),
                    Value::from(strings(at(record, "cipherlens.tls.client_hello.alpn"))),
                    Value::from(alpn),
                );
            }
            let versions = strings(connection.get("tls_versions"));
            if let [only] = versions.as_slice() {
                check(
                    format!("forced version #{index}"),
                    at(record, "cipherlens.tls.version.code")
                        .cloned()
                        .unwrap_or(Value::Null),
                    Value::from(version_code(only)),
                );
            }
        }
    }
    println!("{checks} fixture checks over {} captures", files.len());
    assert!(checks > 100, "too few checks: {checks}");
    assert!(
        failures.is_empty(),
        "{} fixture checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
