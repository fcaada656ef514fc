//! Plaintext calls and the plaintext switch of the running probes: scopes
//! from the configuration and from allowed directives become kernel
//! settings (on or off, scoped to marked processes or not, the byte cap),
//! process marks, and attached or detached `SSL_read`/`SSL_write` probes.

use aya::Ebpf;
use cipherlens_common::tls::{
    TLS_CONFIG_ALLOW_LIST, TLS_CONFIG_MAP, TLS_CONFIG_PLAINTEXT, TLS_CONFIG_PLAINTEXT_SCOPED,
    TLS_DATA_CAPACITY, TlsConfig,
};
use cipherlens_control::directive::PlaintextScope;
use cipherlens_record::PlaintextRecord;
use serde::Serialize;

use super::TlsProbes;
use super::events::TlsEvent;
use super::plaintext::{FlowIds, PlaintextRefused};
use crate::live::LiveError;
use crate::pipeline::FinishedSession;

/// What the `status` directive says about plaintext.
#[derive(Debug, Clone, Serialize)]
pub struct PlaintextStatus {
    pub active: bool,
    pub configured_scopes: Vec<PlaintextScope>,
    pub directive_scopes: Vec<PlaintextScope>,
    pub server_names: Vec<String>,
    pub processes_in_scope: usize,
    pub max_bytes: u32,
    pub redacted_headers: Vec<String>,
}

impl TlsProbes {
    /// Writes the kernel settings.
    pub(super) fn write_config(&mut self) -> Result<(), LiveError> {
        let mut flags = 0;
        if self.options.processes.is_allow_list() {
            flags |= TLS_CONFIG_ALLOW_LIST;
        }
        if self.plaintext.active() {
            flags |= TLS_CONFIG_PLAINTEXT;
            if !self.plaintext_everywhere() {
                flags |= TLS_CONFIG_PLAINTEXT_SCOPED;
            }
        }
        let cap = self.plaintext.options.cap.min(TLS_DATA_CAPACITY as u32);
        self.config
            .set(
                0,
                &TlsConfig {
                    flags,
                    plaintext_cap: cap,
                    own_tgid: self.own_pid,
                    _pad: 0,
                },
                0,
            )
            .map_err(|source| LiveError::Map {
                name: TLS_CONFIG_MAP,
                source,
            })
    }

    /// Whether the kernel captures every process (node scope, or a
    /// server-name scope only user space can check).
    fn plaintext_everywhere(&self) -> bool {
        self.plaintext.node_wide()
    }

    /// Makes the kernel follow the plaintext scopes.
    pub(super) fn apply_plaintext(&mut self, ebpf: &mut Ebpf) {
        self.remark();
        if let Err(error) = self.write_config() {
            tracing::warn!(%error, "TLS probe settings not written");
        }
        self.files.set_plaintext(ebpf, self.plaintext.active());
    }

    /// A `plaintext` directive.
    pub fn plaintext_directive(
        &mut self,
        ebpf: &mut Ebpf,
        enabled: bool,
        scope: PlaintextScope,
    ) -> Result<PlaintextStatus, PlaintextRefused> {
        self.plaintext.directive(enabled, scope)?;
        self.apply_plaintext(ebpf);
        Ok(self.plaintext_status())
    }

    pub fn plaintext_status(&self) -> PlaintextStatus {
        PlaintextStatus {
            active: self.plaintext.active(),
            configured_scopes: self.plaintext.options.scopes.clone(),
            directive_scopes: self.plaintext.directive_scopes.clone(),
            server_names: self.plaintext.options.server_names.clone(),
            processes_in_scope: self.plaintext_pids.len(),
            max_bytes: self.plaintext.options.cap,
            redacted_headers: self.plaintext.options.redact_headers.clone(),
        }
    }

    /// One plaintext call from the kernel.
    pub(super) fn on_plaintext(&mut self, event: &TlsEvent<'_>) {
        if !self.plaintext.active() {
            // Calls still in flight when plaintext was turned off.
            return self.count("plaintext_after_off");
        }
        let in_scope = self.plaintext_pids.contains(&event.pid)
            || self
                .plaintext
                .scopes()
                .any(|scope| matches!(scope, PlaintextScope::Node(true)));
        let library = self
            .files
            .probed(event.probe)
            .map(|(probed, _)| probed.library.flavour.as_str().to_owned());
        let time = crate::time::rfc3339_from_unix_nanos(
            event.timestamp_ns.saturating_add(self.monotonic_to_unix),
        );
        if event.socket_cookie == 0 {
            self.count("plaintext_unbound");
        }
        if let Some(record) = self.plaintext.on_call(event, time, library, in_scope) {
            self.outgoing.push(record);
        }
    }

    /// Remembers the flow ids of a session's local sockets, for the
    /// plaintext records of the same flow.
    pub(super) fn note_flows(&mut self, session: &FinishedSession) {
        let context = session.context();
        let Some(observation) = &context.observation else {
            return;
        };
        let protocol = match context.transport {
            cipherlens_parsers::fingerprint::Transport::Quic => 17,
            _ => 6,
        };
        let ids = FlowIds {
            community_id: crate::flow::community_id_v1(
                self.options.community_id_seed,
                protocol,
                (context.initiator.ip(), context.initiator.port()),
                (context.responder.ip(), context.responder.port()),
            ),
            cnflow_id: context.cnflow_id.clone(),
            server_name: session
                .summary()
                .client_hello
                .as_ref()
                .and_then(|hello| hello.server_name.clone()),
        };
        for socket in observation.sockets.iter().flatten() {
            self.plaintext.note_flow(socket.socket_cookie, ids.clone());
        }
    }

    /// Plaintext records ready for the writer (`all`: every waiting one,
    /// at shutdown).
    pub fn take_plaintext(&mut self, all: bool) -> Vec<PlaintextRecord> {
        let mut out = std::mem::take(&mut self.outgoing);
        out.extend(self.plaintext.released(all));
        self.count_by("plaintext_records", out.len() as u64);
        out
    }
}
