//! Fuzz body `encrypted_handshake`: the bytes as a TLS key log file, as
//! the messages of a decrypted TLS 1.3 handshake (EncryptedExtensions,
//! Certificate), cut into sealed records opened under every TLS 1.3 cipher
//! suite, and as a UDP datagram of QUIC Handshake packets.
//!
//! Why: `--keylog-file` and pcapng Decryption Secrets Blocks are files the
//! sensor did not write, and a decrypted handshake carries whatever the
//! peer put in it. The key log must stay within its bound and count what it
//! refused; nothing may panic.

use cipherlens_parsers::quic::{
    HandshakeCrypto, HandshakeKeys, has_handshake_packet, open_handshake_packets,
};
use cipherlens_parsers::tls::encrypted::{
    EncryptedExtensions, SealedRecord, open_handshake, parse_tls13_certificate,
};
use cipherlens_parsers::tls::keylog::KeyLog;

const MAX_CONNECTIONS: usize = 16;

pub fn run(data: &[u8]) {
    let mut log = KeyLog::new(MAX_CONNECTIONS);
    log.add_text(data);
    assert!(log.len() <= MAX_CONNECTIONS);
    let counts = log.counts();
    assert!(counts.kept >= log.len() as u64);

    let _ = EncryptedExtensions::parse(data);
    let _ = parse_tls13_certificate(data);

    let records: Vec<SealedRecord> = data
        .chunks(96)
        .filter_map(|chunk| {
            let header: [u8; 5] = chunk.get(..5)?.try_into().ok()?;
            Some((header, chunk[5..].to_vec()))
        })
        .collect();
    for suite in [0x1301, 0x1302, 0x1303, 0x1304] {
        for secret in [&[0x42u8; 32][..], &[0x42u8; 48][..]] {
            let opened = open_handshake(&records, suite, secret, 1 << 16);
            assert!(opened.records + opened.unopened <= records.len());
        }
    }

    let _ = has_handshake_packet(data);
    for (version, suite, secret_len) in
        [(1, 0x1301, 32), (0x6b33_43cf, 0x1302, 48), (1, 0x1303, 32)]
    {
        let keys = HandshakeKeys::from_secret(version, suite, &vec![0x42; secret_len])
            .expect("keys of a supported suite");
        let mut found = HandshakeCrypto::default();
        open_handshake_packets(data, &keys, &mut found);
        assert!(found.chunks.len() <= data.len());
    }
}
