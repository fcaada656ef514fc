//! One TLS or QUIC session (`cipherlens.session/v1`, `schema/session-record.v1.json`).
//!
//! Field names follow OpenTelemetry semantic conventions where one exists
//! (`tls.protocol.version`, `tls.cipher`, `tls.client.server_name`,
//! `client.address`, `network.transport`...); everything else lives under
//! `cipherlens`. Live capture and `replay` emit the same layout; only live
//! records carry `host`, attribution and `cipherlens.observation`.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::attribution::{EndpointAttribution, HostInfo};
use crate::certificate::CertificateSummary;

/// One TLS or QUIC session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub schema: SessionSchema,
    pub event: Event,
    pub network: Network,
    pub client: Endpoint,
    pub server: Endpoint,
    /// The node that saw the session (live capture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<Arc<HostInfo>>,
    pub tls: Tls,
    pub cipherlens: Cipherlens,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub kind: SessionKind,
    /// First packet of the session, RFC 3339 UTC.
    pub start: String,
    /// Last packet that contributed, RFC 3339 UTC.
    pub end: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    pub transport: Transport,
    #[serde(rename = "type")]
    pub ip_version: IpVersion,
    pub protocol: Protocol,
    /// VLAN id when the packets carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<u16>,
    /// The tunnel the session's packets came out of, when they were
    /// encapsulated (the outermost one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelInfo>,
    /// Community ID v1 of the flow, as Zeek, Suricata and ECS carry it
    /// (`network.community_id`; seed from the pipeline config, default 0).
    pub community_id: String,
}

/// A tunnel: its type, the outer IP endpoints and its identifier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TunnelInfo {
    #[serde(rename = "type")]
    pub kind: TunnelType,
    /// The outer IP header's addresses (none for MPLS on Ethernet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer: Option<TunnelOuter>,
    /// VXLAN and Geneve network identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vni: Option<u32>,
    /// GTP-U tunnel endpoint identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teid: Option<u32>,
    /// GRE key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u32>,
    /// ERSPAN session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<u32>,
    /// MPLS label (the top of the stack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TunnelType {
    #[serde(rename = "vxlan")]
    Vxlan,
    #[serde(rename = "geneve")]
    Geneve,
    #[serde(rename = "gre")]
    Gre,
    #[serde(rename = "erspan")]
    Erspan,
    #[serde(rename = "ipip")]
    IpInIp,
    #[serde(rename = "gtp-u")]
    GtpU,
    #[serde(rename = "mpls")]
    Mpls,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TunnelOuter {
    pub source: String,
    pub destination: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub address: String,
    pub port: u16,
    /// Process, container and pod of the endpoint's socket when it is on
    /// this node (live capture). Shared: every record of a process's
    /// sessions and flows carries the same attribution.
    #[serde(flatten)]
    pub attribution: Arc<EndpointAttribution>,
}

/// OpenTelemetry `tls.*` attributes.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Tls {
    pub protocol: TlsProtocol,
    /// Chosen cipher suite, IANA name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<Cow<'static, str>>,
    /// Key exchange group (TLS 1.3 key_share or TLS 1.2 ServerKeyExchange curve).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve: Option<Cow<'static, str>>,
    /// ALPN protocol chosen by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_protocol: Option<String>,
    pub resumed: bool,
    /// Both sides reached the encrypted phase.
    pub established: bool,
    pub client: TlsClient,
    pub server: TlsServer,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TlsProtocol {
    pub name: ProtocolName,
    /// `1.0`, `1.1`, `1.2`, `1.3` (`3.0`/`2.0` with name `ssl`), when negotiated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Cow<'static, str>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TlsClient {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// JA3 hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3: Option<String>,
    /// Offered cipher suites, IANA names, GREASE left out.
    pub supported_ciphers: Vec<Cow<'static, str>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TlsServer {
    /// JA3S hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s: Option<String>,
    /// Leaf certificate subject (RFC 4514), when the chain was in clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<CertificateHash>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateHash {
    pub sha256: String,
    pub sha1: String,
}

