//! What a cipher suite's IANA name says about it.
//!
//! The IANA "TLS Cipher Suites" registry names every suite
//! `TLS_<key exchange>_WITH_<cipher>_<MAC>` (TLS 1.0-1.2) or
//! `TLS_<AEAD>_<hash>` (TLS 1.3, RFC 8446 B.4; RFC 9150's integrity-only
//! `TLS_SHA256_SHA256`), and a name's tokens carry the properties the
//! rules need: `EXPORT` and `anon` in the key exchange part (RFC 2246, RFC
//! 4346 A.5), `NULL`/`RC4`/`RC2`/`DES`/`DES40`/`3DES`/`IDEA`/`SEED` as the
//! cipher, `CBC` as the mode, `SHA` (HMAC-SHA-1) or `MD5` as the record MAC.
//! Classifying by name covers every registered suite without a table of
//! hundreds of code points, and works on records from any producer that
//! writes IANA names.

/// A weakness of a suite's cipher or key exchange, as
/// `tls.cipher.insecure` grades them (bit positions match its levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Weakness {
    /// No encryption (RFC 5246 `NULL` cipher, RFC 9150 integrity-only).
    Null,
    /// Export-grade key exchange or cipher (40/56-bit).
    Export,
    /// Unauthenticated key exchange (`DH_anon`, `ECDH_anon`).
    Anonymous,
    /// RC4 (prohibited by RFC 7465).
    Rc4,
    /// Single DES (56 bits, or 40 in export suites).
    Des,
    Rc2,
    /// Triple DES (64-bit block, Sweet32).
    TripleDes,
    Idea,
    Seed,
}

impl Weakness {
    pub const ALL: [Weakness; 9] = [
        Weakness::Null,
        Weakness::Export,
        Weakness::Anonymous,
        Weakness::Rc4,
        Weakness::Des,
        Weakness::Rc2,
        Weakness::TripleDes,
        Weakness::Idea,
        Weakness::Seed,
    ];

    /// How the message names it.
    pub const fn label(self) -> &'static str {
        match self {
            Weakness::Null => "no encryption (NULL)",
            Weakness::Export => "export grade",
            Weakness::Anonymous => "anonymous key exchange",
            Weakness::Rc4 => "RC4",
            Weakness::Des => "single DES",
            Weakness::Rc2 => "RC2",
            Weakness::TripleDes => "3DES",
            Weakness::Idea => "IDEA",
            Weakness::Seed => "SEED",
        }
    }

    pub(crate) const fn bit(self) -> u16 {
        1 << self as u8
    }
}

/// How a suite agrees on keys, as far as forward secrecy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExchange {
    /// Ephemeral (EC)DH, SRP, ECCPWD, or TLS 1.3 (the suite does not name
    /// the key exchange).
    Ephemeral,
    /// The client encrypts the premaster secret to the server's RSA key
    /// (`RSA`, `RSA_EXPORT`, `RSA_PSK`).
    RsaTransport,
    /// Static (EC)DH from the certificate (`DH_DSS`, `DH_RSA`,
    /// `ECDH_ECDSA`, `ECDH_RSA`).
    StaticDh,
    /// Ephemeral but unauthenticated (`DH_anon`, `ECDH_anon`).
    Anonymous,
    /// Anything else (`PSK`, `KRB5`, `NULL`, GOST): not graded.
    Other,
}

/// The record MAC of a TLS 1.0-1.2 suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mac {
    /// HMAC-SHA-1 (`_SHA`).
    Sha1,
    /// HMAC-MD5.
    Md5,
    /// SHA-2 HMAC, or an AEAD suite (the last token is then the PRF hash).
    Other,
}

/// The properties of one suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    /// Bit set of [`Weakness`]es.
    pub weaknesses: u16,
    pub key_exchange: KeyExchange,
    /// A CBC-mode cipher.
    pub cbc: bool,
    pub mac: Mac,
}

impl Suite {
    pub fn has(&self, weakness: Weakness) -> bool {
        self.weaknesses & weakness.bit() != 0
    }
}

