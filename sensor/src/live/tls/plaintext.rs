//! Plaintext records: off unless the node's configuration or an allowed
//! directive asks, and then only within scopes (pid, container, Kubernetes
//! namespace or pod, server name, or the whole node).
//!
//! Whoever may publish a directive must not be able to turn plaintext on
//! by that alone: the node's own configuration lists which scope kinds a
//! directive may enable (none by default). Each record is redacted before
//! it leaves the process, numbered within its flow, and names the flow as
//! the session record does; a call whose session record has not been
//! handed over yet waits for it briefly.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use base64::Engine as _;
use cipherlens_control::directive::PlaintextScope;
use cipherlens_record::attribution::EndpointAttribution;
use cipherlens_record::plaintext::{
    CallingThread, Direction, PlaintextFlow, PlaintextRecord, PlaintextSchema,
};

use super::events::TlsEvent;
use cipherlens_parsers::redact::redact;

/// How long a record waits for its flow's session. The session is handed
/// over when its packets have been read, which on a loaded node can trail
/// the library call by a good part of a second.
const FLOW_WAIT: Duration = Duration::from_secs(2);
/// Records waiting at once; beyond, they go out without flow ids.
const MAX_WAITING: usize = 4096;
/// Flows remembered (by socket) at once.
const MAX_FLOWS: usize = 65_536;

/// A scope kind a directive may be allowed to enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    Pid,
    Container,
    Namespace,
    Pod,
    Node,
}

impl ScopeKind {
    pub fn of(scope: &PlaintextScope) -> ScopeKind {
        match scope {
            PlaintextScope::Pid(_) => ScopeKind::Pid,
            PlaintextScope::ContainerId(_) => ScopeKind::Container,
            PlaintextScope::K8sNamespace(_) => ScopeKind::Namespace,
            PlaintextScope::K8sPod(_) => ScopeKind::Pod,
            PlaintextScope::Node(_) => ScopeKind::Node,
        }
    }
}

/// The node's plaintext settings.
#[derive(Debug, Clone, Default)]
pub struct PlaintextOptions {
    /// Scopes on from the start (configuration, command line).
    pub scopes: Vec<PlaintextScope>,
    /// Server names (SNI) whose sessions' plaintext is recorded.
    pub server_names: Vec<String>,
    /// Bytes kept per call at most.
    pub cap: u32,
    /// Header fields whose values are redacted.
    pub redact_headers: Vec<String>,
    /// Scope kinds a `plaintext` directive may enable.
    pub directive_kinds: Vec<ScopeKind>,
}

/// What the session record says about a flow, by local socket.
#[derive(Debug, Clone, Default)]
pub struct FlowIds {
    pub community_id: String,
    pub cnflow_id: Option<String>,
    pub server_name: Option<String>,
}

/// Why a plaintext directive was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlaintextRefused {
    #[error(
        "this node's configuration does not let directives enable plaintext for this scope kind (see --plaintext-directive)"
    )]
    NotAllowed,
    #[error("the TLS probes are off on this node (--no-tls-probes)")]
    ProbesOff,
}

/// Plaintext state: scopes, flows, sequences, records waiting.
#[derive(Debug, Default)]
pub struct Plaintext {
    pub options: PlaintextOptions,
    /// Scopes enabled by directives.
    pub directive_scopes: Vec<PlaintextScope>,
    flows: HashMap<u64, FlowIds>,
    sequences: HashMap<u64, u64>,
    /// Records waiting for their flow: deadline, record, and whether its
    /// process is in a process scope (else only a server name keeps it).
    waiting: VecDeque<(Instant, PlaintextRecord, bool)>,
    /// Records that went out without their session's flow ids.
    pub without_flow: u64,
    /// Records a server-name scope left out.
    pub out_of_scope: u64,
}

