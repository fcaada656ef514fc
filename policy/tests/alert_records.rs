//! Every finding on the real sessions, as an alert record, validates
//! against the published alert schema and names its session.

mod common;

use cipherlens_policy::{Policy, alert_record};
use cipherlens_record::schemas;
use common::*;

fn validator() -> (boon::Schemas, boon::SchemaIndex) {
    let mut compiler = boon::Compiler::new();
    for (name, text) in schemas::ALL {
        let document: serde_json::Value = serde_json::from_str(text).expect("schema is JSON");
        compiler
            .add_resource(&format!("{}{name}", schemas::BASE_URI), document)
            .expect("schema resource");
    }
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(
            &format!("{}alert-record.v1.json", schemas::BASE_URI),
            &mut schemas,
        )
        .expect("alert schema compiles");
    (schemas, index)
}

#[test]
fn alerts_of_real_sessions_validate_and_name_the_session() {
    let (schemas, index) = validator();
    // The example policy adds fingerprint, trust and exception settings.
    let policies = [
        Policy::default(),
        Policy::from_toml(include_str!("../policy.example.toml"), "example").unwrap(),
    ];
    let mut alerts = 0;
    for policy in &policies {
        for record in sessions() {
            for finding in policy.findings(&record) {
                let alert = alert_record(finding, &record);
                assert_eq!(alert.event.count, 1);
                assert_eq!(alert.event.first_seen, record.event.start);
                assert_eq!(alert.event.last_seen, record.event.start);
                assert_eq!(alert.session.community_id, record.network.community_id);
                assert_eq!(alert.session.start, record.event.start);
                assert_eq!(alert.session.server_name, record.tls.client.server_name);
                assert_eq!(alert.server.address, record.server.address);
                assert_eq!(alert.client.port, record.client.port);
                let value = serde_json::to_value(&alert).unwrap();
                if let Err(error) = schemas.validate(&value, index) {
                    panic!("{}: {error}\n{value:#}", alert.finding.rule);
                }
                alerts += 1;
            }
        }
    }
    assert!(alerts > 100, "only {alerts} alerts");
}

#[test]
fn a_deduplicated_alert_carries_its_count_and_span() {
    use cipherlens_policy::{Publish, Timestamp};
    let record = tls12();
    let policy = Policy::default();
    let hit = *policy.evaluate(&record).iter().next().expect("tls12 fires");
    let mut alert = alert_record(policy.finding(&hit, &record), &record);
    let publish = Publish {
        count: 7,
        first_seen: Timestamp::parse_rfc3339("2026-11-21T22:50:00.25Z").unwrap(),
        last_seen: Timestamp::parse_rfc3339(&record.event.start).unwrap(),
    };
    publish.apply(&mut alert);
    assert_eq!(alert.event.count, 7);
    assert_eq!(alert.event.first_seen, "2026-11-21T22:50:00.250000Z");
    assert_eq!(alert.event.last_seen, record.event.start);
    let (schemas, index) = validator();
    assert!(
        schemas
            .validate(&serde_json::to_value(&alert).unwrap(), index)
            .is_ok()
    );
}
