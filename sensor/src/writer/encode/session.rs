//! A session record, field by field in its serde order. Every struct is
//! taken apart with a pattern naming all its fields, so a field added to
//! the record model does not compile until it is written here too.

use cipherlens_record::session::{
    CertificateHash, Cipherlens, ClientHelloDetail, Event, Fingerprints, Named, Network,
    Observation, ServerHelloDetail, SessionRecord, SessionState, SocketFacts, Tls, TlsClient,
    TlsDetail, TlsProtocol, TlsServer,
};

use super::RecordEncoder;
use super::json::{Json, Obj, key};

/// The most frequent object of a session record (lists of them: cipher
/// suites, extensions, groups, signature algorithms), written without
/// [`Obj`]'s bookkeeping.
impl Json for Named {
    fn write(&self, out: &mut Vec<u8>) {
        let Named { code, name } = self;
        out.extend_from_slice(concat!("{", key!("code")).as_bytes());
        code.write(out);
        out.extend_from_slice(concat!(",", key!("name")).as_bytes());
        name.write(out);
        out.push(b'}');
    }
}

impl Json for CertificateHash {
    fn write(&self, out: &mut Vec<u8>) {
        let CertificateHash { sha256, sha1 } = self;
        let mut hash = Obj::open(out);
        hash.field(key!("sha256"), sha256);
        hash.field(key!("sha1"), sha1);
        hash.close();
    }
}

impl RecordEncoder {
    pub(super) fn session_record(&mut self, record: &SessionRecord, out: &mut Vec<u8>) {
        let SessionRecord {
            schema,
            event,
            network,
            client,
            server,
            host,
            tls,
            cipherlens,
        } = record;
        let mut object = Obj::open(out);
        self.variant(object.key(key!("schema")), schema);
        self.event(object.key(key!("event")), event);
        self.network(object.key(key!("network")), network);
        self.endpoint(object.key(key!("client")), client);
        self.endpoint(object.key(key!("server")), server);
        if let Some(host) = host {
            Self::host(object.key(key!("host")), host);
        }
        self.tls(object.key(key!("tls")), tls);
        self.cipherlens(object.key(key!("cipherlens")), cipherlens);
        object.close();
    }

    fn event(&mut self, out: &mut Vec<u8>, event: &Event) {
        let Event { kind, start, end } = event;
        let mut object = Obj::open(out);
        self.variant(object.key(key!("kind")), kind);
        object.field(key!("start"), start);
        object.field(key!("end"), end);
        object.close();
    }

    fn network(&mut self, out: &mut Vec<u8>, network: &Network) {
        let Network {
            transport,
            ip_version,
            protocol,
            vlan_id,
            tunnel,
            community_id,
        } = network;
        let mut object = Obj::open(out);
        self.variant(object.key(key!("transport")), transport);
        self.variant(object.key(key!("type")), ip_version);
        self.variant(object.key(key!("protocol")), protocol);
        object.optional(key!("vlan_id"), vlan_id);
        if let Some(tunnel) = tunnel {
            self.serde(object.key(key!("tunnel")), tunnel);
        }
        object.field(key!("community_id"), community_id);
        object.close();
    }

    fn tls(&mut self, out: &mut Vec<u8>, tls: &Tls) {
        let Tls {
            protocol,
            cipher,
            curve,
            next_protocol,
            resumed,
            established,
            client,
            server,
        } = tls;
        let mut object = Obj::open(out);
        let TlsProtocol { name, version } = protocol;
        {
            let mut protocol = Obj::open(object.key(key!("protocol")));
            self.variant(protocol.key(key!("name")), name);
            protocol.optional(key!("version"), version);
            protocol.close();
        }
        object.optional(key!("cipher"), cipher);
        object.optional(key!("curve"), curve);
        object.optional(key!("next_protocol"), next_protocol);
        object.field(key!("resumed"), resumed);
        object.field(key!("established"), established);
        let TlsClient {
            server_name,
            ja3,
            supported_ciphers,
        } = client;
        {
            let mut client = Obj::open(object.key(key!("client")));
            client.optional(key!("server_name"), server_name);
            client.optional(key!("ja3"), ja3);
            client.field(key!("supported_ciphers"), supported_ciphers);
            client.close();
        }
        let TlsServer {
            ja3s,
            subject,
            issuer,
            not_before,
            not_after,
            hash,
        } = server;
        {
            let mut server = Obj::open(object.key(key!("server")));
            server.optional(key!("ja3s"), ja3s);
            server.optional(key!("subject"), subject);
            server.optional(key!("issuer"), issuer);
            server.optional(key!("not_before"), not_before);
            server.optional(key!("not_after"), not_after);
            server.optional(key!("hash"), hash);
            server.close();
        }
        object.close();
    }

