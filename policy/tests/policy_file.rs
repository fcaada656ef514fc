//! The policy file: the documented example parses to what it says, every
//! kind of mistake is refused with the line and column of the mistake, and
//! exceptions exempt exactly the sessions they name.

mod common;

use std::time::Duration;

use cipherlens_policy::{Policy, PolicyError, RuleId, Timestamp};
use cipherlens_record::alert::Severity::*;
use cipherlens_record::attribution::{K8sInfo, K8sPod, Named as K8sName};
use common::*;

const EXAMPLE: &str = include_str!("../policy.example.toml");

fn date(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

#[test]
fn the_documented_example_parses_to_what_it_says() {
    let policy = Policy::from_toml(EXAMPLE, "policy.example.toml").expect("the example is valid");
    let t = policy.thresholds();
    assert_eq!(
        (
            t.expiring_days,
            t.rsa_min_bits,
            t.dsa_min_bits,
            t.ec_min_bits,
            t.dh_min_bits,
            t.ec_group_min_bits
        ),
        (21, 3072, 2048, 256, 3072, 256)
    );
    assert_eq!(policy.validity_limit(date("2020-08-31T23:59:59Z")), None);
    assert_eq!(
        policy.validity_limit(date("2020-09-01T00:00:00Z")),
        Some(398)
    );
    assert_eq!(
        policy.validity_limit(date("2026-03-14T23:59:59Z")),
        Some(398)
    );
    assert_eq!(
        policy.validity_limit(date("2026-03-15T00:00:00Z")),
        Some(200)
    );
    assert_eq!(
        policy.validity_limit(date("2027-03-15T00:00:00Z")),
        Some(100)
    );
    assert_eq!(
        policy.validity_limit(date("2030-01-01T00:00:00Z")),
        Some(47)
    );
    // Levels of tls.version.obsolete: ssl2, ssl3, tls1.0, tls1.1, offered.
    assert_eq!(policy.severity(RuleId::VersionObsolete, 4), Info);
    assert_eq!(policy.severity(RuleId::VersionObsolete, 2), High);
    // tls.cipher.insecure level 6 is 3des.
    assert_eq!(policy.severity(RuleId::CipherInsecure, 6), High);
    assert_eq!(policy.severity(RuleId::CipherInsecure, 7), Medium);
    assert_eq!(policy.severity(RuleId::SniMissing, 0), Info);
    assert!(!policy.is_active(RuleId::KexQuantumVulnerable));
    assert!(policy.is_active(RuleId::FingerprintDenied));
    assert!(!policy.is_active(RuleId::FingerprintUnlisted));
    assert!(policy.is_active(RuleId::Untrusted));
    assert_eq!(
        policy.ca_bundle(),
        Some(std::path::Path::new("/etc/cipherlens/ca-bundle.pem"))
    );
    assert_eq!(policy.dedup_window(), Duration::from_secs(600));
}

#[test]
fn the_docs_show_the_example_verbatim() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/policy.md")).unwrap();
    assert!(
        docs.contains(EXAMPLE),
        "docs/policy.md does not contain policy/policy.example.toml"
    );
}

#[test]
fn an_empty_file_is_the_default_policy() {
    let empty = Policy::from_toml("", "empty.toml").unwrap();
    let default = Policy::default();
    for rule in RuleId::ALL {
        assert_eq!(empty.is_active(rule), default.is_active(rule), "{rule}");
        for (index, level) in rule.levels().iter().enumerate() {
            assert_eq!(empty.severity(rule, index), level.default_severity);
        }
    }
    assert_eq!(
        empty.validity_limit(date("2021-01-01T00:00:00Z")),
        Some(398)
    );
    assert_eq!(empty.dedup_window(), Duration::from_secs(600));
    assert_eq!(*empty.thresholds(), *default.thresholds());
    assert_eq!(default.thresholds().expiring_days, 30);
    assert_eq!(default.thresholds().rsa_min_bits, 2048);
    assert_eq!(default.thresholds().ec_min_bits, 224);
    assert_eq!(default.thresholds().dh_min_bits, 2048);
}

