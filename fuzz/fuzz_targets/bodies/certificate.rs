//! Fuzz body `certificate`: the input as one DER certificate summarised for
//! the inventory, and as a TLS Certificate message body whose certificates
//! are each summarised.
//!
//! Why: certificates reach the sensor in clear in TLS 1.0-1.2 handshakes
//! from any server, and the summary walks the whole DER structure (names,
//! extensions, keys), which is where ASN.1 lengths and tags come from the
//! wire.

use cipherlens_parsers::tls::certificate::parse_certificate_chain;
use cipherlens_parsers::x509::summarize_certificate;

/// Summarises `data` as a certificate and as a certificate chain.
pub fn run(data: &[u8]) {
    let _ = summarize_certificate(data);
    if let Ok(chain) = parse_certificate_chain(data) {
        for certificate in &chain {
            let _ = summarize_certificate(certificate);
        }
    }
}