    fn cipherlens(&mut self, out: &mut Vec<u8>, cipherlens: &Cipherlens) {
        let Cipherlens {
            cnflow_id,
            session,
            tls,
            quic,
            observation,
        } = cipherlens;
        let mut object = Obj::open(out);
        object.optional(key!("cnflow_id"), cnflow_id);
        self.session_state(object.key(key!("session")), session);
        self.tls_detail(object.key(key!("tls")), tls);
        if let Some(quic) = quic {
            self.serde(object.key(key!("quic")), quic);
        }
        if let Some(observation) = observation {
            observation_json(object.key(key!("observation")), observation);
        }
        object.close();
    }

    fn session_state(&mut self, out: &mut Vec<u8>, state: &SessionState) {
        let SessionState {
            source,
            input,
            complete,
            incomplete_reasons,
            client_gap_bytes,
            server_gap_bytes,
            client_plaintext_prefix_bytes,
            server_plaintext_prefix_bytes,
            emitted_on,
        } = state;
        let mut object = Obj::open(out);
        self.variant(object.key(key!("source")), source);
        object.optional(key!("input"), input);
        object.field(key!("complete"), complete);
        object.field(key!("incomplete_reasons"), incomplete_reasons);
        object.field(key!("client_gap_bytes"), client_gap_bytes);
        object.field(key!("server_gap_bytes"), server_gap_bytes);
        object.field(
            key!("client_plaintext_prefix_bytes"),
            client_plaintext_prefix_bytes,
        );
        object.field(
            key!("server_plaintext_prefix_bytes"),
            server_plaintext_prefix_bytes,
        );
        self.variant(object.key(key!("emitted_on")), emitted_on);
        object.close();
    }

    fn tls_detail(&mut self, out: &mut Vec<u8>, detail: &TlsDetail) {
        let TlsDetail {
            version,
            cipher,
            key_exchange_group,
            post_quantum_key_exchange,
            client_hello,
            server_hello,
            hello_retry_request,
            hello_retry_request_group,
            second_client_hello,
            fingerprints,
            server_certificates,
            client_certificates,
            certificate_source,
            dh_prime_bits,
            certificate_requested,
            session_ticket_issued,
            decrypted_handshake,
            alerts,
            heartbeats,
            client_hello_count,
            errors,
        } = detail;
        let mut object = Obj::open(out);
        object.optional(key!("version"), version);
        object.optional(key!("cipher"), cipher);
        object.optional(key!("key_exchange_group"), key_exchange_group);
        object.field(key!("post_quantum_key_exchange"), post_quantum_key_exchange);
        object.optional(key!("client_hello"), client_hello);
        object.optional(key!("server_hello"), server_hello);
        object.field(key!("hello_retry_request"), hello_retry_request);
        object.optional(key!("hello_retry_request_group"), hello_retry_request_group);
        object.optional(key!("second_client_hello"), second_client_hello);
        object.optional(key!("fingerprints"), fingerprints);
        self.certificates(object.key(key!("server_certificates")), server_certificates);
        self.certificates(object.key(key!("client_certificates")), client_certificates);
        if let Some(source) = certificate_source {
            self.serde(object.key(key!("certificate_source")), source);
        }
        object.optional(key!("dh_prime_bits"), dh_prime_bits);
        object.field(key!("certificate_requested"), certificate_requested);
        object.field(key!("session_ticket_issued"), session_ticket_issued);
        if let Some(decrypted) = decrypted_handshake {
            self.serde(object.key(key!("decrypted_handshake")), decrypted);
        }
        self.serde(object.key(key!("alerts")), alerts);
        object.field(key!("heartbeats"), heartbeats);
        object.field(key!("client_hello_count"), client_hello_count);
        object.field(key!("errors"), errors);
        object.close();
    }
}

fn observation_json(out: &mut Vec<u8>, observation: &Observation) {
    let Observation {
        interface,
        ifindex,
        netns_cookie,
        client_socket,
        server_socket,
    } = observation;
    let mut object = Obj::open(out);
    object.optional(key!("interface"), interface);
    object.field(key!("ifindex"), ifindex);
    object.field(key!("netns_cookie"), netns_cookie);
    object.optional(key!("client_socket"), client_socket);
    object.optional(key!("server_socket"), server_socket);
    object.close();
}

