//! What the CBOM says about each algorithm: its CycloneDX primitive and
//! mode, parameter set, curve, classical security level (bits) and NIST
//! quantum security level (category 0..5), in one table, [`TABLE`], that
//! `docs/inventory.md` reproduces row for row (a test compares them).
//!
//! Names follow the CycloneDX cryptography registry
//! (`schema/cryptography-defs.json`: `AES-128-GCM`, `ECDHE-P-256`,
//! `ML-KEM-768`, `RSA-PKCS1-1.5-SHA-256`...); a TLS hybrid group, which the
//! registry has no family for, keeps its TLS name and depends on its parts.
//!
//! Where the numbers come from:
//! - classical levels: NIST SP 800-57 Part 1 Rev. 5, Table 2 (symmetric
//!   keys, RSA/DH by modulus, ECC by field size) and Table 3 (hash
//!   collision resistance; HMAC and KDFs); RFC 7748/8032 for X25519/X448
//!   and Ed25519/Ed448; FIPS 203/204/205 for ML-KEM, ML-DSA and SLH-DSA;
//!   0 where a practical attack is public (RFC 7465 for RC4, RFC 6151 for
//!   MD5, the NULL cipher). SHA-1 collisions: 2^63 (SHAttered, 2017).
//! - quantum levels: the NIST PQC categories (1 = AES-128 key search,
//!   2 = SHA-256 collision, 3 = AES-192 key search, 4 = SHA-384 collision,
//!   5 = AES-256 key search); FIPS 203 (ML-KEM-512/768/1024 = 1/3/5), FIPS
//!   204 (ML-DSA-44/65/87 = 2/3/5), FIPS 205; symmetric keys by their length
//!   against AES key search, hashes by collision resistance against SHA-256
//!   and SHA-384; 0 for everything Shor's algorithm breaks (RSA, finite-field
//!   and elliptic-curve DH and signatures) and for what falls below
//!   category 1. A hybrid is as strong as its post-quantum part.

/// CycloneDX `algorithmProperties.primitive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Primitive {
    Ae,
    BlockCipher,
    StreamCipher,
    Hash,
    Mac,
    Kdf,
    KeyAgree,
    Kem,
    Pke,
    Signature,
    Other,
    Unknown,
}

impl Primitive {
    pub fn as_str(self) -> &'static str {
        match self {
            Primitive::Ae => "ae",
            Primitive::BlockCipher => "block-cipher",
            Primitive::StreamCipher => "stream-cipher",
            Primitive::Hash => "hash",
            Primitive::Mac => "mac",
            Primitive::Kdf => "kdf",
            Primitive::KeyAgree => "key-agree",
            Primitive::Kem => "kem",
            Primitive::Pke => "pke",
            Primitive::Signature => "signature",
            Primitive::Other => "other",
            Primitive::Unknown => "unknown",
        }
    }
}

/// CycloneDX `algorithmProperties.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    Cbc,
    Gcm,
    Ccm,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Cbc => "cbc",
            Mode::Gcm => "gcm",
            Mode::Ccm => "ccm",
        }
    }
}

/// What the CBOM states about one algorithm.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Algorithm {
    /// Registry-style name; with `primitive`, the algorithm's identity.
    pub name: String,
    pub primitive: Primitive,
    pub mode: Option<Mode>,
    pub parameter_set: Option<String>,
    /// Curve as `<family>/<name>` (`nist/P-256`, `other/Curve25519`).
    pub curve: Option<String>,
    /// Bits; `None` when it depends on a key or curve named elsewhere.
    pub classical: Option<u32>,
    /// NIST category 0..5.
    pub quantum: u8,
    /// Dotted OID, where the algorithm has one in certificates.
    pub oid: Option<String>,
    /// Names of the algorithms this one is built from.
    pub parts: Vec<String>,
}

/// One row of [`TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub name: &'static str,
    pub primitive: Primitive,
    pub mode: Option<Mode>,
    pub parameter_set: Option<&'static str>,
    pub curve: Option<&'static str>,
    pub classical: Option<u32>,
    pub quantum: u8,
    pub parts: &'static [&'static str],
    /// Where the numbers come from.
    pub source: &'static str,
}

