//! Builds a [`SessionRecord`] from what the parsers learned about a session.

use std::borrow::Cow;

use cipherlens_parsers::fingerprint;
use cipherlens_parsers::tls::extensions::alpn_display;
use cipherlens_parsers::tls::names::{
    alert_description_name, cipher_suite_name, extension_name, group_name, is_grease,
    is_post_quantum_group, otel_version, signature_scheme_name, version_name,
};
use cipherlens_parsers::tls::{ClientHello, HandshakeSummary, Peer, ServerHello};
use std::sync::Arc;

use cipherlens_parsers::x509::CertificateSummary;
use cipherlens_record::session::*;

use super::BuildCaches;
use super::certificate_cache::CertificateCache;
use super::fingerprint_cache::FingerprintCache;
use crate::flow::{IpProtocol, community_id_v1};
use crate::pipeline::{FinishedSession, SessionContext, SessionOutcome, peer_index};
use crate::time::rfc3339_from_unix_nanos;

fn named(code: u16, name: impl FnOnce(u16) -> Cow<'static, str>) -> Named {
    Named {
        code,
        name: name(code),
    }
}

fn named_list(codes: &[u16], name: fn(u16) -> Cow<'static, str>) -> Vec<Named> {
    codes.iter().map(|code| named(*code, name)).collect()
}

/// The record of a finished session.
pub fn session_record(finished: &FinishedSession, caches: &mut BuildCaches) -> SessionRecord {
    let (summary, context, outcome) = finished.parts();
    build_session_record(summary, context, outcome, caches)
}

