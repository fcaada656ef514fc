//! Both directions of one TLS connection, summarised.
//!
//! The transport layer knows which peer opened the connection (TCP SYN) but
//! not always (captures that start mid-connection), so the tracker learns
//! roles from the messages: the peer that sends a ClientHello is the client.

use super::HandshakeError;
use super::certificate::parse_certificate_chain;
use super::client_hello::ClientHello;
use super::encrypted::{
    EncryptedExtensions, SealedRecord, open_handshake, parse_tls13_certificate,
};
use super::handshake_type as ht;
use super::keylog::ConnectionSecrets;
use super::record::{RecordError, RecordLimits, RecordStream, TlsEvent, drain_handshake_messages};
use super::server_hello::{KeyExchangeFamily, ServerHello, ServerKeyExchange};
use super::sslv2::parse_sslv2_client_hello;

/// A side of the transport connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// The peer that opened the connection (sent the SYN / first datagram).
    Initiator,
    /// The other peer.
    Responder,
}

impl Peer {
    fn index(self) -> usize {
        match self {
            Peer::Initiator => 0,
            Peer::Responder => 1,
        }
    }

    /// The other side.
    pub fn other(self) -> Peer {
        match self {
            Peer::Initiator => Peer::Responder,
            Peer::Responder => Peer::Initiator,
        }
    }
}

/// An alert and who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertSeen {
    pub from: Peer,
    /// Level and description, when the alert was in clear.
    pub level: Option<u8>,
    pub description: Option<u8>,
}

/// What was learned about a connection's handshake.
#[derive(Debug, Clone, Default)]
pub struct HandshakeSummary {
    /// Which transport peer is the TLS client, once known.
    pub client: Option<Peer>,
    /// The first ClientHello.
    pub client_hello: Option<ClientHello>,
    /// A second ClientHello (after a HelloRetryRequest, or a duplicate).
    pub retry_client_hello: Option<ClientHello>,
    /// ClientHellos seen.
    pub client_hello_count: u32,
    /// The ServerHello (not a HelloRetryRequest).
    pub server_hello: Option<ServerHello>,
    /// The HelloRetryRequest, if the server sent one.
    pub hello_retry_request: Option<ServerHello>,
    /// Server certificate chain in the order sent (TLS 1.0-1.2 only: encrypted in 1.3).
    pub server_certificates: Vec<Vec<u8>>,
    /// Client certificate chain (mutual TLS, TLS 1.0-1.2).
    pub client_certificates: Vec<Vec<u8>>,
    /// Parameters from the ServerKeyExchange.
    pub server_key_exchange: Option<ServerKeyExchange>,
    /// The server asked for a client certificate (TLS 1.0-1.2).
    pub certificate_requested: bool,
    /// The server issued a session ticket in clear (TLS 1.2 NewSessionTicket).
    pub session_ticket_issued: bool,
    /// Alerts in the order seen.
    pub alerts: Vec<AlertSeen>,
    /// Heartbeat records seen.
    pub heartbeats: u32,
    /// ChangeCipherSpec seen, per peer (initiator, responder).
    pub change_cipher_spec: [bool; 2],
    /// Direction turned encrypted, per peer.
    pub encrypted: [bool; 2],
    /// Plaintext bytes before TLS started, per peer (STARTTLS).
    pub plaintext_prefix: [usize; 2],
    /// Parse problems, in order, with the peer that sent the bytes.
    pub errors: Vec<(Peer, String)>,
    /// The server's EncryptedExtensions (TLS 1.3, opened with a key log).
    pub encrypted_extensions: Option<EncryptedExtensions>,
    /// Encrypted handshake records opened with a key log, per peer.
    pub decrypted_records: [usize; 2],
}

impl HandshakeSummary {
    /// The server peer, once roles are known.
    pub fn server(&self) -> Option<Peer> {
        self.client.map(Peer::other)
    }

    /// Whether the handshake phase is over in both directions (both
    /// encrypted), or cannot progress (fatal alert, both directions failed).
    pub fn is_finished(&self) -> bool {
        self.encrypted.iter().all(|e| *e) || self.alerts.iter().any(|alert| alert.level == Some(2))
    }

