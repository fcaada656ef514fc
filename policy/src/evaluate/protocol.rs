//! Rules on what the handshake negotiated: version, cipher suite and key
//! exchange group.
//!
//! Versions by code point (RFC 8446 appendix D: 0x0300 SSL 3.0 ... 0x0304
//! TLS 1.3, 0x7Fxx TLS 1.3 drafts; 0x0002 SSL 2.0); suites by IANA name
//! ([`crate::suites`]); groups by code point ([`crate::groups`]).

use cipherlens_record::alert::Severity;
use cipherlens_record::session::{Named, Protocol, ProtocolName};

use super::evidence::Evidence;
use super::{Detail, Hit, Session, worst_level};
use crate::groups::{GroupKind, group};
use crate::policy::Policy;
use crate::rules::RuleId;
use crate::suites::{KeyExchange, Mac, Suite, Weakness};

const SSL2: u16 = 0x0002;
const SSL3: u16 = 0x0300;
const TLS10: u16 = 0x0301;
const TLS11: u16 = 0x0302;
const TLS12: u16 = 0x0303;
const TLS13: u16 = 0x0304;

/// The negotiated version's code point.
fn negotiated_version(session: &Session<'_>) -> Option<u16> {
    let record = session.record;
    if let Some(version) = &record.cipherlens.tls.version {
        return Some(version.code);
    }
    let protocol = &record.tls.protocol;
    match (protocol.name, protocol.version.as_deref()?) {
        (ProtocolName::Ssl, "2.0") => Some(SSL2),
        (ProtocolName::Ssl, "3.0") => Some(SSL3),
        (ProtocolName::Tls, "1.0") => Some(TLS10),
        (ProtocolName::Tls, "1.1") => Some(TLS11),
        (ProtocolName::Tls, "1.2") => Some(TLS12),
        (ProtocolName::Tls, "1.3") => Some(TLS13),
        _ => None,
    }
}

fn is_tls13(session: &Session<'_>) -> bool {
    session.record.network.protocol == Protocol::Quic
        || matches!(
            negotiated_version(session),
            Some(TLS13 | 0x7F00..=0x7FFF | 0x7E01..=0x7EFF)
        )
}

/// Level of `tls.version.obsolete` for a version code.
fn obsolete_level(code: u16) -> Option<usize> {
    match code {
        SSL2 => Some(0),
        SSL3 => Some(1),
        TLS10 => Some(2),
        TLS11 => Some(3),
        _ => None,
    }
}

const OFFERED: usize = 4;

pub(crate) fn version_obsolete(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    let rule = RuleId::VersionObsolete;
    let level = match negotiated_version(session) {
        Some(code) => obsolete_level(code)?,
        None => {
            let hello = session.record.cipherlens.tls.client_hello.as_ref()?;
            obsolete_level(hello.highest_offered_version.code)?;
            OFFERED
        }
    };
    Some((level as u8, policy.severity(rule, level), Detail::default()))
}

fn negotiated_suite<'r>(session: &Session<'r>) -> Option<(&'r str, Suite)> {
    session.suite()
}

pub(crate) fn cipher_insecure(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    let (_, suite) = negotiated_suite(session)?;
    if suite.weaknesses == 0 {
        return None;
    }
    let present = Weakness::ALL
        .into_iter()
        .filter(|weakness| suite.has(*weakness))
        .map(|weakness| weakness as usize);
    let (level, severity) = worst_level(policy, RuleId::CipherInsecure, present)?;
    let detail = Detail {
        flags: u32::from(suite.weaknesses),
        ..Detail::default()
    };
    Some((level, severity, detail))
}

pub(crate) fn no_forward_secrecy(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    let (_, suite) = negotiated_suite(session)?;
    match suite.key_exchange {
        KeyExchange::RsaTransport | KeyExchange::StaticDh => Some((
            0,
            policy.severity(RuleId::KexNoForwardSecrecy, 0),
            Detail::default(),
        )),
        _ => None,
    }
}

