//! The published JSON Schemas, compiled once, for checking what the sensor
//! really emitted. Every test in the workspace validates through here, and
//! [`SCHEMA_DIR`] is the only place test code names where the files live.
//!
//! Each check also reads the record into its `cipherlens-record` type and
//! writes it back: what a Rust consumer of the stream gets must be the
//! record the sensor sent, field for field.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const BASE: &str = "https://cipherlens.invalid/schema/";
/// Every schema file; records may reference each other's definitions.
const FILES: [&str; 6] = [
    "session-record.v1.json",
    "x509-certificate.v1.json",
    "cnflow-record.v1.json",
    "stats-record.v1.json",
    "alert-record.v1.json",
    "plaintext-record.v1.json",
];

/// Where the schema files are, relative to the repository root.
pub const SCHEMA_DIR: &str = "record/schema";

/// The schema directory in this checkout.
pub fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(SCHEMA_DIR)
}

struct Compiled {
    schemas: boon::Schemas,
    session_record: boon::SchemaIndex,
    cnflow_record: boon::SchemaIndex,
    stats_record: boon::SchemaIndex,
    alert_record: boon::SchemaIndex,
    plaintext_record: boon::SchemaIndex,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let mut compiler = boon::Compiler::new();
        for name in FILES {
            let path = schema_dir().join(name);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let document: Value = serde_json::from_str(&text).expect("schema is JSON");
            compiler
                .add_resource(&format!("{BASE}{name}"), document)
                .expect("schema resource");
        }
        let mut schemas = boon::Schemas::new();
        let session_record = compiler
            .compile(&format!("{BASE}session-record.v1.json"), &mut schemas)
            .expect("schema compiles");
        let cnflow_record = compiler
            .compile(&format!("{BASE}cnflow-record.v1.json"), &mut schemas)
            .expect("schema compiles");
        let stats_record = compiler
            .compile(&format!("{BASE}stats-record.v1.json"), &mut schemas)
            .expect("schema compiles");
        let alert_record = compiler
            .compile(&format!("{BASE}alert-record.v1.json"), &mut schemas)
            .expect("schema compiles");
        let plaintext_record = compiler
            .compile(&format!("{BASE}plaintext-record.v1.json"), &mut schemas)
            .expect("schema compiles");
        Compiled {
            schemas,
            session_record,
            cnflow_record,
            stats_record,
            alert_record,
            plaintext_record,
        }
    })
}

/// Panics with the validation errors if `record` is not a valid session record.
pub fn assert_valid_session_record(record: &Value) {
    let compiled = compiled();
    if let Err(error) = compiled.schemas.validate(record, compiled.session_record) {
        panic!("record does not match the session schema: {error:#}\nrecord: {record}");
    }
    assert_round_trips::<cipherlens_record::SessionRecord>(record);
}

/// Panics with the validation errors if `record` is not a valid CNFlow record.
pub fn assert_valid_cnflow_record(record: &Value) {
    let compiled = compiled();
    if let Err(error) = compiled.schemas.validate(record, compiled.cnflow_record) {
        panic!("record does not match the CNFlow schema: {error:#}\nrecord: {record}");
    }
    assert_round_trips::<cipherlens_record::CnFlowRecord>(record);
}

/// Panics with the validation errors if `record` is not a valid stats record.
pub fn assert_valid_stats_record(record: &Value) {
    let compiled = compiled();
    if let Err(error) = compiled.schemas.validate(record, compiled.stats_record) {
        panic!("record does not match the stats schema: {error:#}\nrecord: {record}");
    }
    assert_round_trips::<cipherlens_record::StatsRecord>(record);
}

/// Panics with the validation errors if `record` is not a valid alert record.
pub fn assert_valid_alert_record(record: &Value) {
    let compiled = compiled();
    if let Err(error) = compiled.schemas.validate(record, compiled.alert_record) {
        panic!("record does not match the alert schema: {error:#}\nrecord: {record}");
    }
    assert_round_trips::<cipherlens_record::AlertRecord>(record);
}

/// Panics with the validation errors if `record` is not a valid plaintext record.
pub fn assert_valid_plaintext_record(record: &Value) {
    let compiled = compiled();
    if let Err(error) = compiled.schemas.validate(record, compiled.plaintext_record) {
        panic!("record does not match the plaintext schema: {error:#}\nrecord: {record}");
    }
    assert_round_trips::<cipherlens_record::PlaintextRecord>(record);
}

/// Panics unless `record` reads into `T` and serializes back to itself.
pub fn assert_round_trips<T: DeserializeOwned + Serialize>(record: &Value) {
    let typed: T = serde_json::from_value(record.clone()).unwrap_or_else(|error| {
        panic!(
            "record does not read into {}: {error}\nrecord: {record}",
            std::any::type_name::<T>()
        )
    });
    let again = serde_json::to_value(&typed).expect("serialize");
    assert_eq!(
        &again,
        record,
        "record changes through {}",
        std::any::type_name::<T>()
    );
}
