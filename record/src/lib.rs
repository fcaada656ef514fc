//! The records cipherlens publishes, as plain serde types.
//!
//! This is the crate a consumer of the sensor's output depends on (a NATS
//! subscriber, an inventory builder, the policy engine): every record
//! deserializes into these types and serializes back to the same JSON.
//! Data only: no parsing of packets or certificates, no I/O. The sensor
//! builds the records; their layout is pinned by the JSON Schemas in
//! `schema/` ([`schemas`]), which the tests check every record against.
//!
//! - [`session`]: one TLS or QUIC session (`cipherlens.session/v1`).
//! - [`certificate`]: one X.509 certificate as sessions carry it.
//! - [`attribution`]: process, container, pod and node of an endpoint.
//! - [`cnflow`]: one TCP/UDP flow (`cipherlens.cnflow/v1`).
//! - [`stats`]: the sensor's counters (`cipherlens.stats/v1`).
//! - [`alert`]: a policy finding about a session (`cipherlens.alert/v1`).
//!
//! Records are told apart by their `schema` field; [`RecordKind`] names the
//! kind for routing (NATS subjects, files).
#![forbid(unsafe_code)]

pub mod alert;
pub mod attribution;
pub mod calendar;
pub mod certificate;
pub mod cnflow;
pub mod plaintext;
pub mod schemas;
pub mod session;
pub mod stats;

pub use alert::AlertRecord;
pub use cnflow::CnFlowRecord;
pub use plaintext::PlaintextRecord;
pub use session::SessionRecord;
pub use stats::StatsRecord;

/// What a published record is, for routing (a NATS subject per kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    TlsSession,
    QuicSession,
    CnFlow,
    Stats,
    /// A policy finding, by severity.
    Alert(alert::Severity),
    /// Plaintext of a TLS library call.
    Plaintext,
}

/// A record that knows its kind.
pub trait Publishable: serde::Serialize {
    fn kind(&self) -> RecordKind;
}

impl Publishable for SessionRecord {
    fn kind(&self) -> RecordKind {
        match self.event.kind {
            session::SessionKind::Tls => RecordKind::TlsSession,
            session::SessionKind::Quic => RecordKind::QuicSession,
        }
    }
}

impl Publishable for CnFlowRecord {
    fn kind(&self) -> RecordKind {
        RecordKind::CnFlow
    }
}

impl Publishable for AlertRecord {
    fn kind(&self) -> RecordKind {
        RecordKind::Alert(self.finding.severity)
    }
}

impl Publishable for PlaintextRecord {
    fn kind(&self) -> RecordKind {
        RecordKind::Plaintext
    }
}

impl Publishable for StatsRecord {
    fn kind(&self) -> RecordKind {
        RecordKind::Stats
    }
}

/// Defines a one-value enum that serializes as a fixed string: the `schema`
/// field of a record, which names its layout and version.
macro_rules! schema_id {
    ($(#[$doc:meta])* $name:ident = $value:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            #[default]
            #[serde(rename = $value)]
            V1,
        }

        impl $name {
            /// The identifier as written in records.
            pub const ID: &'static str = $value;
        }
    };
}
pub(crate) use schema_id;
