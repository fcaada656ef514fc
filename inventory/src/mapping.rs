//! Which algorithms the names in session records stand for: a cipher suite
//! (IANA name), a key-exchange group, a certificate's signature algorithm
//! and its public key. The facts about each algorithm are in
//! [`crate::algorithms`].
//!
//! A TLS 1.2 suite name reads `TLS_<key exchange>_<authentication>_WITH_
//! <cipher>_<MAC>` (RFC 5246 appendix C and the IANA registry); a TLS 1.3
//! suite reads `TLS_<AEAD>_<hash>` and leaves key exchange and
//! authentication to the group and the certificate (RFC 8446 B.4).

use crate::algorithms::{self, Algorithm, Primitive};

fn known(name: &str) -> Algorithm {
    algorithms::lookup(name).unwrap_or_else(|| algorithms::unknown(name))
}

/// The algorithms a cipher suite names: key exchange, authentication,
/// cipher, and MAC (or the PRF hash of an AEAD suite). Empty for signalling
/// values and names that are not suites.
pub fn cipher_suite(name: &str) -> Vec<Algorithm> {
    let Some(rest) = name.strip_prefix("TLS_") else {
        return Vec::new();
    };
    if rest.ends_with("_SCSV") || rest == "NULL_WITH_NULL_NULL" {
        return Vec::new();
    }
    match rest.split_once("_WITH_") {
        Some((exchange, protection)) => {
            let mut parts: Vec<Algorithm> = key_exchange(exchange).into_iter().map(known).collect();
            parts.extend(protection_parts(protection, "TLS12-PRF"));
            parts
        }
        None => protection_parts(rest, "TLS13-PRF"),
    }
}

/// Key exchange and authentication of a TLS 1.2 suite's first half.
fn key_exchange(exchange: &str) -> Vec<&'static str> {
    let exchange = exchange
        .trim_end_matches("_EXPORT1024")
        .trim_end_matches("_EXPORT");
    let (method, authentication) = exchange.split_once('_').unwrap_or((exchange, ""));
    let anonymous = authentication == "anon";
    let exchange = match method {
        "RSA" => Some("RSA-PKCS1-1.5"),
        "DHE" => Some("FFDHE"),
        // Anonymous DH sends its parameters in a ServerKeyExchange: ephemeral.
        "DH" if anonymous => Some("FFDHE"),
        "DH" => Some("FFDH"),
        "ECDHE" => Some("ECDHE"),
        "ECDH" if anonymous => Some("ECDHE"),
        "ECDH" => Some("ECDH"),
        // PSK, SRP, KRB5, ECCPWD: no public-key exchange of their own.
        _ => None,
    };
    let authentication = match (method, authentication) {
        // Static (EC)DH and RSA key transport authenticate with the
        // certificate's key itself.
        ("DH" | "ECDH" | "RSA", _) => None,
        (_, "RSA" | "SHA_RSA") => Some("RSA"),
        (_, "ECDSA") => Some("ECDSA"),
        (_, "DSS" | "SHA_DSS") => Some("DSA"),
        _ => None,
    };
    exchange.into_iter().chain(authentication).collect()
}

