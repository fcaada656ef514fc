//! Fuzz body `server_hello`: one ServerHello handshake body (without the
//! four-byte handshake header), parsed and fingerprinted with JA3S.
//!
//! The same bytes also go through the ServerKeyExchange parser for every
//! key exchange family: both messages come from the server in the same
//! flight and the session tracker parses each with the family the
//! ServerHello chose, so each family's parser must cope with any bytes.

use cipherlens_parsers::fingerprint::ja3;
use cipherlens_parsers::tls::server_hello::KeyExchangeFamily;
use cipherlens_parsers::tls::{ServerHello, ServerKeyExchange};

/// Parses `data` as a ServerHello body and as a ServerKeyExchange body.
pub fn run(data: &[u8]) {
    if let Ok(hello) = ServerHello::parse(data) {
        let _ = ja3::ja3s(&hello);
        let _ = hello.negotiated_version();
    }
    for family in [
        KeyExchangeFamily::EllipticCurve,
        KeyExchangeFamily::FiniteField,
        KeyExchangeFamily::Other,
    ] {
        let _ = ServerKeyExchange::parse(data, family);
    }
}
