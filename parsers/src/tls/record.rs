//! One direction of a TLS byte stream -> records -> handshake messages.
//!
//! Handles what real streams do: a record split across TCP segments at any
//! byte, a handshake message split across records, several messages in one
//! record, a plaintext prefix before TLS starts (STARTTLS in SMTP, LDAP,
//! PostgreSQL...), and an SSLv2-compatible first hello. Memory is bounded:
//! at most one record plus one handshake message is buffered, each under a
//! limit, and exceeding a limit is an error that stops this direction.
//!
//! Once a direction turns encrypted (application data, or a handshake record
//! after ChangeCipherSpec) nothing more is buffered: record headers are still
//! followed so that encrypted alerts are noticed.

use super::content_type as ct;
use super::handshake_type as ht;
use super::sslv2;

/// Largest record fragment TLS allows (2^14 + 2048, RFC 5246 section 6.2.3).
pub const MAX_RECORD_FRAGMENT: usize = (1 << 14) + 2048;
const RECORD_HEADER_LEN: usize = 5;
const HANDSHAKE_HEADER_LEN: usize = 4;

/// Bounds for one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLimits {
    /// Largest handshake message accepted (certificate chains reach ~100 KiB).
    pub max_handshake_message: usize,
    /// How many bytes of non-TLS prefix to search for the first hello.
    pub max_plaintext_prefix: usize,
    /// Bytes of encrypted TLS 1.3 records kept per direction for a key log
    /// to open later ([`TlsEvent::SealedRecord`]); 0 keeps none.
    pub max_sealed_bytes: usize,
}

impl Default for RecordLimits {
    fn default() -> Self {
        Self {
            max_handshake_message: 256 * 1024,
            max_plaintext_prefix: 64 * 1024,
            max_sealed_bytes: 0,
        }
    }
}

/// What a direction produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsEvent {
    /// Plaintext bytes skipped before the first TLS record (STARTTLS and the like).
    PlaintextPrefix { bytes: usize },
    /// A complete plaintext handshake message.
    Handshake { message_type: u8, body: Vec<u8> },
    /// An SSLv2-format CLIENT-HELLO (body starts at the message type).
    Sslv2ClientHello { body: Vec<u8> },
    /// ChangeCipherSpec record.
    ChangeCipherSpec,
    /// A plaintext alert.
    Alert { level: u8, description: u8 },
    /// An alert record that is encrypted (its content is not visible).
    EncryptedAlert,
    /// Heartbeat record (RFC 6520) with its length.
    Heartbeat { length: usize },
    /// The first record of this direction that is not readable in clear.
    EncryptionStarted { content_type: u8 },
    /// An encrypted TLS 1.3 record, kept whole (see
    /// [`RecordLimits::max_sealed_bytes`]).
    SealedRecord { header: [u8; 5], body: Vec<u8> },
}

/// Why a direction stopped being parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// No TLS record start found within the plaintext prefix limit.
    #[error("no TLS handshake found in the first {searched} bytes")]
    NotTls { searched: usize },
    /// A record header that is not TLS: the stream lost sync or is not TLS.
    #[error(
        "invalid TLS record header (type {content_type}, version 0x{version:04x}, length {length})"
    )]
    InvalidRecordHeader {
        content_type: u8,
        version: u16,
        length: usize,
    },
    /// A handshake message larger than the limit.
    #[error("handshake message of {length} bytes exceeds the {limit}-byte limit")]
    HandshakeTooLarge { length: usize, limit: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for the first record (or SSLv2 hello).
    Searching,
    /// Reading plaintext records.
    Records,
    /// Following record headers only.
    Encrypted,
    /// Stopped after an error.
    Failed,
}

