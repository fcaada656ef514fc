//! One QUIC connection's Initial packets: decrypted with the keys every
//! observer can derive (RFC 9001 section 5.2), CRYPTO frames reassembled per
//! side, and the ClientHello/ServerHello fed to the TLS handshake tracker.
//!
//! Everything after the Initials (Handshake and 1-RTT packets) uses keys an
//! observer does not have, so a QUIC session is complete once both hellos
//! were seen.

use std::net::SocketAddr;

use cipherlens_parsers::fingerprint::Transport;
use cipherlens_record::session::EmittedOn;

use cipherlens_parsers::quic::{
    CryptoStream, DEFAULT_MAX_CRYPTO_BYTES, InitialKeys, LongPacketType, QuicError, Side,
    decrypt_initials, decrypt_initials_with, is_supported_version, peek_long_header,
};
use cipherlens_parsers::tls::{HandshakeTracker, Peer};

use super::{FinishedSession, PipelineConfig, SessionContext, SessionOutcome};

pub(crate) struct QuicSession {
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    pub vlan_id: Option<u16>,
    pub start_unix_nanos: u64,
    pub last_unix_nanos: u64,
    /// Keys from the client's latest Initial DCID (changes after a Retry).
    keys: Option<(Vec<u8>, InitialKeys)>,
    crypto: [CryptoStream; 2],
    /// Bytes of each side's contiguous CRYPTO stream already fed.
    fed: [usize; 2],
    pub tracker: HandshakeTracker,
    /// Kernel facts (live capture).
    pub observation: Option<super::SessionObservation>,
    pub incomplete_reasons: Vec<String>,
    pub emitted: bool,
}

fn index(peer: Peer) -> usize {
    match peer {
        Peer::Initiator => 0,
        Peer::Responder => 1,
    }
}

impl QuicSession {
    /// Whether a UDP payload is a client Initial of a version we can decrypt.
    pub fn opens_with_initial(payload: &[u8]) -> bool {
        peek_long_header(payload).is_some_and(|header| {
            header.packet_type == LongPacketType::Initial && is_supported_version(header.version)
        })
    }

    pub fn new(
        initiator: SocketAddr,
        responder: SocketAddr,
        vlan_id: Option<u16>,
        now: u64,
    ) -> Self {
        Self {
            initiator,
            responder,
            vlan_id,
            start_unix_nanos: now,
            last_unix_nanos: now,
            keys: None,
            crypto: [
                CryptoStream::new(DEFAULT_MAX_CRYPTO_BYTES),
                CryptoStream::new(DEFAULT_MAX_CRYPTO_BYTES),
            ],
            fed: [0, 0],
            tracker: HandshakeTracker::default(),
            observation: None,
            incomplete_reasons: Vec::new(),
            emitted: false,
        }
    }

    /// Whether a ClientHello was recovered (the flow really is QUIC).
    pub fn is_quic(&self) -> bool {
        self.tracker.summary().client_hello.is_some()
    }

    /// Both hellos seen: nothing more is decryptable.
    pub fn is_exhausted(&self) -> bool {
        let summary = self.tracker.summary();
        summary.client_hello.is_some() && summary.server_hello.is_some()
    }

    /// Adds a datagram sent by `peer`.
    pub fn on_datagram(&mut self, peer: Peer, datagram: &[u8], now: u64) -> Result<(), QuicError> {
        self.last_unix_nanos = now;
        if self.emitted
            || peek_long_header(datagram).is_none_or(|h| h.packet_type != LongPacketType::Initial)
        {
            return Ok(());
        }
        let packets = match peer {
            Peer::Initiator => {
                let packets = decrypt_initials(datagram, Side::Client, None)?;
                if let Some(first) = packets.first() {
                    self.remember_client_dcid(first.version, &first.dcid)?;
                }
                packets
            }
            Peer::Responder => match &self.keys {
                Some((_, keys)) => decrypt_initials_with(keys, datagram, Side::Server)?,
                None => return Ok(()),
            },
        };
        let side = index(peer);
        for packet in &packets {
            if let Err(error) = self.crypto[side].insert_packet(packet) {
                self.incomplete_reasons
                    .push(format!("quic_crypto: {error}"));
                return Err(error);
            }
        }
        let contiguous = self.crypto[side].contiguous();
        if contiguous.len() > self.fed[side] {
            let fresh = contiguous[self.fed[side]..].to_vec();
            self.fed[side] = contiguous.len();
            let _ = self.tracker.push_handshake_messages(peer, &fresh);
        }
        Ok(())
    }

    fn remember_client_dcid(&mut self, version: u32, dcid: &[u8]) -> Result<(), QuicError> {
        if self.keys.as_ref().is_some_and(|(known, _)| known == dcid) {
            return Ok(());
        }
        self.keys = Some((dcid.to_vec(), InitialKeys::derive(version, dcid)?));
        Ok(())
    }

    /// Hands the session on: its record is due (`reason`).
    pub fn finish(&mut self, reason: EmittedOn, config: &PipelineConfig) -> FinishedSession {
        let context = SessionContext {
            transport: Transport::Quic,
            initiator: self.initiator,
            responder: self.responder,
            vlan_id: self.vlan_id,
            start_unix_nanos: self.start_unix_nanos,
            end_unix_nanos: self.last_unix_nanos,
            source: config.source,
            input: config.input.clone(),
            ja4_original_order: config.ja4_original_order,
            community_id_seed: config.community_id_seed,
            observation: self.observation.take(),
            cnflow_id: None,
            certificate_source: None,
            attribution: [None, None],
        };
        let outcome = SessionOutcome {
            emitted_on: reason,
            gap_bytes: [0, 0],
            incomplete_reasons: std::mem::take(&mut self.incomplete_reasons),
        };
        FinishedSession::new(self.tracker.take_summary(), context, outcome)
    }
}