// Positional, so each row of TABLE reads like a row of the documented table.
#[allow(clippy::too_many_arguments)]
const fn row(
    name: &'static str,
    primitive: Primitive,
    mode: Option<Mode>,
    parameter_set: Option<&'static str>,
    curve: Option<&'static str>,
    classical: Option<u32>,
    quantum: u8,
    parts: &'static [&'static str],
    source: &'static str,
) -> Row {
    Row {
        name,
        primitive,
        mode,
        parameter_set,
        curve,
        classical,
        quantum,
        parts,
        source,
    }
}

use Mode::{Cbc, Ccm, Gcm};
use Primitive::Hash as Digest;
use Primitive::{Ae, BlockCipher, Kdf, Kem, KeyAgree, Mac, Other, Pke, Signature, StreamCipher};

const T2: &str = "SP 800-57 T2";
const T3: &str = "SP 800-57 T3";

/// Every algorithm with fixed facts. Keys whose strength depends on their
/// size (RSA, DSA, finite-field DH, EC keys) are [`rsa_like`] and
/// [`elliptic_curve`]; signatures over a hash are [`signature`].
#[rustfmt::skip]
pub const TABLE: &[Row] = &[
    // Authenticated encryption and ciphers: classical = key bits
    // (SP 800-57 T2), quantum = key length against AES key search.
    row("AES-128-GCM", Ae, Some(Gcm), Some("128"), None, Some(128), 1, &[], T2),
    row("AES-256-GCM", Ae, Some(Gcm), Some("256"), None, Some(256), 5, &[], T2),
    row("AES-128-CCM", Ae, Some(Ccm), Some("128"), None, Some(128), 1, &[], T2),
    row("AES-256-CCM", Ae, Some(Ccm), Some("256"), None, Some(256), 5, &[], T2),
    row("AES-128-CCM-8", Ae, Some(Ccm), Some("128"), None, Some(128), 1, &[], "SP 800-57 T2; RFC 6655 (8-byte tag)"),
    row("AES-256-CCM-8", Ae, Some(Ccm), Some("256"), None, Some(256), 5, &[], "SP 800-57 T2; RFC 6655 (8-byte tag)"),
    row("AES-128-CBC", BlockCipher, Some(Cbc), Some("128"), None, Some(128), 1, &[], T2),
    row("AES-256-CBC", BlockCipher, Some(Cbc), Some("256"), None, Some(256), 5, &[], T2),
    row("ChaCha20-Poly1305", Ae, None, Some("256"), None, Some(256), 5, &[], "RFC 8439 (256-bit key)"),
    row("CAMELLIA-128-CBC", BlockCipher, Some(Cbc), Some("128"), None, Some(128), 1, &[], "RFC 3713 (128-bit key)"),
    row("CAMELLIA-256-CBC", BlockCipher, Some(Cbc), Some("256"), None, Some(256), 5, &[], "RFC 3713 (256-bit key)"),
    row("CAMELLIA-128-GCM", Ae, Some(Gcm), Some("128"), None, Some(128), 1, &[], "RFC 6367 (128-bit key)"),
    row("CAMELLIA-256-GCM", Ae, Some(Gcm), Some("256"), None, Some(256), 5, &[], "RFC 6367 (256-bit key)"),
    row("ARIA-128-CBC", BlockCipher, Some(Cbc), Some("128"), None, Some(128), 1, &[], "RFC 5794 (128-bit key)"),
    row("ARIA-256-CBC", BlockCipher, Some(Cbc), Some("256"), None, Some(256), 5, &[], "RFC 5794 (256-bit key)"),
    row("ARIA-128-GCM", Ae, Some(Gcm), Some("128"), None, Some(128), 1, &[], "RFC 6209 (128-bit key)"),
    row("ARIA-256-GCM", Ae, Some(Gcm), Some("256"), None, Some(256), 5, &[], "RFC 6209 (256-bit key)"),
    row("SEED-128-CBC", BlockCipher, Some(Cbc), Some("128"), None, Some(128), 1, &[], "RFC 4269 (128-bit key)"),
    row("SM4-GCM", Ae, Some(Gcm), Some("128"), None, Some(128), 1, &[], "RFC 8998 (128-bit key)"),
    row("SM4-CCM", Ae, Some(Ccm), Some("128"), None, Some(128), 1, &[], "RFC 8998 (128-bit key)"),
    row("IDEA-CBC", BlockCipher, Some(Cbc), Some("128"), None, Some(128), 1, &[], "128-bit key; 64-bit block"),
    row("3DES-168-CBC", BlockCipher, Some(Cbc), Some("168"), None, Some(112), 0, &[], "SP 800-57 T2 (3TDEA); SP 800-131A r2 disallows"),
    row("DES-56-CBC", BlockCipher, Some(Cbc), Some("56"), None, Some(56), 0, &[], "56-bit key; SP 800-131A r2 disallows"),
    row("DES-40-CBC", BlockCipher, Some(Cbc), Some("40"), None, Some(40), 0, &[], "40-bit export key"),
    row("RC2-40-CBC", BlockCipher, Some(Cbc), Some("40"), None, Some(40), 0, &[], "40-bit export key"),
    row("RC4-128", StreamCipher, None, Some("128"), None, Some(0), 0, &[], "RFC 7465: prohibited, keystream biases"),
    row("RC4-40", StreamCipher, None, Some("40"), None, Some(0), 0, &[], "RFC 7465: prohibited, keystream biases"),
    row("NULL", Other, None, None, None, Some(0), 0, &[], "no encryption"),
    // Hashes: collision resistance (SP 800-57 T3); quantum against
    // SHA-256 (2) and SHA-384 (4) collisions.
    row("MD2", Digest, None, None, None, Some(0), 0, &[], "RFC 6149: practical attacks"),
    row("MD4", Digest, None, None, None, Some(0), 0, &[], "RFC 6150: practical collisions"),
    row("MD5", Digest, None, None, None, Some(0), 0, &[], "RFC 6151: practical collisions"),
    row("SHA-1", Digest, None, None, None, Some(63), 0, &[], "SP 800-57 T3 (<80); SHAttered 2^63"),
    row("SHA-224", Digest, None, None, None, Some(112), 0, &[], T3),
    row("SHA-256", Digest, None, None, None, Some(128), 2, &[], T3),
    row("SHA-384", Digest, None, None, None, Some(192), 4, &[], T3),
    row("SHA-512", Digest, None, None, None, Some(256), 4, &[], T3),
    row("SHA3-224", Digest, None, None, None, Some(112), 0, &[], T3),
    row("SHA3-256", Digest, None, None, None, Some(128), 2, &[], T3),
    row("SHA3-384", Digest, None, None, None, Some(192), 4, &[], T3),
    row("SHA3-512", Digest, None, None, None, Some(256), 4, &[], T3),
    row("SM3", Digest, None, None, None, Some(128), 2, &[], "RFC 8998 (256-bit digest)"),
    // MACs and key derivation (SP 800-57 T3: HMAC/KDF strengths);
    // quantum by key length.
    row("HMAC-MD5", Mac, None, None, None, Some(0), 0, &[], "MD5-based; SP 800-131A r2 disallows MD5"),
    row("HMAC-SHA-1", Mac, None, None, None, Some(128), 1, &["SHA-1"], T3),
    row("HMAC-SHA-256", Mac, None, None, None, Some(256), 5, &["SHA-256"], T3),
    row("HMAC-SHA-384", Mac, None, None, None, Some(256), 5, &["SHA-384"], T3),
    row("TLS12-PRF-SHA-256", Kdf, None, None, None, Some(256), 5, &["HMAC-SHA-256"], "SP 800-57 T3; SP 800-135"),
    row("TLS12-PRF-SHA-384", Kdf, None, None, None, Some(256), 5, &["HMAC-SHA-384"], "SP 800-57 T3; SP 800-135"),
    row("TLS13-PRF-SHA-256", Kdf, None, None, None, Some(256), 5, &["HMAC-SHA-256"], "SP 800-57 T3; RFC 8446 (HKDF)"),
    row("TLS13-PRF-SHA-384", Kdf, None, None, None, Some(256), 5, &["HMAC-SHA-384"], "SP 800-57 T3; RFC 8446 (HKDF)"),
    row("TLS13-PRF-SM3", Kdf, None, None, None, Some(128), 2, &["SM3"], "RFC 8998"),
    // Key exchange in a cipher suite name: the group is a session's.
    row("ECDHE", KeyAgree, None, None, None, None, 0, &[], "curve per session; Shor"),
    row("ECDH", KeyAgree, None, None, None, None, 0, &[], "static, curve of the certificate; Shor"),
    row("FFDHE", KeyAgree, None, None, None, None, 0, &[], "prime per session; Shor"),
    row("FFDH", KeyAgree, None, None, None, None, 0, &[], "static, prime of the certificate; Shor"),
    row("RSA-PKCS1-1.5", Pke, None, None, None, None, 0, &[], "RSA key transport, key of the certificate; Shor"),
    row("RSA", Signature, None, None, None, None, 0, &[], "server authentication, key of the certificate; Shor"),
    row("RSA-PSS", Signature, None, None, None, None, 0, &[], "hash in the parameters, key of the certificate; Shor"),
    row("ECDSA", Signature, None, None, None, None, 0, &[], "server authentication, key of the certificate; Shor"),
    row("DSA", Signature, None, None, None, None, 0, &[], "server authentication, key of the certificate; Shor"),
    // Named key-exchange groups.
    row("x25519", KeyAgree, None, None, Some("other/Curve25519"), Some(128), 0, &[], "RFC 7748; Shor"),
    row("x448", KeyAgree, None, None, Some("other/Curve448"), Some(224), 0, &[], "RFC 7748; Shor"),
    row("SM2-KEX-256", KeyAgree, None, None, Some("other/SM2"), Some(128), 0, &[], "RFC 8998 (256-bit curve); Shor"),
    row("ML-KEM-512", Kem, None, Some("512"), None, Some(128), 1, &[], "FIPS 203"),
    row("ML-KEM-768", Kem, None, Some("768"), None, Some(192), 3, &[], "FIPS 203"),
    row("ML-KEM-1024", Kem, None, Some("1024"), None, Some(256), 5, &[], "FIPS 203"),
    row("Kyber512", Kem, None, Some("512"), None, Some(128), 1, &[], "Kyber round 3 (category 1 claimed)"),
    row("Kyber768", Kem, None, Some("768"), None, Some(192), 3, &[], "Kyber round 3 (category 3 claimed)"),
    row("X25519MLKEM768", Kem, None, Some("768"), None, Some(192), 3, &["ML-KEM-768", "x25519"], "draft-ietf-tls-ecdhe-mlkem; FIPS 203"),
    row("SecP256r1MLKEM768", Kem, None, Some("768"), None, Some(192), 3, &["ML-KEM-768", "ECDHE-P-256"], "draft-ietf-tls-ecdhe-mlkem; FIPS 203"),
    row("SecP384r1MLKEM1024", Kem, None, Some("1024"), None, Some(256), 5, &["ML-KEM-1024", "ECDHE-P-384"], "draft-ietf-tls-ecdhe-mlkem; FIPS 203"),
    row("curveSM2MLKEM768", Kem, None, Some("768"), None, Some(192), 3, &["ML-KEM-768", "SM2-KEX-256"], "draft-ietf-tls-ecdhe-mlkem; FIPS 203"),
    row("X25519Kyber768Draft00", Kem, None, Some("768"), None, Some(192), 3, &["Kyber768", "x25519"], "draft-tls-westerbaan-xyber768d00"),
    row("SecP256r1Kyber768Draft00", Kem, None, Some("768"), None, Some(192), 3, &["Kyber768", "ECDHE-P-256"], "draft-kwiatkowski-tls-ecdhe-kyber"),
    row("X25519Kyber512Draft00", Kem, None, Some("512"), None, Some(128), 1, &["Kyber512", "x25519"], "draft-tls-westerbaan-xyber768d00"),
    // Signatures without a separate key size.
    row("Ed25519", Signature, None, None, Some("other/Ed25519"), Some(128), 0, &[], "RFC 8032; Shor"),
    row("Ed448", Signature, None, None, Some("other/Ed448"), Some(224), 0, &[], "RFC 8032; Shor"),
    row("ML-DSA-44", Signature, None, Some("44"), None, Some(128), 2, &[], "FIPS 204"),
    row("ML-DSA-65", Signature, None, Some("65"), None, Some(192), 3, &[], "FIPS 204"),
    row("ML-DSA-87", Signature, None, Some("87"), None, Some(256), 5, &[], "FIPS 204"),
    row("SLH-DSA-SHA2-128s", Signature, None, Some("128s"), None, Some(128), 1, &[], "FIPS 205"),
    row("SLH-DSA-SHA2-128f", Signature, None, Some("128f"), None, Some(128), 1, &[], "FIPS 205"),
    row("SLH-DSA-SHA2-192s", Signature, None, Some("192s"), None, Some(192), 3, &[], "FIPS 205"),
    row("SLH-DSA-SHA2-192f", Signature, None, Some("192f"), None, Some(192), 3, &[], "FIPS 205"),
    row("SLH-DSA-SHA2-256s", Signature, None, Some("256s"), None, Some(256), 5, &[], "FIPS 205"),
    row("SLH-DSA-SHA2-256f", Signature, None, Some("256f"), None, Some(256), 5, &[], "FIPS 205"),
    row("SLH-DSA-SHAKE-128s", Signature, None, Some("128s"), None, Some(128), 1, &[], "FIPS 205"),
    row("SLH-DSA-SHAKE-128f", Signature, None, Some("128f"), None, Some(128), 1, &[], "FIPS 205"),
    row("SLH-DSA-SHAKE-192s", Signature, None, Some("192s"), None, Some(192), 3, &[], "FIPS 205"),
    row("SLH-DSA-SHAKE-192f", Signature, None, Some("192f"), None, Some(192), 3, &[], "FIPS 205"),
    row("SLH-DSA-SHAKE-256s", Signature, None, Some("256s"), None, Some(256), 5, &[], "FIPS 205"),
    row("SLH-DSA-SHAKE-256f", Signature, None, Some("256f"), None, Some(256), 5, &[], "FIPS 205"),
];

