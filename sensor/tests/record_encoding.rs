//! The record writer encodes session and CNFlow records with its own
//! encoder (`writer::encode::RecordEncoder`: hand-written hot parts,
//! shared parts written once, rare parts through sonic-rs); serde_json,
//! the reference serializer of the serde data model, is the oracle. On
//! every session and flow of every fixture and third-party capture, and
//! on records carrying every part only live capture fills in (process,
//! container and pod attribution with hostile strings, the node, socket
//! observations, a chain from a TLS library, TCP metrics), the two must
//! write the same bytes, the first time a shared part is written and when
//! it is copied.

mod common;

use std::path::Path;
use std::sync::Arc;

use cipherlens_record::attribution::{
    Account, ContainerInfo, EndpointAttribution, Executable, HostInfo, K8sInfo, K8sPod, Named,
    ProcessInfo, Runtime,
};
use cipherlens_record::cnflow::{Side, TcpMetrics, TcpState, TcpSummary};
use cipherlens_record::session::{
    CallBinding, CertificateOrigin, CertificateSource, ChainSide, EmittedOn, Observation,
    SocketFacts,
};
use cipherlens_record::{CnFlowRecord, SessionRecord};
use cipherlens_sensor::build::{BuildCaches, cnflow_record, session_record};
use cipherlens_sensor::cnflow::CnFlowConfig;
use cipherlens_sensor::pipeline::PipelineConfig;
use cipherlens_sensor::replay::{ReplayOptions, Replayed, replay_capture};
use cipherlens_sensor::writer::encode::RecordEncoder;

use common::{captures_under, corpus_root, repo_root};

/// Both encodings of one record, when they differ.
type Difference = (String, String);

fn compare(reference: Vec<u8>, encoded: Vec<u8>, different: &mut Vec<Difference>) {
    if reference != encoded {
        different.push((
            String::from_utf8_lossy(&reference).into_owned(),
            String::from_utf8_lossy(&encoded).into_owned(),
        ));
    }
}

fn check_session(
    encoder: &mut RecordEncoder,
    record: &SessionRecord,
    different: &mut Vec<Difference>,
) {
    let mut encoded = Vec::new();
    encoder.session(record, &mut encoded).expect("encodes");
    compare(
        serde_json::to_vec(record).expect("serde_json encodes"),
        encoded,
        different,
    );
}

fn check_flow(encoder: &mut RecordEncoder, record: &CnFlowRecord, different: &mut Vec<Difference>) {
    let mut encoded = Vec::new();
    encoder.flow(record, &mut encoded).expect("encodes");
    compare(
        serde_json::to_vec(record).expect("serde_json encodes"),
        encoded,
        different,
    );
}

/// The sessions and flows of `pcap`.
fn records(pcap: &Path) -> (Vec<SessionRecord>, Vec<CnFlowRecord>) {
    let mut caches = BuildCaches::default();
    let (mut sessions, mut flows) = (Vec::new(), Vec::new());
    let options = ReplayOptions {
        flows: Some(CnFlowConfig::default()),
        ..ReplayOptions::default()
    };
    let _ = replay_capture(
        pcap,
        PipelineConfig::default(),
        options,
        |item| match item {
            Replayed::Session(finished) => sessions.push(session_record(&finished, &mut caches)),
            Replayed::Flow(facts) => flows.push(cnflow_record(&facts, 0, None, 0)),
        },
    );
    (sessions, flows)
}

fn panic_on_first(what: &str, different: &[Difference], compared: usize) {
    if let Some((reference, encoded)) = different.first() {
        panic!(
            "{what}: {} of {compared} records differ; first:\nserde_json: {reference}\nencoder:    {encoded}",
            different.len()
        );
    }
}

#[test]
fn session_and_flow_records_encode_as_serde_json_encodes_them() {
    let mut captures = captures_under(&repo_root().join("fixtures"));
    captures.extend(captures_under(&corpus_root()));
    assert!(captures.len() > 50, "captures: {}", captures.len());
    let mut encoder = RecordEncoder::default();
    let mut compared = 0;
    let mut certificates = 0;
    for pcap in &captures {
        let (sessions, flows) = records(pcap);
        let mut different = Vec::new();
        // Twice: certificate summaries are written, then copied.
        for _ in 0..2 {
            for session in &sessions {
                check_session(&mut encoder, session, &mut different);
            }
            for flow in &flows {
                check_flow(&mut encoder, flow, &mut different);
            }
        }
        compared += sessions.len() + flows.len();
        certificates += sessions
            .iter()
            .filter(|session| !session.cipherlens.tls.server_certificates.is_empty())
            .count();
        panic_on_first(
            &pcap.display().to_string(),
            &different,
            2 * (sessions.len() + flows.len()),
        );
    }
    // Most captures hold a handshake and its flow: the comparison covers
    // more records than there are captures, certificates included.
    assert!(
        compared > captures.len(),
        "records compared: {compared}, captures: {}",
        captures.len()
    );
    assert!(certificates > 10, "sessions with a chain: {certificates}");
}