pub(crate) fn cipher_cbc(policy: &Policy, session: &Session<'_>) -> Option<(u8, Severity, Detail)> {
    if negotiated_version(session)? != TLS12 {
        return None;
    }
    let (_, suite) = negotiated_suite(session)?;
    if !suite.cbc {
        return None;
    }
    let level = match suite.mac {
        Mac::Sha1 | Mac::Md5 => 1,
        Mac::Other => 0,
    };
    Some((
        level,
        policy.severity(RuleId::CipherCbc, level as usize),
        Detail::default(),
    ))
}

const FFDH: usize = 0;
const EC: usize = 1;

pub(crate) fn weak_group(policy: &Policy, session: &Session<'_>) -> Option<(u8, Severity, Detail)> {
    let tls = &session.record.cipherlens.tls;
    let thresholds = policy.thresholds();
    let weak = |level: usize, bits: u32| {
        Some((
            level as u8,
            policy.severity(RuleId::KexWeakGroup, level),
            Detail {
                flags: bits,
                ..Detail::default()
            },
        ))
    };
    if let Some(bits) = tls.dh_prime_bits
        && bits < thresholds.dh_min_bits
    {
        return weak(FFDH, bits);
    }
    let named = group(tls.key_exchange_group.as_ref()?.code)?;
    match named.kind {
        GroupKind::FiniteField if named.bits < thresholds.dh_min_bits => weak(FFDH, named.bits),
        GroupKind::EllipticCurve if named.bits < thresholds.ec_group_min_bits => {
            weak(EC, named.bits)
        }
        _ => None,
    }
}

const CLASSICAL: usize = 0;
const REFUSED: usize = 1;

/// The post-quantum and hybrid groups the client offered (`supported_groups`).
fn offered_post_quantum<'r>(session: &Session<'r>) -> impl Iterator<Item = &'r Named> {
    session
        .record
        .cipherlens
        .tls
        .client_hello
        .iter()
        .flat_map(|hello| &hello.supported_groups)
        .filter(|named| group(named.code).is_some_and(|g| g.post_quantum()))
}

pub(crate) fn quantum_vulnerable(
    policy: &Policy,
    session: &Session<'_>,
) -> Option<(u8, Severity, Detail)> {
    if !is_tls13(session) {
        return None;
    }
    let negotiated = session.record.cipherlens.tls.key_exchange_group.as_ref()?;
    if group(negotiated.code)?.post_quantum() {
        return None;
    }
    let level = if offered_post_quantum(session).next().is_some() {
        REFUSED
    } else {
        CLASSICAL
    };
    Some((
        level as u8,
        policy.severity(RuleId::KexQuantumVulnerable, level),
        Detail::default(),
    ))
}

fn version_evidence(evidence: &mut Evidence, session: &Session<'_>) {
    let record = session.record;
    if let Some(version) = &record.cipherlens.tls.version {
        evidence
            .text("cipherlens.tls.version.name", &*version.name)
            .integer("cipherlens.tls.version.code", version.code);
    } else if let Some(version) = &record.tls.protocol.version {
        evidence.text("tls.protocol.version", &**version);
    }
}

fn suite_evidence(evidence: &mut Evidence, session: &Session<'_>) -> String {
    let record = session.record;
    let name = negotiated_suite(session)
        .map(|(name, _)| name.to_owned())
        .unwrap_or_default();
    evidence.text("tls.cipher", name.clone());
    if let Some(cipher) = &record.cipherlens.tls.cipher {
        evidence.integer("cipherlens.tls.cipher.code", cipher.code);
    }
    name
}

fn group_evidence(evidence: &mut Evidence, session: &Session<'_>) -> String {
    match &session.record.cipherlens.tls.key_exchange_group {
        Some(named) => {
            evidence
                .text("cipherlens.tls.key_exchange_group.name", &*named.name)
                .integer("cipherlens.tls.key_exchange_group.code", named.code);
            named.name.to_string()
        }
        None => String::new(),
    }
}

