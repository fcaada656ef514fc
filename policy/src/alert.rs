//! A finding as a publishable `cipherlens.alert/v1` record, so the sensor
//! (or any consumer re-evaluating stored sessions) only publishes.

use cipherlens_record::AlertRecord;
use cipherlens_record::alert::{AlertEvent, AlertKind, AlertSchema, Finding, SessionRef};
use cipherlens_record::session::SessionRecord;

use crate::dedup::Publish;

/// The alert record of `finding` about `record`: one session (count 1),
/// first and last seen at the session's start, the session's references,
/// endpoints (with their process, container and pod) and node.
pub fn alert_record(finding: Finding, record: &SessionRecord) -> AlertRecord {
    AlertRecord {
        schema: AlertSchema::V1,
        event: AlertEvent {
            kind: AlertKind::Alert,
            first_seen: record.event.start.clone(),
            last_seen: record.event.start.clone(),
            count: 1,
        },
        finding,
        session: SessionRef {
            community_id: record.network.community_id.clone(),
            cnflow_id: record.cipherlens.cnflow_id.clone(),
            server_name: record.tls.client.server_name.clone(),
            start: record.event.start.clone(),
        },
        client: record.client.clone(),
        server: record.server.clone(),
        host: record.host.clone(),
    }
}

impl Publish {
    /// Writes this decision's count and time span into an alert record
    /// built by [`alert_record`].
    pub fn apply(&self, alert: &mut AlertRecord) {
        alert.event.count = self.count;
        alert.event.first_seen = self.first_seen.to_string();
        alert.event.last_seen = self.last_seen.to_string();
    }
}