impl Row {
    /// The row as an algorithm.
    pub fn algorithm(&self) -> Algorithm {
        Algorithm {
            name: self.name.to_owned(),
            primitive: self.primitive,
            mode: self.mode,
            parameter_set: self.parameter_set.map(str::to_owned),
            curve: self.curve.map(str::to_owned),
            classical: self.classical,
            quantum: self.quantum,
            oid: None,
            parts: self.parts.iter().map(|part| (*part).to_owned()).collect(),
        }
    }
}

/// The fixed facts of the algorithm called `name`, if [`TABLE`] has it.
pub fn lookup(name: &str) -> Option<Algorithm> {
    TABLE
        .iter()
        .find(|row| row.name == name)
        .map(Row::algorithm)
        .or_else(|| named_curve_group(name))
}

/// SP 800-57 Table 2 for RSA, DSA and finite-field DH: strength of a
/// modulus (or prime) of `bits`. Below 1024 bits: 0 (RSA-768 was factored
/// in 2009).
pub fn rsa_like_strength(bits: u32) -> u32 {
    match bits {
        0..1024 => 0,
        1024..2048 => 80,
        2048..3072 => 112,
        3072..7680 => 128,
        7680..15360 => 192,
        _ => 256,
    }
}

/// SP 800-57 Table 2 for elliptic curves: strength of a field of `bits`.
/// Below 160 bits: 0 (112-bit curves have been solved).
pub fn elliptic_curve_strength(bits: u32) -> u32 {
    match bits {
        0..160 => 0,
        160..224 => 80,
        224..256 => 112,
        256..384 => 128,
        384..512 => 192,
        _ => 256,
    }
}

