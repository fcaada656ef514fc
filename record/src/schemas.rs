//! The JSON Schemas (draft 2020-12) of the records, as shipped in
//! `schema/`, for consumers that validate what they receive.

/// Base URI of the schemas' `$id`s (they reference each other by it).
pub const BASE_URI: &str = "https://cipherlens.invalid/schema/";

/// `cipherlens.session/v1`.
pub const SESSION: &str = include_str!("../schema/session-record.v1.json");
/// One certificate inside session records.
pub const X509_CERTIFICATE: &str = include_str!("../schema/x509-certificate.v1.json");
/// `cipherlens.cnflow/v1`.
pub const CNFLOW: &str = include_str!("../schema/cnflow-record.v1.json");
/// `cipherlens.stats/v1`.
pub const STATS: &str = include_str!("../schema/stats-record.v1.json");
/// `cipherlens.alert/v1`.
pub const ALERT: &str = include_str!("../schema/alert-record.v1.json");

/// `cipherlens.plaintext/v1`.
pub const PLAINTEXT: &str = include_str!("../schema/plaintext-record.v1.json");

/// Every schema by file name (its `$id` is [`BASE_URI`] + the name).
pub const ALL: [(&str, &str); 6] = [
    ("session-record.v1.json", SESSION),
    ("x509-certificate.v1.json", X509_CERTIFICATE),
    ("cnflow-record.v1.json", CNFLOW),
    ("stats-record.v1.json", STATS),
    ("alert-record.v1.json", ALERT),
    ("plaintext-record.v1.json", PLAINTEXT),
];
