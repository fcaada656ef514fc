//! Deduplication per (rule, server endpoint, client workload) in a window
//! of session time.

mod common;

use std::time::Duration;

use cipherlens_policy::{
    Decision, DedupKey, Deduplicator, Policy, Publish, RuleId, Timestamp, Workload, alert_record,
};
use cipherlens_record::attribution::{ContainerInfo, Executable, K8sInfo, K8sPod, ProcessInfo};
use common::*;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000 + seconds)
}

fn publish(count: u64, first: i64, last: i64) -> Decision {
    Decision::Publish(Publish {
        count,
        first_seen: at(first),
        last_seen: at(last),
    })
}

const TEN_MINUTES: Duration = Duration::from_secs(600);

#[test]
fn one_alert_per_window_with_the_repeats_counted() {
    let record = tls12();
    let key = DedupKey::new(RuleId::ValidityTooLong, &record);
    let mut dedup = Deduplicator::new(TEN_MINUTES);
    assert_eq!(dedup.observe(&key, at(0)), publish(1, 0, 0));
    assert_eq!(dedup.observe(&key, at(10)), Decision::Suppress);
    assert_eq!(dedup.observe(&key, at(20)), Decision::Suppress);
    assert_eq!(dedup.observe(&key, at(599)), Decision::Suppress);
    // The window is [0, 600): at 600 the next alert carries the 3 repeats.
    assert_eq!(dedup.observe(&key, at(600)), publish(4, 10, 600));
    // A new window opened at 600.
    assert_eq!(dedup.observe(&key, at(1199)), Decision::Suppress);
    assert_eq!(dedup.observe(&key, at(1200)), publish(2, 1199, 1200));
    // Nothing in between: count 1 again.
    assert_eq!(dedup.observe(&key, at(5000)), publish(1, 5000, 5000));
    assert_eq!(dedup.len(), 1);
}

#[test]
fn a_zero_window_publishes_everything() {
    let record = tls12();
    let key = DedupKey::new(RuleId::ValidityTooLong, &record);
    let mut dedup = Deduplicator::new(Duration::ZERO);
    for second in [0, 0, 1] {
        assert_eq!(dedup.observe(&key, at(second)), publish(1, second, second));
    }
}

#[test]
fn keys_differ_by_rule_server_and_client_workload() {
    let base = tls12();
    let mut dedup = Deduplicator::new(TEN_MINUTES);
    let first = DedupKey::new(RuleId::ValidityTooLong, &base);
    assert!(matches!(dedup.observe(&first, at(0)), Decision::Publish(_)));

    let mut other_port = base.clone();
    other_port.server.port += 1;
    let mut other_sni = base.clone();
    set_sni(&mut other_sni, Some("other.fixtures.test"));
    let mut other_client = base.clone();
    other_client.client.address = "127.0.0.2".into();
    for record in [&other_port, &other_sni, &other_client] {
        let key = DedupKey::new(RuleId::ValidityTooLong, record);
        assert!(matches!(dedup.observe(&key, at(1)), Decision::Publish(_)));
    }
    let other_rule = DedupKey::new(RuleId::SelfSigned, &base);
    assert!(matches!(
        dedup.observe(&other_rule, at(1)),
        Decision::Publish(_)
    ));
    // The client's port is not part of the key: a new connection from the
    // same client is a repeat.
    let mut new_connection = base.clone();
    new_connection.client.port += 1;
    let key = DedupKey::new(RuleId::ValidityTooLong, &new_connection);
    assert_eq!(dedup.observe(&key, at(2)), Decision::Suppress);
    assert_eq!(dedup.len(), 5);
}

#[test]
fn the_client_workload_prefers_container_then_pod_then_executable_then_address() {
    let mut record = tls12();
    assert_eq!(Workload::of_client(&record), Workload::Address("127.0.0.1"));
    std::sync::Arc::make_mut(&mut record.client.attribution).process = Some(ProcessInfo {
        pid: 42,
        parent_pid: None,
        executable: Some(Executable {
            name: Some("curl".into()),
            path: Some("/usr/bin/curl".into()),
        }),
        command_line: None,
        user: None,
        group: None,
    });
    assert_eq!(
        Workload::of_client(&record),
        Workload::Executable("/usr/bin/curl")
    );
    std::sync::Arc::make_mut(&mut record.client.attribution).k8s = Some(K8sInfo {
        pod: K8sPod {
            uid: "5f1c2d3e-0000-4000-8000-000000000001".into(),
            name: Some("web-0".into()),
        },
        namespace: None,
        container: None,
    });
    assert_eq!(
        Workload::of_client(&record),
        Workload::Pod("5f1c2d3e-0000-4000-8000-000000000001")
    );
    let id = "a".repeat(64);
    std::sync::Arc::make_mut(&mut record.client.attribution).container = Some(ContainerInfo {
        id: id.clone(),
        runtime: None,
    });
    assert_eq!(Workload::of_client(&record), Workload::Container(&id));

    // Two processes of the same container are one workload; two addresses
    // without attribution are two.
    let mut same_container = record.clone();
    same_container.client.address = "10.0.0.9".into();
    let mut dedup = Deduplicator::new(TEN_MINUTES);
    let key = DedupKey::new(RuleId::SniMissing, &record);
    assert!(matches!(dedup.observe(&key, at(0)), Decision::Publish(_)));
    let key = DedupKey::new(RuleId::SniMissing, &same_container);
    assert_eq!(dedup.observe(&key, at(1)), Decision::Suppress);
}