impl Plaintext {
    pub fn new(options: PlaintextOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// Every scope in force.
    pub fn scopes(&self) -> impl Iterator<Item = &PlaintextScope> {
        self.options.scopes.iter().chain(&self.directive_scopes)
    }

    /// Plaintext is captured at all.
    pub fn active(&self) -> bool {
        self.scopes().next().is_some() || !self.options.server_names.is_empty()
    }

    /// Capture is not limited to marked processes: the whole node is in
    /// scope, or a server name is (which only user space can check).
    pub fn node_wide(&self) -> bool {
        self.scopes()
            .any(|scope| matches!(scope, PlaintextScope::Node(true)))
            || !self.options.server_names.is_empty()
    }

    /// Whether a process is in a scope.
    pub fn covers(&self, pid: u32, who: &EndpointAttribution) -> bool {
        self.scopes().any(|scope| match scope {
            PlaintextScope::Pid(wanted) => *wanted == pid,
            PlaintextScope::ContainerId(prefix) => who
                .container
                .as_ref()
                .is_some_and(|c| !prefix.is_empty() && c.id.starts_with(prefix.as_str())),
            PlaintextScope::K8sNamespace(name) => who
                .k8s
                .as_ref()
                .and_then(|k8s| k8s.namespace.as_ref())
                .is_some_and(|namespace| namespace.name == *name),
            PlaintextScope::K8sPod(name) => who
                .k8s
                .as_ref()
                .is_some_and(|k8s| k8s.pod.name.as_deref() == Some(name.as_str())),
            PlaintextScope::Node(on) => *on,
        })
    }

    /// A directive asks to enable or disable a scope.
    pub fn directive(
        &mut self,
        enabled: bool,
        scope: PlaintextScope,
    ) -> Result<(), PlaintextRefused> {
        if enabled
            && !self
                .options
                .directive_kinds
                .contains(&ScopeKind::of(&scope))
        {
            return Err(PlaintextRefused::NotAllowed);
        }
        self.directive_scopes.retain(|known| known != &scope);
        if enabled {
            self.directive_scopes.push(scope);
        }
        Ok(())
    }

    /// The session record of a local socket was handed over.
    pub fn note_flow(&mut self, socket: u64, ids: FlowIds) {
        if self.flows.len() >= MAX_FLOWS && !self.flows.contains_key(&socket) {
            self.flows.clear();
            self.sequences.clear();
        }
        self.flows.insert(socket, ids);
    }

    /// Makes the record of one call; it waits when its flow is unknown.
    /// `in_scope`: the process is in a process scope (else only a server
    /// name scope can keep the record).
    pub fn on_call(
        &mut self,
        event: &TlsEvent<'_>,
        time: String,
        tls_library: Option<String>,
        in_scope: bool,
    ) -> Option<PlaintextRecord> {
        let direction = match event.kind {
            cipherlens_common::tls::TlsEventKind::PlaintextRead => Direction::Read,
            _ => Direction::Write,
        };
        let mut data = event.data.to_vec();
        let redactions = redact(&mut data, &self.options.redact_headers);
        let record = PlaintextRecord {
            schema: PlaintextSchema::V1,
            time,
            direction,
            process: CallingThread {
                pid: event.pid,
                tid: event.tid,
                comm: event.comm.clone(),
                cgroup_id: event.cgroup_id,
            },
            attribution: None,
            flow: PlaintextFlow {
                socket_cookie: event.socket_cookie,
                sequence: 0,
                community_id: None,
                cnflow_id: None,
                server_name: None,
            },
            byte_count: u64::from(event.original_len),
            data_base64: base64::engine::general_purpose::STANDARD.encode(&data),
            truncated: event.truncated(),
            redactions,
            tls_library,
            host: None,
        };
        if self.flows.contains_key(&event.socket_cookie) && self.waiting.is_empty() {
            return self.finish(record, in_scope);
        }
        if self.waiting.len() >= MAX_WAITING {
            let (_, oldest, oldest_in_scope) = self.waiting.pop_front()?;
            self.waiting
                .push_back((Instant::now() + FLOW_WAIT, record, in_scope));
            return self.finish(oldest, oldest_in_scope);
        }
        self.waiting
            .push_back((Instant::now() + FLOW_WAIT, record, in_scope));
        None
    }

    /// Records whose flow is now known or whose wait is over (`all`: every
    /// one), in arrival order.
    pub fn released(&mut self, all: bool) -> Vec<PlaintextRecord> {
        let now = Instant::now();
        let mut out = Vec::new();
        while let Some((deadline, record, _)) = self.waiting.front() {
            let known = self.flows.contains_key(&record.flow.socket_cookie);
            if !(known || all || now >= *deadline) {
                break;
            }
            let Some((_, record, in_scope)) = self.waiting.pop_front() else {
                break;
            };
            if let Some(record) = self.finish(record, in_scope) {
                out.push(record);
            }
        }
        out
    }

    /// When the first waiting record is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting.front().map(|(deadline, ..)| *deadline)
    }

