//! Every certificate summary in `fixtures/certs/*.expected.json` (written
//! from `openssl x509` output by `scripts/make-cert-fixtures.sh`, not by
//! this crate) deserializes into `CertificateSummary` and serializes back
//! to the same text, and validates against the certificate schema.

use std::path::Path;

use cipherlens_record::certificate::CertificateSummary;
use cipherlens_record::schemas;

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
            &format!("{}x509-certificate.v1.json", schemas::BASE_URI),
            &mut schemas,
        )
        .expect("certificate schema compiles");
    (schemas, index)
}

#[test]
fn certificate_fixtures_round_trip_byte_for_byte_and_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/certs");
    let (schemas, index) = validator();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/certs")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".expected.json"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("read");
        let summary: CertificateSummary = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let again = serde_json::to_string_pretty(&summary).expect("serialize") + "\n";
        assert_eq!(again, text, "{} does not round-trip", path.display());
        let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        if let Err(error) = schemas.validate(&value, index) {
            panic!("{}: {error}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} certificate fixtures found");
}
