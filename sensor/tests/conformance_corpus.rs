//! Conformance against independent oracles on third-party captures:
//! - tshark 4.0's JA3/JA3S on every capture in ../shared/corpus;
//! - every `tls.*` / `quic.*` field value that suricata-verify's test.yaml
//!   files expect (flattened in expected_tls_checks.json);
//! - the JA3 column of the Salesforce JA3 project's Zeek baselines.
//!
//! Checks this sensor cannot cover are printed with the reason, never
//! skipped silently.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cipherlens_sensor::pipeline::PipelineConfig;
use common::{
    at, captures_under, corpus_root, replay_records, replay_records_with, str_at, tshark,
};
use serde_json::Value;

/// (ja3 hashes, ja3s hashes) tshark computes for a capture.
fn tshark_ja3_sets(pcap: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let pcap = pcap.to_str().expect("UTF-8 path");
    let output = tshark(&[
        "-r",
        pcap,
        "-Y",
        "tls.handshake.type == 1 || tls.handshake.type == 2",
        "-T",
        "fields",
        "-e",
        "tls.handshake.ja3",
        "-e",
        "tls.handshake.ja3s",
        "-E",
        "separator=|",
    ]);
    let mut ja3 = BTreeSet::new();
    let mut ja3s = BTreeSet::new();
    for line in output.lines() {
        let mut columns = line.split('|');
        for (set, column) in [(&mut ja3, columns.next()), (&mut ja3s, columns.next())] {
            set.extend(
                column
                    .unwrap_or_default()
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(str::to_string),
            );
        }
    }
    (ja3, ja3s)
}

fn record_set(records: &[Value], path: &str) -> BTreeSet<String> {
    records
        .iter()
        .filter_map(|record| str_at(record, path))
        .map(str::to_string)
        .collect()
}

/// Captures where tshark 4.0 is wrong, with the reason; each difference
/// must be exactly the one described (so a stale entry fails).
const TSHARK_KNOWN_WRONG: &[(&str, &str, &str, &str)] = &[(
    "tls13-draft14/tls13_draft14.pcap",
    "ja3s",
    // tshark: "772,44205," -- it reads the pre-draft-16 ServerHello (version
    // 0x0304, no session id or compression) with the TLS 1.2 layout, so its
    // "cipher" is two bytes of the random. The draft layout gives cipher
    // 0xC02B and extension 40 ("772,49195,40"); Suricata agrees (draft<16).
    "24839eca4f44616f70548d4a2c0f09fc",
    "12ac0af01c6b637c7a470e5b7cd837b8",
)];

fn known_tshark_error(
    pcap: &Path,
    kind: &str,
    tshark: &BTreeSet<String>,
    ours: &BTreeSet<String>,
) -> bool {
    TSHARK_KNOWN_WRONG
        .iter()
        .any(|(suffix, field, theirs, mine)| {
            pcap.ends_with(suffix)
                && *field == kind
                && tshark.iter().eq([theirs.to_string()].iter())
                && ours.iter().eq([mine.to_string()].iter())
        })
}