/// Every character class a command line, path or label can hold.
fn hostile(prefix: &str) -> String {
    let mut text =
        format!("{prefix} \"quoted\" back\\slash tab\t newline\n nul\u{0} esc\u{1b} del\u{7f}");
    text.push_str(" é中\u{2028}\u{2029}\u{10FFFF} /slash");
    text
}

fn attributed(pid: u32) -> Arc<EndpointAttribution> {
    Arc::new(EndpointAttribution {
        process: Some(ProcessInfo {
            pid,
            parent_pid: Some(1),
            executable: Some(Executable {
                name: Some(hostile("comm")),
                path: Some(hostile("/usr/bin/x")),
            }),
            command_line: Some(hostile("x --flag")),
            user: Some(Account {
                id: 1000,
                name: Some("user".into()),
            }),
            group: Some(Account { id: 0, name: None }),
        }),
        container: Some(ContainerInfo {
            id: "0123456789abcdef".repeat(4),
            runtime: Some(Runtime::Containerd),
        }),
        k8s: Some(K8sInfo {
            pod: K8sPod {
                uid: "5e1f7c6a-0000-4000-8000-000000000001".into(),
                name: Some(hostile("pod")),
            },
            namespace: Some(Named {
                name: "default".into(),
            }),
            container: None,
        }),
    })
}

/// Only a process, and the empty attribution of a remote endpoint.
fn partly_attributed(pid: u32) -> [Arc<EndpointAttribution>; 2] {
    [
        Arc::new(EndpointAttribution {
            process: Some(ProcessInfo {
                pid,
                parent_pid: None,
                executable: None,
                command_line: None,
                user: None,
                group: None,
            }),
            container: None,
            k8s: None,
        }),
        Arc::default(),
    ]
}

#[test]
fn live_records_with_every_part_encode_as_serde_json_encodes_them() {
    let fixtures = repo_root().join("fixtures/pcaps");
    let mut sessions = Vec::new();
    let mut flows = Vec::new();
    for name in ["tls13-openssl", "tls12-openssl", "quic-aioquic"] {
        let (found_sessions, found_flows) = records(&fixtures.join(format!("{name}.pcap")));
        assert!(
            !found_sessions.is_empty() && !found_flows.is_empty(),
            "{name}"
        );
        sessions.extend(found_sessions);
        flows.extend(found_flows);
    }
    let host = Arc::new(HostInfo {
        name: hostile("node"),
        id: Some("3d1219c7c4c5404aaa1f6d2a48adfda4".into()),
    });
    let [process_only, remote] = partly_attributed(7);
    let attributions = [
        (attributed(41), attributed(42)),
        (process_only, remote.clone()),
        (remote.clone(), remote),
    ];
    let mut encoder = RecordEncoder::default();
    let mut different = Vec::new();
    let mut compared = 0;
    for (client, server) in &attributions {
        for session in &sessions {
            let mut record = session.clone();
            record.client.attribution = Arc::clone(client);
            record.server.attribution = Arc::clone(server);
            record.host = Some(host.clone());
            record.cipherlens.cnflow_id = Some("5ef613daf72468dfadbe4e04ce9c4d2b".into());
            record.cipherlens.session.input = Some(hostile("eth0"));
            record.cipherlens.session.emitted_on = EmittedOn::IdleTimeout;
            record.cipherlens.session.incomplete_reasons = vec![hostile("reason")];
            record.cipherlens.observation = Some(Observation {
                interface: Some(hostile("veth")),
                ifindex: u32::MAX,
                netns_cookie: u64::MAX,
                client_socket: Some(SocketFacts {
                    socket_cookie: 1,
                    cgroup_id: 2,
                    pid: Some(3),
                    tid: None,
                }),
                server_socket: None,
            });
            record.cipherlens.tls.certificate_source = Some(CertificateSource {
                chain: ChainSide::Server,
                origin: CertificateOrigin::TlsLibrary,
                pid: 41,
                comm: Some(hostile("comm")),
                library: "openssl-3".into(),
                version: None,
                path: hostile("/usr/lib/libssl.so.3"),
                binding: CallBinding::Thread,
            });
            record.cipherlens.tls.errors = vec![hostile("error")];
            // Twice: the attribution is written, then copied.
            for _ in 0..2 {
                check_session(&mut encoder, &record, &mut different);
                compared += 1;
            }
        }
        for flow in &flows {
            let mut record = flow.clone();
            record.client.attribution = Arc::clone(client);
            record.server.attribution = Arc::clone(server);
            record.host = Some(host.clone());
            record.cnflow.tcp = Some(TcpSummary {
                observed_at: Side::Server,
                metrics: TcpMetrics {
                    state: TcpState::CloseWait,
                    rtt_us: 1,
                    rtt_var_us: Some(2),
                    min_rtt_us: None,
                    segments_in: Some(3),
                    segments_out: None,
                    retransmitted_segments: 4,
                    retransmitted_bytes: Some(u64::MAX),
                    lost_segments: 5,
                    out_of_order_packets: None,
                    delivery_rate: Some(6),
                    receive_window: None,
                    send_congestion_window: 10,
                },
            });
            check_flow(&mut encoder, &record, &mut different);
            compared += 1;
        }
    }
    panic_on_first("live records", &different, compared);
}
