//! Alert records (`cipherlens.alert/v1`): the hand-written samples in
//! `tests/alerts/` (a replay alert, a CBC alert with a boolean in its
//! evidence, a deduplicated live alert with process, container, pod and
//! node) deserialize into `AlertRecord`, serialize back to the same text and
//! validate against the alert schema; records that break the layout fail
//! validation.

use std::path::Path;

use cipherlens_record::AlertRecord;
use cipherlens_record::schemas;
use serde_json::{Value, json};

fn validator() -> (boon::Schemas, boon::SchemaIndex) {
    let mut compiler = boon::Compiler::new();
    for (name, text) in schemas::ALL {
        let document: Value = serde_json::from_str(text).expect("schema is JSON");
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

fn samples() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alerts");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/alerts")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            (path.display().to_string(), text)
        })
        .collect()
}

#[test]
fn alert_samples_round_trip_byte_for_byte_and_validate() {
    let (schemas, index) = validator();
    let samples = samples();
    assert!(samples.len() >= 3, "only {} alert samples", samples.len());
    for (path, text) in samples {
        let alert: AlertRecord =
            serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"));
        let again = serde_json::to_string_pretty(&alert).expect("serialize") + "\n";
        assert_eq!(again, text, "{path} does not round-trip");
        let value: Value = serde_json::from_str(&text).expect("JSON");
        if let Err(error) = schemas.validate(&value, index) {
            panic!("{path}: {error}");
        }
    }
}

/// What is wrong, and how to make a valid record so.
type Breakage = (&'static str, fn(&mut Value));

#[test]
fn broken_alerts_fail_validation() {
    let (schemas, index) = validator();
    let (_, text) = samples().remove(0);
    let valid: Value = serde_json::from_str(&text).expect("JSON");
    assert!(schemas.validate(&valid, index).is_ok());
    let breakages: [Breakage; 9] = [
        ("count 0", |v| v["event"]["count"] = json!(0)),
        ("unknown severity", |v| v["severity"] = json!("severe")),
        ("rule without dots", |v| v["rule"] = json!("weak")),
        ("evidence value object", |v| {
            v["evidence"]["tls.cipher"] = json!({"name": "x"})
        }),
        ("evidence list of numbers", |v| {
            v["evidence"]["x"] = json!([1, 2])
        }),
        ("no evidence", |v| {
            v.as_object_mut().unwrap().remove("evidence");
        }),
        ("unknown field", |v| v["colour"] = json!("red")),
        ("session without start", |v| {
            v["session"].as_object_mut().unwrap().remove("start");
        }),
        ("bad time", |v| {
            v["event"]["first_seen"] = json!("2023-01-25 20:50:35")
        }),
    ];
    for (what, breakage) in breakages {
        let mut broken = valid.clone();
        breakage(&mut broken);
        assert!(
            schemas.validate(&broken, index).is_err(),
            "{what} validates"
        );
    }
}
