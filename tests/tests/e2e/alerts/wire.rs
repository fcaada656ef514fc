//! What tshark reads about each TLS session of a capture, and the names
//! the records give to what it reads as numbers: versions and groups by
//! the IANA registries' names, cipher suites by OpenSSL's own table of
//! IANA names, alerts by RFC 8446's names.

use std::collections::BTreeMap;
use std::path::Path;

use cipherlens_integration::{run, tshark_fields};

/// One session as tshark reads it.
#[derive(Debug, Clone, Default)]
pub struct Wire {
    pub client_address: String,
    pub client_port: u16,
    pub server_address: String,
    pub server_port: u16,
    /// The client's SYN, seconds since the epoch.
    pub syn_time: f64,
    pub sni: Option<String>,
    pub ja3: String,
    /// The ClientHello's `legacy_version` (its highest version when it has
    /// no supported_versions extension).
    pub client_version: u16,
    pub client_supported_versions: Vec<u16>,
    pub supported_groups: Vec<u16>,
    /// The ServerHello's version (its supported_versions extension, if any).
    pub version: Option<u16>,
    pub cipher: Option<u16>,
    /// The server's key share group (TLS 1.3).
    pub key_share_group: Option<u16>,
    /// Extension types of the ServerHello.
    pub server_extensions: Vec<u16>,
    /// dNSName subjectAltNames of the certificates the server sent.
    pub dns_names: Vec<String>,
    /// Algorithm ids in the Certificate message; the first is the leaf's
    /// signature algorithm.
    pub certificate_algorithms: Vec<String>,
    /// Bits of the ServerKeyExchange's DH prime (finite-field DHE).
    pub dh_prime_bits: Option<u32>,
    /// Alerts in clear: (sent by the server, level, description).
    pub alerts: Vec<(bool, u8, u8)>,
}

impl Wire {
    /// The highest version the client offered (GREASE values aside).
    pub fn highest_offered(&self) -> u16 {
        self.client_supported_versions
            .iter()
            .copied()
            .filter(|version| version & 0x0f0f != 0x0a0a)
            .max()
            .unwrap_or(self.client_version)
    }
}

/// A tshark number: `0x0303` or `29`.
fn number(text: &str) -> u16 {
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .unwrap_or_else(|error| panic!("tshark number {text:?}: {error}"))
}

fn numbers(text: &str) -> Vec<u16> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(number)
        .collect()
}

fn strings(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect()
}

