//! QUIC versions before and beside v1: the IETF drafts 23 to 34, Meta's
//! mvfst versions and Google's T050/T051. `scripts/fixtures/quic_versions.py`
//! writes one client Initial per version (protected with the salt each
//! published, in Python's `cryptography`) whose server name names the
//! version; tshark decrypts the same capture independently.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{replay_records, repo_root, tshark};

#[test]
fn initials_of_every_draft_mvfst_and_google_version_are_read_like_tshark() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("versions.pcap");
    let status = Command::new("python3")
        .arg(repo_root().join("scripts/fixtures/quic_versions.py"))
        .arg(&pcap)
        .status()
        .expect("python3");
    assert!(status.success());

    // Ours: server name -> (version code, version name).
    let records = replay_records(&pcap);
    let ours: BTreeMap<String, (u64, String)> = records
        .iter()
        .map(|record| {
            let name = record["tls"]["client"]["server_name"]
                .as_str()
                .expect("server name")
                .to_owned();
            let quic = &record["cipherlens"]["quic"];
            let code = quic["version"]["code"].as_u64().expect("version code");
            let label = quic["version"]["name"].as_str().expect("name").to_owned();
            (name, (code, label))
        })
        .collect();
    // Every version the script wrote is read, and named as the script names it.
    assert_eq!(ours.len(), 18, "{ours:#?}");
    for (name, (code, label)) in &ours {
        let written = name.trim_end_matches(".versions.test");
        let expected = match written.strip_prefix("mvfst-") {
            Some(hex) => format!("mvfst-0x{hex}"),
            None if written.starts_with("t05") => written.to_uppercase(),
            None => written.to_owned(),
        };
        assert_eq!(label, &expected, "{name}");
        assert!(*code > 1, "{name}");
    }

    // tshark, for the versions it knows (4.0 does not know mvfst's v1
    // alias 0xfaceb003): the same version and server name per datagram.
    let pcap_text = pcap.to_str().expect("UTF-8 path");
    let rows = tshark(&[
        "-r",
        pcap_text,
        "-T",
        "fields",
        "-e",
        "quic.version",
        "-e",
        "tls.handshake.extensions_server_name",
    ]);
    let mut compared = 0;
    for row in rows.lines() {
        let mut fields = row.split('\t');
        let (Some(version), Some(name)) = (fields.next(), fields.next()) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let version =
            u64::from_str_radix(version.trim_start_matches("0x"), 16).expect("tshark version");
        assert_eq!(
            ours.get(name).map(|(code, _)| *code),
            Some(version),
            "{name}"
        );
        compared += 1;
    }
    assert_eq!(compared, 17, "tshark: {rows}");
}
