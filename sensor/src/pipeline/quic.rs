//! One QUIC connection's Initial packets: decrypted with the keys every
//! observer can derive (RFC 9001 section 5.2), CRYPTO frames reassembled per
//! side, and the ClientHello/ServerHello fed to the TLS handshake tracker.
//!
//! Everything after the Initials (Handshake and 1-RTT packets) uses keys an
//! observer does not have, so a QUIC session is complete once both hellos
//! were seen.
//!
//! Traffic as it is captured, not as a textbook draws it:
//! - A flow starts at the first datagram that opens as a client Initial, so
//!   0-RTT or Handshake packets seen before it (a lost Initial, a capture
//!   started late) and a greased Initial refused by Version Negotiation are
//!   passed over until the Initial that follows.
//! - Initial keys come from the client's original DCID for the whole
//!   connection, also when its later Initials carry the DCID the server
//!   chose; after a Retry they come from the DCID the client then uses.
//! - A 4-tuple reused for a new connection (a client Initial with a DCID the
//!   connection never used, whose ClientHello is another one) starts a new
//!   session; retransmitted Initials of the same connection do not.

use std::net::SocketAddr;

use cipherlens_parsers::fingerprint::Transport;
use cipherlens_record::session::{EmittedOn, QuicDetail, QuicVersion};

use cipherlens_parsers::quic::{
    CryptoStream, DEFAULT_MAX_CRYPTO_BYTES, InitialKeys, InitialPacket, LongPacketType, QuicError,
    Side, decrypt_initials, decrypt_initials_with, is_supported_version, peek_long_header,
    version_name,
};
use cipherlens_parsers::quic::{
    HandshakeCrypto, HandshakeKeys, has_handshake_packet, open_handshake_packets,
};
use cipherlens_parsers::tls::keylog::ConnectionSecrets;
use cipherlens_parsers::tls::{HandshakeTracker, Peer};

use super::{FinishedSession, PipelineConfig, SessionContext, SessionOutcome};

/// Connection IDs remembered per connection at most (the original DCID,
/// a Retry's, the server's).
const MAX_KNOWN_CIDS: usize = 8;

/// What a datagram meant for its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatagramOutcome {
    /// Part of this connection (or nothing to read).
    Handled,
    /// A client Initial of another connection on the same 4-tuple.
    NewConnection,
}

pub(crate) struct QuicSession {
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    pub vlan_id: Option<u16>,
    /// The tunnel the packets came out of, once one was seen.
    pub tunnel: Option<cipherlens_capture::Tunnel>,
    pub start_unix_nanos: u64,
    pub last_unix_nanos: u64,
    /// The DCID the Initial keys come from (original, or a Retry's).
    key_dcid: Vec<u8>,
    keys: InitialKeys,
    /// Connection IDs this connection used as a client DCID.
    known_cids: Vec<Vec<u8>>,
    /// The ClientHello's random, to tell a new connection on a reused
    /// 4-tuple from a retransmission or a Retry's second Initial.
    client_random: Option<[u8; 32]>,
    /// The version of the Initials that carried the ClientHello.
    version: u32,
    /// The server sent a Retry.
    retry: bool,
    crypto: [CryptoStream; 2],
    /// Bytes of each side's contiguous CRYPTO stream already fed.
    fed: [usize; 2],
    pub tracker: HandshakeTracker,
    /// Kernel facts (live capture).
    pub observation: Option<super::SessionObservation>,
    pub incomplete_reasons: Vec<String>,
    pub emitted: bool,
    /// Datagrams with Handshake packets, per side, kept for a key log
    /// (bytes at most per side: [`PipelineConfig::max_sealed_bytes`]).
    sealed: [Vec<Vec<u8>>; 2],
    sealed_bytes: [usize; 2],
    max_sealed_bytes: usize,
    /// The client sent a short-header (1-RTT) packet: its handshake is done,
    /// the server's whole flight was sent before.
    client_done: bool,
}

fn index(peer: Peer) -> usize {
    match peer {
        Peer::Initiator => 0,
        Peer::Responder => 1,
    }
}

/// Whether a UDP payload starts with an Initial of a version whose keys can
/// be derived (the cheap test before any decryption).
pub(crate) fn looks_like_initial(payload: &[u8]) -> bool {
    peek_long_header(payload).is_some_and(|header| {
        header.packet_type == LongPacketType::Initial && is_supported_version(header.version)
    })
}

/// The random of a ClientHello that starts at offset 0 of the CRYPTO
/// stream, if one of `packets` carries that start.
fn hello_random(packets: &[InitialPacket]) -> Option<[u8; 32]> {
    packets
        .iter()
        .flat_map(|packet| &packet.crypto)
        .find(|chunk| chunk.offset == 0 && chunk.data.first() == Some(&1))
        .and_then(|chunk| chunk.data.get(6..38))
        .and_then(|random| random.try_into().ok())
}