impl Json for SocketFacts {
    fn write(&self, out: &mut Vec<u8>) {
        let SocketFacts {
            socket_cookie,
            cgroup_id,
            pid,
            tid,
        } = self;
        let mut object = Obj::open(out);
        object.field(key!("socket_cookie"), socket_cookie);
        object.field(key!("cgroup_id"), cgroup_id);
        object.optional(key!("pid"), pid);
        object.optional(key!("tid"), tid);
        object.close();
    }
}

impl Json for ClientHelloDetail {
    fn write(&self, out: &mut Vec<u8>) {
        let ClientHelloDetail {
            version,
            highest_offered_version,
            supported_versions,
            cipher_suites,
            extensions,
            server_name,
            alpn,
            supported_groups,
            key_share_groups,
            signature_algorithms,
            ec_point_formats,
            compression_methods,
            psk_key_exchange_modes,
            session_id_length,
            session_ticket_length,
            pre_shared_key,
            early_data,
            encrypted_client_hello,
            grease,
            offers_post_quantum,
            sslv2_format,
            malformed_extensions,
        } = self;
        let mut object = Obj::open(out);
        object.field(key!("version"), version);
        object.field(key!("highest_offered_version"), highest_offered_version);
        object.field(key!("supported_versions"), supported_versions);
        object.field(key!("cipher_suites"), cipher_suites);
        object.field(key!("extensions"), extensions);
        object.optional(key!("server_name"), server_name);
        object.field(key!("alpn"), alpn);
        object.field(key!("supported_groups"), supported_groups);
        object.field(key!("key_share_groups"), key_share_groups);
        object.field(key!("signature_algorithms"), signature_algorithms);
        object.field(key!("ec_point_formats"), ec_point_formats);
        object.field(key!("compression_methods"), compression_methods);
        object.field(key!("psk_key_exchange_modes"), psk_key_exchange_modes);
        object.field(key!("session_id_length"), session_id_length);
        object.optional(key!("session_ticket_length"), session_ticket_length);
        object.field(key!("pre_shared_key"), pre_shared_key);
        object.field(key!("early_data"), early_data);
        object.field(key!("encrypted_client_hello"), encrypted_client_hello);
        object.field(key!("grease"), grease);
        object.field(key!("offers_post_quantum"), offers_post_quantum);
        object.field(key!("sslv2_format"), sslv2_format);
        object.field(key!("malformed_extensions"), malformed_extensions);
        object.close();
    }
}

impl Json for ServerHelloDetail {
    fn write(&self, out: &mut Vec<u8>) {
        let ServerHelloDetail {
            version,
            cipher_suite,
            extensions,
            compression_method,
            alpn,
            selected_version,
            key_share_group,
            session_id_length,
            extended_master_secret,
            encrypt_then_mac,
            renegotiation_info,
        } = self;
        let mut object = Obj::open(out);
        object.field(key!("version"), version);
        object.field(key!("cipher_suite"), cipher_suite);
        object.field(key!("extensions"), extensions);
        object.field(key!("compression_method"), compression_method);
        object.optional(key!("alpn"), alpn);
        object.optional(key!("selected_version"), selected_version);
        object.optional(key!("key_share_group"), key_share_group);
        object.field(key!("session_id_length"), session_id_length);
        object.field(key!("extended_master_secret"), extended_master_secret);
        object.field(key!("encrypt_then_mac"), encrypt_then_mac);
        object.field(key!("renegotiation_info"), renegotiation_info);
        object.close();
    }
}

impl Json for Fingerprints {
    fn write(&self, out: &mut Vec<u8>) {
        let Fingerprints {
            ja3,
            ja3_full,
            ja3s,
            ja3s_full,
            ja4,
            ja4_r,
            ja4_o,
            ja4_ro,
            second_ja3,
            second_ja3_full,
            second_ja4,
            hello_retry_request_ja3s,
            hello_retry_request_ja3s_full,
        } = self;
        let mut object = Obj::open(out);
        object.optional(key!("ja3"), ja3);
        object.optional(key!("ja3_full"), ja3_full);
        object.optional(key!("ja3s"), ja3s);
        object.optional(key!("ja3s_full"), ja3s_full);
        object.optional(key!("ja4"), ja4);
        object.optional(key!("ja4_r"), ja4_r);
        object.optional(key!("ja4_o"), ja4_o);
        object.optional(key!("ja4_ro"), ja4_ro);
        object.optional(key!("second_ja3"), second_ja3);
        object.optional(key!("second_ja3_full"), second_ja3_full);
        object.optional(key!("second_ja4"), second_ja4);
        object.optional(key!("hello_retry_request_ja3s"), hello_retry_request_ja3s);
        object.optional(
            key!("hello_retry_request_ja3s_full"),
            hello_retry_request_ja3s_full,
        );
        object.close();
    }
}
