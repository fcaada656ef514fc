//! Certificate summaries against an independent oracle: OpenSSL.
//!
//! `scripts/make-cert-fixtures.sh` issues the certificates under
//! `fixtures/certs/` with the openssl CLI and writes, next to each
//! `NAME.der`, a `NAME.expected.json` built only from `openssl x509` output
//! (serial, RFC 2253 names, dates, fingerprints, extensions, key size,
//! signature algorithm). Every field of the summary's JSON must equal it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use cipherlens_parsers::x509::{CertificateSummary, summarize_certificate};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/certs")
}

fn load(name: &str) -> (CertificateSummary, Value) {
    let dir = fixture_dir();
    let der_path = dir.join(format!("{name}.der"));
    let expected_path = dir.join(format!("{name}.expected.json"));
    let der = fs::read(&der_path).unwrap_or_else(|error| {
        panic!(
            "{}: {error} (run scripts/make-cert-fixtures.sh)",
            der_path.display()
        )
    });
    let expected_text = fs::read_to_string(&expected_path)
        .unwrap_or_else(|error| panic!("{}: {error}", expected_path.display()));
    let expected: Value = serde_json::from_str(&expected_text)
        .unwrap_or_else(|error| panic!("{}: {error}", expected_path.display()));
    let summary = summarize_certificate(&der)
        .unwrap_or_else(|error| panic!("{name}: summary failed: {error}"));
    (summary, expected)
}

/// Compares every top-level field in both directions and reports all
/// differences at once, naming the fixture and field.
fn assert_matches_openssl(name: &str) {
    let (summary, expected) = load(name);
    let actual = serde_json::to_value(&summary).expect("summary serializes");
    let (Value::Object(actual), Value::Object(expected)) = (&actual, &expected) else {
        panic!("{name}: summary and expected JSON must both be objects");
    };
    let fields: BTreeSet<&String> = actual.keys().chain(expected.keys()).collect();
    let differences: Vec<String> = fields
        .into_iter()
        .filter(|field| actual.get(*field) != expected.get(*field))
        .map(|field| {
            format!(
                "  {field}:\n    summary: {}\n    openssl: {}",
                actual
                    .get(field)
                    .map_or("(absent)".to_owned(), Value::to_string),
                expected
                    .get(field)
                    .map_or("(absent)".to_owned(), Value::to_string),
            )
        })
        .collect();
    assert!(
        differences.is_empty(),
        "{name}: summary differs from openssl in {} field(s):\n{}",
        differences.len(),
        differences.join("\n")
    );
}

macro_rules! openssl_fixture_tests {
    ($($test:ident => $fixture:literal,)*) => {
        $(
            #[test]
            fn $test() {
                assert_matches_openssl($fixture);
            }
        )*

        const COVERED_FIXTURES: &[&str] = &[$($fixture),*];
    };
}

openssl_fixture_tests! {
    x509_root_ca_rsa4096_matches_openssl => "root-ca-rsa4096",
    x509_intermediate_ec_p384_matches_openssl => "intermediate-ec-p384",
    x509_leaf_rsa2048_matches_openssl => "leaf-rsa2048",
    x509_leaf_ec_p256_matches_openssl => "leaf-ec-p256",
    x509_leaf_ed25519_matches_openssl => "leaf-ed25519",
    x509_leaf_many_sans_matches_openssl => "leaf-many-sans",
    x509_leaf_eku_ku_matches_openssl => "leaf-eku-ku",
    x509_self_signed_ed25519_matches_openssl => "self-signed-ed25519",
    x509_v1_rsa2048_matches_openssl => "v1-rsa2048",
    x509_leaf_ec_p521_matches_openssl => "leaf-ec-p521",
    x509_leaf_brainpoolp256r1_matches_openssl => "leaf-brainpoolp256r1",
    x509_leaf_ed448_matches_openssl => "leaf-ed448",
    x509_leaf_dsa2048_matches_openssl => "leaf-dsa2048",
    x509_leaf_rsa_pss_matches_openssl => "leaf-rsa-pss",
    x509_names_escaping_matches_openssl => "names-escaping",
    x509_github_2017_matches_openssl => "github-2017",
    x509_github_2017_issuer_matches_openssl => "github-2017-issuer",
}

#[test]
fn x509_every_fixture_on_disk_is_covered_by_a_test() {
    let on_disk: BTreeSet<String> = fs::read_dir(fixture_dir())
        .expect("fixtures/certs exists")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".der").map(str::to_owned)
        })
        .collect();
    let covered: BTreeSet<String> = COVERED_FIXTURES
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    assert_eq!(
        on_disk, covered,
        "add new fixtures to openssl_fixture_tests!"
    );
}

/// The oracle can only catch what the fixtures exercise; these checks make
/// sure the fixture set keeps covering what it claims to.
#[test]
fn x509_fixture_set_exercises_the_interesting_cases() {
    let (root, _) = load("root-ca-rsa4096");
    assert_eq!(root.public_key.bits, Some(4096));
    assert!(root.self_signed && root.basic_constraints.is_some_and(|bc| bc.ca));
    assert!(
        root.not_after.starts_with("2055"),
        "GeneralizedTime notAfter"
    );

    let (intermediate, _) = load("intermediate-ec-p384");
    assert_eq!(intermediate.public_key.curve.as_deref(), Some("secp384r1"));
    assert_eq!(
        intermediate.basic_constraints.and_then(|bc| bc.path_len),
        Some(0)
    );
    assert!(!intermediate.self_signed);

    let (rsa_leaf, _) = load("leaf-rsa2048");
    assert!(
        rsa_leaf.serial_number.starts_with("8F"),
        "serial with DER sign byte"
    );

    let (many, _) = load("leaf-many-sans");
    let sans = many.subject_alt_names.expect("many SANs");
    assert!(!sans.dns.is_empty() && !sans.uri.is_empty() && !sans.email.is_empty());
    assert!(sans.ip.iter().any(|ip| ip.contains(':')) && sans.ip.iter().any(|ip| ip.contains('.')));

    let (eku, _) = load("leaf-eku-ku");
    assert_eq!(
        eku.extended_key_usage.as_deref(),
        Some(&["serverAuth".to_owned(), "clientAuth".to_owned()][..])
    );
    assert_eq!(
        eku.key_usage.as_deref(),
        Some(&["digitalSignature".to_owned(), "keyEncipherment".to_owned()][..])
    );

    let (self_signed, _) = load("self-signed-ed25519");
    assert!(self_signed.self_signed);
    assert_eq!(self_signed.signature_algorithm, "ed25519");

    let (v1, _) = load("v1-rsa2048");
    assert_eq!(v1.version, 1);
    assert!(v1.basic_constraints.is_none() && v1.subject_key_identifier.is_none());

    let (p521, _) = load("leaf-ec-p521");
    assert_eq!(p521.public_key.bits, Some(521));

    let (names, _) = load("names-escaping");
    assert!(
        names.subject_rdns.iter().any(|rdn| rdn.contains('+')),
        "multi-valued RDN"
    );
    assert!(names.subject.contains("\\,") && names.subject.contains("\\#"));
}
