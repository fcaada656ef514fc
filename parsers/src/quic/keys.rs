//! Initial packet protection keys (RFC 9001 section 5.2, RFC 9369 section 3.3).
//!
//! Initial packets are encrypted, but with keys anyone can compute from the
//! version's public salt and the client's original Destination Connection ID.
//! Deriving them costs several HMAC and AES key-schedule operations, so the
//! result is an explicit value ([`InitialKeys`]) that a caller can cache per
//! connection and reuse for every Initial packet in both directions.
//!
//! The schedule:
//! ```text
//! initial_secret = HKDF-Extract(salt, original_dcid)
//! client_secret  = HKDF-Expand-Label(initial_secret, "client in", "", 32)
//! server_secret  = HKDF-Expand-Label(initial_secret, "server in", "", 32)
//! key / iv / hp  = HKDF-Expand-Label(side_secret, "quic key" | "quic iv" | "quic hp", "", 16 | 12 | 16)
//! ```
//! with "quicv2 key", "quicv2 iv" and "quicv2 hp" for QUIC v2.

use std::fmt;

use ring::aead::{self, quic::HeaderProtectionKey};
use ring::hkdf;

use super::Side;
use super::error::QuicError;
use super::version::{InitialSecrets, initial_secrets};

/// Length of the AES-128-GCM key used for Initial packets.
pub const KEY_LEN: usize = 16;
/// Length of the AEAD IV (and nonce).
pub const IV_LEN: usize = 12;
/// Length of the AES-128 header protection key.
pub const HP_KEY_LEN: usize = 16;
/// Length of the per-side Initial secret (SHA-256 output).
pub const SECRET_LEN: usize = 32;
/// Length of the header protection sample and of the AEAD tag.
pub const SAMPLE_LEN: usize = 16;

/// Keys protecting the Initial packets of one connection, both directions.
pub struct InitialKeys {
    version: u32,
    client: PacketKeys,
    server: PacketKeys,
}

impl InitialKeys {
    /// Derives the Initial keys of `version` from the client's original
    /// Destination Connection ID (the DCID of the client's first Initial, or
    /// the one a Retry told it to use).
    pub fn derive(version: u32, original_dcid: &[u8]) -> Result<Self, QuicError> {
        let constants = initial_secrets(version)?;
        let initial_secret =
            hkdf::Salt::new(hkdf::HKDF_SHA256, &constants.salt).extract(original_dcid);
        let client_secret: [u8; SECRET_LEN] = expand_label(&initial_secret, b"client in")?;
        let server_secret: [u8; SECRET_LEN] = expand_label(&initial_secret, b"server in")?;
        tracing::debug!(
            version = format_args!("{version:#010x}"),
            dcid = %hex::encode(original_dcid),
            "derived QUIC Initial keys"
        );
        Ok(Self {
            version,
            client: PacketKeys::from_secret(client_secret, constants)?,
            server: PacketKeys::from_secret(server_secret, constants)?,
        })
    }

    /// The QUIC version these keys belong to.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Keys protecting packets the client sends.
    pub fn client(&self) -> &PacketKeys {
        &self.client
    }

    /// Keys protecting packets the server sends.
    pub fn server(&self) -> &PacketKeys {
        &self.server
    }

    /// Keys protecting packets sent by `sender`.
    pub fn sent_by(&self, sender: Side) -> &PacketKeys {
        match sender {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }
}

impl fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitialKeys")
            .field("version", &format_args!("{:#010x}", self.version))
            .field("client", &self.client)
            .field("server", &self.server)
            .finish()
    }
}

/// The AEAD and header protection keys for one direction.
pub struct PacketKeys {
    secret: [u8; SECRET_LEN],
    key: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
    hp: [u8; HP_KEY_LEN],
    aead: aead::LessSafeKey,
    header_protection: HeaderProtectionKey,
}