/// (line, column) of a refused file, and the error's text.
fn refused(text: &str) -> ((usize, usize), String, &'static str) {
    match Policy::from_toml(text, "bad.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => {
            let position = error
                .location()
                .and_then(|l| l.position)
                .expect("a position");
            let reason = error.reason();
            (position, error.to_string(), reason)
        }
    }
}

#[test]
fn mistakes_are_refused_where_they_are() {
    let cases: &[(&str, (usize, usize), &str)] = &[
        // Not TOML.
        ("[thresholds\nexpiring_days = 1\n", (1, 12), "syntax"),
        // Unknown key at the top, in a table, in a rule.
        ("version = 1\ncolour = \"red\"\n", (2, 1), "syntax"),
        ("[thresholds]\nexpiring_dayz = 3\n", (2, 1), "syntax"),
        (
            "[rules.\"tls.sni.missing\"]\nenable = false\n",
            (2, 1),
            "syntax",
        ),
        // Unknown rule id.
        (
            "[rules.\"tls.sni.absent\"]\nenabled = false\n",
            (1, 8),
            "syntax",
        ),
        // Bad values.
        (
            "[rules.\"tls.sni.missing\"]\nseverity = \"severe\"\n",
            (2, 12),
            "syntax",
        ),
        ("[thresholds]\nrsa_min_bits = 0\n", (2, 16), "syntax"),
        ("[thresholds]\nexpiring_days = -1\n", (2, 17), "syntax"),
        ("version = 2\n", (1, 11), "syntax"),
        // A bad list entry: the TOML reader points at the list.
        ("[fingerprints]\ndeny_ja3 = [\"abc\"]\n", (2, 12), "syntax"),
        (
            "[fingerprints]\nallow_ja4 = [\"t13d1516h2_8daaf6152771\"]\n",
            (2, 13),
            "syntax",
        ),
        ("[[exceptions]]\nsni = [\"bad name\"]\n", (2, 7), "syntax"),
        (
            "[[exceptions]]\nservers = [\"example.com:443\"]\n",
            (2, 11),
            "syntax",
        ),
        (
            "[[validity_limits]]\nissued_from = 2026-03-15T00:00:00Z\nmax_days = 200\n",
            (2, 15),
            "syntax",
        ),
        (
            "[[validity_limits]]\nissued_from = 2026-03-15\nmax_days = 0\n",
            (3, 12),
            "syntax",
        ),
        // Checks across keys.
        (
            "\n[rules.\"tls.cipher.cbc\"]\nseverities = { sha1 = \"high\" }\n",
            (3, 14),
            "unknown_level",
        ),
        (
            "[rules.\"tls.sni.missing\"]\nseverities = { default = \"high\" }\n",
            (2, 14),
            "no_levels",
        ),
        (
            "\n\n[[exceptions]]\nrules = [\"tls.sni.missing\"]\n",
            (3, 1),
            "exception_without_match",
        ),
        (
            "[[validity_limits]]\nissued_from = 2026-03-15\nmax_days = 200\n[[validity_limits]]\nissued_from = 2026-03-15\nmax_days = 100\n",
            (4, 1),
            "duplicate_validity_limit",
        ),
    ];
    let mut wrong = Vec::new();
    for (text, position, reason) in cases {
        let (actual, message, actual_reason) = refused(text);
        if actual != *position || actual_reason != *reason {
            wrong.push(format!("{text:?}: got {actual:?} {actual_reason} ({message}), expected {position:?} {reason}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn an_error_names_file_line_column_and_problem() {
    let error = Policy::from_toml(
        "[thresholds]\nrsa_min_bits = \"many\"\n",
        "/etc/cipherlens/policy.toml",
    )
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("/etc/cipherlens/policy.toml:2:16: "),
        "{text}"
    );
    let error = Policy::from_toml(
        "[rules.\"tls.cipher.cbc\"]\nseverities = { sha1 = \"high\" }\n",
        "p.toml",
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "p.toml:2:14: rule tls.cipher.cbc has no severity level \"sha1\" (its levels: cbc, sha1-mac)"
    );
}

#[test]
fn load_reads_a_file_and_names_a_missing_one() {
    let dir = std::env::temp_dir().join(format!("cipherlens-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::write(&path, "[alerts]\ndedup_window_seconds = 60\n").unwrap();
    assert_eq!(
        Policy::load(&path).unwrap().dedup_window(),
        Duration::from_secs(60)
    );
    std::fs::write(&path, "[alerts]\ndedup_window = 60\n").unwrap();
    let error = Policy::load(&path).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:2:1: ", path.display())),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let error = Policy::load(&dir.join("missing.toml")).unwrap_err();
    assert!(matches!(error, PolicyError::Read { .. }));
    assert_eq!(error.reason(), "read");
    assert!(error.to_string().contains("missing.toml"));
}

#[test]
fn rules_can_be_switched_off_and_regraded() {
    let record = session("tls10-openssl.pcap");
    let off =
        Policy::from_toml("[rules.\"tls.version.obsolete\"]\nenabled = false\n", "t").unwrap();
    assert_eq!(severity_of(&off, &record, RuleId::VersionObsolete), None);
    let all = Policy::from_toml(
        "[rules.\"tls.version.obsolete\"]\nseverity = \"critical\"\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        severity_of(&all, &record, RuleId::VersionObsolete),
        Some(Critical)
    );
    let one = Policy::from_toml(
        "[rules.\"tls.version.obsolete\"]\nseverity = \"low\"\nseverities = { \"tls1.0\" = \"medium\" }\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        severity_of(&one, &record, RuleId::VersionObsolete),
        Some(Medium)
    );
    assert_eq!(one.severity(RuleId::VersionObsolete, 0), Low);
}

#[test]
fn exceptions_exempt_only_the_sessions_and_rules_they_name() {
    // tls10-openssl: 127.0.0.1:44310, SNI tls10.fixtures.test; fires
    // tls.version.obsolete and x509.validity.too-long.
    let record = session("tls10-openssl.pcap");
    assert_eq!(record.server.port, 44310);
    let rules = |text: &str| -> Vec<RuleId> {
        let policy = Policy::from_toml(text, "t").unwrap();
        fired(&policy, &record)
            .into_iter()
            .map(|(rule, _)| rule)
            .collect()
    };
    let both = vec![RuleId::VersionObsolete, RuleId::ValidityTooLong];
    assert_eq!(rules(""), both);
    assert_eq!(
        rules("[[exceptions]]\nsni = [\"*.fixtures.test\"]\n"),
        vec![]
    );
    assert_eq!(
        rules("[[exceptions]]\nsni = [\"*.fixtures.test\"]\nrules = [\"tls.version.obsolete\"]\n"),
        vec![RuleId::ValidityTooLong]
    );
    assert_eq!(rules("[[exceptions]]\nsni = [\"*.other.test\"]\n"), both);
    assert_eq!(
        rules("[[exceptions]]\nservers = [\"127.0.0.1:44310\"]\n"),
        vec![]
    );
    assert_eq!(rules("[[exceptions]]\nservers = [\"127.0.0.1\"]\n"), vec![]);
    assert_eq!(
        rules("[[exceptions]]\nservers = [\"127.0.0.1:443\"]\n"),
        both
    );
    // All criteria of one exception must match.
    assert_eq!(
        rules("[[exceptions]]\nsni = [\"*.fixtures.test\"]\nservers = [\"127.0.0.2\"]\n"),
        both
    );
    // Namespaces: the record has no pods; give the server one.
    assert_eq!(rules("[[exceptions]]\nnamespaces = [\"legacy\"]\n"), both);
    let mut in_pod = record.clone();
    std::sync::Arc::make_mut(&mut in_pod.server.attribution).k8s = Some(K8sInfo {
        pod: K8sPod {
            uid: "0d1f".into(),
            name: None,
        },
        namespace: Some(K8sName {
            name: "legacy".into(),
        }),
        container: None,
    });
    let policy = Policy::from_toml("[[exceptions]]\nnamespaces = [\"legacy\"]\n", "t").unwrap();
    assert_eq!(fired(&policy, &in_pod), vec![]);
}

/// The sensor swaps policies between threads (reload) and keeps the
/// deduplicator on its writer thread.
#[test]
fn policies_and_deduplicators_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Policy>();
    send_sync::<cipherlens_policy::Deduplicator>();
    send_sync::<PolicyError>();
}
