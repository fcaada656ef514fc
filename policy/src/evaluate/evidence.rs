//! The evidence map of a finding: record field paths (as in the published
//! session layout, `tls.cipher`, `cipherlens.tls.server_certificates[0].
//! public_key.bits`) with the values that made the rule fire.

use std::collections::BTreeMap;

use cipherlens_record::alert::EvidenceValue;

/// Which certificate chain of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chain {
    Server,
    Client,
}

impl Chain {
    pub fn field(self) -> &'static str {
        match self {
            Chain::Server => "cipherlens.tls.server_certificates",
            Chain::Client => "cipherlens.tls.client_certificates",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Chain::Server => "server",
            Chain::Client => "client",
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Evidence(BTreeMap<String, EvidenceValue>);

impl Evidence {
    pub fn text(&mut self, field: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.0
            .insert(field.into(), EvidenceValue::Text(value.into()));
        self
    }

    pub fn integer(&mut self, field: impl Into<String>, value: impl Into<i64>) -> &mut Self {
        self.0
            .insert(field.into(), EvidenceValue::Integer(value.into()));
        self
    }

    pub fn boolean(&mut self, field: impl Into<String>, value: bool) -> &mut Self {
        self.0.insert(field.into(), EvidenceValue::Bool(value));
        self
    }

    pub fn list(&mut self, field: impl Into<String>, values: Vec<String>) -> &mut Self {
        self.0.insert(field.into(), EvidenceValue::List(values));
        self
    }

    /// A field of certificate `index` of `chain`.
    pub fn certificate(
        &mut self,
        chain: Chain,
        index: usize,
        field: &str,
        value: EvidenceValue,
    ) -> &mut Self {
        self.0
            .insert(format!("{}[{index}].{field}", chain.field()), value);
        self
    }

    pub fn into_map(self) -> BTreeMap<String, EvidenceValue> {
        self.0
    }
}

/// Indexes of the set bits of `mask`, lowest first.
pub(crate) fn indexes(mask: u64) -> impl Iterator<Item = usize> {
    (0..64).filter(move |bit| mask & (1 << bit) != 0)
}