pub(crate) fn describe(policy: &Policy, hit: &Hit, session: &Session<'_>) -> (String, Evidence) {
    let mut evidence = Evidence::default();
    let record = session.record;
    let message = match hit.rule {
        RuleId::VersionObsolete if hit.level as usize == OFFERED => {
            let highest = record
                .cipherlens
                .tls
                .client_hello
                .as_ref()
                .map(|hello| &hello.highest_offered_version);
            let name = highest
                .map(|named| named.name.to_string())
                .unwrap_or_default();
            if let Some(named) = highest {
                evidence
                    .text(
                        "cipherlens.tls.client_hello.highest_offered_version.name",
                        &*named.name,
                    )
                    .integer(
                        "cipherlens.tls.client_hello.highest_offered_version.code",
                        named.code,
                    );
            }
            format!("client offers at most {name}, an obsolete protocol version (RFC 8996)")
        }
        RuleId::VersionObsolete => {
            version_evidence(&mut evidence, session);
            let name = match hit.level {
                0 => "SSL 2.0 (RFC 6176)",
                1 => "SSL 3.0 (RFC 7568)",
                2 => "TLS 1.0 (RFC 8996)",
                _ => "TLS 1.1 (RFC 8996)",
            };
            format!("negotiated obsolete protocol version {name}")
        }
        RuleId::CipherInsecure => {
            let name = suite_evidence(&mut evidence, session);
            let labels: Vec<&str> = Weakness::ALL
                .into_iter()
                .filter(|weakness| hit.detail.flags & u32::from(weakness.bit()) != 0)
                .map(Weakness::label)
                .collect();
            format!(
                "negotiated insecure cipher suite {name}: {}",
                labels.join(", ")
            )
        }
        RuleId::KexNoForwardSecrecy => {
            let name = suite_evidence(&mut evidence, session);
            let how = match negotiated_suite(session).map(|(_, suite)| suite.key_exchange) {
                Some(KeyExchange::StaticDh) => "static (EC)DH",
                _ => "RSA key transport",
            };
            format!("negotiated {name}: {how} key exchange, no forward secrecy")
        }
        RuleId::CipherCbc => {
            version_evidence(&mut evidence, session);
            let name = suite_evidence(&mut evidence, session);
            if let Some(server_hello) = &record.cipherlens.tls.server_hello {
                evidence.boolean(
                    "cipherlens.tls.server_hello.encrypt_then_mac",
                    server_hello.encrypt_then_mac,
                );
            }
            if hit.level == 1 {
                format!(
                    "negotiated CBC cipher suite {name} with a SHA-1/MD5 MAC in TLS 1.2 where AEAD suites exist"
                )
            } else {
                format!("negotiated CBC cipher suite {name} in TLS 1.2 where AEAD suites exist")
            }
        }
        RuleId::KexWeakGroup => {
            let thresholds = policy.thresholds();
            let bits = hit.detail.flags;
            if let Some(prime) = record.cipherlens.tls.dh_prime_bits {
                evidence.integer("cipherlens.tls.dh_prime_bits", prime);
            }
            let name = group_evidence(&mut evidence, session);
            if hit.level as usize == FFDH {
                format!(
                    "finite-field DH with a {bits}-bit prime, under {} bits",
                    thresholds.dh_min_bits
                )
            } else {
                format!(
                    "elliptic-curve group {name} of {bits} bits, under {} bits",
                    thresholds.ec_group_min_bits
                )
            }
        }
        RuleId::KexQuantumVulnerable => {
            version_evidence(&mut evidence, session);
            let name = group_evidence(&mut evidence, session);
            if hit.level as usize == REFUSED {
                let offered: Vec<String> = offered_post_quantum(session)
                    .map(|named| named.name.to_string())
                    .collect();
                let message = format!(
                    "client offered post-quantum key exchange ({}) but the server chose classical {name}",
                    offered.join(", ")
                );
                evidence.list("cipherlens.tls.client_hello.supported_groups", offered);
                message
            } else {
                format!(
                    "classical key exchange {name}, no ML-KEM or hybrid group: recorded traffic can be decrypted by a future quantum computer"
                )
            }
        }
        other => format!("{other} fired"),
    };
    (message, evidence)
}