fn optional(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// The TCP sessions of `pcap` that tshark sees a ClientHello in, by the
/// client's port (every client here uses a port of its own).
pub fn sessions(pcap: &Path) -> BTreeMap<u16, Wire> {
    let mut sessions: BTreeMap<u16, Wire> = BTreeMap::new();
    let syns = tshark_fields(
        pcap,
        "tcp.flags.syn == 1 && tcp.flags.ack == 0",
        &[
            "ip.src",
            "tcp.srcport",
            "ip.dst",
            "tcp.dstport",
            "frame.time_epoch",
        ],
    );
    for row in syns {
        let port = number(&row[1]);
        sessions.insert(
            port,
            Wire {
                client_address: row[0].clone(),
                client_port: port,
                server_address: row[2].clone(),
                server_port: number(&row[3]),
                syn_time: row[4].parse().expect("frame time"),
                ..Wire::default()
            },
        );
    }
    let hellos = tshark_fields(
        pcap,
        "tls.handshake.type == 1",
        &[
            "tcp.srcport",
            "tls.handshake.extensions_server_name",
            "tls.handshake.ja3",
            "tls.handshake.version",
            "tls.handshake.extensions.supported_version",
            "tls.handshake.extensions_supported_group",
        ],
    );
    for row in hellos {
        let wire = sessions
            .get_mut(&number(&row[0]))
            .unwrap_or_else(|| panic!("a ClientHello without a SYN: {row:?}"));
        wire.sni = optional(&row[1]);
        wire.ja3 = row[2].clone();
        wire.client_version = number(&row[3]);
        wire.client_supported_versions = numbers(&row[4]);
        wire.supported_groups = numbers(&row[5]);
    }
    // The server's flight: ServerHello, Certificate, ServerKeyExchange, in
    // whichever frames they end.
    let flights = tshark_fields(
        pcap,
        "tls.handshake.type == 2 || tls.handshake.type == 11 || tls.handshake.type == 12",
        &[
            "tcp.dstport",
            "tls.handshake.type",
            "tls.handshake.version",
            "tls.handshake.ciphersuite",
            "tls.handshake.extensions.supported_version",
            "tls.handshake.extensions_key_share_group",
            "tls.handshake.extension.type",
            "x509ce.dNSName",
            "x509af.algorithm.id",
            "tls.handshake.p_len",
        ],
    );
    for row in flights {
        let Some(wire) = sessions.get_mut(&number(&row[0])) else {
            continue;
        };
        if numbers(&row[1]).contains(&2) {
            wire.version = numbers(&row[4])
                .first()
                .copied()
                .or_else(|| numbers(&row[2]).first().copied());
            wire.cipher = numbers(&row[3]).first().copied();
            wire.key_share_group = numbers(&row[5]).first().copied();
            wire.server_extensions = numbers(&row[6]);
        }
        wire.dns_names.extend(strings(&row[7]));
        wire.certificate_algorithms.extend(strings(&row[8]));
        if let Some(bytes) = numbers(&row[9]).first() {
            wire.dh_prime_bits = Some(u32::from(*bytes) * 8);
        }
    }
    let alerts = tshark_fields(
        pcap,
        "tls.alert_message.level",
        &[
            "tcp.srcport",
            "tcp.dstport",
            "tls.alert_message.level",
            "tls.alert_message.desc",
        ],
    );
    for row in alerts {
        let (source, destination) = (number(&row[0]), number(&row[1]));
        let (client, from_server) = if sessions.contains_key(&source) {
            (source, false)
        } else {
            (destination, true)
        };
        if let Some(wire) = sessions.get_mut(&client) {
            let (level, description) = (number(&row[2]), number(&row[3]));
            wire.alerts
                .push((from_server, level as u8, description as u8));
        }
    }
    sessions.retain(|_, wire| !wire.ja3.is_empty());
    sessions
}

/// The records' name of a protocol version.
pub fn version_name(code: u16) -> &'static str {
    match code {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        other => panic!("no name for version {other:#06x}"),
    }
}

/// IANA name of a supported group (TLS Supported Groups registry).
pub fn group_name(code: u16) -> &'static str {
    match code {
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        29 => "x25519",
        30 => "x448",
        256 => "ffdhe2048",
        512 => "MLKEM512",
        513 => "MLKEM768",
        514 => "MLKEM1024",
        4587 => "SecP256r1MLKEM768",
        4588 => "X25519MLKEM768",
        4589 => "SecP384r1MLKEM1024",
        other => panic!("no name for group {other}"),
    }
}

/// Whether a group is ML-KEM or a hybrid with it (draft-ietf-tls-mlkem,
/// draft-ietf-tls-ecdhe-mlkem).
pub fn is_post_quantum_group(code: u16) -> bool {
    matches!(code, 512..=514 | 4587..=4589)
}

/// RFC 8446 section 6 name of an alert description.
pub fn alert_name(code: u8) -> &'static str {
    match code {
        0 => "close_notify",
        10 => "unexpected_message",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        112 => "unrecognized_name",
        other => panic!("no name for alert {other}"),
    }
}

/// IANA names of the cipher suites this OpenSSL knows, by code point
/// (`openssl ciphers -V -stdname`).
pub fn suite_names() -> BTreeMap<u16, String> {
    let listing = run(
        "openssl",
        &[
            "ciphers",
            "-V",
            "-stdname",
            "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        ],
    );
    listing
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (code, _, name) = (words.next()?, words.next()?, words.next()?);
            let (high, low) = code.split_once(',')?;
            let byte = |text: &str| u8::from_str_radix(text.trim_start_matches("0x"), 16).ok();
            Some((
                u16::from_be_bytes([byte(high)?, byte(low)?]),
                name.to_string(),
            ))
        })
        .collect()
}