/// Everything without an OpenTelemetry name.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Cipherlens {
    /// The CNFlow record of the session's flow (live capture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnflow_id: Option<String>,
    pub session: SessionState,
    pub tls: TlsDetail,
    /// The QUIC connection's facts (QUIC sessions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic: Option<QuicDetail>,
    /// What only the kernel knew (live capture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
}

/// What a QUIC connection showed before its handshake was encrypted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QuicDetail {
    /// The version of the Initials that carried the ClientHello: `code` is
    /// the version number, `name` e.g. `v1`, `v2`, `draft-29`, `T051`,
    /// `mvfst-0xfaceb002`.
    pub version: QuicVersion,
    /// The server sent a Retry first.
    pub retry: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QuicVersion {
    pub code: u32,
    pub name: String,
}

/// Facts from the kernel about where and from whom a session was seen.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Observation {
    /// Interface the first copied packet crossed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    pub ifindex: u32,
    /// Network namespace cookie of the first copied packet.
    pub netns_cookie: u64,
    /// The client's socket, when it is on this node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_socket: Option<SocketFacts>,
    /// The server's socket, when it is on this node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_socket: Option<SocketFacts>,
}

/// A local socket that sent packets of the session.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct SocketFacts {
    pub socket_cookie: u64,
    /// cgroup v2 id of the socket.
    pub cgroup_id: u64,
    /// Process (tgid) that sent or received on it, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Thread that did so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SessionState {
    /// Where the bytes came from.
    pub source: Source,
    /// Capture file (replay) or interface (live).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The handshake was seen in full (both hellos and the switch to encryption, or a fatal alert).
    pub complete: bool,
    /// Why the session is not complete, or what was lost on the way.
    pub incomplete_reasons: Vec<String>,
    /// Bytes missing from the client's / server's stream (TCP gaps).
    pub client_gap_bytes: u64,
    pub server_gap_bytes: u64,
    /// Plaintext bytes before TLS started (STARTTLS), per side.
    pub client_plaintext_prefix_bytes: u64,
    pub server_plaintext_prefix_bytes: u64,
    /// Why the record was emitted then.
    pub emitted_on: EmittedOn,
}

/// A chain the TLS library of a local process gave (uprobes), not the wire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificateSource {
    pub chain: ChainSide,
    pub origin: CertificateOrigin,
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// Library family (`openssl-3`, `openssl-1.1`, `boringssl`).
    pub library: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The library file inside the process's mount namespace.
    pub path: String,
    pub binding: CallBinding,
}

/// Which chain of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainSide {
    Server,
    Client,
}

/// Where a chain came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateOrigin {
    TlsLibrary,
}

/// How a TLS library call was tied to its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallBinding {
    /// A syscall made while a call on the same `SSL*` was on the stack.
    Call,
    /// The thread's latest socket (memory BIOs).
    Thread,
}

/// A code point with its IANA name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Named {
    pub code: u16,
    pub name: Cow<'static, str>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TlsDetail {
    /// Negotiated version with its code (drafts included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_exchange_group: Option<Named>,
    /// The negotiated key exchange includes a post-quantum KEM.
    pub post_quantum_key_exchange: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_hello: Option<ClientHelloDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_hello: Option<ServerHelloDetail>,
    pub hello_retry_request: bool,
    /// Group the server asked for in its HelloRetryRequest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hello_retry_request_group: Option<Named>,
    /// A second ClientHello (after a HelloRetryRequest, or a duplicate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_client_hello: Option<ClientHelloDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprints: Option<Fingerprints>,
    /// Server chain in the order sent (TLS <= 1.2, or TLS 1.3 when its
    /// handshake was decrypted; otherwise TLS 1.3 sends it encrypted).
    pub server_certificates: Vec<Arc<CertificateSummary>>,
    /// Client chain (mutual TLS; TLS 1.3 only when decrypted).
    pub client_certificates: Vec<Arc<CertificateSummary>>,
    /// Where a chain came from when the wire did not show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_source: Option<CertificateSource>,
    /// Size of a finite-field DH prime chosen by the server, in bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dh_prime_bits: Option<u32>,
    pub certificate_requested: bool,
    pub session_ticket_issued: bool,
    /// The encrypted part of a TLS 1.3 handshake, read with secrets from a
    /// key log (`--keylog-file`, or a pcapng's Decryption Secrets Block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decrypted_handshake: Option<DecryptedHandshake>,
    pub alerts: Vec<AlertRecord>,
    pub heartbeats: u32,
    pub client_hello_count: u32,
    /// Parse problems (the rest of the record is still what was seen).
    pub errors: Vec<String>,
}

