//! TLS secrets in the NSS key log format (`SSLKEYLOGFILE`).
//!
//! Why: with the secrets a client or server wrote (curl, browsers, Go,
//! rustls and OpenSSL applications write them when asked; pcapng files can
//! carry them in Decryption Secrets Blocks), the encrypted part of a TLS 1.3
//! handshake can be read: the certificates, EncryptedExtensions, a
//! certificate request. Each line is `LABEL <client random> <secret>` in
//! hex; the client random ties the secrets to a connection's ClientHello.
//! Lines come from files the sensor did not write, so each is checked
//! (lengths, hex) and counted, and the store is bounded.

use std::collections::{HashMap, VecDeque};

/// Connections whose secrets are kept at most; the oldest go first.
pub const DEFAULT_MAX_CONNECTIONS: usize = 65_536;
/// The longest secret accepted (SHA-384 gives 48 bytes; TLS 1.2 master
/// secrets are 48).
const MAX_SECRET_LEN: usize = 64;
/// The longest line looked at.
const MAX_LINE_LEN: usize = 512;

/// The secrets of one connection that this crate uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionSecrets {
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`: the client's encrypted handshake
    /// (its certificate, for mutual TLS).
    pub client_handshake: Option<Vec<u8>>,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`: the server's encrypted handshake.
    pub server_handshake: Option<Vec<u8>>,
}

/// How a line was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome {
    /// A secret this crate uses, kept.
    Kept,
    /// A comment, an empty line, or a label this crate has no use for
    /// (TLS 1.2 `CLIENT_RANDOM`, traffic and exporter secrets).
    Ignored,
    /// Not a key log line (wrong field count, bad hex, wrong lengths).
    Malformed,
}

/// Counts of lines taken, for stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLogCounts {
    pub kept: u64,
    pub ignored: u64,
    pub malformed: u64,
    /// Connections forgotten to stay within the bound.
    pub evicted: u64,
}

/// Secrets by client random, bounded.
#[derive(Debug, Clone)]
pub struct KeyLog {
    by_random: HashMap<[u8; 32], ConnectionSecrets>,
    order: VecDeque<[u8; 32]>,
    max_connections: usize,
    counts: KeyLogCounts,
}

impl Default for KeyLog {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_CONNECTIONS)
    }
}

impl KeyLog {
    /// An empty store keeping at most `max_connections` connections.
    pub fn new(max_connections: usize) -> Self {
        Self {
            by_random: HashMap::new(),
            order: VecDeque::new(),
            max_connections: max_connections.max(1),
            counts: KeyLogCounts::default(),
        }
    }

    /// Takes every line of `text` (a whole file, or what was appended).
    pub fn add_text(&mut self, text: &[u8]) {
        for line in text.split(|byte| *byte == b'\n') {
            if !line.is_empty() {
                self.add_line(line);
            }
        }
    }

    /// Takes one line (without its newline).
    pub fn add_line(&mut self, line: &[u8]) -> LineOutcome {
        let outcome = match parse_line(line) {
            Ok(Some((label, random, secret))) => {
                self.keep(label, random, secret);
                LineOutcome::Kept
            }
            Ok(None) => LineOutcome::Ignored,
            Err(()) => LineOutcome::Malformed,
        };
        match outcome {
            LineOutcome::Kept => self.counts.kept += 1,
            LineOutcome::Ignored => self.counts.ignored += 1,
            LineOutcome::Malformed => self.counts.malformed += 1,
        }
        outcome
    }

    /// The secrets of the connection whose ClientHello had `client_random`.
    pub fn get(&self, client_random: &[u8]) -> Option<&ConnectionSecrets> {
        let random: [u8; 32] = client_random.try_into().ok()?;
        self.by_random.get(&random)
    }

    /// Connections with secrets.
    pub fn len(&self) -> usize {
        self.by_random.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_random.is_empty()
    }

    /// Lines taken so far.
    pub fn counts(&self) -> KeyLogCounts {
        self.counts
    }