#[test]
fn ja3_and_ja3s_equal_tshark_on_every_corpus_capture() {
    let captures = captures_under(&corpus_root());
    assert!(
        captures.len() >= 40,
        "expected the whole corpus, found {}",
        captures.len()
    );
    let mut failures = Vec::new();
    let mut compared = 0;
    for pcap in &captures {
        let (tshark_ja3, tshark_ja3s) = tshark_ja3_sets(pcap);
        let records = replay_records(pcap);
        // tshark fingerprints every hello message: both ClientHellos around a
        // HelloRetryRequest, and the HelloRetryRequest itself.
        let mut ours_ja3 = record_set(&records, "cipherlens.tls.fingerprints.ja3");
        ours_ja3.extend(record_set(
            &records,
            "cipherlens.tls.fingerprints.second_ja3",
        ));
        let mut ours_ja3s = record_set(&records, "cipherlens.tls.fingerprints.ja3s");
        ours_ja3s.extend(record_set(
            &records,
            "cipherlens.tls.fingerprints.hello_retry_request_ja3s",
        ));
        compared += tshark_ja3.len() + tshark_ja3s.len();
        let ja3_ok =
            ours_ja3 == tshark_ja3 || known_tshark_error(pcap, "ja3", &tshark_ja3, &ours_ja3);
        let ja3s_ok =
            ours_ja3s == tshark_ja3s || known_tshark_error(pcap, "ja3s", &tshark_ja3s, &ours_ja3s);
        if !ja3_ok || !ja3s_ok {
            failures.push(format!(
                "{}:\n  ja3  tshark {tshark_ja3:?}\n       ours   {ours_ja3:?}\n  ja3s tshark {tshark_ja3s:?}\n       ours   {ours_ja3s:?}",
                pcap.display()
            ));
        }
    }
    println!(
        "compared {compared} tshark JA3/JA3S values over {} captures",
        captures.len()
    );
    assert!(compared > 50, "too few fingerprints compared: {compared}");
    assert!(
        failures.is_empty(),
        "{} captures differ from tshark:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ja3_equals_salesforce_zeek_baselines() {
    let root = corpus_root().join("salesforce-ja3/testing");
    let cases = [
        ("ssl-chrome.pcap", "ja3-tests.chrome_test1"),
        ("ssl-curl.pcap", "ja3-tests.curl_test1"),
    ];
    for (trace, baseline) in cases {
        let log = std::fs::read_to_string(root.join("Baseline").join(baseline).join("ssl.log"))
            .expect("baseline");
        let columns: Vec<&str> = log
            .lines()
            .find_map(|line| line.strip_prefix("#fields\t"))
            .expect("#fields header")
            .split('\t')
            .collect();
        let ja3_column = columns
            .iter()
            .position(|c| *c == "ja3")
            .expect("ja3 column");
        let expected: BTreeSet<String> = log
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split('\t').nth(ja3_column))
            .filter(|value| *value != "-")
            .map(str::to_string)
            .collect();
        assert!(!expected.is_empty(), "{baseline} has no ja3 values");
        let records = replay_records(&root.join("Traces").join(trace));
        let ours = record_set(&records, "tls.client.ja3");
        assert_eq!(
            ours, expected,
            "{trace}: JA3 differs from the Zeek baseline"
        );
    }
}

/// How one Suricata EVE field maps onto our record, or why it cannot.
enum Mapping {
    /// Compare this record path after converting Suricata's value.
    Path(&'static str, fn(&Value) -> Value),
    /// The leaf certificate's field, converted.
    Custom(fn(&Value) -> Option<Value>, fn(&Value) -> Value),
    NotCovered(&'static str),
}

fn same(value: &Value) -> Value {
    value.clone()
}

/// Suricata's version names -> TLS code points.
fn suricata_version(value: &Value) -> Value {
    let text = value.as_str().unwrap_or_default();
    let code = match text {
        "SSLv2" => 0x0002,
        "SSLv3" => 0x0300,
        "TLSv1" => 0x0301,
        "TLS 1.1" => 0x0302,
        "TLS 1.2" => 0x0303,
        "TLS 1.3" => 0x0304,
        "UNDETERMINED" => return Value::Null,
        "TLS 1.3 draft-<16" => return Value::String("draft<16".into()),
        other => match other
            .strip_prefix("TLS 1.3 draft-")
            .and_then(|n| n.parse::<u16>().ok())
        {
            Some(draft) => 0x7F00 | draft,
            None => panic!("unknown Suricata version name {other}"),
        },
    };
    Value::from(code)
}

/// Suricata's `tls.version` is the negotiated version, or, when no
/// ServerHello was seen, the client's highest offered one.
fn our_version(record: &Value) -> Option<Value> {
    let code = at(record, "cipherlens.tls.version.code")
        .or_else(|| {
            at(
                record,
                "cipherlens.tls.client_hello.highest_offered_version.code",
            )
        })?
        .as_u64()?;
    // Suricata groups drafts below 16 under one name; the earliest drafts
    // sent 0x0304 itself, which we report as the code point sent.
    if (0x7F00..0x7F10).contains(&code) || (code == 0x0304 && early_draft_server_hello(record)) {
        return Some(Value::String("draft<16".into()));
    }
    Some(Value::from(code))
}

/// A ServerHello with version field 0x0304 (the pre-draft-16 layout).
fn early_draft_server_hello(record: &Value) -> bool {
    at(record, "cipherlens.tls.server_hello.version.code").and_then(Value::as_u64) == Some(0x0304)
}

fn leaf(record: &Value, chain: &str) -> Option<Value> {
    at(record, &format!("cipherlens.tls.{chain}.0")).cloned()
}

/// Suricata joins RDNs in certificate order with ", " and names the
/// PKCS#9 email attribute `Email` (we use its registered name `emailAddress`).
fn join_rdns(certificate: &Value, field: &str) -> Option<Value> {
    let rdns: Vec<String> = certificate
        .get(field)?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .map(|rdn| rdn.replace("emailAddress=", "Email="))
        .collect();
    Some(Value::String(rdns.join(", ")))
}

/// Suricata prints the serial's DER integer bytes, so a serial whose first
/// byte has the high bit set keeps its 0x00 sign byte (X.690 section 8.3);
/// our `serial_number` drops it, as `openssl x509 -serial` does.
fn der_serial(certificate: &Value) -> Option<Value> {
    let serial = certificate.get("serial_number")?.as_str()?;
    let high_bit = serial
        .get(..1)
        .and_then(|c| u8::from_str_radix(c, 16).ok())
        .is_some_and(|nibble| nibble >= 8);
    let der = if high_bit {
        format!("00{serial}")
    } else {
        serial.to_string()
    };
    Some(Value::String(colon_hex(&der)))
}

/// JA4 as Suricata computes it. The JA4 specification says the extension
/// string "ends without an underscore" when there are no signature
/// algorithms; Suricata hashes `<extensions>_` instead. We follow the
/// specification (see ARCHITECTURE.md); here our raw form is re-hashed the
/// Suricata way to compare.
fn suricata_ja4(record: &Value) -> Option<Value> {
    let ja4 = str_at(record, "cipherlens.tls.fingerprints.ja4")?;
    let no_signature_algorithms = at(record, "cipherlens.tls.client_hello.signature_algorithms")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty);
    if !no_signature_algorithms {
        return Some(Value::String(ja4.to_string()));
    }
    let raw = str_at(record, "cipherlens.tls.fingerprints.ja4_r")?;
    let extensions = raw.splitn(3, '_').nth(2)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("{extensions}_").as_bytes());
    let (prefix, _) = ja4.rsplit_once('_')?;
    Some(Value::String(format!(
        "{prefix}_{}",
        &hex::encode(digest.as_ref())[..12]
    )))
}

