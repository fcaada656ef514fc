//! One-sided captures (asymmetric routing, a tap on one direction): a TLS
//! 1.3 client in middlebox-compatibility mode sends ChangeCipherSpec and
//! then, after a HelloRetryRequest the capture does not hold, a second
//! ClientHello in clear. Both hellos are read, as tshark reads them.
//!
//! `fixtures/one-sided/tls13-hrr-client-only.pcap`: `openssl s_client`
//! (SNI onesided.test) to `openssl s_server -groups P-256` (which forces a
//! HelloRetryRequest for the client's X25519 key share), captured with
//! `tcpdump "tcp dst port <server>"`: the client's direction only.

mod common;

use common::{replay_records, repo_root, str_at, tshark};

#[test]
fn the_second_client_hello_after_change_cipher_spec_is_read_like_tshark() {
    let pcap = repo_root().join("fixtures/one-sided/tls13-hrr-client-only.pcap");
    let pcap_text = pcap.to_str().expect("UTF-8 path");
    // tshark: the frames holding a ClientHello, and the name each carries.
    let hellos: Vec<String> = tshark(&[
        "-r",
        pcap_text,
        "-Y",
        "tls.handshake.type == 1",
        "-T",
        "fields",
        "-e",
        "tls.handshake.extensions_server_name",
    ])
    .lines()
    .map(str::to_owned)
    .collect();
    assert_eq!(hellos.len(), 2, "tshark: {hellos:?}");
    let records = replay_records(&pcap);
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(
        record["cipherlens"]["tls"]["client_hello_count"],
        hellos.len(),
        "{record}"
    );
    assert_eq!(
        str_at(record, "cipherlens.tls.second_client_hello.server_name"),
        Some(hellos[1].as_str())
    );
    assert_eq!(
        str_at(record, "cipherlens.tls.client_hello.server_name"),
        Some(hellos[0].as_str())
    );
}