/// Builds the record for one session.
pub fn build_session_record(
    summary: &HandshakeSummary,
    context: &SessionContext,
    outcome: &SessionOutcome,
    caches: &mut BuildCaches,
) -> SessionRecord {
    let client_peer = summary.client.unwrap_or(Peer::Initiator);
    let (client, server) = match client_peer {
        Peer::Initiator => (context.initiator, context.responder),
        Peer::Responder => (context.responder, context.initiator),
    };
    let (client_index, server_index) = (peer_index(client_peer), peer_index(client_peer.other()));

    let mut errors: Vec<String> = summary
        .errors
        .iter()
        .map(|(_, error)| error.clone())
        .collect();
    let server_certificates = summarize_chain(
        &summary.server_certificates,
        &mut caches.certificates,
        &mut errors,
    );
    let client_certificates = summarize_chain(
        &summary.client_certificates,
        &mut caches.certificates,
        &mut errors,
    );

    let server_hello = summary.server_hello.as_ref();
    let negotiated_version = server_hello.map(ServerHello::negotiated_version);
    let key_exchange_group = server_hello
        .and_then(|hello| hello.key_share_group)
        .or_else(|| summary.server_key_exchange.and_then(|kx| kx.named_group));

    let quic = context.transport == fingerprint::Transport::Quic;
    // QUIC after the Initials uses keys an observer does not have: both
    // hellos are all there is to see. TLS over TCP must also reach the
    // encrypted phase in both directions (or a fatal alert).
    let finished = quic || summary.is_finished();
    let mut incomplete_reasons = outcome.incomplete_reasons.clone();
    let complete = finished && summary.client_hello.is_some() && server_hello.is_some();
    if !complete {
        if summary.client_hello.is_none() {
            incomplete_reasons.push("no_client_hello".to_string());
        }
        if server_hello.is_none() {
            incomplete_reasons.push("no_server_hello".to_string());
        }
        if !finished {
            incomplete_reasons.push("handshake_not_finished".to_string());
        }
    }

    let leaf = server_certificates.first();
    let fingerprints = fingerprints(summary, context, &mut caches.fingerprints);
    SessionRecord {
        schema: SessionSchema::V1,
        event: Event {
            kind: if quic {
                SessionKind::Quic
            } else {
                SessionKind::Tls
            },
            start: rfc3339_from_unix_nanos(context.start_unix_nanos),
            end: rfc3339_from_unix_nanos(context.end_unix_nanos),
        },
        network: Network {
            transport: if quic { Transport::Udp } else { Transport::Tcp },
            ip_version: if client.is_ipv4() {
                IpVersion::Ipv4
            } else {
                IpVersion::Ipv6
            },
            protocol: if quic { Protocol::Quic } else { Protocol::Tls },
            vlan_id: context.vlan_id,
            tunnel: context.tunnel.as_ref().map(tunnel_info),
            community_id: community_id_v1(
                context.community_id_seed,
                if quic {
                    IpProtocol::Udp
                } else {
                    IpProtocol::Tcp
                }
                .number(),
                (client.ip(), client.port()),
                (server.ip(), server.port()),
            ),
        },
        client: Endpoint {
            address: super::address_text(client.ip()),
            port: client.port(),
            attribution: context.attribution[client_index]
                .clone()
                .unwrap_or_else(super::unattributed),
        },
        server: Endpoint {
            address: super::address_text(server.ip()),
            port: server.port(),
            attribution: context.attribution[server_index]
                .clone()
                .unwrap_or_else(super::unattributed),
        },
        host: None,
        tls: Tls {
            protocol: TlsProtocol {
                name: if negotiated_version.is_some_and(|v| v <= 0x0300) {
                    ProtocolName::Ssl
                } else {
                    ProtocolName::Tls
                },
                version: negotiated_version.and_then(otel_version).map(Cow::Borrowed),
            },
            cipher: server_hello.map(|hello| cipher_suite_name(hello.cipher_suite)),
            curve: key_exchange_group.map(group_name),
            next_protocol: server_hello
                .and_then(|hello| hello.alpn.as_deref())
                .or_else(|| {
                    summary
                        .encrypted_extensions
                        .as_ref()
                        .and_then(|ee| ee.alpn.as_deref())
                })
                .map(alpn_display),
            resumed: summary.resumed(),
            established: if quic {
                server_hello.is_some()
            } else {
                summary.encrypted[client_index] && summary.encrypted[server_index]
            },
            client: TlsClient {
                server_name: summary
                    .client_hello
                    .as_ref()
                    .and_then(|hello| hello.server_name.clone()),
                ja3: fingerprints.as_ref().and_then(|f| f.ja3.clone()),
                supported_ciphers: summary
                    .client_hello
                    .as_ref()
                    .map(|hello| {
                        hello
                            .cipher_suites
                            .iter()
                            .filter(|suite| !is_grease(**suite))
                            .map(|suite| cipher_suite_name(*suite))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            server: TlsServer {
                ja3s: fingerprints.as_ref().and_then(|f| f.ja3s.clone()),
                subject: leaf.map(|cert| cert.subject.clone()),
                issuer: leaf.map(|cert| cert.issuer.clone()),
                not_before: leaf.map(|cert| cert.not_before.clone()),
                not_after: leaf.map(|cert| cert.not_after.clone()),
                hash: leaf.map(|cert| CertificateHash {
                    sha256: cert.fingerprint_sha256.clone(),
                    sha1: cert.fingerprint_sha1.clone(),
                }),
            },
        },
        cipherlens: Cipherlens {
            cnflow_id: context.cnflow_id.clone(),
            quic: context.quic.clone(),
            observation: context.observation.as_ref().map(|seen| Observation {
                interface: seen.interface.clone(),
                ifindex: seen.ifindex,
                netns_cookie: seen.netns_cookie,
                client_socket: seen.sockets[client_index].clone(),
                server_socket: seen.sockets[server_index].clone(),
            }),
            session: SessionState {
                source: context.source,
                input: context.input.clone(),
                complete,
                incomplete_reasons,
                client_gap_bytes: outcome.gap_bytes[client_index],
                server_gap_bytes: outcome.gap_bytes[server_index],
                client_plaintext_prefix_bytes: summary.plaintext_prefix[client_index] as u64,
                server_plaintext_prefix_bytes: summary.plaintext_prefix[server_index] as u64,
                emitted_on: outcome.emitted_on,
            },
            tls: TlsDetail {
                version: negotiated_version.map(|v| named(v, version_name)),
                cipher: server_hello.map(|hello| named(hello.cipher_suite, cipher_suite_name)),
                key_exchange_group: key_exchange_group.map(|g| named(g, group_name)),
                post_quantum_key_exchange: key_exchange_group.is_some_and(is_post_quantum_group),
                client_hello: summary.client_hello.as_ref().map(client_hello_detail),
                server_hello: server_hello.map(server_hello_detail),
                hello_retry_request: summary.hello_retry_request.is_some(),
                hello_retry_request_group: summary
                    .hello_retry_request
                    .as_ref()
                    .and_then(|hello| hello.key_share_group)
                    .map(|group| named(group, group_name)),
                second_client_hello: summary.retry_client_hello.as_ref().map(client_hello_detail),
                fingerprints,
                server_certificates,
                client_certificates,
                certificate_source: context.certificate_source.clone(),
                dh_prime_bits: summary.server_key_exchange.and_then(|kx| kx.dh_prime_bits),
                certificate_requested: summary.certificate_requested,
                session_ticket_issued: summary.session_ticket_issued
                    || server_hello.is_some_and(|hello| hello.has_session_ticket),
                decrypted_handshake: (summary.decrypted_records.iter().any(|n| *n > 0)).then(
                    || DecryptedHandshake {
                        server_records: summary.decrypted_records[server_index] as u32,
                        client_records: summary.decrypted_records[client_index] as u32,
                        encrypted_extensions: summary
                            .encrypted_extensions
                            .as_ref()
                            .map(|ee| named_list(&ee.extension_types, extension_name))
                            .unwrap_or_default(),
                    },
                ),
                alerts: summary
                    .alerts
                    .iter()
                    .map(|alert| AlertRecord {
                        from: match summary.client {
                            None => AlertSender::Unknown,
                            Some(peer) if peer == alert.from => AlertSender::Client,
                            Some(_) => AlertSender::Server,
                        },
                        level: alert.level.map(|level| {
                            if level == 2 {
                                AlertLevel::Fatal
                            } else {
                                AlertLevel::Warning
                            }
                        }),
                        description: alert.description.map(|d| Named {
                            code: u16::from(d),
                            name: alert_description_name(d),
                        }),
                        encrypted: alert.level.is_none(),
                    })
                    .collect(),
                heartbeats: summary.heartbeats,
                client_hello_count: summary.client_hello_count,
                errors,
            },
        },
    }
}

fn summarize_chain(
    chain: &[Vec<u8>],
    certificates: &mut CertificateCache,
    errors: &mut Vec<String>,
) -> Vec<Arc<CertificateSummary>> {
    chain
        .iter()
        .enumerate()
        .filter_map(|(position, der)| match certificates.summarize(der) {
            Ok(summary) => Some(summary),
            Err(error) => {
                errors.push(format!("certificate {position}: {error}"));
                None
            }
        })
        .collect()
}

fn fingerprints(
    summary: &HandshakeSummary,
    context: &SessionContext,
    cache: &mut FingerprintCache,
) -> Option<Fingerprints> {
    let transport = context.transport;
    let client = summary.client_hello.as_ref();
    let server = summary.server_hello.as_ref();
    if client.is_none() && server.is_none() && summary.hello_retry_request.is_none() {
        return None;
    }
    let original_order = context.ja4_original_order;
    let client = client.map(|hello| cache.client(hello, transport, original_order));
    let server_ja3s = server.map(|hello| cache.server(hello));
    let second = summary
        .retry_client_hello
        .as_ref()
        .map(|hello| cache.client(hello, transport, false));
    let retry_ja3s = summary
        .hello_retry_request
        .as_ref()
        .map(|hello| cache.server(hello));
    let client_ja3 = client.as_ref().and_then(|f| f.ja3.as_ref());
    let client_ja4 = client.as_ref().and_then(|f| f.ja4.as_ref());
    let ja4_original = client.as_ref().and_then(|f| f.ja4_original.as_ref());
    let second_ja3 = second.as_ref().and_then(|f| f.ja3.as_ref());
    Some(Fingerprints {
        second_ja3: second_ja3.map(|f| f.hash.clone()),
        second_ja3_full: second_ja3.map(|f| f.full.clone()),
        second_ja4: second
            .as_ref()
            .and_then(|f| f.ja4.as_ref())
            .map(|f| f.ja4.clone()),
        hello_retry_request_ja3s: retry_ja3s.as_ref().map(|f| f.hash.clone()),
        hello_retry_request_ja3s_full: retry_ja3s.as_ref().map(|f| f.full.clone()),
        ja3: client_ja3.map(|f| f.hash.clone()),
        ja3_full: client_ja3.map(|f| f.full.clone()),
        ja3s: server_ja3s.as_ref().map(|f| f.hash.clone()),
        ja3s_full: server_ja3s.as_ref().map(|f| f.full.clone()),
        ja4: client_ja4.map(|f| f.ja4.clone()),
        ja4_r: client_ja4.map(|f| f.ja4_r.clone()),
        ja4_o: ja4_original.map(|f| f.ja4_o.clone()),
        ja4_ro: ja4_original.map(|f| f.ja4_ro.clone()),
    })
}

fn client_hello_detail(hello: &ClientHello) -> ClientHelloDetail {
    let extension_types: Vec<u16> = hello.extensions.iter().map(|e| e.extension_type).collect();
    let key_share_groups: Vec<u16> = hello.key_shares.iter().map(|share| share.group).collect();
    let grease = hello
        .cipher_suites
        .iter()
        .chain(&extension_types)
        .chain(&hello.supported_groups)
        .chain(&hello.supported_versions)
        .any(|value| is_grease(*value));
    ClientHelloDetail {
        version: named(hello.legacy_version, version_name),
        highest_offered_version: named(hello.highest_offered_version(), version_name),
        supported_versions: named_list(&hello.supported_versions, version_name),
        cipher_suites: named_list(&hello.cipher_suites, cipher_suite_name),
        extensions: named_list(&extension_types, extension_name),
        server_name: hello.server_name.clone(),
        alpn: hello
            .alpn
            .iter()
            .map(|protocol| alpn_display(protocol))
            .collect(),
        supported_groups: named_list(&hello.supported_groups, group_name),
        key_share_groups: named_list(&key_share_groups, group_name),
        signature_algorithms: named_list(&hello.signature_algorithms, signature_scheme_name),
        ec_point_formats: hello.ec_point_formats.to_vec(),
        compression_methods: hello.compression_methods.to_vec(),
        psk_key_exchange_modes: hello.psk_key_exchange_modes.to_vec(),
        session_id_length: hello.session_id.len(),
        session_ticket_length: hello.session_ticket_length,
        pre_shared_key: hello.has_pre_shared_key,
        early_data: hello.has_early_data,
        encrypted_client_hello: hello.has_encrypted_client_hello,
        grease,
        offers_post_quantum: hello.offers_post_quantum(),
        sslv2_format: hello.sslv2_format,
        malformed_extensions: hello.malformed_extensions.clone(),
    }
}

fn server_hello_detail(hello: &ServerHello) -> ServerHelloDetail {
    let extension_types: Vec<u16> = hello.extensions.iter().map(|e| e.extension_type).collect();
    ServerHelloDetail {
        version: named(hello.legacy_version, version_name),
        cipher_suite: named(hello.cipher_suite, cipher_suite_name),
        extensions: named_list(&extension_types, extension_name),
        compression_method: hello.compression_method,
        alpn: hello.alpn.as_deref().map(alpn_display),
        selected_version: hello.selected_version.map(|v| named(v, version_name)),
        key_share_group: hello.key_share_group.map(|g| named(g, group_name)),
        session_id_length: hello.session_id.len(),
        extended_master_secret: hello.has_extended_master_secret,
        encrypt_then_mac: hello.has_encrypt_then_mac,
        renegotiation_info: hello.has_renegotiation_info,
    }
}

/// A decoded tunnel as the record names it.
fn tunnel_info(tunnel: &cipherlens_capture::Tunnel) -> cipherlens_record::session::TunnelInfo {
    use cipherlens_capture::TunnelKind;
    use cipherlens_record::session::{TunnelInfo, TunnelOuter, TunnelType};
    let kind = match tunnel.kind {
        TunnelKind::Vxlan => TunnelType::Vxlan,
        TunnelKind::Geneve => TunnelType::Geneve,
        TunnelKind::Gre => TunnelType::Gre,
        TunnelKind::Erspan => TunnelType::Erspan,
        TunnelKind::IpInIp => TunnelType::IpInIp,
        TunnelKind::GtpU => TunnelType::GtpU,
        TunnelKind::Mpls => TunnelType::Mpls,
    };
    let id_for = |wanted: &[TunnelKind]| tunnel.id.filter(|_| wanted.contains(&tunnel.kind));
    TunnelInfo {
        kind,
        outer: tunnel
            .outer_src
            .zip(tunnel.outer_dst)
            .map(|(source, destination)| TunnelOuter {
                source: source.to_string(),
                destination: destination.to_string(),
            }),
        vni: id_for(&[TunnelKind::Vxlan, TunnelKind::Geneve]),
        teid: id_for(&[TunnelKind::GtpU]),
        key: id_for(&[TunnelKind::Gre]),
        session_id: id_for(&[TunnelKind::Erspan]),
        label: id_for(&[TunnelKind::Mpls]),
    }
}