fn colon_hex(text: &str) -> String {
    text.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn strip_utc_suffix(value: &str) -> Value {
    Value::String(value.trim_end_matches('Z').to_string())
}

fn codes(record: &Value, path: &str) -> Option<Value> {
    let list = at(record, path)?.as_array()?;
    Some(Value::Array(
        list.iter()
            .filter_map(|item| item.get("code").cloned())
            .collect(),
    ))
}

fn mapping(field: &str) -> Mapping {
    match field {
        "tls.sni" | "quic.sni" => Mapping::Path("tls.client.server_name", same),
        "tls.version" => Mapping::Custom(our_version, suricata_version),
        "tls.ja3.hash" => Mapping::Path("cipherlens.tls.fingerprints.ja3", same),
        "tls.ja3.string" => Mapping::Path("cipherlens.tls.fingerprints.ja3_full", same),
        "tls.ja3s.hash" => Mapping::Path("cipherlens.tls.fingerprints.ja3s", same),
        "tls.ja3s.string" => Mapping::Path("cipherlens.tls.fingerprints.ja3s_full", same),
        "tls.ja4" | "quic.ja4" => Mapping::Custom(suricata_ja4, same),
        "tls.subject" => Mapping::Custom(
            |r| join_rdns(&leaf(r, "server_certificates")?, "subject_rdns"),
            same,
        ),
        "tls.issuerdn" => Mapping::Custom(
            |r| join_rdns(&leaf(r, "server_certificates")?, "issuer_rdns"),
            same,
        ),
        "tls.serial" => Mapping::Custom(|r| der_serial(&leaf(r, "server_certificates")?), same),
        "tls.client.serial" => {
            Mapping::Custom(|r| der_serial(&leaf(r, "client_certificates")?), same)
        }
        "tls.fingerprint" => Mapping::Custom(
            |r| {
                Some(Value::String(colon_hex(
                    leaf(r, "server_certificates")?
                        .get("fingerprint_sha1")?
                        .as_str()?,
                )))
            },
            same,
        ),
        "tls.notbefore" => Mapping::Custom(
            |r| Some(strip_utc_suffix(str_at(r, "tls.server.not_before")?)),
            same,
        ),
        "tls.notafter" => Mapping::Custom(
            |r| Some(strip_utc_suffix(str_at(r, "tls.server.not_after")?)),
            same,
        ),
        "tls.client.notbefore" => Mapping::Custom(
            |r| {
                Some(strip_utc_suffix(
                    leaf(r, "client_certificates")?
                        .get("not_before")?
                        .as_str()?,
                ))
            },
            same,
        ),
        "tls.client.notafter" => Mapping::Custom(
            |r| {
                Some(strip_utc_suffix(
                    leaf(r, "client_certificates")?.get("not_after")?.as_str()?,
                ))
            },
            same,
        ),
        "tls.session_resumed" => Mapping::Path("tls.resumed", same),
        "tls.server_alpns[0]" => Mapping::Path("cipherlens.tls.server_hello.alpn", same),
        "tls.client_handshake.version" => Mapping::Custom(
            |r| at(r, "cipherlens.tls.client_hello.version.code").cloned(),
            suricata_version,
        ),
        "tls.server_handshake.version" => Mapping::Custom(
            |r| at(r, "cipherlens.tls.server_hello.version.code").cloned(),
            suricata_version,
        ),
        "tls.client_handshake.ciphers" => Mapping::Custom(
            |r| codes(r, "cipherlens.tls.client_hello.cipher_suites"),
            same,
        ),
        "tls.client_handshake.exts" => {
            Mapping::Custom(|r| codes(r, "cipherlens.tls.client_hello.extensions"), same)
        }
        "tls.client_handshake.sig_algs" => Mapping::Custom(
            |r| codes(r, "cipherlens.tls.client_hello.signature_algorithms"),
            same,
        ),
        "tls.server_handshake.cipher" => {
            Mapping::Path("cipherlens.tls.server_hello.cipher_suite.code", same)
        }
        "tls.server_handshake.exts" => {
            Mapping::Custom(|r| codes(r, "cipherlens.tls.server_hello.extensions"), same)
        }
        "tls.from_proto" => Mapping::NotCovered(
            "the sensor does not name the plaintext protocol before STARTTLS; it reports the prefix size instead",
        ),
        other if other.starts_with("tls.client_alpns[") => Mapping::Custom(
            |_| None, // handled by indexed lookup below
            same,
        ),
        other if other.starts_with("tls.subjectaltname[") => Mapping::Custom(|_| None, same),
        _ => Mapping::NotCovered("no corresponding record field"),
    }
}

/// Our value for a Suricata field on one record.
fn our_value(record: &Value, field: &str) -> Option<Value> {
    if let Some(index) = field
        .strip_prefix("tls.client_alpns[")
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return at(record, &format!("cipherlens.tls.client_hello.alpn.{index}")).cloned();
    }
    if let Some(index) = field
        .strip_prefix("tls.subjectaltname[")
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return at(
            &leaf(record, "server_certificates")?,
            &format!("subject_alt_names.dns.{index}"),
        )
        .cloned();
    }
    match mapping(field) {
        Mapping::Path(path, _) => at(record, path).cloned(),
        Mapping::Custom(get, _) => get(record),
        Mapping::NotCovered(_) => None,
    }
}

