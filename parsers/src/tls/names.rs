//! IANA names for TLS code points, so records say `X25519MLKEM768` rather
//! than `4588`.
//!
//! Cipher suite names come from tls-parser's table (generated from the IANA
//! registry). Groups, signature schemes, extensions and versions are kept
//! here, from the IANA "TLS Parameters" registries plus the drafts that are
//! deployed (post-quantum hybrids, Kyber drafts). Unknown values render as
//! `unknown(0xNNNN)`; GREASE values (RFC 8701) as `GREASE`. Names are
//! `Cow<'static, str>`: known ones borrow the table, so a record with a
//! hundred named code points does not allocate a hundred strings.

use std::borrow::Cow;

/// True for the sixteen GREASE values of RFC 8701 (0x0A0A, 0x1A1A, ... 0xFAFA).
pub const fn is_grease(value: u16) -> bool {
    value & 0x0F0F == 0x0A0A && (value >> 8) == (value & 0xFF)
}

fn unknown(value: u16) -> Cow<'static, str> {
    Cow::Owned(format!("unknown(0x{value:04x})"))
}

/// IANA name of a cipher suite.
pub fn cipher_suite_name(value: u16) -> Cow<'static, str> {
    if is_grease(value) {
        return Cow::Borrowed("GREASE");
    }
    match value {
        0x00FF => Cow::Borrowed("TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
        0x5600 => Cow::Borrowed("TLS_FALLBACK_SCSV"),
        _ => tls_parser::TlsCipherSuite::from_id(value)
            .map(|suite| Cow::Borrowed(suite.name))
            .unwrap_or_else(|| unknown(value)),
    }
}

/// Named group (supported_groups / key_share / ServerKeyExchange curve).
pub fn group_name(value: u16) -> Cow<'static, str> {
    if is_grease(value) {
        return Cow::Borrowed("GREASE");
    }
    let name = match value {
        1 => "sect163k1",
        2 => "sect163r1",
        3 => "sect163r2",
        4 => "sect193r1",
        5 => "sect193r2",
        6 => "sect233k1",
        7 => "sect233r1",
        8 => "sect239k1",
        9 => "sect283k1",
        10 => "sect283r1",
        11 => "sect409k1",
        12 => "sect409r1",
        13 => "sect571k1",
        14 => "sect571r1",
        15 => "secp160k1",
        16 => "secp160r1",
        17 => "secp160r2",
        18 => "secp192k1",
        19 => "secp192r1",
        20 => "secp224k1",
        21 => "secp224r1",
        22 => "secp256k1",
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        26 => "brainpoolP256r1",
        27 => "brainpoolP384r1",
        28 => "brainpoolP512r1",
        29 => "x25519",
        30 => "x448",
        31 => "brainpoolP256r1tls13",
        32 => "brainpoolP384r1tls13",
        33 => "brainpoolP512r1tls13",
        34 => "GC256A",
        35 => "GC256B",
        36 => "GC256C",
        37 => "GC256D",
        38 => "GC512A",
        39 => "GC512B",
        40 => "GC512C",
        41 => "curveSM2",
        256 => "ffdhe2048",
        257 => "ffdhe3072",
        258 => "ffdhe4096",
        259 => "ffdhe6144",
        260 => "ffdhe8192",
        0x0200 => "MLKEM512",
        0x0201 => "MLKEM768",
        0x0202 => "MLKEM1024",
        0x11EB => "SecP256r1MLKEM768",
        0x11EC => "X25519MLKEM768",
        0x11ED => "SecP384r1MLKEM1024",
        0x11EE => "curveSM2MLKEM768",
        0x6399 => "X25519Kyber768Draft00",
        0x639A => "SecP256r1Kyber768Draft00",
        0xFE30 => "X25519Kyber512Draft00",
        0xFE31 => "X25519Kyber768Draft00Old",
        0xFF01 => "arbitrary_explicit_prime_curves",
        0xFF02 => "arbitrary_explicit_char2_curves",
        _ => return unknown(value),
    };
    Cow::Borrowed(name)
}

/// True for groups whose key exchange includes a post-quantum KEM (pure
/// ML-KEM, the IETF hybrids, and the pre-standard Kyber drafts).
pub const fn is_post_quantum_group(value: u16) -> bool {
    matches!(
        value,
        0x0200..=0x0202 | 0x11EB..=0x11EE | 0x6399 | 0x639A | 0xFE30 | 0xFE31
    )
}