/// An RSA, DSA or finite-field DH key of `bits` (`RSA-2048`, `DSA-1024`,
/// `FFDHE-1024`).
pub fn rsa_like(family: &str, primitive: Primitive, bits: u32) -> Algorithm {
    Algorithm {
        name: format!("{family}-{bits}"),
        primitive,
        mode: None,
        parameter_set: Some(bits.to_string()),
        curve: None,
        classical: Some(rsa_like_strength(bits)),
        quantum: 0,
        oid: None,
        parts: Vec::new(),
    }
}

/// Named elliptic curves: TLS group name (RFC 8422 / IANA "TLS Supported
/// Groups"), registry id, field size in bits.
#[rustfmt::skip]
const CURVES: &[(&str, &str, u32)] = &[
    ("secp192r1", "nist/P-192", 192),
    ("secp224r1", "nist/P-224", 224),
    ("secp256r1", "nist/P-256", 256),
    ("secp384r1", "nist/P-384", 384),
    ("secp521r1", "nist/P-521", 521),
    ("secp160k1", "secg/secp160k1", 160),
    ("secp160r1", "secg/secp160r1", 160),
    ("secp160r2", "secg/secp160r2", 160),
    ("secp192k1", "secg/secp192k1", 192),
    ("secp224k1", "secg/secp224k1", 224),
    ("secp256k1", "secg/secp256k1", 256),
    ("sect163k1", "nist/K-163", 163),
    ("sect163r1", "secg/sect163r1", 163),
    ("sect163r2", "nist/B-163", 163),
    ("sect193r1", "secg/sect193r1", 193),
    ("sect193r2", "secg/sect193r2", 193),
    ("sect233k1", "nist/K-233", 233),
    ("sect233r1", "nist/B-233", 233),
    ("sect239k1", "secg/sect239k1", 239),
    ("sect283k1", "nist/K-283", 283),
    ("sect283r1", "nist/B-283", 283),
    ("sect409k1", "nist/K-409", 409),
    ("sect409r1", "nist/B-409", 409),
    ("sect571k1", "nist/K-571", 571),
    ("sect571r1", "nist/B-571", 571),
    ("brainpoolP256r1", "brainpool/brainpoolP256r1", 256),
    ("brainpoolP256r1tls13", "brainpool/brainpoolP256r1", 256),
    ("brainpoolP384r1", "brainpool/brainpoolP384r1", 384),
    ("brainpoolP384r1tls13", "brainpool/brainpoolP384r1", 384),
    ("brainpoolP512r1", "brainpool/brainpoolP512r1", 512),
    ("brainpoolP512r1tls13", "brainpool/brainpoolP512r1", 512),
];