/// Reassembles one direction of a TLS connection.
#[derive(Debug, Clone)]
pub struct RecordStream {
    limits: RecordLimits,
    state: State,
    /// Unconsumed stream bytes (at most one record while reading records).
    buffer: Vec<u8>,
    /// Bytes of handshake messages not yet complete.
    handshake: Vec<u8>,
    /// Non-TLS bytes discarded while searching.
    searched: usize,
    /// In the encrypted state: bytes of the current record still to skip.
    skip: usize,
    change_cipher_spec_seen: bool,
    /// TLS 1.3 negotiated: ChangeCipherSpec is only the middlebox-compatibility
    /// record, and only application_data records are encrypted.
    tls13: bool,
    /// The client offered TLS 1.3 (this is its direction): see
    /// [`RecordStream::set_offered_tls13`].
    offered_tls13: bool,
    records: u64,
    /// Encrypted record bytes kept so far, and the record being kept.
    sealed_bytes: usize,
    sealing: Option<([u8; RECORD_HEADER_LEN], Vec<u8>)>,
}

impl Default for RecordStream {
    fn default() -> Self {
        Self::new(RecordLimits::default())
    }
}

impl RecordStream {
    /// A stream with the given bounds.
    pub fn new(limits: RecordLimits) -> Self {
        Self {
            limits,
            state: State::Searching,
            buffer: Vec::new(),
            handshake: Vec::new(),
            searched: 0,
            skip: 0,
            change_cipher_spec_seen: false,
            tls13: false,
            offered_tls13: false,
            records: 0,
            sealed_bytes: 0,
            sealing: None,
        }
    }

    /// Whether encrypted records are still being kept (within
    /// [`RecordLimits::max_sealed_bytes`]).
    pub fn keeps_sealed(&self) -> bool {
        self.state == State::Encrypted && self.may_keep(0)
    }

    /// Whether an application_data record of `length` more bytes may be
    /// kept. (Whether the connection is TLS 1.3 may not be known yet: the
    /// ServerHello and the first encrypted records often come in one push.)
    fn may_keep(&self, length: usize) -> bool {
        self.limits.max_sealed_bytes > 0
            && self.sealed_bytes + length <= self.limits.max_sealed_bytes
    }

    /// Marks the connection as TLS 1.3 (learned from the ServerHello or a
    /// HelloRetryRequest): a handshake record after ChangeCipherSpec is then
    /// still plaintext (the hello after a HelloRetryRequest, RFC 8446
    /// appendix D.4), since TLS 1.3 encrypts everything as application_data.
    pub fn set_tls13(&mut self) {
        self.tls13 = true;
    }

    /// Marks this direction as a client that offered TLS 1.3. After its
    /// ChangeCipherSpec (middlebox compatibility mode) a record holding one
    /// whole, well-formed plaintext ClientHello is then the hello after a
    /// HelloRetryRequest that this capture did not see (one direction only,
    /// asymmetric routing), not encrypted data: a TLS 1.2 Finished, the
    /// only encrypted handshake record a client sends there, cannot carry
    /// a message type, length and version that all fit.
    pub fn set_offered_tls13(&mut self) {
        self.offered_tls13 = true;
    }

