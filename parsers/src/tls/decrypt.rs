//! TLS 1.3 records opened with a handshake traffic secret (RFC 8446
//! section 5.2 and 7.3).
//!
//! Why: everything a TLS 1.3 server says after its ServerHello (the
//! certificates, EncryptedExtensions, a certificate request) is encrypted
//! with keys derived from the handshake traffic secrets. With those secrets
//! from a key log ([`super::keylog`]), each record is opened here: key and
//! IV from the secret, a per-record nonce from the sequence number, the
//! record header as additional data; the inner content type is the last
//! non-zero byte of the plaintext.

use ring::{aead, hkdf};

/// Why a record could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// A cipher suite without an AEAD here (TLS_AES_128_CCM_*), or not TLS 1.3's.
    #[error("cipher suite 0x{0:04x} is not decrypted")]
    UnsupportedCipherSuite(u16),
    /// A secret whose length is not the suite's hash length.
    #[error("secret of {0} bytes does not fit the cipher suite")]
    BadSecretLength(usize),
    /// The tag did not verify: other keys (0-RTT data, a wrong secret) or a
    /// damaged record.
    #[error("record did not authenticate")]
    Authentication,
    /// A record whose plaintext is only padding.
    #[error("record without a content type")]
    NoContentType,
}

/// The AEAD and hash of a TLS 1.3 cipher suite.
fn suite(
    cipher_suite: u16,
) -> Result<(&'static aead::Algorithm, hkdf::Algorithm, usize), DecryptError> {
    match cipher_suite {
        0x1301 => Ok((&aead::AES_128_GCM, hkdf::HKDF_SHA256, 32)),
        0x1302 => Ok((&aead::AES_256_GCM, hkdf::HKDF_SHA384, 48)),
        0x1303 => Ok((&aead::CHACHA20_POLY1305, hkdf::HKDF_SHA256, 32)),
        other => Err(DecryptError::UnsupportedCipherSuite(other)),
    }
}

/// HKDF-Expand-Label with an empty context (RFC 8446 section 7.1).
pub(crate) fn expand_label(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) -> Result<(), ()> {
    const PREFIX: &[u8] = b"tls13 ";
    let length = u16::try_from(out.len()).map_err(|_| ())?.to_be_bytes();
    let label_len = [u8::try_from(PREFIX.len() + label.len()).map_err(|_| ())?];
    let info: [&[u8]; 5] = [&length, &label_len, PREFIX, label, &[0]];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| ())
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// Opens the records one direction protects with one traffic secret.
pub struct RecordOpener {
    key: aead::LessSafeKey,
    iv: [u8; aead::NONCE_LEN],
    /// Records opened so far: the next record's sequence number.
    sequence: u64,
}

impl std::fmt::Debug for RecordOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordOpener")
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

impl RecordOpener {
    /// Keys of `cipher_suite` from a traffic `secret`.
    pub fn new(cipher_suite: u16, secret: &[u8]) -> Result<Self, DecryptError> {
        let (algorithm, hash, secret_len) = suite(cipher_suite)?;
        if secret.len() != secret_len {
            return Err(DecryptError::BadSecretLength(secret.len()));
        }
        let prk = hkdf::Prk::new_less_safe(hash, secret);
        let mut key = vec![0u8; algorithm.key_len()];
        let mut iv = [0u8; aead::NONCE_LEN];
        expand_label(&prk, b"key", &mut key)
            .map_err(|()| DecryptError::BadSecretLength(secret.len()))?;
        expand_label(&prk, b"iv", &mut iv)
            .map_err(|()| DecryptError::BadSecretLength(secret.len()))?;
        let key = aead::UnboundKey::new(algorithm, &key)
            .map_err(|_| DecryptError::BadSecretLength(secret.len()))?;
        Ok(Self {
            key: aead::LessSafeKey::new(key),
            iv,
            sequence: 0,
        })
    }

    /// Opens the record with `header` (its 5 bytes) and `body`; returns the
    /// inner content type and the content. A record that does not
    /// authenticate leaves the sequence number where it was (it was
    /// protected with other keys, e.g. 0-RTT data before the handshake's).
    pub fn open(&mut self, header: [u8; 5], body: &[u8]) -> Result<(u8, Vec<u8>), DecryptError> {
        let mut nonce = self.iv;
        for (slot, byte) in nonce[4..].iter_mut().zip(self.sequence.to_be_bytes()) {
            *slot ^= byte;
        }
        let mut buffer = body.to_vec();
        let plaintext = self
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(header),
                &mut buffer,
            )
            .map_err(|_| DecryptError::Authentication)?;
        self.sequence += 1;
        let end = plaintext
            .iter()
            .rposition(|byte| *byte != 0)
            .ok_or(DecryptError::NoContentType)?;
        let content_type = plaintext[end];
        let mut content = plaintext.to_vec();
        content.truncate(end);
        Ok((content_type, content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_sealed_with_the_derived_keys_opens_once_in_sequence() {
        let secret = [7u8; 32];
        // Seal two records the way RFC 8446 section 5.2 describes, with
        // ring directly.
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        expand_label(&prk, b"key", &mut key).unwrap();
        expand_label(&prk, b"iv", &mut iv).unwrap();
        let sealing =
            aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &key).unwrap());
        let seal = |sequence: u8, inner: &[u8]| {
            let mut nonce = iv;
            nonce[11] ^= sequence;
            let length = (inner.len() + 16) as u16;
            let header = [23, 3, 3, (length >> 8) as u8, length as u8];
            let mut buffer = inner.to_vec();
            sealing
                .seal_in_place_append_tag(
                    aead::Nonce::assume_unique_for_key(nonce),
                    aead::Aad::from(header),
                    &mut buffer,
                )
                .unwrap();
            (header, buffer)
        };
        let mut opener = RecordOpener::new(0x1301, &secret).expect("keys");
        let (header, body) = seal(0, &[8, 0, 0, 0, 22, 0, 0]);
        assert_eq!(opener.open(header, &body), Ok((22, vec![8, 0, 0, 0])));
        // The same record again: the sequence moved on, it no longer opens.
        assert_eq!(
            opener.open(header, &body),
            Err(DecryptError::Authentication)
        );
        let (header, body) = seal(1, &[20, 0, 0, 1, 9, 22]);
        assert_eq!(opener.open(header, &body), Ok((22, vec![20, 0, 0, 1, 9])));
        assert!(RecordOpener::new(0x1304, &secret).is_err());
        assert!(RecordOpener::new(0x1302, &secret).is_err());
    }
}