    /// Whether the session resumed a previous one: TLS 1.3 PSK accepted, or
    /// (TLS <= 1.2) the server echoed the client's non-empty session id, or
    /// the server went straight to ChangeCipherSpec without a Certificate.
    pub fn resumed(&self) -> bool {
        let (Some(client_hello), Some(server_hello)) = (&self.client_hello, &self.server_hello)
        else {
            return false;
        };
        if server_hello.has_pre_shared_key {
            return true;
        }
        if server_hello.negotiated_version() >= 0x0304
            && server_hello.negotiated_version() != 0xFEFF
        {
            return false;
        }
        let echoed_session_id = !client_hello.session_id.is_empty()
            && client_hello.session_id == server_hello.session_id;
        let abbreviated = self
            .server()
            .is_some_and(|server| self.change_cipher_spec[server.index()])
            && self.server_certificates.is_empty()
            && self.server_key_exchange.is_none();
        echoed_session_id || abbreviated
    }
}

/// TLS 1.3 and its drafts (0x7Exx Facebook drafts, 0x7Fxx IETF drafts).
fn is_tls13(version: u16) -> bool {
    matches!(version, 0x0304 | 0x7E01..=0x7FFF)
}

/// Feeds both directions of a connection and keeps a [`HandshakeSummary`].
#[derive(Debug, Clone, Default)]
pub struct HandshakeTracker {
    streams: [RecordStream; 2],
    /// Handshake bytes carried without TLS records (QUIC CRYPTO frames), per peer.
    bare_messages: [Vec<u8>; 2],
    limits: RecordLimits,
    summary: HandshakeSummary,
    events: Vec<TlsEvent>,
    /// Encrypted TLS 1.3 records kept for a key log, per peer.
    sealed: [Vec<SealedRecord>; 2],
}

impl HandshakeTracker {
    /// A tracker with the given per-direction bounds.
    pub fn new(limits: RecordLimits) -> Self {
        Self {
            streams: [RecordStream::new(limits), RecordStream::new(limits)],
            bare_messages: [Vec::new(), Vec::new()],
            limits,
            summary: HandshakeSummary::default(),
            events: Vec::new(),
            sealed: [Vec::new(), Vec::new()],
        }
    }

    /// What was learned so far.
    pub fn summary(&self) -> &HandshakeSummary {
        &self.summary
    }

    /// Hands over what was learned, leaving an empty summary behind (for
    /// a session whose record is being emitted).
    pub fn take_summary(&mut self) -> HandshakeSummary {
        std::mem::take(&mut self.summary)
    }

    /// Consumes the tracker.
    pub fn into_summary(self) -> HandshakeSummary {
        self.summary
    }

    /// Whether more bytes from `peer` can still teach anything.
    pub fn wants_more(&self, peer: Peer) -> bool {
        let stream = &self.streams[peer.index()];
        (!stream.is_encrypted() || stream.keeps_sealed())
            && !stream.has_failed()
            && !self.summary.is_finished()
    }

    /// Whether encrypted handshake records wait for a key log.
    pub fn has_sealed_records(&self) -> bool {
        self.sealed.iter().any(|records| !records.is_empty())
    }

    /// Opens the kept TLS 1.3 records with a connection's handshake
    /// secrets and learns what they hold (certificates, EncryptedExtensions,
    /// a certificate request). Records are dropped once tried.
    pub fn open_sealed(&mut self, secrets: &ConnectionSecrets) {
        let sealed = std::mem::take(&mut self.sealed);
        let Some(cipher_suite) = self
            .summary
            .server_hello
            .as_ref()
            .filter(|hello| is_tls13(hello.negotiated_version()))
            .map(|hello| hello.cipher_suite)
        else {
            // Not TLS 1.3: its encrypted records hold no handshake messages
            // a handshake secret opens.
            return;
        };
        let Some(client) = self.summary.client else {
            return;
        };
        for (peer, secret) in [
            (client, &secrets.client_handshake),
            (client.other(), &secrets.server_handshake),
        ] {
            let records = &sealed[peer.index()];
            let Some(secret) = secret else {
                continue;
            };
            let opened = open_handshake(
                records,
                cipher_suite,
                secret,
                self.limits.max_handshake_message,
            );
            if let Some(error) = opened.error {
                self.summary
                    .errors
                    .push((peer, format!("key log: {error}")));
            }
            self.apply_opened(peer, opened.messages, opened.records, opened.framing_error);
        }
    }