/// What opening the encrypted handshake gave.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DecryptedHandshake {
    /// Encrypted handshake records opened, per side.
    pub server_records: u32,
    pub client_records: u32,
    /// The server's EncryptedExtensions, by type in the order sent.
    pub encrypted_extensions: Vec<Named>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientHelloDetail {
    pub version: Named,
    pub highest_offered_version: Named,
    pub supported_versions: Vec<Named>,
    pub cipher_suites: Vec<Named>,
    pub extensions: Vec<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    pub alpn: Vec<String>,
    pub supported_groups: Vec<Named>,
    pub key_share_groups: Vec<Named>,
    pub signature_algorithms: Vec<Named>,
    pub ec_point_formats: Vec<u8>,
    pub compression_methods: Vec<u8>,
    pub psk_key_exchange_modes: Vec<u8>,
    pub session_id_length: usize,
    /// Length of a presented session ticket (0 = empty extension, asking for one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_ticket_length: Option<usize>,
    pub pre_shared_key: bool,
    pub early_data: bool,
    pub encrypted_client_hello: bool,
    pub grease: bool,
    pub offers_post_quantum: bool,
    pub sslv2_format: bool,
    pub malformed_extensions: Vec<u16>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerHelloDetail {
    pub version: Named,
    pub cipher_suite: Named,
    pub extensions: Vec<Named>,
    pub compression_method: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_version: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_share_group: Option<Named>,
    pub session_id_length: usize,
    pub extended_master_secret: bool,
    pub encrypt_then_mac: bool,
    pub renegotiation_info: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fingerprints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3_full: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s_full: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4_r: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4_o: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4_ro: Option<String>,
    /// Of the second ClientHello (after a HelloRetryRequest, or a duplicate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_ja3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_ja3_full: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_ja4: Option<String>,
    /// Of the HelloRetryRequest (a ServerHello-type message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hello_retry_request_ja3s: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hello_retry_request_ja3s_full: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertRecord {
    pub from: AlertSender,
    /// Absent when the alert was encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<AlertLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Named>,
    pub encrypted: bool,
}

crate::schema_id!(
    /// `cipherlens.session/v1`.
    SessionSchema = "cipherlens.session/v1"
);

/// `event.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SessionKind {
    #[serde(rename = "tls.session")]
    Tls,
    #[serde(rename = "quic.session")]
    Quic,
}

/// `network.transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// `network.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpVersion {
    Ipv4,
    Ipv6,
}

/// `network.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tls,
    Quic,
}

/// `tls.protocol.name`: `ssl` for SSL 2.0 and 3.0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    #[default]
    Tls,
    Ssl,
}

/// Where a session's bytes came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A capture file (`cipherlens replay`).
    #[default]
    Replay,
    /// The kernel programs (`cipherlens live`).
    Live,
}

/// Why a session's record was emitted when it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmittedOn {
    /// Nothing more can be learned from the handshake.
    #[default]
    HandshakeFinished,
    /// FIN or RST (or a reused 4-tuple).
    ConnectionClosed,
    /// No packet for the idle timeout.
    IdleTimeout,
    /// The capture ended, or the sensor stopped.
    EndOfInput,
}

/// Who sent a TLS alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSender {
    Client,
    Server,
    /// Before the roles were known.
    Unknown,
}

/// A TLS alert's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertLevel {
    Warning,
    Fatal,
}