impl QuicSession {
    /// A session from a datagram that opens as a client Initial (keys from
    /// its own DCID); `None` when it does not.
    pub fn open(
        initiator: SocketAddr,
        responder: SocketAddr,
        vlan_id: Option<u16>,
        payload: &[u8],
        now: u64,
        max_sealed_bytes: usize,
    ) -> Option<Self> {
        let header = peek_long_header(payload)?;
        if header.packet_type != LongPacketType::Initial {
            return None;
        }
        let keys = InitialKeys::derive(header.version, &header.dcid).ok()?;
        let packets = decrypt_initials_with(&keys, payload, Side::Client).ok()?;
        let mut session = Self {
            initiator,
            responder,
            vlan_id,
            tunnel: None,
            start_unix_nanos: now,
            last_unix_nanos: now,
            key_dcid: header.dcid.clone(),
            keys,
            known_cids: vec![header.dcid],
            client_random: hello_random(&packets),
            version: header.version,
            retry: false,
            crypto: [
                CryptoStream::new(DEFAULT_MAX_CRYPTO_BYTES),
                CryptoStream::new(DEFAULT_MAX_CRYPTO_BYTES),
            ],
            fed: [0, 0],
            tracker: HandshakeTracker::default(),
            observation: None,
            incomplete_reasons: Vec::new(),
            emitted: false,
            sealed: [Vec::new(), Vec::new()],
            sealed_bytes: [0, 0],
            max_sealed_bytes,
            client_done: false,
        };
        // A datagram that decrypted but whose CRYPTO data does not fit is
        // still this session's start; the reason is on its record.
        let _ = session.feed(Peer::Initiator, &packets);
        Some(session)
    }

    /// Whether a ClientHello was recovered (the flow really is QUIC).
    pub fn is_quic(&self) -> bool {
        self.tracker.summary().client_hello.is_some()
    }

    /// Both hellos seen: nothing more is decryptable (with a key log, once
    /// the server's Handshake packets are all in as well).
    pub fn is_exhausted(&self) -> bool {
        let summary = self.tracker.summary();
        let hellos = summary.client_hello.is_some() && summary.server_hello.is_some();
        hellos
            && (self.max_sealed_bytes == 0
                || self.client_done
                || self.sealed_bytes[1] >= self.max_sealed_bytes)
    }

    /// Keeps a datagram with Handshake packets for a key log; notes the
    /// client's first short-header packet.
    fn keep_sealed(&mut self, peer: Peer, datagram: &[u8]) {
        if self.max_sealed_bytes == 0 || self.emitted {
            return;
        }
        if peer == Peer::Initiator && datagram.first().is_some_and(|byte| byte & 0x80 == 0) {
            self.client_done = true;
            return;
        }
        let side = index(peer);
        if self.sealed_bytes[side] + datagram.len() <= self.max_sealed_bytes
            && has_handshake_packet(datagram)
        {
            self.sealed_bytes[side] += datagram.len();
            self.sealed[side].push(datagram.to_vec());
        }
    }

    /// Whether Handshake packets wait for a key log.
    pub fn has_sealed(&self) -> bool {
        self.sealed.iter().any(|datagrams| !datagrams.is_empty())
    }

    /// Opens the kept Handshake packets with the connection's handshake
    /// secrets: the server's (and client's) certificates, EncryptedExtensions.
    pub fn open_sealed(&mut self, secrets: &ConnectionSecrets) {
        let sealed = std::mem::take(&mut self.sealed);
        let Some(cipher_suite) = self
            .tracker
            .summary()
            .server_hello
            .as_ref()
            .map(|hello| hello.cipher_suite)
        else {
            return;
        };
        for (peer, secret) in [
            (Peer::Initiator, &secrets.client_handshake),
            (Peer::Responder, &secrets.server_handshake),
        ] {
            let Some(secret) = secret else {
                continue;
            };
            let keys = match HandshakeKeys::from_secret(self.version, cipher_suite, secret) {
                Ok(keys) => keys,
                Err(error) => {
                    self.incomplete_reasons
                        .push(format!("quic_handshake_keys: {error}"));
                    continue;
                }
            };
            let mut found = HandshakeCrypto::default();
            for datagram in &sealed[index(peer)] {
                open_handshake_packets(datagram, &keys, &mut found);
            }
            let mut stream = CryptoStream::new(DEFAULT_MAX_CRYPTO_BYTES);
            for chunk in &found.chunks {
                let _ = stream.insert_chunk(chunk);
            }
            self.tracker
                .apply_decrypted_handshake(peer, stream.contiguous(), found.packets);
        }
    }