    /// Handshake messages of the encrypted handshake read by other means
    /// than TLS records (QUIC Handshake packets opened with a key log), in
    /// stream order; `units` packets were opened for them.
    pub fn apply_decrypted_handshake(&mut self, peer: Peer, bytes: &[u8], units: usize) {
        let mut pending = bytes.to_vec();
        let mut events = Vec::new();
        let framing_error =
            drain_handshake_messages(&mut pending, self.limits.max_handshake_message, &mut events)
                .err()
                .map(|error| error.to_string());
        let messages = events.into_iter().filter_map(|event| match event {
            TlsEvent::Handshake { message_type, body } => Some((message_type, body)),
            _ => None,
        });
        self.apply_opened(peer, messages, units, framing_error);
    }

    /// What opening `peer`'s encrypted handshake gave: its messages, the
    /// records or packets opened, and a framing error.
    fn apply_opened(
        &mut self,
        peer: Peer,
        messages: impl IntoIterator<Item = (u8, Vec<u8>)>,
        units: usize,
        framing_error: Option<String>,
    ) {
        if let Some(error) = framing_error {
            self.summary
                .errors
                .push((peer, format!("decrypted handshake: {error}")));
        }
        self.summary.decrypted_records[peer.index()] += units;
        for (message_type, body) in messages {
            if let Err(error) = self.apply_encrypted_handshake(peer, message_type, &body) {
                self.summary.errors.push((
                    peer,
                    format!("encrypted handshake type {message_type}: {error}"),
                ));
            }
        }
    }

    fn apply_encrypted_handshake(
        &mut self,
        peer: Peer,
        message_type: u8,
        body: &[u8],
    ) -> Result<(), HandshakeError> {
        match message_type {
            ht::ENCRYPTED_EXTENSIONS => {
                self.summary.encrypted_extensions = Some(EncryptedExtensions::parse(body)?);
            }
            ht::CERTIFICATE => {
                let chain = parse_tls13_certificate(body)?;
                if self.summary.client == Some(peer) {
                    self.summary.client_certificates = chain;
                } else {
                    self.summary.server_certificates = chain;
                }
            }
            ht::CERTIFICATE_REQUEST => self.summary.certificate_requested = true,
            _ => {}
        }
        Ok(())
    }

    /// Bytes buffered across both directions.
    pub fn buffered_bytes(&self) -> usize {
        self.streams.iter().map(RecordStream::buffered_bytes).sum()
    }

    /// Feeds the next stream bytes sent by `peer`. Errors are recorded in the
    /// summary (and returned) and stop that direction only.
    pub fn push(&mut self, peer: Peer, bytes: &[u8]) -> Result<(), RecordError> {
        let mut events = std::mem::take(&mut self.events);
        let result = self.streams[peer.index()].push(bytes, &mut events);
        for event in events.drain(..) {
            self.apply(peer, event);
        }
        self.events = events;
        if let Err(error) = &result {
            self.summary.errors.push((peer, error.to_string()));
        }
        self.summary.encrypted[peer.index()] = self.streams[peer.index()].is_encrypted();
        result
    }

    /// Feeds handshake message bytes that travel without the TLS record
    /// layer (QUIC CRYPTO frames, in stream order).
    pub fn push_handshake_messages(&mut self, peer: Peer, bytes: &[u8]) -> Result<(), RecordError> {
        let pending = &mut self.bare_messages[peer.index()];
        pending.extend_from_slice(bytes);
        let mut events = std::mem::take(&mut self.events);
        let result =
            drain_handshake_messages(pending, self.limits.max_handshake_message, &mut events);
        if result.is_err() {
            pending.clear();
        }
        for event in events.drain(..) {
            self.apply(peer, event);
        }
        self.events = events;
        if let Err(error) = &result {
            self.summary.errors.push((peer, error.to_string()));
        }
        result
    }

