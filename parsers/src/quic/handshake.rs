//! QUIC Handshake packets opened with a key log's handshake traffic secret
//! (RFC 9001 section 5.1).
//!
//! Why: a QUIC server's certificates, EncryptedExtensions and certificate
//! request travel in Handshake packets, protected with keys derived from the
//! TLS handshake traffic secrets. With those secrets (the key log a client
//! such as aioquic, curl or a browser writes), the packets' CRYPTO frames are
//! read here: key, IV and header protection key from the secret with the
//! version's labels, AEAD and header protection per the negotiated cipher
//! suite.

use ring::aead::{self, quic::HeaderProtectionKey};
use ring::hkdf;

use super::error::QuicError;
use super::frames::{InitialFrame, parse_initial_frames};
use super::packet::{LongPacketType, split_long_packet};
use super::protection::{PacketProtection, decrypt_packet};
use super::version::initial_secrets;
use super::{CryptoChunk, IV_LEN};
use crate::tls::decrypt::expand_label;

/// The keys protecting one side's Handshake packets.
pub struct HandshakeKeys {
    aead: aead::LessSafeKey,
    iv: [u8; IV_LEN],
    header_protection: HeaderProtectionKey,
}

impl std::fmt::Debug for HandshakeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandshakeKeys").finish_non_exhaustive()
    }
}

impl HandshakeKeys {
    /// Keys of `version`'s Handshake packets under `cipher_suite`, from a
    /// handshake traffic `secret`.
    pub fn from_secret(version: u32, cipher_suite: u16, secret: &[u8]) -> Result<Self, QuicError> {
        let labels = initial_secrets(version)?;
        let (algorithm, hp_algorithm, hash, secret_len) = match cipher_suite {
            0x1301 => (
                &aead::AES_128_GCM,
                &aead::quic::AES_128,
                hkdf::HKDF_SHA256,
                32,
            ),
            0x1302 => (
                &aead::AES_256_GCM,
                &aead::quic::AES_256,
                hkdf::HKDF_SHA384,
                48,
            ),
            0x1303 => (
                &aead::CHACHA20_POLY1305,
                &aead::quic::CHACHA20,
                hkdf::HKDF_SHA256,
                32,
            ),
            _ => return Err(QuicError::KeyDerivationFailed),
        };
        if secret.len() != secret_len {
            return Err(QuicError::KeyDerivationFailed);
        }
        let prk = hkdf::Prk::new_less_safe(hash, secret);
        let mut key = vec![0u8; algorithm.key_len()];
        let mut iv = [0u8; IV_LEN];
        let mut hp = vec![0u8; hp_algorithm.key_len()];
        for (label, out) in [
            (labels.key_label, key.as_mut_slice()),
            (labels.iv_label, iv.as_mut_slice()),
            (labels.hp_label, hp.as_mut_slice()),
        ] {
            expand_label(&prk, label, out).map_err(|()| QuicError::KeyDerivationFailed)?;
        }
        let key =
            aead::UnboundKey::new(algorithm, &key).map_err(|_| QuicError::KeyDerivationFailed)?;
        let header_protection = HeaderProtectionKey::new(hp_algorithm, &hp)
            .map_err(|_| QuicError::KeyDerivationFailed)?;
        Ok(Self {
            aead: aead::LessSafeKey::new(key),
            iv,
            header_protection,
        })
    }
}

impl PacketProtection for HandshakeKeys {
    fn header_mask(&self, sample: &[u8]) -> Result<[u8; 5], QuicError> {
        self.header_protection.new_mask(sample).map_err(|_| {
            QuicError::TooShortForHeaderProtection {
                available: sample.len(),
            }
        })
    }

    fn open_in_place<'buf>(
        &self,
        packet_number: u64,
        header: &[u8],
        ciphertext_and_tag: &'buf mut [u8],
    ) -> Result<&'buf mut [u8], QuicError> {
        let mut nonce = self.iv;
        for (byte, pn) in nonce
            .iter_mut()
            .rev()
            .zip(packet_number.to_be_bytes().iter().rev())
        {
            *byte ^= pn;
        }
        self.aead
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(header),
                ciphertext_and_tag,
            )
            .map_err(|_| QuicError::DecryptionFailed)
    }
}

/// What the Handshake packets of some datagrams gave.
#[derive(Debug, Default)]
pub struct HandshakeCrypto {
    /// CRYPTO data, in packet order.
    pub chunks: Vec<CryptoChunk>,
    /// Handshake packets opened.
    pub packets: usize,
    /// Handshake packets that did not open (other keys, damage).
    pub unopened: usize,
}

/// Opens the Handshake packets coalesced in `datagram` with `keys` and
/// adds their CRYPTO data to `found`. Other packet types are passed over;
/// a short-header packet ends the datagram.
pub fn open_handshake_packets(datagram: &[u8], keys: &HandshakeKeys, found: &mut HandshakeCrypto) {
    let mut rest = datagram;
    while rest.first().is_some_and(|byte| byte & 0x80 != 0) {
        let Ok((packet, next)) = split_long_packet(rest) else {
            return;
        };
        rest = next;
        if packet.packet_type != LongPacketType::Handshake {
            continue;
        }
        let Ok(opened) = decrypt_packet(&packet, keys) else {
            found.unopened += 1;
            continue;
        };
        found.packets += 1;
        let Ok(frames) = parse_initial_frames(&opened.payload) else {
            continue;
        };
        for frame in frames {
            if let InitialFrame::Crypto { offset, data } = frame {
                found.chunks.push(CryptoChunk {
                    offset,
                    data: data.to_vec(),
                });
            }
        }
    }
}

/// Whether `datagram` holds a Handshake packet (a cheap walk of the
/// coalesced long headers, no keys).
pub fn has_handshake_packet(datagram: &[u8]) -> bool {
    let mut rest = datagram;
    while rest.first().is_some_and(|byte| byte & 0x80 != 0) {
        let Ok((packet, next)) = split_long_packet(rest) else {
            return false;
        };
        if packet.packet_type == LongPacketType::Handshake {
            return true;
        }
        rest = next;
    }
    false
}