/// Cipher and MAC (or PRF) of what follows `_WITH_` (TLS 1.2) or `TLS_`
/// (TLS 1.3).
fn protection_parts(protection: &str, prf: &str) -> Vec<Algorithm> {
    // CCM suites end with the mode and use the PRF's SHA-256.
    let (cipher, mac) = if protection.ends_with("_CCM") || protection.ends_with("_CCM_8") {
        (protection, "SHA256")
    } else {
        match protection.rsplit_once('_') {
            Some(split) => split,
            None => return vec![algorithms::unknown(protection)],
        }
    };
    let cipher_name = match cipher {
        "AES_128_GCM" => "AES-128-GCM",
        "AES_256_GCM" => "AES-256-GCM",
        "AES_128_CCM" => "AES-128-CCM",
        "AES_256_CCM" => "AES-256-CCM",
        "AES_128_CCM_8" => "AES-128-CCM-8",
        "AES_256_CCM_8" => "AES-256-CCM-8",
        "AES_128_CBC" => "AES-128-CBC",
        "AES_256_CBC" => "AES-256-CBC",
        "CHACHA20_POLY1305" => "ChaCha20-Poly1305",
        "CAMELLIA_128_CBC" => "CAMELLIA-128-CBC",
        "CAMELLIA_256_CBC" => "CAMELLIA-256-CBC",
        "CAMELLIA_128_GCM" => "CAMELLIA-128-GCM",
        "CAMELLIA_256_GCM" => "CAMELLIA-256-GCM",
        "ARIA_128_CBC" => "ARIA-128-CBC",
        "ARIA_256_CBC" => "ARIA-256-CBC",
        "ARIA_128_GCM" => "ARIA-128-GCM",
        "ARIA_256_GCM" => "ARIA-256-GCM",
        "SEED_CBC" => "SEED-128-CBC",
        "SM4_GCM" => "SM4-GCM",
        "SM4_CCM" => "SM4-CCM",
        "IDEA_CBC" => "IDEA-CBC",
        "3DES_EDE_CBC" => "3DES-168-CBC",
        "DES_CBC" => "DES-56-CBC",
        "DES40_CBC" | "DES_CBC_40" => "DES-40-CBC",
        "RC2_CBC_40" => "RC2-40-CBC",
        "RC4_128" => "RC4-128",
        "RC4_40" => "RC4-40",
        "NULL" => "NULL",
        // TLS 1.3 integrity-only suites (RFC 9150) name just the hash twice.
        "SHA256" | "SHA384" => "NULL",
        other => return vec![algorithms::unknown(other), mac_or_prf(mac, false, prf)],
    };
    let cipher = known(cipher_name);
    let aead = cipher.primitive == Primitive::Ae;
    let mac = mac_or_prf(mac, aead || prf == "TLS13-PRF", prf);
    vec![cipher, mac]
}

/// The MAC of a CBC or stream suite, or the PRF of an AEAD (or TLS 1.3) one.
fn mac_or_prf(hash: &str, prf_only: bool, prf: &str) -> Algorithm {
    let hash = match hash {
        "SHA" => "SHA-1",
        "SHA256" => "SHA-256",
        "SHA384" => "SHA-384",
        "MD5" => "MD5",
        "SM3" => "SM3",
        other => return algorithms::unknown(other),
    };
    if prf_only {
        known(&format!("{prf}-{hash}"))
    } else {
        known(&format!("HMAC-{hash}"))
    }
}

/// A negotiated key-exchange group, by its IANA name (or `dh_prime_<bits>`
/// for a TLS 1.2 DH prime without a name).
pub fn group(name: &str) -> Algorithm {
    if let Some(bits) = name
        .strip_prefix("dh_prime_")
        .and_then(|bits| bits.parse::<u32>().ok())
    {
        return algorithms::rsa_like("FFDHE", Primitive::KeyAgree, bits);
    }
    if let Some(bits) = name
        .strip_prefix("ffdhe")
        .and_then(|bits| bits.parse::<u32>().ok())
    {
        let mut algorithm = algorithms::rsa_like("FFDHE", Primitive::KeyAgree, bits);
        algorithm.name = format!("FFDHE-{name}");
        return algorithm;
    }
    if let Some(algorithm) = algorithms::elliptic_curve("ECDHE", Primitive::KeyAgree, name) {
        return algorithm;
    }
    let renamed = match name {
        "MLKEM512" => "ML-KEM-512",
        "MLKEM768" => "ML-KEM-768",
        "MLKEM1024" => "ML-KEM-1024",
        "curveSM2" => "SM2-KEX-256",
        "X25519Kyber768Draft00Old" => "X25519Kyber768Draft00",
        other => other,
    };
    known(renamed)
}

/// The hash inside a signature algorithm's X.509 name, as a registry name.
fn signature_hash(digest: &str) -> Option<&'static str> {
    Some(match digest.to_ascii_lowercase().as_str() {
        "md2" => "MD2",
        "md4" => "MD4",
        "md5" => "MD5",
        "sha1" => "SHA-1",
        "sha224" => "SHA-224",
        "sha256" => "SHA-256",
        "sha384" => "SHA-384",
        "sha512" => "SHA-512",
        "sha3-224" => "SHA3-224",
        "sha3-256" => "SHA3-256",
        "sha3-384" => "SHA3-384",
        "sha3-512" => "SHA3-512",
        _ => return None,
    })
}

/// A signature over a hash: as strong classically as the hash's collision
/// resistance allows (the key's own strength is on the public key).
fn hashed_signature(family: &str, hash: &'static str, oid: &str) -> Algorithm {
    let facts = known(hash);
    Algorithm {
        name: format!("{family}-{hash}"),
        primitive: Primitive::Signature,
        mode: None,
        parameter_set: None,
        curve: None,
        classical: facts.classical,
        quantum: 0,
        oid: Some(oid.to_owned()),
        parts: vec![hash.to_owned()],
    }
}