/// Signature scheme (TLS 1.3 names; TLS 1.2 hash/signature pairs are named
/// `<hash>_<signature>` when no TLS 1.3 name exists).
pub fn signature_scheme_name(value: u16) -> Cow<'static, str> {
    if is_grease(value) {
        return Cow::Borrowed("GREASE");
    }
    let name = match value {
        0x0201 => "rsa_pkcs1_sha1",
        0x0203 => "ecdsa_sha1",
        0x0401 => "rsa_pkcs1_sha256",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0420 => "rsa_pkcs1_sha256_legacy",
        0x0501 => "rsa_pkcs1_sha384",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0520 => "rsa_pkcs1_sha384_legacy",
        0x0601 => "rsa_pkcs1_sha512",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0620 => "rsa_pkcs1_sha512_legacy",
        0x0704 => "eccsi_sha256",
        0x0705 => "iso_ibs1",
        0x0706 => "iso_ibs2",
        0x0707 => "iso_chinese_ibs",
        0x0708 => "sm2sig_sm3",
        0x0709 => "gostr34102012_256a",
        0x070A => "gostr34102012_256b",
        0x070B => "gostr34102012_256c",
        0x070C => "gostr34102012_256d",
        0x070D => "gostr34102012_512a",
        0x070E => "gostr34102012_512b",
        0x070F => "gostr34102012_512c",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0809 => "rsa_pss_pss_sha256",
        0x080A => "rsa_pss_pss_sha384",
        0x080B => "rsa_pss_pss_sha512",
        0x081A => "ecdsa_brainpoolP256r1tls13_sha256",
        0x081B => "ecdsa_brainpoolP384r1tls13_sha384",
        0x081C => "ecdsa_brainpoolP512r1tls13_sha512",
        0x0904 => "mldsa44",
        0x0905 => "mldsa65",
        0x0906 => "mldsa87",
        _ => return legacy_hash_signature_name(value).unwrap_or_else(|| unknown(value)),
    };
    Cow::Borrowed(name)
}

/// TLS 1.2 SignatureAndHashAlgorithm pairs (RFC 5246 section 7.4.1.4.1).
fn legacy_hash_signature_name(value: u16) -> Option<Cow<'static, str>> {
    let hash = match value >> 8 {
        1 => "md5",
        2 => "sha1",
        3 => "sha224",
        4 => "sha256",
        5 => "sha384",
        6 => "sha512",
        _ => return None,
    };
    let signature = match value & 0xFF {
        1 => "rsa",
        2 => "dsa",
        3 => "ecdsa",
        _ => return None,
    };
    Some(Cow::Owned(format!("{signature}_{hash}")))
}

/// True for signature schemes based on a post-quantum algorithm.
pub const fn is_post_quantum_signature(value: u16) -> bool {
    matches!(value, 0x0904..=0x0906)
}

/// Extension type name.
pub fn extension_name(value: u16) -> Cow<'static, str> {
    if is_grease(value) {
        return Cow::Borrowed("GREASE");
    }
    let name = match value {
        0 => "server_name",
        1 => "max_fragment_length",
        2 => "client_certificate_url",
        3 => "trusted_ca_keys",
        4 => "truncated_hmac",
        5 => "status_request",
        6 => "user_mapping",
        7 => "client_authz",
        8 => "server_authz",
        9 => "cert_type",
        10 => "supported_groups",
        11 => "ec_point_formats",
        12 => "srp",
        13 => "signature_algorithms",
        14 => "use_srtp",
        15 => "heartbeat",
        16 => "application_layer_protocol_negotiation",
        17 => "status_request_v2",
        18 => "signed_certificate_timestamp",
        19 => "client_certificate_type",
        20 => "server_certificate_type",
        21 => "padding",
        22 => "encrypt_then_mac",
        23 => "extended_master_secret",
        24 => "token_binding",
        25 => "cached_info",
        27 => "compress_certificate",
        28 => "record_size_limit",
        34 => "delegated_credential",
        35 => "session_ticket",
        41 => "pre_shared_key",
        42 => "early_data",
        43 => "supported_versions",
        44 => "cookie",
        45 => "psk_key_exchange_modes",
        47 => "certificate_authorities",
        48 => "oid_filters",
        49 => "post_handshake_auth",
        50 => "signature_algorithms_cert",
        51 => "key_share",
        52 => "transparency_info",
        57 => "quic_transport_parameters",
        0x3374 => "next_protocol_negotiation",
        0x4469 => "application_settings_old",
        0x44CD => "application_settings",
        0xFE0D => "encrypted_client_hello",
        0xFF01 => "renegotiation_info",
        0xFFA5 => "quic_transport_parameters_draft",
        0xFFCE => "encrypted_server_name",
        _ => return unknown(value),
    };
    Cow::Borrowed(name)
}

