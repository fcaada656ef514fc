//! Fuzz body `client_hello`: one ClientHello handshake body (without the
//! four-byte handshake header), parsed as TLS and as an SSLv2-format hello,
//! then fingerprinted the ways the sensor does.
//!
//! Why both parsers: the record layer hands either kind of body to the
//! session tracker, and JA3/JA4 then walk every list the parser produced.

use cipherlens_parsers::fingerprint::{Transport, ja3, ja4};
use cipherlens_parsers::tls::ClientHello;
use cipherlens_parsers::tls::sslv2::parse_sslv2_client_hello;

/// Parses `data` as a ClientHello body and fingerprints whatever parsed.
pub fn run(data: &[u8]) {
    if let Ok(hello) = ClientHello::parse(data) {
        fingerprint(&hello);
    }
    if let Ok(hello) = parse_sslv2_client_hello(data) {
        fingerprint(&hello);
    }
}

/// Everything the sensor derives from a parsed ClientHello.
pub fn fingerprint(hello: &ClientHello) {
    let _ = ja3::ja3(hello);
    for transport in [Transport::Tcp, Transport::Quic, Transport::Dtls] {
        let _ = ja4::ja4(hello, transport);
    }
    let _ = hello.highest_offered_version();
    let _ = hello.offers_post_quantum();
}
