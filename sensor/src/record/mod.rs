//! Session records: the JSON the sensor publishes, one object per TLS or
//! QUIC session, identical for live capture and `replay`.
//!
//! Field names follow OpenTelemetry semantic conventions where one exists
//! (`tls.protocol.version`, `tls.cipher`, `tls.client.server_name`,
//! `tls.client.ja3`, `tls.server.ja3s`, `client.address`,
//! `network.transport`...); everything else lives under `cipherlens`. The
//! layout is pinned by `schema/session-record.v1.json` and every test that
//! produces records validates them against it.

mod build;
pub mod certificate_cache;
mod model;

pub use build::{
    FinishedSession, PacketObservation, SessionContext, SessionObservation, SessionOutcome,
    build_session_record,
};
pub use model::*;

/// Identifier of this record layout; bumped with the schema file.
pub const SCHEMA_ID: &str = "cipherlens.session/v1";

impl SessionRecord {
    /// Fills in who owns the session's local sockets (from the pids the
    /// kernel saw) and the node.
    pub fn attribute(
        &mut self,
        attributor: &mut crate::attribution::Attributor,
        host: &crate::attribution::HostInfo,
    ) {
        let Some(observation) = &self.cipherlens.observation else {
            return;
        };
        let pids = [
            observation.client_socket.as_ref().and_then(|s| s.pid),
            observation.server_socket.as_ref().and_then(|s| s.pid),
        ];
        for (endpoint, pid) in [&mut self.client, &mut self.server].into_iter().zip(pids) {
            if let Some(pid) = pid {
                endpoint.attribution = attributor.attribute(pid);
            }
        }
        self.host = Some(host.clone());
    }
}