/// The post-quantum part of a pre-hash or composite ML-DSA/SLH-DSA name.
fn post_quantum_part(name: &str) -> Option<Algorithm> {
    let base = match (name.strip_prefix("Hash"), name.strip_prefix("MLDSA")) {
        (Some(rest), _) => rest.split("-with-").next()?.to_owned(),
        (None, Some(rest)) => format!("ML-DSA-{}", rest.split('-').next()?),
        (None, None) => return None,
    };
    algorithms::lookup(&base)
}

/// A certificate's signature algorithm, by the name and OID the record
/// carries (`sha256WithRSAEncryption`, `ecdsa-with-SHA384`, `ML-DSA-65`).
pub fn certificate_signature(name: &str, oid: &str) -> Algorithm {
    let lower = name.to_ascii_lowercase();
    let hashed = if let Some(digest) = lower
        .strip_suffix("withrsaencryption")
        .or_else(|| lower.strip_suffix("withrsa"))
    {
        signature_hash(digest).map(|hash| ("RSA-PKCS1-1.5", hash))
    } else if let Some(digest) = lower.strip_prefix("rsassa-pkcs1-v1_5-with-") {
        signature_hash(digest).map(|hash| ("RSA-PKCS1-1.5", hash))
    } else if let Some(digest) = lower.strip_prefix("ecdsa-with-") {
        signature_hash(digest).map(|hash| ("ECDSA", hash))
    } else if let Some(digest) = lower.strip_prefix("dsa-with-") {
        signature_hash(digest).map(|hash| ("DSA", hash))
    } else {
        None
    };
    let mut algorithm = if let Some((family, hash)) = hashed {
        hashed_signature(family, hash, oid)
    } else {
        match lower.as_str() {
            "rsassa-pss" => known("RSA-PSS"),
            "ed25519" => known("Ed25519"),
            "ed448" => known("Ed448"),
            "sm2-with-sm3" => {
                let mut sm2 = hashed_signature("SM2", "SM3", oid);
                sm2.name = "SM2-256".to_owned();
                sm2
            }
            _ => match algorithms::lookup(name) {
                Some(algorithm) => algorithm,
                None => match post_quantum_part(name) {
                    Some(part) => Algorithm {
                        name: name.to_owned(),
                        parts: vec![part.name.clone()],
                        ..part
                    },
                    None => algorithms::unknown(name),
                },
            },
        }
    };
    algorithm.oid = Some(oid.to_owned());
    algorithm
}

/// A certificate's public key algorithm (`RSA-2048`, `ECDSA-P-256`,
/// `Ed25519`, `ML-DSA-65`), from the record's key summary.
pub fn public_key(algorithm: &str, bits: Option<u32>, curve: Option<&str>) -> Algorithm {
    let sized = |family: &str, primitive: Primitive| match bits {
        Some(bits) => algorithms::rsa_like(family, primitive, bits),
        None => Algorithm {
            primitive,
            ..algorithms::unknown(family)
        },
    };
    let curved = |family: &str, primitive: Primitive| {
        curve
            .and_then(|curve| algorithms::elliptic_curve(family, primitive, curve))
            .unwrap_or_else(|| Algorithm {
                primitive,
                ..algorithms::unknown(family)
            })
    };
    match algorithm {
        "RSA" => sized("RSA", Primitive::Pke),
        "RSA-PSS" => sized("RSA-PSS", Primitive::Signature),
        "DSA" => sized("DSA", Primitive::Signature),
        "DH" => sized("FFDH", Primitive::KeyAgree),
        "EC" => curved("ECDSA", Primitive::Signature),
        "ECDH" => curved("ECDH", Primitive::KeyAgree),
        "X25519" => known("x25519"),
        "X448" => known("x448"),
        other => certificate_signature_key(other),
    }
}

/// Keys that share their name with a signature algorithm (Ed25519, ML-DSA,
/// SLH-DSA, composites) or a KEM (ML-KEM).
fn certificate_signature_key(name: &str) -> Algorithm {
    let mut algorithm = certificate_signature(name, "");
    algorithm.oid = None;
    algorithm
}

#[cfg(test)]
mod tests;