/// A named elliptic curve's registry id and field size, from its TLS name.
pub fn curve(tls_name: &str) -> Option<(&'static str, u32)> {
    CURVES
        .iter()
        .find(|(name, _, _)| *name == tls_name)
        .map(|(_, id, bits)| (*id, *bits))
}

/// The short curve name in algorithm names: `P-256` for NIST curves, the
/// registry name otherwise.
fn curve_short_name(curve_id: &str) -> &str {
    curve_id.rsplit('/').next().unwrap_or(curve_id)
}

/// ECDHE over a named curve, by its algorithm name (`ECDHE-P-256`).
fn named_curve_group(name: &str) -> Option<Algorithm> {
    let short = name.strip_prefix("ECDHE-")?;
    let (tls_name, _, _) = CURVES
        .iter()
        .find(|(_, id, _)| curve_short_name(id) == short)?;
    elliptic_curve("ECDHE", KeyAgree, tls_name)
}

/// An algorithm over a named curve (`ECDHE-P-256`, `ECDSA-P-384`).
pub fn elliptic_curve(family: &str, primitive: Primitive, tls_name: &str) -> Option<Algorithm> {
    let (id, bits) = curve(tls_name)?;
    Some(Algorithm {
        name: format!("{family}-{}", curve_short_name(id)),
        primitive,
        mode: None,
        parameter_set: None,
        curve: Some(id.to_owned()),
        classical: Some(elliptic_curve_strength(bits)),
        quantum: 0,
        oid: None,
        parts: Vec::new(),
    })
}

/// An algorithm nothing here knows: named as seen, primitive `unknown`,
/// quantum level 0 (nothing shows it resists a quantum attacker).
pub fn unknown(name: &str) -> Algorithm {
    Algorithm {
        name: name.to_owned(),
        primitive: Primitive::Unknown,
        mode: None,
        parameter_set: None,
        curve: None,
        classical: None,
        quantum: 0,
        oid: None,
        parts: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