    fn keep(&mut self, label: Label, random: [u8; 32], secret: Vec<u8>) {
        if !self.by_random.contains_key(&random) {
            if self.by_random.len() >= self.max_connections
                && let Some(oldest) = self.order.pop_front()
            {
                self.by_random.remove(&oldest);
                self.counts.evicted += 1;
            }
            self.order.push_back(random);
        }
        let entry = self.by_random.entry(random).or_default();
        match label {
            Label::ClientHandshake => entry.client_handshake = Some(secret),
            Label::ServerHandshake => entry.server_handshake = Some(secret),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    ClientHandshake,
    ServerHandshake,
}

/// A kept line: which secret, the client random, the secret.
type KeptLine = (Label, [u8; 32], Vec<u8>);

/// `Ok(None)` for lines without a secret this crate uses.
fn parse_line(line: &[u8]) -> Result<Option<KeptLine>, ()> {
    if line.len() > MAX_LINE_LEN {
        return Err(());
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) || line.first() == Some(&b'#') {
        return Ok(None);
    }
    let mut fields = line
        .split(|byte| *byte == b' ')
        .filter(|field| !field.is_empty());
    let (Some(label), Some(random), Some(secret), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(());
    };
    let random = hex::decode(random).map_err(|_| ())?;
    let secret = hex::decode(secret).map_err(|_| ())?;
    let random: [u8; 32] = random.try_into().map_err(|_| ())?;
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        return Err(());
    }
    let label = match label {
        b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
        b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
        b"CLIENT_RANDOM"
        | b"CLIENT_EARLY_TRAFFIC_SECRET"
        | b"CLIENT_TRAFFIC_SECRET_0"
        | b"SERVER_TRAFFIC_SECRET_0"
        | b"EARLY_EXPORTER_SECRET"
        | b"EXPORTER_SECRET" => return Ok(None),
        _ => return Err(()),
    };
    Ok(Some((label, random, secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "a8b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

    #[test]
    fn handshake_secrets_are_kept_by_client_random() {
        let mut log = KeyLog::default();
        let text = format!(
            "# comment\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {RANDOM} {}\r\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {RANDOM} {}\n\
             CLIENT_TRAFFIC_SECRET_0 {RANDOM} {}\n\
             \n",
            "11".repeat(48),
            "22".repeat(32),
            "33".repeat(32)
        );
        log.add_text(text.as_bytes());
        let random = hex::decode(RANDOM).unwrap();
        let secrets = log.get(&random).expect("secrets");
        assert_eq!(secrets.server_handshake, Some(vec![0x11; 48]));
        assert_eq!(secrets.client_handshake, Some(vec![0x22; 32]));
        assert_eq!(
            log.counts(),
            KeyLogCounts {
                kept: 2,
                ignored: 2,
                malformed: 0,
                evicted: 0
            }
        );
    }

    #[test]
    fn malformed_lines_are_counted_and_the_store_is_bounded() {
        let mut log = KeyLog::new(2);
        for line in [
            "SERVER_HANDSHAKE_TRAFFIC_SECRET abcd 1122".to_owned(),
            format!("SERVER_HANDSHAKE_TRAFFIC_SECRET {RANDOM} zz"),
            format!("SERVER_HANDSHAKE_TRAFFIC_SECRET {RANDOM}"),
            format!("UNKNOWN_LABEL {RANDOM} 1122"),
            format!(
                "SERVER_HANDSHAKE_TRAFFIC_SECRET {RANDOM} {}",
                "11".repeat(65)
            ),
            "x".repeat(600),
        ] {
            assert_eq!(
                log.add_line(line.as_bytes()),
                LineOutcome::Malformed,
                "{line}"
            );
        }
        for first in 0..3u8 {
            let random = hex::encode([first; 32]);
            log.add_line(format!("SERVER_HANDSHAKE_TRAFFIC_SECRET {random} 11").as_bytes());
        }
        assert_eq!(log.len(), 2);
        assert!(log.get(&[0; 32]).is_none());
        assert!(log.get(&[2; 32]).is_some());
        assert_eq!(log.counts().evicted, 1);
    }
}