    fn apply(&mut self, peer: Peer, event: TlsEvent) {
        let summary = &mut self.summary;
        match event {
            TlsEvent::PlaintextPrefix { bytes } => summary.plaintext_prefix[peer.index()] = bytes,
            TlsEvent::Handshake { message_type, body } => {
                if let Err(error) = self.apply_handshake(peer, message_type, &body) {
                    tracing::debug!(?peer, message_type, %error, "handshake message not parsed");
                    self.summary
                        .errors
                        .push((peer, format!("handshake type {message_type}: {error}")));
                }
            }
            TlsEvent::Sslv2ClientHello { body } => match parse_sslv2_client_hello(&body) {
                Ok(hello) => self.record_client_hello(peer, hello),
                Err(error) => summary
                    .errors
                    .push((peer, format!("SSLv2 ClientHello: {error}"))),
            },
            TlsEvent::ChangeCipherSpec => summary.change_cipher_spec[peer.index()] = true,
            TlsEvent::Alert { level, description } => summary.alerts.push(AlertSeen {
                from: peer,
                level: Some(level),
                description: Some(description),
            }),
            TlsEvent::EncryptedAlert => summary.alerts.push(AlertSeen {
                from: peer,
                level: None,
                description: None,
            }),
            TlsEvent::Heartbeat { .. } => summary.heartbeats += 1,
            TlsEvent::EncryptionStarted { .. } => summary.encrypted[peer.index()] = true,
            TlsEvent::SealedRecord { header, body } => {
                self.sealed[peer.index()].push((header, body));
            }
        }
    }

    fn apply_handshake(
        &mut self,
        peer: Peer,
        message_type: u8,
        body: &[u8],
    ) -> Result<(), HandshakeError> {
        match message_type {
            ht::CLIENT_HELLO => {
                let hello = ClientHello::parse(body)?;
                self.record_client_hello(peer, hello);
            }
            ht::SERVER_HELLO => {
                let hello = ServerHello::parse(body)?;
                self.summary.client.get_or_insert(peer.other());
                if is_tls13(hello.negotiated_version()) {
                    self.streams.iter_mut().for_each(RecordStream::set_tls13);
                }
                if hello.is_hello_retry_request {
                    self.summary.hello_retry_request = Some(hello);
                } else if self.summary.server_hello.is_none() {
                    self.summary.server_hello = Some(hello);
                }
            }
            ht::CERTIFICATE => {
                let chain = parse_certificate_chain(body)?;
                if self.summary.client == Some(peer) {
                    self.summary.client_certificates = chain;
                } else {
                    self.summary.server_certificates = chain;
                }
            }
            ht::SERVER_KEY_EXCHANGE => {
                let family = self
                    .summary
                    .server_hello
                    .as_ref()
                    .map_or(KeyExchangeFamily::Other, |hello| {
                        KeyExchangeFamily::of_cipher_suite(hello.cipher_suite)
                    });
                self.summary.server_key_exchange = Some(ServerKeyExchange::parse(body, family)?);
            }
            ht::CERTIFICATE_REQUEST => self.summary.certificate_requested = true,
            ht::NEW_SESSION_TICKET => self.summary.session_ticket_issued = true,
            _ => {}
        }
        Ok(())
    }

    fn record_client_hello(&mut self, peer: Peer, hello: ClientHello) {
        if is_tls13(hello.highest_offered_version()) {
            self.streams[peer.index()].set_offered_tls13();
        }
        let summary = &mut self.summary;
        summary.client.get_or_insert(peer);
        summary.client_hello_count += 1;
        if summary.client_hello.is_none() {
            summary.client_hello = Some(hello);
        } else if summary.retry_client_hello.is_none() {
            summary.retry_client_hello = Some(hello);
        }
    }
}