/// Classifies a suite by its IANA name; `None` for signalling values
/// (`TLS_EMPTY_RENEGOTIATION_INFO_SCSV`, `TLS_FALLBACK_SCSV`) and names that
/// are not IANA suite names (such as `unknown(0x1234)`).
pub fn classify(name: &str) -> Option<Suite> {
    let rest = name
        .strip_prefix("TLS_")
        .or_else(|| name.strip_prefix("SSL_"))?;
    if rest.ends_with("_SCSV") || rest.is_empty() {
        return None;
    }
    let (key_exchange_part, bulk) = match rest.split_once("_WITH_") {
        Some((key_exchange, bulk)) => (Some(key_exchange), bulk),
        None => (None, rest),
    };

    let mut weaknesses = 0u16;
    let key_exchange = match key_exchange_part {
        None => KeyExchange::Ephemeral,
        Some(part) => {
            let mut tokens = part.split('_');
            let first = tokens.next().unwrap_or("");
            let second = tokens.next().unwrap_or("");
            if part.split('_').any(|token| token.starts_with("EXPORT")) {
                weaknesses |= Weakness::Export.bit();
            }
            if part
                .split('_')
                .any(|token| token.eq_ignore_ascii_case("anon"))
            {
                weaknesses |= Weakness::Anonymous.bit();
            }
            match (first, second) {
                ("NULL", _) => {
                    weaknesses |= Weakness::Null.bit();
                    KeyExchange::Other
                }
                (_, anon) if anon.eq_ignore_ascii_case("anon") => KeyExchange::Anonymous,
                ("RSA", _) => KeyExchange::RsaTransport,
                ("DH", "DSS" | "RSA") | ("ECDH", "ECDSA" | "RSA") => KeyExchange::StaticDh,
                ("DHE" | "ECDHE" | "SRP" | "ECCPWD", _) => KeyExchange::Ephemeral,
                _ => KeyExchange::Other,
            }
        }
    };

    let bulk_tokens = || bulk.split('_');
    let cipher = bulk_tokens().next().unwrap_or("");
    weaknesses |= match cipher {
        "NULL" => Weakness::Null.bit(),
        // TLS 1.3 integrity-only suites (RFC 9150): HMAC, no cipher.
        "SHA256" | "SHA384" if key_exchange_part.is_none() => Weakness::Null.bit(),
        "RC4" => Weakness::Rc4.bit(),
        "RC2" => Weakness::Rc2.bit(),
        "DES" => Weakness::Des.bit(),
        "DES40" => Weakness::Des.bit() | Weakness::Export.bit(),
        "3DES" => Weakness::TripleDes.bit(),
        "IDEA" => Weakness::Idea.bit(),
        "SEED" => Weakness::Seed.bit(),
        _ => 0,
    };
    // Kerberos export suites put the key size after the mode (`DES_CBC_40`).
    if key_exchange_part.is_some() && bulk_tokens().skip(1).any(|token| token == "40") {
        weaknesses |= Weakness::Export.bit();
    }
    let cbc = bulk_tokens().any(|token| token == "CBC");
    let mac = if key_exchange_part.is_none() {
        Mac::Other
    } else {
        match bulk.rsplit('_').next() {
            Some("SHA") => Mac::Sha1,
            Some("MD5") => Mac::Md5,
            _ => Mac::Other,
        }
    };
    Some(Suite {
        weaknesses,
        key_exchange,
        cbc,
        mac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weaknesses(name: &str) -> Vec<Weakness> {
        let suite = classify(name).unwrap_or_else(|| panic!("{name} not classified"));
        Weakness::ALL
            .into_iter()
            .filter(|weakness| suite.has(*weakness))
            .collect()
    }

    /// Names and code points from the IANA TLS Cipher Suites registry;
    /// expected properties from the RFCs that define them.
    #[test]
    fn registry_names_are_classified_per_their_rfcs() {
        use Weakness::*;
        let cases: &[(&str, &[Weakness])] = &[
            ("TLS_NULL_WITH_NULL_NULL", &[Null]),                   // 0x0000
            ("TLS_RSA_WITH_NULL_MD5", &[Null]),                     // 0x0001
            ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", &[Export, Rc4]),     // 0x0003
            ("TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", &[Export, Rc2]), // 0x0006
            ("TLS_RSA_WITH_IDEA_CBC_SHA", &[Idea]),                 // 0x0007
            ("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", &[Export, Des]),  // 0x0008
            ("TLS_RSA_WITH_DES_CBC_SHA", &[Des]),                   // 0x0009
            ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", &[TripleDes]),        // 0x000A
            ("TLS_DH_anon_WITH_RC4_128_MD5", &[Anonymous, Rc4]),    // 0x0018
            ("TLS_DH_anon_WITH_AES_128_CBC_SHA", &[Anonymous]),     // 0x0034
            ("TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA", &[Export, Des]), // 0x0026
            ("TLS_RSA_WITH_SEED_CBC_SHA", &[Seed]),                 // 0x0096
            ("TLS_ECDHE_ECDSA_WITH_NULL_SHA", &[Null]),             // 0xC006
            ("TLS_ECDH_anon_WITH_AES_256_CBC_SHA", &[Anonymous]),   // 0xC019
            ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", &[Rc4]),             // 0xC011
            ("TLS_SHA256_SHA256", &[Null]),                         // 0xC0B4
            ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", &[]),         // 0xC02F
            ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", &[]),            // 0xC013
            ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", &[]), // 0xCCA9
            ("TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", &[]),             // 0x0041
            ("TLS_AES_128_GCM_SHA256", &[]),                        // 0x1301
            ("TLS_AES_128_CCM_8_SHA256", &[]),                      // 0x1305
        ];
        for (name, expected) in cases {
            assert_eq!(&weaknesses(name), expected, "{name}");
        }
    }

    #[test]
    fn key_exchange_per_rfc() {
        let cases = [
            ("TLS_RSA_WITH_AES_128_CBC_SHA", KeyExchange::RsaTransport),
            ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", KeyExchange::RsaTransport),
            (
                "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256",
                KeyExchange::RsaTransport,
            ), // RFC 4279 4
            ("TLS_DH_RSA_WITH_AES_128_CBC_SHA", KeyExchange::StaticDh),
            ("TLS_DH_DSS_WITH_AES_256_GCM_SHA384", KeyExchange::StaticDh),
            ("TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", KeyExchange::StaticDh), // RFC 4492 2.1
            (
                "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384",
                KeyExchange::StaticDh,
            ),
            (
                "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
                KeyExchange::Ephemeral,
            ),
            ("TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", KeyExchange::Ephemeral),
            (
                "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA",
                KeyExchange::Ephemeral,
            ),
            ("TLS_DH_anon_WITH_AES_128_CBC_SHA", KeyExchange::Anonymous),
            ("TLS_ECDH_anon_WITH_AES_128_CBC_SHA", KeyExchange::Anonymous),
            ("TLS_PSK_WITH_AES_128_CCM", KeyExchange::Other),
            ("TLS_AES_256_GCM_SHA384", KeyExchange::Ephemeral),
        ];
        for (name, expected) in cases {
            assert_eq!(classify(name).unwrap().key_exchange, expected, "{name}");
        }
    }

    #[test]
    fn mode_and_mac() {
        let sha1_cbc = classify("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA").unwrap();
        assert!(sha1_cbc.cbc);
        assert_eq!(sha1_cbc.mac, Mac::Sha1);
        let sha256_cbc = classify("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256").unwrap();
        assert!(sha256_cbc.cbc);
        assert_eq!(sha256_cbc.mac, Mac::Other);
        let gcm = classify("TLS_RSA_WITH_AES_128_GCM_SHA256").unwrap();
        assert!(!gcm.cbc);
        let md5 = classify("TLS_KRB5_WITH_3DES_EDE_CBC_MD5").unwrap();
        assert_eq!(md5.mac, Mac::Md5);
        // TLS 1.3 names end in the HKDF hash, not a MAC.
        assert_eq!(classify("TLS_AES_128_GCM_SHA256").unwrap().mac, Mac::Other);
    }

    #[test]
    fn signalling_and_unknown_values_are_not_suites() {
        for name in [
            "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
            "TLS_FALLBACK_SCSV",
            "unknown(0x1234)",
            "GREASE",
            "",
            "TLS_",
        ] {
            assert_eq!(classify(name), None, "{name}");
        }
    }
}