#[test]
fn expire_forgets_old_keys_and_returns_unpublished_repeats() {
    let record = tls12();
    let quiet = DedupKey::new(RuleId::SelfSigned, &record);
    let busy = DedupKey::new(RuleId::ValidityTooLong, &record);
    let mut dedup = Deduplicator::new(TEN_MINUTES);
    dedup.observe(&quiet, at(0));
    dedup.observe(&busy, at(100));
    dedup.observe(&busy, at(150));
    dedup.observe(&busy, at(160));
    // At 650 only the first key's window [0, 600) ended; it had no repeats.
    assert_eq!(dedup.expire(at(650)), vec![]);
    assert_eq!(dedup.len(), 1);
    let expired = dedup.expire(at(700));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].key.rule, RuleId::ValidityTooLong);
    assert_eq!(expired[0].count, 2);
    assert_eq!(
        (expired[0].first_seen, expired[0].last_seen),
        (at(150), at(160))
    );
    assert!(dedup.is_empty());
    // Forgotten: the next one is published alone.
    assert_eq!(dedup.observe(&busy, at(701)), publish(1, 701, 701));
    dedup.observe(&busy, at(702));
    let flushed = dedup.flush();
    assert_eq!(flushed.len(), 1);
    assert_eq!(flushed[0].count, 1);
    assert!(dedup.is_empty());
    assert_eq!(dedup.window(), TEN_MINUTES);
}

#[test]
fn beyond_the_key_limit_findings_are_published_not_remembered() {
    let record = tls12();
    let mut dedup = Deduplicator::new(TEN_MINUTES).with_max_keys(1);
    let first = DedupKey::new(RuleId::SelfSigned, &record);
    let second = DedupKey::new(RuleId::SniMissing, &record);
    dedup.observe(&first, at(0));
    assert_eq!(dedup.observe(&second, at(1)), publish(1, 1, 1));
    assert_eq!(dedup.observe(&second, at(2)), publish(1, 2, 2));
    assert_eq!(dedup.untracked(), 2);
    assert_eq!(dedup.observe(&first, at(3)), Decision::Suppress);
}

/// Replayed sessions: the four full handshakes of tls-cert-issuer (within
/// three seconds, same client and server) give one alert per rule.
#[test]
fn real_repeats_give_one_alert_per_rule() {
    let policy = Policy::default();
    let records: Vec<_> = sessions()
        .into_iter()
        .filter(|r| {
            r.cipherlens
                .session
                .input
                .as_deref()
                .unwrap_or("")
                .ends_with("tls-cert-issuer/tls.pcap")
        })
        .collect();
    assert_eq!(records.len(), 5);
    let mut dedup = Deduplicator::new(policy.dedup_window());
    let mut alerts = Vec::new();
    for record in &records {
        let time = Timestamp::parse_rfc3339(&record.event.start).unwrap();
        for hit in &policy.evaluate(record) {
            if let Decision::Publish(decision) =
                dedup.observe(&DedupKey::new(hit.rule(), record), time)
            {
                let mut alert = alert_record(policy.finding(hit, record), record);
                decision.apply(&mut alert);
                alerts.push(alert);
            }
        }
    }
    let rules: Vec<&str> = alerts.iter().map(|a| a.finding.rule.as_str()).collect();
    // Self-signed leaf in the 4 full handshakes; no SNI in all 5.
    assert_eq!(rules, ["x509.self-signed", "tls.sni.missing"]);
    assert!(alerts.iter().all(|a| a.event.count == 1));
    assert_eq!(alerts[0].event.first_seen, records[0].event.start);
    let remaining = dedup.flush();
    let counts: Vec<(RuleId, u64)> = remaining.iter().map(|e| (e.key.rule, e.count)).collect();
    assert_eq!(counts, [(RuleId::SelfSigned, 3), (RuleId::SniMissing, 4)]);
}
