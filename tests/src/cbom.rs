//! Checks on a CycloneDX CBOM from `cipherlens inventory export`: valid
//! against the official CycloneDX 1.6 JSON Schema (vendored with its spdx
//! and jsf companions in `inventory/schema/cyclonedx`), and naming every
//! asset a set of session records used, each expected value read from the
//! records themselves. Every test that checks a CBOM goes through here.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

const BASE: &str = "http://cyclonedx.org/schema/";

/// Where the vendored schemas are, relative to the repository root.
pub const CYCLONEDX_SCHEMA_DIR: &str = "inventory/schema/cyclonedx";

fn compiled() -> &'static (boon::Schemas, boon::SchemaIndex) {
    static COMPILED: OnceLock<(boon::Schemas, boon::SchemaIndex)> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(CYCLONEDX_SCHEMA_DIR);
        let mut compiler = boon::Compiler::new();
        for (file, url) in [
            ("bom-1.6.SNAPSHOT.schema.json", "bom-1.6.schema.json"),
            ("spdx.SNAPSHOT.schema.json", "spdx.SNAPSHOT.schema.json"),
            (
                "jsf-0.82.SNAPSHOT.schema.json",
                "jsf-0.82.SNAPSHOT.schema.json",
            ),
        ] {
            let text = std::fs::read_to_string(dir.join(file)).expect("vendored schema");
            let document: Value = serde_json::from_str(&text).expect("schema is JSON");
            compiler
                .add_resource(&format!("{BASE}{url}"), document)
                .expect("schema resource");
        }
        let mut schemas = boon::Schemas::new();
        let index = compiler
            .compile(&format!("{BASE}bom-1.6.schema.json"), &mut schemas)
            .expect("bom-1.6 compiles");
        (schemas, index)
    })
}

/// The schema's complaint about `bom`, if any.
pub fn cyclonedx_errors(bom: &Value) -> Option<String> {
    let (schemas, index) = compiled();
    schemas
        .validate(bom, *index)
        .err()
        .map(|error| format!("{error:#}"))
}

/// Panics with the schema's complaint unless `bom` is valid CycloneDX 1.6.
pub fn assert_valid_cyclonedx(bom: &Value) {
    if let Some(errors) = cyclonedx_errors(bom) {
        panic!("the CBOM does not validate against CycloneDX 1.6: {errors}");
    }
}

/// The BOM's components of one `cryptoProperties.assetType`.
pub fn components<'a>(bom: &'a Value, asset_type: &str) -> Vec<&'a Value> {
    bom["components"]
        .as_array()
        .map(|components| {
            components
                .iter()
                .filter(|c| c["cryptoProperties"]["assetType"] == asset_type)
                .collect()
        })
        .unwrap_or_default()
}

/// The values of a component's properties called `name`.
pub fn property_values<'a>(component: &'a Value, name: &str) -> Vec<&'a str> {
    component["properties"]
        .as_array()
        .map(|properties| {
            properties
                .iter()
                .filter(|p| p["name"] == name)
                .filter_map(|p| p["value"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// Panics unless `bom` names what each session record used: the
/// negotiated version with its cipher suite, the key-exchange group, and
/// every certificate of both chains with its subject, signature algorithm
/// and key size. Returns how many records had a version and suite.
pub fn assert_cbom_names_sessions(bom: &Value, records: &[Value]) -> usize {
    let protocols = components(bom, "protocol");
    let suites: BTreeSet<(&str, &str)> = protocols
        .iter()
        .flat_map(|p| {
            let properties = &p["cryptoProperties"]["protocolProperties"];
            let version = properties["version"].as_str().unwrap_or_default();
            properties["cipherSuites"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |s| Some((version, s["name"].as_str()?)))
        })
        .collect();
    let groups: BTreeSet<&str> = protocols
        .iter()
        .flat_map(|p| property_values(p, "cipherlens:tls.group"))
        .collect();
    let certificates = components(bom, "certificate");
    let fingerprints: BTreeSet<&str> = certificates
        .iter()
        .flat_map(|c| property_values(c, "cipherlens:x509.fingerprint.sha256"))
        .collect();
    let subjects: BTreeSet<&str> = certificates
        .iter()
        .filter_map(|c| c["cryptoProperties"]["certificateProperties"]["subjectName"].as_str())
        .collect();
    let oids: BTreeSet<&str> = components(bom, "algorithm")
        .iter()
        .filter_map(|c| c["cryptoProperties"]["oid"].as_str())
        .collect();
    let key_sizes: BTreeSet<i64> = components(bom, "related-crypto-material")
        .iter()
        .filter_map(|c| c["cryptoProperties"]["relatedCryptoMaterialProperties"]["size"].as_i64())
        .collect();
    let mut checked = 0;
    for record in records {
        let tls = &record["cipherlens"]["tls"];
        if let (Some(version), Some(suite)) = (
            tls["version"]["name"].as_str(),
            tls["cipher"]["name"].as_str(),
        ) {
            let version = version
                .trim_start_matches("TLS ")
                .replace(" draft ", "-draft");
            assert!(
                suites.contains(&(version.as_str(), suite)),
                "{version} {suite} missing from the CBOM"
            );
            checked += 1;
        }
        if let Some(group) = tls["key_exchange_group"]["name"].as_str() {
            assert!(
                groups.contains(group),
                "group {group} missing from the CBOM"
            );
        }
        for side in ["server_certificates", "client_certificates"] {
            for certificate in tls[side].as_array().into_iter().flatten() {
                let fingerprint = certificate["fingerprint_sha256"]
                    .as_str()
                    .unwrap_or_default();
                assert!(
                    fingerprints.contains(fingerprint),
                    "certificate {fingerprint} missing from the CBOM"
                );
                let subject = certificate["subject"].as_str().unwrap_or_default();
                assert!(subjects.contains(subject), "subject {subject} missing");
                let oid = certificate["signature_algorithm_oid"]
                    .as_str()
                    .unwrap_or_default();
                assert!(oids.contains(oid), "signature algorithm {oid} missing");
                if let Some(bits) = certificate["public_key"]["bits"].as_i64() {
                    assert!(key_sizes.contains(&bits), "{bits}-bit key missing");
                }
            }
        }
    }
    checked
}