fn expected_value(field: &str, suricata: &Value) -> Value {
    match mapping(field) {
        Mapping::Path(_, convert) | Mapping::Custom(_, convert) => convert(suricata),
        Mapping::NotCovered(_) => Value::Null,
    }
}

#[test]
fn suricata_verify_field_values_match() {
    let root = corpus_root().join("suricata-verify");
    let text = std::fs::read_to_string(root.join("expected_tls_checks.json"))
        .expect("expected_tls_checks.json");
    let tests: Vec<Value> = serde_json::from_str(&text).expect("JSON");
    let mut failures = Vec::new();
    let mut not_covered: BTreeMap<String, String> = BTreeMap::new();
    let mut checked_fields = 0;
    let mut cache: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for test in &tests {
        let name = test["test"].as_str().unwrap_or_default();
        let pcap = test["pcap"].as_str().expect("pcap");
        let records = cache
            .entry(pcap.to_string())
            .or_insert_with(|| replay_records(&root.join(pcap)));
        for check in test["checks"].as_array().into_iter().flatten() {
            let fields = check["match"].as_object().expect("match object");
            let kind = match fields.get("event_type").and_then(Value::as_str) {
                Some("tls") => "tls.session",
                Some("quic") => "quic.session",
                other => {
                    not_covered.insert(
                        format!("{name}: event_type {other:?}"),
                        "not a TLS/QUIC event".into(),
                    );
                    continue;
                }
            };
            if let Some(version) = check["requires"].get("lt-version").and_then(Value::as_str) {
                not_covered.insert(
                    format!("{name}: check for Suricata < {version}"),
                    "describes an older Suricata release; the newer expectation is checked".into(),
                );
                continue;
            }
            if check["count"].as_u64() == Some(0) {
                not_covered.insert(
                    format!("{name}: count 0"),
                    "asserts Suricata logs no such event (engine behaviour)".into(),
                );
                continue;
            }
            let mut covered = Vec::new();
            for (field, expected) in fields.iter().filter(|(field, _)| *field != "event_type") {
                if let Mapping::NotCovered(reason) = mapping(field) {
                    not_covered.insert(format!("{name}: {field}"), reason.to_string());
                } else {
                    covered.push((field.as_str(), expected_value(field, expected)));
                }
            }
            if covered.is_empty() {
                continue;
            }
            let candidates: Vec<&Value> = records
                .iter()
                .filter(|r| str_at(r, "event.kind") == Some(kind))
                .collect();
            let matched = candidates.iter().any(|record| {
                covered.iter().all(|(field, expected)| {
                    our_value(record, field).unwrap_or(Value::Null) == *expected
                })
            });
            checked_fields += covered.len();
            if !matched {
                let detail: Vec<String> = covered
                    .iter()
                    .map(|(field, expected)| {
                        let ours: Vec<Value> = candidates
                            .iter()
                            .map(|r| our_value(r, field).unwrap_or(Value::Null))
                            .collect();
                        format!("    {field}: expected {expected}, ours {ours:?}")
                    })
                    .collect();
                failures.push(format!(
                    "{name} ({pcap}), {} {kind} records:\n{}",
                    candidates.len(),
                    detail.join("\n")
                ));
            }
        }
    }
    println!("checked {checked_fields} Suricata field values");
    println!("not covered ({}):", not_covered.len());
    for (check, reason) in &not_covered {
        println!("  {check}: {reason}");
    }
    assert!(
        checked_fields > 150,
        "too few Suricata checks compared: {checked_fields}"
    );
    assert!(
        failures.is_empty(),
        "{} Suricata checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

const SURICATA_VERIFY_COMMUNITY_ID_SEED: u16 = 7;

/// The `match:` fields of each filter in a suricata-verify `test.yaml`
/// (flat `key: value` lines; enough for these files, no YAML dependency).
fn suricata_filters(test_yaml: &str) -> Vec<BTreeMap<String, String>> {
    test_yaml
        .split("- filter:")
        .skip(1)
        .map(|block| {
            block
                .lines()
                .filter_map(|line| line.trim().split_once(": "))
                .map(|(key, value)| (key.to_string(), value.trim().to_string()))
                .collect()
        })
        .collect()
}

/// Community ID v1 against Suricata's on its community-id tests (IPv4 and
/// IPv6), matched to our TLS records by client port and server name.
///
/// The expected ids were made with seed 7: the corpus keeps test.yaml but
/// not the suricata.yaml that set it; seed 0 gives other ids, and a search
/// over all 65,536 seeds finds 7 and only 7 for the IPv4 id. The test sets
/// the same seed through the pipeline config.
#[test]
fn community_id_equals_suricata_verify() {
    let root = corpus_root().join("suricata-verify/tests");
    let mut compared = 0;
    for test in ["community-id-ipv4", "community-id-ipv6"] {
        let dir = root.join(test);
        let yaml = std::fs::read_to_string(dir.join("test.yaml")).expect("test.yaml");
        let config = PipelineConfig {
            community_id_seed: SURICATA_VERIFY_COMMUNITY_ID_SEED,
            ..PipelineConfig::default()
        };
        let records = replay_records_with(&dir.join("input.pcap"), config);
        for filter in suricata_filters(&yaml) {
            if filter.get("event_type").map(String::as_str) != Some("tls") {
                continue;
            }
            let port: u64 = filter["src_port"].parse().expect("src_port");
            let record = records
                .iter()
                .find(|r| {
                    r["client"]["port"] == port
                        && r["tls"]["client"]["server_name"] == filter["tls.sni"].as_str()
                })
                .unwrap_or_else(|| panic!("{test}: no record for client port {port}"));
            assert_eq!(
                record["network"]["community_id"],
                filter["community_id"].as_str(),
                "{test}, client port {port}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 3, "the corpus has three TLS community ids");
}