    /// Whether this direction has turned encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.state == State::Encrypted
    }

    /// Whether this direction stopped after an error.
    pub fn has_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Records seen so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes buffered (incomplete record and handshake message).
    pub fn buffered_bytes(&self) -> usize {
        self.buffer.len() + self.handshake.len()
    }

    /// Feeds the next bytes of the stream; appends what they complete to
    /// `events`. After an error the stream ignores further input.
    pub fn push(
        &mut self,
        mut bytes: &[u8],
        events: &mut Vec<TlsEvent>,
    ) -> Result<(), RecordError> {
        match self.state {
            State::Failed => return Ok(()),
            State::Encrypted => {
                self.skip_encrypted(bytes, events);
                return Ok(());
            }
            State::Searching | State::Records => {}
        }
        let result = loop {
            self.buffer.extend_from_slice(bytes);
            bytes = &[];
            let step = match self.state {
                State::Searching => self.search(events),
                State::Records => self.read_records(events),
                State::Encrypted => {
                    let rest = std::mem::take(&mut self.buffer);
                    self.skip_encrypted(&rest, events);
                    break Ok(());
                }
                State::Failed => break Ok(()),
            };
            match step {
                Ok(true) => continue,
                Ok(false) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        if let Err(error) = &result {
            tracing::debug!(%error, "TLS direction stops");
            self.state = State::Failed;
            self.buffer = Vec::new();
            self.handshake = Vec::new();
        }
        result
    }

    /// Finds the first TLS record. Returns true when the state changed.
    fn search(&mut self, events: &mut Vec<TlsEvent>) -> Result<bool, RecordError> {
        if self.searched == 0 {
            if let Some((header_len, body_len)) = sslv2::sslv2_client_hello_header(&self.buffer) {
                if self.buffer.len() < header_len + body_len {
                    return Ok(false);
                }
                let body = self.buffer[header_len..header_len + body_len].to_vec();
                self.buffer.drain(..header_len + body_len);
                self.records += 1;
                events.push(TlsEvent::Sslv2ClientHello { body });
                self.state = State::Records;
                return Ok(true);
            }
            if self.buffer.len() >= RECORD_HEADER_LEN && is_plausible_record_header(&self.buffer) {
                self.state = State::Records;
                return Ok(true);
            }
        }
        let found =
            (0..self.buffer.len()).find(|&offset| is_hello_record_start(&self.buffer[offset..]));
        match found {
            Some(offset) => {
                self.buffer.drain(..offset);
                self.searched += offset;
                if self.searched > 0 {
                    events.push(TlsEvent::PlaintextPrefix {
                        bytes: self.searched,
                    });
                }
                self.state = State::Records;
                Ok(true)
            }
            None => {
                // Keep a tail that may hold the start of a header.
                let keep = self.buffer.len().min(HELLO_START_LEN - 1);
                let discard = self.buffer.len() - keep;
                self.buffer.drain(..discard);
                self.searched += discard;
                if self.searched > self.limits.max_plaintext_prefix {
                    return Err(RecordError::NotTls {
                        searched: self.searched,
                    });
                }
                Ok(false)
            }
        }
    }

    /// Reads every complete record in the buffer. Returns true when the
    /// state changed to encrypted.
    fn read_records(&mut self, events: &mut Vec<TlsEvent>) -> Result<bool, RecordError> {
        let mut consumed = 0;
        let mut state_changed = false;
        while let Some(header) = RecordHeader::read(&self.buffer[consumed..]) {
            header.validate()?;
            let end = consumed + RECORD_HEADER_LEN + header.length;
            if self.buffer.len() < end {
                break;
            }
            let start = consumed + RECORD_HEADER_LEN;
            consumed = end;
            self.records += 1;
            let fragment = &self.buffer[start..end];
            match header.content_type {
                ct::HANDSHAKE
                    if !self.change_cipher_spec_seen
                        || self.tls13
                        || (self.offered_tls13
                            && self.handshake.is_empty()
                            && is_whole_client_hello(fragment)) =>
                {
                    self.handshake.extend_from_slice(fragment);
                    drain_handshake_messages(
                        &mut self.handshake,
                        self.limits.max_handshake_message,
                        events,
                    )?;
                }
                ct::CHANGE_CIPHER_SPEC => {
                    self.change_cipher_spec_seen = true;
                    events.push(TlsEvent::ChangeCipherSpec);
                }
                ct::ALERT
                    if (!self.change_cipher_spec_seen || self.tls13) && fragment.len() == 2 =>
                {
                    events.push(TlsEvent::Alert {
                        level: fragment[0],
                        description: fragment[1],
                    });
                }
                ct::ALERT => events.push(TlsEvent::EncryptedAlert),
                ct::HEARTBEAT => events.push(TlsEvent::Heartbeat {
                    length: header.length,
                }),
                content_type => {
                    // Application data, or a handshake record after ChangeCipherSpec.
                    events.push(TlsEvent::EncryptionStarted { content_type });
                    if content_type == ct::APPLICATION_DATA && self.may_keep(fragment.len()) {
                        self.sealed_bytes += fragment.len();
                        let mut header_bytes = [0u8; RECORD_HEADER_LEN];
                        header_bytes
                            .copy_from_slice(&self.buffer[start - RECORD_HEADER_LEN..start]);
                        events.push(TlsEvent::SealedRecord {
                            header: header_bytes,
                            body: fragment.to_vec(),
                        });
                    }
                    self.state = State::Encrypted;
                    self.handshake = Vec::new();
                    state_changed = true;
                    break;
                }
            }
        }
        self.buffer.drain(..consumed);
        Ok(state_changed)
    }

    /// Follows record headers, keeping whole the TLS 1.3 records a key log
    /// may open (within the limit) and skipping the rest.
    fn skip_encrypted(&mut self, mut bytes: &[u8], events: &mut Vec<TlsEvent>) {
        loop {
            if self.skip > 0 {
                let step = self.skip.min(bytes.len());
                if let Some((_, body)) = &mut self.sealing {
                    body.extend_from_slice(&bytes[..step]);
                }
                self.skip -= step;
                bytes = &bytes[step..];
                if self.skip == 0
                    && let Some((header, body)) = self.sealing.take()
                {
                    events.push(TlsEvent::SealedRecord { header, body });
                }
            }
            if bytes.is_empty() {
                return;
            }
            // Collect a header (it may be split across pushes).
            let need = RECORD_HEADER_LEN - self.buffer.len();
            let step = need.min(bytes.len());
            self.buffer.extend_from_slice(&bytes[..step]);
            bytes = &bytes[step..];
            let Some(header) = RecordHeader::read(&self.buffer) else {
                return;
            };
            let mut header_bytes = [0u8; RECORD_HEADER_LEN];
            header_bytes.copy_from_slice(&self.buffer[..RECORD_HEADER_LEN]);
            self.buffer.clear();
            if header.validate().is_err() {
                // Lost framing inside encrypted data: nothing more to learn here.
                self.state = State::Failed;
                return;
            }
            self.records += 1;
            if header.content_type == ct::ALERT {
                events.push(TlsEvent::EncryptedAlert);
            }
            if header.content_type == ct::APPLICATION_DATA && self.may_keep(header.length) {
                self.sealed_bytes += header.length;
                if header.length == 0 {
                    events.push(TlsEvent::SealedRecord {
                        header: header_bytes,
                        body: Vec::new(),
                    });
                } else {
                    self.sealing = Some((header_bytes, Vec::with_capacity(header.length)));
                }
            }
            self.skip = header.length;
        }
    }
}

/// Splits complete handshake messages off the front of `pending`.
pub(crate) fn drain_handshake_messages(
    pending: &mut Vec<u8>,
    limit: usize,
    events: &mut Vec<TlsEvent>,
) -> Result<(), RecordError> {
    let mut offset = 0;
    while pending.len() - offset >= HANDSHAKE_HEADER_LEN {
        let header = &pending[offset..offset + HANDSHAKE_HEADER_LEN];
        let message_type = header[0];
        let length =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        if length > limit {
            return Err(RecordError::HandshakeTooLarge { length, limit });
        }
        let end = offset + HANDSHAKE_HEADER_LEN + length;
        if pending.len() < end {
            break;
        }
        let body = pending[offset + HANDSHAKE_HEADER_LEN..end].to_vec();
        events.push(TlsEvent::Handshake { message_type, body });
        offset = end;
    }
    pending.drain(..offset);
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct RecordHeader {
    content_type: u8,
    version: u16,
    length: usize,
}

impl RecordHeader {
    fn read(bytes: &[u8]) -> Option<Self> {
        let header = bytes.get(..RECORD_HEADER_LEN)?;
        Some(Self {
            content_type: header[0],
            version: u16::from_be_bytes([header[1], header[2]]),
            length: usize::from(u16::from_be_bytes([header[3], header[4]])),
        })
    }

    fn validate(&self) -> Result<(), RecordError> {
        let known_type = (ct::CHANGE_CIPHER_SPEC..=ct::HEARTBEAT).contains(&self.content_type);
        // SSLv3 and TLS 1.0-1.3 record versions (0x0300-0x0304).
        let known_version = (0x0300..=0x0304).contains(&self.version);
        if known_type && known_version && self.length <= MAX_RECORD_FRAGMENT {
            Ok(())
        } else {
            Err(RecordError::InvalidRecordHeader {
                content_type: self.content_type,
                version: self.version,
                length: self.length,
            })
        }
    }
}

fn is_plausible_record_header(bytes: &[u8]) -> bool {
    RecordHeader::read(bytes).is_some_and(|header| header.validate().is_ok() && header.length > 0)
}

/// Bytes needed to recognise a hello record start.
const HELLO_START_LEN: usize = RECORD_HEADER_LEN + HANDSHAKE_HEADER_LEN;

/// A handshake record that starts with a ClientHello or ServerHello whose
/// length fits the record: how TLS starts after a plaintext prefix.
fn is_hello_record_start(bytes: &[u8]) -> bool {
    let Some(prefix) = bytes.get(..HELLO_START_LEN) else {
        return false;
    };
    let Some(header) = RecordHeader::read(prefix) else {
        return false;
    };
    let hello_length =
        usize::from(prefix[6]) << 16 | usize::from(prefix[7]) << 8 | usize::from(prefix[8]);
    header.content_type == ct::HANDSHAKE
        && header.validate().is_ok()
        && header.length >= HANDSHAKE_HEADER_LEN
        && matches!(prefix[5], ht::CLIENT_HELLO | ht::SERVER_HELLO)
        && (38..=64 * 1024).contains(&hello_length)
}

/// Whether `fragment` is exactly one ClientHello message with TLS 1.2's
/// legacy_version (RFC 8446 section 4.1.2: every TLS 1.3 ClientHello
/// carries 0x0303 there).
fn is_whole_client_hello(fragment: &[u8]) -> bool {
    let [message_type, a, b, c, major, minor, ..] = *fragment else {
        return false;
    };
    let length = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
    message_type == ht::CLIENT_HELLO && length + 4 == fragment.len() && (major, minor) == (3, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content_type: u8, fragment: &[u8]) -> Vec<u8> {
        let mut bytes = vec![content_type, 3, 3];
        bytes.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        bytes.extend_from_slice(fragment);
        bytes
    }

    fn message(message_type: u8, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![message_type];
        bytes.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        bytes.extend_from_slice(body);
        bytes
    }

    fn feed_in_chunks(stream_bytes: &[u8], chunk: usize) -> Vec<TlsEvent> {
        let mut stream = RecordStream::default();
        let mut events = Vec::new();
        for piece in stream_bytes.chunks(chunk) {
            stream.push(piece, &mut events).expect("valid stream");
        }
        events
    }

    #[test]
    fn a_second_client_hello_after_change_cipher_spec_is_read_when_the_client_offered_tls13() {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0x11; 60]);
        let hello = message(ht::CLIENT_HELLO, &body);
        let mut wire = record(ct::HANDSHAKE, &hello);
        wire.extend(record(ct::CHANGE_CIPHER_SPEC, &[1]));
        wire.extend(record(ct::HANDSHAKE, &hello));
        let hello_event = TlsEvent::Handshake {
            message_type: ht::CLIENT_HELLO,
            body: body.clone(),
        };
        let mut stream = RecordStream::default();
        stream.set_offered_tls13();
        let mut events = Vec::new();
        stream.push(&wire, &mut events).expect("valid stream");
        assert_eq!(
            events,
            vec![
                hello_event.clone(),
                TlsEvent::ChangeCipherSpec,
                hello_event.clone()
            ]
        );
        // An encrypted record after it is still noticed.
        let mut events = Vec::new();
        stream
            .push(&record(ct::HANDSHAKE, &[0xEE; 40]), &mut events)
            .expect("valid stream");
        assert_eq!(
            events,
            vec![TlsEvent::EncryptionStarted {
                content_type: ct::HANDSHAKE
            }]
        );
        // A client that did not offer TLS 1.3 has encrypted data there, even
        // data that starts like a ClientHello but does not fit one.
        let mut events = Vec::new();
        RecordStream::default()
            .push(&wire, &mut events)
            .expect("valid stream");
        assert_eq!(
            events.last(),
            Some(&TlsEvent::EncryptionStarted {
                content_type: ct::HANDSHAKE
            })
        );
        let mut truncated = hello.clone();
        truncated.pop();
        let mut stream = RecordStream::default();
        stream.set_offered_tls13();
        let mut events = Vec::new();
        let mut odd = record(ct::HANDSHAKE, &hello);
        odd.extend(record(ct::CHANGE_CIPHER_SPEC, &[1]));
        odd.extend(record(ct::HANDSHAKE, &truncated));
        stream.push(&odd, &mut events).expect("valid stream");
        assert!(matches!(
            events.last(),
            Some(TlsEvent::EncryptionStarted { .. })
        ));
    }

    #[test]
    fn message_split_across_records_and_segments_at_every_byte() {
        let hello = message(ht::CLIENT_HELLO, &[7u8; 100]);
        let certificate = message(ht::CERTIFICATE, &[9u8; 40]);
        // Hello split across two records; second record also carries the certificate.
        let mut wire = record(ct::HANDSHAKE, &hello[..30]);
        let mut second = hello[30..].to_vec();
        second.extend_from_slice(&certificate);
        wire.extend(record(ct::HANDSHAKE, &second));
        wire.extend(record(ct::CHANGE_CIPHER_SPEC, &[1]));
        wire.extend(record(ct::HANDSHAKE, &[0xEE; 40]));
        let expected = vec![
            TlsEvent::Handshake {
                message_type: ht::CLIENT_HELLO,
                body: vec![7u8; 100],
            },
            TlsEvent::Handshake {
                message_type: ht::CERTIFICATE,
                body: vec![9u8; 40],
            },
            TlsEvent::ChangeCipherSpec,
            TlsEvent::EncryptionStarted {
                content_type: ct::HANDSHAKE,
            },
        ];
        for chunk in 1..=wire.len() {
            assert_eq!(feed_in_chunks(&wire, chunk), expected, "chunk size {chunk}");
        }
    }

    #[test]
    fn finds_tls_after_plaintext_prefix() {
        let mut wire = b"STARTTLS\r\n220 ready\r\n".to_vec();
        let prefix = wire.len();
        wire.extend(record(
            ct::HANDSHAKE,
            &message(ht::CLIENT_HELLO, &[1u8; 60]),
        ));
        let events = feed_in_chunks(&wire, 3);
        assert_eq!(events[0], TlsEvent::PlaintextPrefix { bytes: prefix });
        assert!(matches!(
            events[1],
            TlsEvent::Handshake {
                message_type: ht::CLIENT_HELLO,
                ..
            }
        ));
    }

    #[test]
    fn bounds_are_errors() {
        let mut stream = RecordStream::new(RecordLimits {
            max_handshake_message: 64,
            max_plaintext_prefix: 32,
            ..RecordLimits::default()
        });
        let mut events = Vec::new();
        let big = record(ct::HANDSHAKE, &message(ht::CERTIFICATE, &[0u8; 65]));
        assert_eq!(
            stream.push(&big, &mut events),
            Err(RecordError::HandshakeTooLarge {
                length: 65,
                limit: 64
            })
        );
        let mut plain = RecordStream::new(RecordLimits {
            max_handshake_message: 64,
            max_plaintext_prefix: 32,
            ..RecordLimits::default()
        });
        assert!(matches!(
            plain.push(&[b'x'; 100], &mut events),
            Err(RecordError::NotTls { .. })
        ));
        // A corrupt header mid-stream stops the direction.
        let mut wire = record(ct::HANDSHAKE, &message(ht::CLIENT_HELLO, &[1u8; 60]));
        wire.extend_from_slice(&[0x99, 3, 3, 0, 1, 0]);
        let mut corrupt = RecordStream::default();
        assert!(matches!(
            corrupt.push(&wire, &mut events),
            Err(RecordError::InvalidRecordHeader {
                content_type: 0x99,
                ..
            })
        ));
        assert!(corrupt.has_failed());
    }

    #[test]
    fn encrypted_alerts_are_noticed_without_buffering() {
        let mut wire = record(ct::APPLICATION_DATA, &[0u8; 300]);
        wire.extend(record(ct::ALERT, &[0u8; 26]));
        let events = feed_in_chunks(&wire, 7);
        assert_eq!(
            events,
            vec![
                TlsEvent::EncryptionStarted {
                    content_type: ct::APPLICATION_DATA
                },
                TlsEvent::EncryptedAlert
            ]
        );
    }
}
