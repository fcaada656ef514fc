//! Tunnelled traffic in `replay`: the real handshakes of `fixtures/pcaps`
//! wrapped by `scripts/fixtures/encapsulate.py` in VXLAN, Geneve, GRE (with
//! IP and with Ethernet inside), ERSPAN II and III, IP-in-IP, 6in4, 4in6,
//! GTP-U and MPLS headers written from their specifications. Each gives the
//! records of the bare capture, plus the tunnel, whose identifier and outer
//! source tshark reads from the same file.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::{replay_records, repo_root, tshark};

/// The tshark field of a tunnel's id and the record's key for it.
type IdField = Option<(&'static str, &'static str)>;

/// (kind, bare capture, its id field)
const CASES: &[(&str, &str, IdField)] = &[
    ("vxlan", "tls12-openssl", Some(("vxlan.vni", "vni"))),
    ("geneve", "quic-aioquic", Some(("geneve.vni", "vni"))),
    ("gre", "tls12-openssl", Some(("gre.key", "key"))),
    ("gretap", "quic-aioquic", Some(("gre.key", "key"))),
    (
        "erspan2",
        "tls12-openssl",
        Some(("erspan.spanid", "session_id")),
    ),
    (
        "erspan3",
        "tls13-openssl",
        Some(("erspan.spanid", "session_id")),
    ),
    ("ipip", "tls12-openssl", None),
    ("6in4", "tls13-ipv6", None),
    ("4in6", "tls13-openssl", None),
    ("gtpu", "quic-aioquic", Some(("gtp.teid", "teid"))),
    ("mpls", "tls12-openssl", Some(("mpls.label", "label"))),
];

fn encapsulate(kind: &str, bare: &Path, out: &Path) {
    let status = Command::new("python3")
        .arg(repo_root().join("scripts/fixtures/encapsulate.py"))
        .args([kind])
        .arg(bare)
        .arg(out)
        .status()
        .expect("python3");
    assert!(status.success(), "encapsulate {kind}");
}

/// A record without what only its input file changes.
fn comparable(record: &Value) -> Value {
    let mut record = record.clone();
    record["cipherlens"]["session"]
        .as_object_mut()
        .expect("session")
        .remove("input");
    record["network"]
        .as_object_mut()
        .expect("network")
        .remove("tunnel");
    record
}

/// tshark's first value of `field` in the capture's first frame.
fn tshark_first(pcap: &Path, field: &str) -> String {
    tshark(&[
        "-r",
        pcap.to_str().expect("UTF-8 path"),
        "-c",
        "1",
        "-T",
        "fields",
        "-E",
        "occurrence=f",
        "-e",
        field,
    ])
    .trim()
    .to_owned()
}

/// [`tshark_first`] as a number (tshark prints some in hex).
fn tshark_number(pcap: &Path, field: &str) -> u64 {
    let text = tshark_first(pcap, field);
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .unwrap_or_else(|_| panic!("tshark {field}: {text:?}"))
}

#[test]
fn every_tunnel_gives_the_bare_records_and_names_itself_like_tshark() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (kind, bare, id) in CASES {
        let bare = repo_root().join(format!("fixtures/pcaps/{bare}.pcap"));
        let wrapped = dir.path().join(format!("{kind}.pcap"));
        encapsulate(kind, &bare, &wrapped);
        let expected: Vec<Value> = replay_records(&bare).iter().map(comparable).collect();
        let records = replay_records(&wrapped);
        assert!(!expected.is_empty());
        assert_eq!(
            records.iter().map(comparable).collect::<Vec<_>>(),
            expected,
            "{kind}"
        );
        let outer_field = if *kind == "4in6" {
            "ipv6.src"
        } else {
            "ip.src"
        };
        let outer_source = tshark_first(&wrapped, outer_field);
        for record in &records {
            let tunnel = &record["network"]["tunnel"];
            let expected_kind = match *kind {
                "gretap" => "gre",
                "erspan2" | "erspan3" => "erspan",
                "6in4" | "4in6" => "ipip",
                "gtpu" => "gtp-u",
                other => other,
            };
            assert_eq!(tunnel["type"], expected_kind, "{kind}: {tunnel}");
            if *kind == "mpls" {
                assert!(tunnel["outer"].is_null(), "{tunnel}");
            } else {
                assert_eq!(tunnel["outer"]["source"], outer_source.as_str(), "{kind}");
            }
            if let Some((field, key)) = id {
                assert_eq!(
                    tunnel[key].as_u64(),
                    Some(tshark_number(&wrapped, field)),
                    "{kind}: {tunnel}"
                );
            }
        }
    }
}