    /// Fills in the flow and the sequence; `None` when a server-name scope
    /// leaves the record out.
    fn finish(&mut self, mut record: PlaintextRecord, in_scope: bool) -> Option<PlaintextRecord> {
        let socket = record.flow.socket_cookie;
        match self.flows.get(&socket) {
            Some(ids) => {
                record.flow.community_id = Some(ids.community_id.clone());
                record.flow.cnflow_id.clone_from(&ids.cnflow_id);
                record.flow.server_name.clone_from(&ids.server_name);
            }
            None => self.without_flow += 1,
        }
        if !in_scope
            && !record
                .flow
                .server_name
                .as_ref()
                .is_some_and(|name| self.options.server_names.contains(name))
        {
            self.out_of_scope += 1;
            return None;
        }
        let sequence = self.sequences.entry(socket).or_default();
        record.flow.sequence = *sequence;
        *sequence += 1;
        Some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipherlens_common::tls::{TLS_BOUND_BY_CALL, TlsEventKind};

    fn call(socket: u64, data: &[u8]) -> TlsEvent<'_> {
        TlsEvent {
            kind: TlsEventKind::PlaintextWrite,
            flags: TLS_BOUND_BY_CALL,
            timestamp_ns: 0,
            pid: 10,
            tid: 11,
            ssl: 1,
            socket_cookie: socket,
            cgroup_id: 0,
            caller: 0,
            function: 0,
            probe: 0,
            result: data.len() as i64,
            original_len: data.len() as u32,
            comm: "curl".into(),
            data,
        }
    }

    #[test]
    fn directives_enable_only_the_scope_kinds_the_node_allows() {
        let mut plaintext = Plaintext::new(PlaintextOptions {
            directive_kinds: vec![ScopeKind::Pid],
            ..PlaintextOptions::default()
        });
        assert!(!plaintext.active());
        assert_eq!(
            plaintext.directive(true, PlaintextScope::Node(true)),
            Err(PlaintextRefused::NotAllowed)
        );
        assert!(!plaintext.active());
        plaintext
            .directive(true, PlaintextScope::Pid(42))
            .expect("allowed");
        assert!(plaintext.active() && !plaintext.node_wide());
        assert!(plaintext.covers(42, &EndpointAttribution::default()));
        assert!(!plaintext.covers(43, &EndpointAttribution::default()));
        // Turning off is always allowed.
        plaintext
            .directive(false, PlaintextScope::Pid(42))
            .expect("off");
        assert!(!plaintext.active());
    }

    #[test]
    fn records_wait_for_their_flow_and_are_numbered_within_it() {
        let mut plaintext = Plaintext::new(PlaintextOptions {
            cap: 64,
            redact_headers: vec!["Cookie".into()],
            ..PlaintextOptions::default()
        });
        let time = || "2026-12-06T00:00:00Z".to_string();
        assert!(
            plaintext
                .on_call(&call(7, b"Cookie: x\n"), time(), None, true)
                .is_none()
        );
        assert!(plaintext.released(false).is_empty());
        plaintext.note_flow(
            7,
            FlowIds {
                community_id: "1:abc".into(),
                cnflow_id: None,
                server_name: Some("a.test".into()),
            },
        );
        let first = plaintext.released(false);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].flow.sequence, 0);
        assert_eq!(first[0].flow.community_id.as_deref(), Some("1:abc"));
        assert_eq!(first[0].redactions.len(), 1);
        let second = plaintext
            .on_call(&call(7, b"more"), time(), None, true)
            .expect("flow known");
        assert_eq!(second.flow.sequence, 1);
        assert_eq!(second.data_base64, "bW9yZQ==");
        // Out of every process scope, only a matching server name keeps it.
        plaintext.options.server_names = vec!["b.test".into()];
        assert!(
            plaintext
                .on_call(&call(7, b"x"), time(), None, false)
                .is_none()
        );
    }
}
