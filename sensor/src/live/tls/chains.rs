//! Certificate chains caught from TLS libraries, per socket, until the
//! session of that socket is handed over.
//!
//! A chain is the certificates a library decoded from the peer during one
//! handshake, in the order decoded (the order sent). Decodes the caller
//! check did not keep (CA bundles, the process's own certificate) never
//! get here. A chain is complete when the handshake call returned
//! success; one that is never claimed by a session expires.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cipherlens_record::session::CallBinding;

/// Sockets with a chain waiting at once; beyond, the oldest goes.
const MAX_CHAINS: usize = 8192;
/// Certificates in one chain at most (a real chain has 2 to 5).
const MAX_CHAIN_LENGTH: usize = 16;
/// A chain not claimed by then is dropped (counted).
const CHAIN_TTL: Duration = Duration::from_secs(30);

/// What a chain is kept under: the socket its handshake was bound to, or,
/// when no syscall bound it (the application drove the handshake from a
/// call the metadata probes do not hook), the thread that decoded it; the
/// session whose local socket that thread owns claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainKey {
    Socket(u64),
    /// `pid_tgid` of the decoding thread.
    Thread(u64),
}

/// Where a chain came from: the process and its library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainOrigin {
    pub pid: u32,
    pub comm: String,
    pub library: &'static str,
    pub version: Option<String>,
    pub path: String,
    pub binding: CallBinding,
}

/// A chain caught on one socket.
#[derive(Debug, Clone)]
pub struct CaughtChain {
    pub certificates: Vec<Vec<u8>>,
    pub origin: ChainOrigin,
    /// The handshake call returned success after the last certificate.
    pub complete: bool,
    pub updated: Instant,
}

/// Counters of the chains.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChainStats {
    pub certificates_kept: u64,
    pub duplicates: u64,
    pub chain_too_long: u64,
    pub evicted: u64,
    pub expired: u64,
}

/// Chains by socket cookie.
#[derive(Debug, Default)]
pub struct Chains {
    by_key: HashMap<ChainKey, CaughtChain>,
    pub stats: ChainStats,
}

impl Chains {
    /// Adds a certificate decoded on `socket`. A socket whose previous
    /// chain completed starts a new one (a second handshake).
    pub fn add(&mut self, socket: ChainKey, der: &[u8], origin: ChainOrigin, now: Instant) {
        if !self.by_key.contains_key(&socket) && self.by_key.len() >= MAX_CHAINS {
            self.evict_oldest();
        }
        let chain = self.by_key.entry(socket).or_insert_with(|| CaughtChain {
            certificates: Vec::new(),
            origin: origin.clone(),
            complete: false,
            updated: now,
        });
        if chain.complete {
            chain.certificates.clear();
            chain.complete = false;
            chain.origin = origin;
        }
        chain.updated = now;
        if chain.certificates.iter().any(|known| known == der) {
            self.stats.duplicates += 1;
            return;
        }
        if chain.certificates.len() >= MAX_CHAIN_LENGTH {
            self.stats.chain_too_long += 1;
            return;
        }
        chain.certificates.push(der.to_vec());
        self.stats.certificates_kept += 1;
    }

    /// The handshake on `socket` returned success: its chain is whole.
    /// Returns whether the socket has a chain.
    pub fn complete(&mut self, socket: ChainKey, now: Instant) -> bool {
        match self.by_key.get_mut(&socket) {
            Some(chain) => {
                chain.complete = true;
                chain.updated = now;
                true
            }
            None => false,
        }
    }

    pub fn get(&self, socket: ChainKey) -> Option<&CaughtChain> {
        self.by_key.get(&socket)
    }

    /// Takes the chain of a socket for its session record.
    pub fn take(&mut self, socket: ChainKey) -> Option<CaughtChain> {
        self.by_key.remove(&socket)
    }

    /// Drops chains no session claimed in time.
    pub fn expire(&mut self, now: Instant) {
        let before = self.by_key.len();
        self.by_key
            .retain(|_, chain| now.duration_since(chain.updated) < CHAIN_TTL);
        self.stats.expired += (before - self.by_key.len()) as u64;
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    fn evict_oldest(&mut self) {
        if let Some(oldest) = self
            .by_key
            .iter()
            .min_by_key(|(_, chain)| chain.updated)
            .map(|(socket, _)| *socket)
        {
            self.by_key.remove(&oldest);
            self.stats.evicted += 1;
        }
    }
}

/// Whether `der` has the outer shape of an X.509 certificate: a SEQUENCE
/// spanning all of it whose first element (tbsCertificate) is a SEQUENCE
/// starting with the version (`[0]`) or the serial number (INTEGER, v1).
/// BoringSSL makes `CRYPTO_BUFFER`s of OCSP responses and SCT lists too;
/// they fail this.
pub fn looks_like_certificate(der: &[u8]) -> bool {
    let Some((0x30, body)) = der_element(der)
        .filter(|(_, _, rest)| rest.is_empty())
        .map(|(tag, body, _)| (tag, body))
    else {
        return false;
    };
    let Some((0x30, tbs, _)) = der_element(body) else {
        return false;
    };
    matches!(tbs.first(), Some(0xA0 | 0x02))
}

/// One DER element: (tag, contents, what follows).
fn der_element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7F) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |length, byte| (length << 8) | *byte as usize);
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> ChainOrigin {
        ChainOrigin {
            pid: 1,
            comm: "curl".into(),
            library: "openssl-3",
            version: None,
            path: "/usr/lib/libssl.so.3".into(),
            binding: CallBinding::Call,
        }
    }

    #[test]
    fn certificates_are_told_from_other_der() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/certs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&fixtures).expect("fixtures/certs") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "der") {
                let der = std::fs::read(&path).expect("fixture");
                assert!(looks_like_certificate(&der), "{}", path.display());
                assert!(!looks_like_certificate(&der[..der.len() - 1]));
                seen += 1;
            }
        }
        assert!(seen > 0, "no DER fixtures under {}", fixtures.display());
        // An OCSP response: SEQUENCE { ENUMERATED successful, [0] ... }.
        assert!(!looks_like_certificate(&[
            0x30, 0x05, 0x0A, 0x01, 0x00, 0xA0, 0x00
        ]));
        assert!(!looks_like_certificate(&[]));
        assert!(!looks_like_certificate(&[
            0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF
        ]));
    }

    #[test]
    fn a_chain_keeps_order_drops_repeats_and_restarts_after_completion() {
        let mut chains = Chains::default();
        let now = Instant::now();
        let key = ChainKey::Socket(7);
        chains.add(key, b"leaf", origin(), now);
        chains.add(key, b"intermediate", origin(), now);
        chains.add(key, b"leaf", origin(), now);
        assert_eq!(chains.stats.duplicates, 1);
        assert!(chains.complete(key, now));
        assert_eq!(
            chains.get(key).expect("chain").certificates,
            vec![b"leaf".to_vec(), b"intermediate".to_vec()]
        );
        chains.add(key, b"renegotiated", origin(), now);
        assert_eq!(chains.get(key).expect("chain").certificates.len(), 1);
        assert!(!chains.complete(ChainKey::Thread(7), now));
        chains.expire(now + CHAIN_TTL);
        assert_eq!((chains.len(), chains.stats.expired), (0, 1));
    }
}