    /// Adds a datagram sent by `peer`.
    pub fn on_datagram(
        &mut self,
        peer: Peer,
        datagram: &[u8],
        now: u64,
    ) -> Result<DatagramOutcome, QuicError> {
        self.last_unix_nanos = now;
        self.keep_sealed(peer, datagram);
        let Some(header) = peek_long_header(datagram) else {
            return Ok(DatagramOutcome::Handled);
        };
        match peer {
            Peer::Initiator => self.on_client_datagram(&header, datagram),
            Peer::Responder => {
                // The server's connection ID becomes the client's DCID; a
                // Retry's is the one the client's next Initial uses.
                if matches!(
                    header.packet_type,
                    LongPacketType::Initial | LongPacketType::Handshake | LongPacketType::Retry
                ) {
                    self.remember_cid(&header.scid);
                }
                if header.packet_type == LongPacketType::Retry && !self.emitted {
                    self.retry = true;
                }
                if header.packet_type != LongPacketType::Initial || self.emitted {
                    return Ok(DatagramOutcome::Handled);
                }
                if header.version != self.keys.version() {
                    // Compatible version negotiation (RFC 9368): the same
                    // DCID, the server's version.
                    self.keys = InitialKeys::derive(header.version, &self.key_dcid)?;
                }
                let packets = decrypt_initials_with(&self.keys, datagram, Side::Server)?;
                self.feed(Peer::Responder, &packets)?;
                Ok(DatagramOutcome::Handled)
            }
        }
    }

    fn on_client_datagram(
        &mut self,
        header: &cipherlens_parsers::quic::LongHeader,
        datagram: &[u8],
    ) -> Result<DatagramOutcome, QuicError> {
        if header.packet_type != LongPacketType::Initial {
            return Ok(DatagramOutcome::Handled);
        }
        let known = self.known_cids.contains(&header.dcid);
        if self.emitted && known {
            // A retransmission after the record went out.
            return Ok(DatagramOutcome::Handled);
        }
        let with_current = if header.version == self.keys.version() {
            decrypt_initials_with(&self.keys, datagram, Side::Client)
        } else {
            Err(QuicError::VersionMismatch {
                keys_version: self.keys.version(),
                packet_version: header.version,
            })
        };
        let packets = match with_current {
            Ok(packets) if !self.emitted => packets,
            Ok(_) => return Ok(DatagramOutcome::Handled),
            Err(error) if header.dcid == self.key_dcid => return Err(error),
            Err(_) => {
                // Keys of its own DCID: after a Retry, or another
                // connection.
                let packets = decrypt_initials(datagram, Side::Client, None)?;
                // A DCID the server gave (a Retry's) is this connection, even
                // with a new ClientHello (aioquic makes one after a Retry);
                // any other with another ClientHello is a new connection.
                if !known
                    && let (Some(ours), Some(theirs)) = (self.client_random, hello_random(&packets))
                    && ours != theirs
                {
                    return Ok(DatagramOutcome::NewConnection);
                }
                if self.emitted {
                    return Ok(DatagramOutcome::Handled);
                }
                self.keys = InitialKeys::derive(header.version, &header.dcid)?;
                self.key_dcid.clone_from(&header.dcid);
                self.remember_cid(&header.dcid);
                packets
            }
        };
        if let Some(random) = hello_random(&packets) {
            self.client_random = Some(random);
        }
        if hello_random(&packets).is_some() {
            self.version = header.version;
        }
        self.feed(Peer::Initiator, &packets)?;
        Ok(DatagramOutcome::Handled)
    }

    fn remember_cid(&mut self, cid: &[u8]) {
        if !cid.is_empty()
            && self.known_cids.len() < MAX_KNOWN_CIDS
            && !self.known_cids.iter().any(|known| known == cid)
        {
            self.known_cids.push(cid.to_vec());
        }
    }

    /// CRYPTO data of `packets` to the handshake tracker.
    fn feed(&mut self, peer: Peer, packets: &[InitialPacket]) -> Result<(), QuicError> {
        let side = index(peer);
        for packet in packets {
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

    /// Hands the session on: its record is due (`reason`).
    pub fn finish(&mut self, reason: EmittedOn, config: &PipelineConfig) -> FinishedSession {
        let context = SessionContext {
            transport: Transport::Quic,
            initiator: self.initiator,
            responder: self.responder,
            vlan_id: self.vlan_id,
            tunnel: self.tunnel,
            start_unix_nanos: self.start_unix_nanos,
            end_unix_nanos: self.last_unix_nanos,
            source: config.source,
            input: config.input.clone(),
            ja4_original_order: config.ja4_original_order,
            community_id_seed: config.community_id_seed,
            observation: self.observation.take(),
            cnflow_id: None,
            certificate_source: None,
            quic: Some(QuicDetail {
                version: QuicVersion {
                    code: self.version,
                    name: version_name(self.version)
                        .unwrap_or_else(|| format!("{:#010x}", self.version)),
                },
                retry: self.retry,
            }),
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
