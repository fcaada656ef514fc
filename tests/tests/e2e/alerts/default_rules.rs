//! One real session per condition of the default rules, each to a server
//! of its own, through one live sensor with a policy that only adds a JA3
//! deny list and a CA bundle: every rule fires on the session made to have
//! its condition, with the evidence tshark and openssl give, and no rule
//! fires on a session that lacks its condition; `replay` of the parallel
//! capture raises the same alerts.

use std::collections::BTreeMap;
use std::time::Duration;

use cipherlens_integration::x509::unix_seconds;
use cipherlens_integration::{CertificateFacts, Server, TestBed};
use serde_json::Value;

use super::conditions::{CONDITIONS, Condition, Pki, connect, server};
use super::expected::{self, Expected};
use super::wire::{self, Wire};
use super::{alerts_in_order, replay, write_policy};

/// Checks the alerts one source (`live` or `replay`) raised on the session
/// tshark read as `wire` against `expected`; `start_within` is how far the
/// session's start may be from the client's SYN in the capture.
fn check(
    source: &str,
    condition: Condition,
    wire: &Wire,
    alerts: &[&Value],
    expected: &Expected,
    start_within: f64,
) {
    let context = format!("{source}, {condition:?}");
    let mut rules: Vec<&str> = alerts
        .iter()
        .filter_map(|alert| alert["rule"].as_str())
        .collect();
    rules.sort_unstable();
    let wanted: Vec<&str> = expected.keys().copied().collect();
    assert_eq!(
        rules, wanted,
        "{context}: rules fired (alerts: {alerts:#?})"
    );
    for alert in alerts {
        let rule = alert["rule"].as_str().expect("rule");
        let (severity, evidence) = &expected[rule];
        assert_eq!(
            alert["severity"], *severity,
            "{context}: severity of {rule}"
        );
        let start = &alert["session"]["start"];
        let mut evidence = evidence.clone();
        if let Some(session_start) = evidence.get_mut("event.start") {
            *session_start = start.clone();
        }
        assert_eq!(alert["evidence"], evidence, "{context}: evidence of {rule}");
        assert!(
            alert["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty()),
            "{context}: {alert}"
        );
        let event = &alert["event"];
        assert_eq!(event["count"], 1, "{context}: {alert}");
        assert_eq!(event["first_seen"], *start, "{context}: {alert}");
        let off = (unix_seconds(start.as_str().expect("start")) - wire.syn_time).abs();
        assert!(
            off <= start_within,
            "{context}: session start {start} is {off} s from the SYN"
        );
        assert_eq!(
            alert["session"]["server_name"].as_str(),
            wire.sni.as_deref(),
            "{context}"
        );
        assert_eq!(
            alert["client"]["address"],
            wire.client_address.as_str(),
            "{context}"
        );
        assert_eq!(alert["client"]["port"], wire.client_port, "{context}");
        assert_eq!(
            alert["server"]["address"],
            wire.server_address.as_str(),
            "{context}"
        );
        assert_eq!(alert["server"]["port"], wire.server_port, "{context}");
    }
}

/// The alerts on the session to `port`, in their order.
fn on_server(alerts: &[Value], port: u16) -> Vec<&Value> {
    alerts
        .iter()
        .filter(|alert| alert["server"]["port"] == port)
        .collect()
}

#[test]
fn every_default_rule_fires_on_the_session_that_has_its_condition_and_only_there_live_and_replayed()
{
    let bed = TestBed::new("alerts");
    let dir = bed.dir();
    let pki = Pki::new(dir);
    let servers: BTreeMap<Condition, (Server, Option<CertificateFacts>)> = CONDITIONS
        .iter()
        .map(|condition| {
            let (server, certificate) = server(&bed, &pki, *condition);
            let facts = certificate.map(|certificate| CertificateFacts::read(&certificate.cert));
            (*condition, (server, facts))
        })
        .collect();
    let port = |condition: Condition| servers[&condition].0.port;

    // The deny list holds the JA3 tshark reads from one handshake of the
    // DeniedJa3 client, before the sensor starts.
    let ja3 = {
        let dump = bed.tcpdump("ja3.pcap");
        connect(&bed, Condition::DeniedJa3, port(Condition::DeniedJa3));
        let sessions = wire::sessions(&dump.finish());
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        sessions.into_values().next().expect("a session").ja3
    };
    let policy = write_policy(
        dir,
        "policy.toml",
        &format!(
            "[fingerprints]\ndeny_ja3 = [\"{ja3}\"]\n\n[trust]\nca_bundle = \"{}\"\n",
            pki.ca.root.cert
        ),
    );

    let dump = bed.tcpdump("alerts.pcap");
    let sensor = bed.sensor(&["--policy", policy.to_str().expect("UTF-8 path")]);
    for condition in CONDITIONS {
        connect(&bed, condition, port(condition));
    }
    std::thread::sleep(Duration::from_millis(500));
    let (sessions, stats, _) = sensor.stop();
    let pcap = dump.finish();
    let records = cipherlens_integration::read_json_lines(&dir.join("records.jsonl"));
    let live = alerts_in_order(&records, |_| true);
    let replayed = replay(&pcap, &policy);
    let replay_alerts = alerts_in_order(&replayed, |_| true);

    assert_eq!(
        sessions.len(),
        CONDITIONS.len(),
        "one session record per handshake"
    );
    let policy_stats = &stats["policy"];
    assert_eq!(
        policy_stats["file"],
        policy.to_str().expect("UTF-8 path"),
        "{stats}"
    );
    assert_eq!(policy_stats["alerts_published"], live.len(), "{stats}");
    assert_eq!(policy_stats["alerts_suppressed"], 0, "{stats}");
    assert_eq!(policy_stats["reloads"], 0, "{stats}");

    let suites = wire::suite_names();
    let on_wire = wire::sessions(&pcap);
    for (condition, (server, facts)) in &servers {
        let mut sessions = on_wire
            .values()
            .filter(|wire| wire.server_port == server.port);
        let wire = sessions
            .next()
            .unwrap_or_else(|| panic!("tshark sees no session for {condition:?}: {on_wire:#?}"));
        assert!(sessions.next().is_none(), "one session for {condition:?}");
        let expected = expected::alerts(*condition, wire, facts.as_ref(), &suites);
        let live_here = on_server(&live, server.port);
        let replay_here = on_server(&replay_alerts, server.port);
        check("live", *condition, wire, &live_here, &expected, 1.0);
        // Replay times sessions by the capture's own timestamps.
        check("replay", *condition, wire, &replay_here, &expected, 2e-6);
        for (one, other) in live_here.iter().zip(&replay_here) {
            assert_eq!(
                one["session"]["community_id"],
                other["session"]["community_id"]
            );
        }
    }
    // What the conditions were made of, read on the wire.
    let wire_of = |condition| {
        on_wire
            .values()
            .find(|wire| wire.server_port == port(condition))
            .expect("session")
    };
    assert_eq!(
        wire_of(Condition::Modern).key_share_group,
        Some(0x11ec),
        "X25519MLKEM768 negotiated"
    );
    assert_eq!(
        wire_of(Condition::PqRefused).key_share_group,
        Some(29),
        "x25519 chosen"
    );
    assert_eq!(wire_of(Condition::Dh1024).dh_prime_bits, Some(1024));
    assert_eq!(wire_of(Condition::Anonymous).dh_prime_bits, Some(2048));
    assert_eq!(wire_of(Condition::Tls10).version, Some(0x0301));
    assert_eq!(
        wire_of(Condition::OfferedTls10).version,
        None,
        "no ServerHello"
    );
    let denied: Vec<Condition> = CONDITIONS
        .into_iter()
        .filter(|c| wire_of(*c).ja3 == ja3)
        .collect();
    assert_eq!(
        denied,
        [Condition::DeniedJa3],
        "only that client has the denied JA3"
    );
}