impl PacketKeys {
    fn from_secret(
        secret: [u8; SECRET_LEN],
        constants: &InitialSecrets,
    ) -> Result<Self, QuicError> {
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
        let key: [u8; KEY_LEN] = expand_label(&prk, constants.key_label)?;
        let iv: [u8; IV_LEN] = expand_label(&prk, constants.iv_label)?;
        let hp: [u8; HP_KEY_LEN] = expand_label(&prk, constants.hp_label)?;
        let unbound = aead::UnboundKey::new(&aead::AES_128_GCM, &key)
            .map_err(|_| QuicError::KeyDerivationFailed)?;
        let header_protection = HeaderProtectionKey::new(&aead::quic::AES_128, &hp)
            .map_err(|_| QuicError::KeyDerivationFailed)?;
        Ok(Self {
            secret,
            key,
            iv,
            hp,
            aead: aead::LessSafeKey::new(unbound),
            header_protection,
        })
    }

    /// The side's Initial secret ("client in" / "server in" expansion).
    pub fn secret(&self) -> &[u8; SECRET_LEN] {
        &self.secret
    }

    /// The AES-128-GCM packet protection key.
    pub fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// The AEAD IV that packet numbers are XORed into.
    pub fn iv(&self) -> &[u8; IV_LEN] {
        &self.iv
    }

    /// The AES-128 header protection key.
    pub fn hp(&self) -> &[u8; HP_KEY_LEN] {
        &self.hp
    }

    /// The AEAD nonce for `packet_number`: the IV XOR the packet number,
    /// left-padded to the IV length (RFC 9001 section 5.3).
    pub fn nonce(&self, packet_number: u64) -> [u8; IV_LEN] {
        let mut nonce = self.iv;
        let pn_bytes = packet_number.to_be_bytes();
        for (nonce_byte, pn_byte) in nonce.iter_mut().rev().zip(pn_bytes.iter().rev()) {
            *nonce_byte ^= pn_byte;
        }
        nonce
    }

    /// The 5-byte header protection mask for a 16-byte `sample`
    /// (RFC 9001 section 5.4.3).
    pub fn header_mask(&self, sample: &[u8]) -> Result<[u8; 5], QuicError> {
        self.header_protection.new_mask(sample).map_err(|_| {
            QuicError::TooShortForHeaderProtection {
                available: sample.len(),
            }
        })
    }

    /// Decrypts `ciphertext_and_tag` in place, authenticating `header` as
    /// associated data. Returns the plaintext part of the buffer.
    pub fn open_in_place<'buf>(
        &self,
        packet_number: u64,
        header: &[u8],
        ciphertext_and_tag: &'buf mut [u8],
    ) -> Result<&'buf mut [u8], QuicError> {
        let nonce = aead::Nonce::assume_unique_for_key(self.nonce(packet_number));
        self.aead
            .open_in_place(nonce, aead::Aad::from(header), ciphertext_and_tag)
            .map_err(|_| QuicError::DecryptionFailed)
    }
}

impl fmt::Debug for PacketKeys {
    /// Initial keys are public by design, but printing them in every debug
    /// log helps nobody: show only the algorithm.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketKeys")
            .field("aead", &"AES_128_GCM")
            .field("header_protection", &"AES_128")
            .finish_non_exhaustive()
    }
}

/// TLS 1.3 HKDF-Expand-Label (RFC 8446 section 7.1) with an empty context.
fn expand_label<const N: usize>(prk: &hkdf::Prk, label: &[u8]) -> Result<[u8; N], QuicError> {
    let mut out = [0u8; N];
    crate::tls::decrypt::expand_label(prk, label, &mut out)
        .map_err(|()| QuicError::KeyDerivationFailed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_xors_packet_number_into_low_bytes() {
        let keys = InitialKeys::derive(super::super::QUIC_V1, &[0; 8]).expect("derive");
        let iv = *keys.client().iv();
        let nonce = keys.client().nonce(0x0102);
        assert_eq!(nonce[..10], iv[..10]);
        assert_eq!(nonce[10], iv[10] ^ 0x01);
        assert_eq!(nonce[11], iv[11] ^ 0x02);
    }

    #[test]
    fn unknown_versions_have_no_keys() {
        assert_eq!(
            InitialKeys::derive(0x1a2a_3a4a, &[0; 8]).err(),
            Some(QuicError::UnsupportedVersion(0x1a2a_3a4a))
        );
    }
}