/// Protocol version name as operators know it: `TLS 1.2`, `SSL 3.0`,
/// `TLS 1.3 draft 28`, `DTLS 1.2`.
pub fn version_name(value: u16) -> Cow<'static, str> {
    if is_grease(value) {
        return Cow::Borrowed("GREASE");
    }
    match value {
        0x0002 => Cow::Borrowed("SSL 2.0"),
        0x0300 => Cow::Borrowed("SSL 3.0"),
        0x0301 => Cow::Borrowed("TLS 1.0"),
        0x0302 => Cow::Borrowed("TLS 1.1"),
        0x0303 => Cow::Borrowed("TLS 1.2"),
        0x0304 => Cow::Borrowed("TLS 1.3"),
        0x7F00..=0x7FFF => Cow::Owned(format!("TLS 1.3 draft {}", value & 0xFF)),
        0x7E01..=0x7EFF => Cow::Owned(format!("TLS 1.3 draft {} (fb)", value & 0xFF)),
        0xFEFF => Cow::Borrowed("DTLS 1.0"),
        0xFEFD => Cow::Borrowed("DTLS 1.2"),
        0xFEFC => Cow::Borrowed("DTLS 1.3"),
        _ => unknown(value),
    }
}

/// Short version as OpenTelemetry's `tls.protocol.version` wants it
/// (`1.2`, `1.3`, `3.0` for SSL 3.0), when the value is a known release.
pub fn otel_version(value: u16) -> Option<&'static str> {
    Some(match value {
        0x0002 => "2.0",
        0x0300 => "3.0",
        0x0301 => "1.0",
        0x0302 => "1.1",
        0x0303 => "1.2",
        0x0304 | 0x7F00..=0x7FFF | 0x7E01..=0x7EFF => "1.3",
        _ => return None,
    })
}

/// Alert description name (RFC 8446 section 6 plus older registry entries).
pub fn alert_description_name(value: u8) -> Cow<'static, str> {
    let name = match value {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => return Cow::Owned(format!("unknown({value})")),
    };
    Cow::Borrowed(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values_are_exactly_the_rfc8701_list() {
        // RFC 8701 section 2 lists 0x0A0A, 0x1A1A, ..., 0xFAFA.
        let listed: Vec<u16> = (0..16u16)
            .map(|i| (i << 12) | 0x0A00 | (i << 4) | 0x0A)
            .collect();
        let found: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
        assert_eq!(found, listed);
    }

    #[test]
    fn post_quantum_groups_named_per_iana() {
        assert_eq!(group_name(0x11EC), "X25519MLKEM768");
        assert_eq!(group_name(0x11EB), "SecP256r1MLKEM768");
        assert_eq!(group_name(0x11ED), "SecP384r1MLKEM1024");
        assert_eq!(group_name(0x6399), "X25519Kyber768Draft00");
        assert!(is_post_quantum_group(0x11EC));
        assert!(!is_post_quantum_group(29));
    }

    #[test]
    fn cipher_suite_names_from_iana_table() {
        assert_eq!(cipher_suite_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(
            cipher_suite_name(0xC02F),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(cipher_suite_name(0x0A0A), "GREASE");
        assert_eq!(cipher_suite_name(0xEEEE), "unknown(0xeeee)");
    }

    #[test]
    fn versions_and_drafts() {
        assert_eq!(version_name(0x0303), "TLS 1.2");
        assert_eq!(version_name(0x7F1C), "TLS 1.3 draft 28");
        assert_eq!(otel_version(0x0301), Some("1.0"));
        assert_eq!(
            legacy_hash_signature_name(0x0202).as_deref(),
            Some("dsa_sha1")
        );
    }
}
