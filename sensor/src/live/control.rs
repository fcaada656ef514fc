//! Directives applied to the running capture: what operators may change
//! (interfaces, sampling, plaintext scopes) and what `status` reports.
//! The NATS side has already refused malformed directives; these are
//! carried out between events, so no state is shared across threads.

use std::sync::Arc;

use cipherlens_record::StatsRecord;
use serde::Serialize;

use super::attach::Attachments;
use super::interfaces::{InterfaceFilter, list_interfaces};
use cipherlens_control::directive::{Directive, PlaintextScope};

use super::tls::{PlaintextRefused, PlaintextStatus, ProcessCoverage, TlsProbes};

use crate::alerts::PolicyHandle;
use crate::directive::{DirectiveRequest, error_reply};
use crate::error_chain::ErrorChain;

/// State that directives change.
#[derive(Debug)]
pub struct Controls {
    pub interfaces: InterfaceFilter,
    /// Fraction of sessions recorded (by flow).
    pub sampling_rate: f64,
    /// Plaintext capture scopes asked for.
    pub plaintext: Vec<PlaintextScope>,
    /// The policy in use, when alerts are on.
    pub policy: Option<Arc<PolicyHandle>>,
}

impl Controls {
    pub fn new(interfaces: InterfaceFilter, policy: Option<Arc<PolicyHandle>>) -> Self {
        Self {
            interfaces,
            sampling_rate: 1.0,
            plaintext: Vec::new(),
            policy,
        }
    }
}

/// The next directive, or never without NATS (`None` once NATS is gone).
pub async fn next_directive(
    directives: &mut Option<tokio::sync::mpsc::Receiver<DirectiveRequest>>,
) -> Option<DirectiveRequest> {
    match directives {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

#[derive(Serialize)]
struct Status<'a> {
    version: &'static str,
    node: &'a str,
    attach_mode: cipherlens_record::stats::AttachKind,
    interfaces_attached: Vec<String>,
    interface_filter: &'a InterfaceFilter,
    sampling_rate: f64,
    /// Absent when the TLS probes are off.
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<PlaintextStatus>,
    /// Per process: its TLS library and whether the probes cover it.
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_processes: Option<Vec<ProcessCoverage>>,
    stats: &'a StatsRecord,
}

/// A successful reply: `{"ok": true, <key>: <value>}`; a value that cannot
/// be encoded makes an error reply that says so.
fn ok_reply(key: &str, value: impl Serialize) -> serde_json::Value {
    match serde_json::to_value(value) {
        Ok(value) => serde_json::json!({ "ok": true, key: value }),
        Err(error) => error_reply(&format_args!("the reply could not be encoded: {error}")),
    }
}

/// Carries out a checked directive and says what it did.
pub fn apply(
    directive: Directive,
    controls: &mut Controls,
    attachments: &mut Attachments,
    tls: Option<&mut TlsProbes>,
    stats: &StatsRecord,
    node: &str,
) -> serde_json::Value {
    match directive {
        Directive::Status {} => ok_reply(
            "status",
            Status {
                version: env!("CARGO_PKG_VERSION"),
                node,
                attach_mode: attachments.kind(),
                interfaces_attached: attachments.attached_names(),
                interface_filter: &controls.interfaces,
                sampling_rate: controls.sampling_rate,
                plaintext: tls.as_deref().map(TlsProbes::plaintext_status),
                tls_processes: tls.as_deref().map(TlsProbes::coverage),
                stats,
            },
        ),
        Directive::Interfaces { include, exclude } => {
            controls.interfaces = InterfaceFilter { include, exclude };
            attachments.retain_admitted(&controls.interfaces);
            match list_interfaces() {
                Ok(current) => attachments.sync(&current, &controls.interfaces),
                Err(error) => return error_reply(&format_args!("listing interfaces: {error}")),
            }
            ok_reply("interfaces_attached", attachments.attached_names())
        }
        Directive::Policy {} => match &controls.policy {
            None => error_reply(&"alerts are off: start the sensor with --policy FILE or --alerts"),
            Some(policy) => match policy.reload() {
                Ok(()) => ok_reply("policy", policy.stats()),
                Err(error) => error_reply(&ErrorChain(&error)),
            },
        },
        Directive::Sampling { rate } => {
            controls.sampling_rate = rate;
            ok_reply("sampling_rate", rate)
        }
        Directive::Plaintext { enabled, scope } => {
            let Some(tls) = tls else {
                return error_reply(&PlaintextRefused::ProbesOff);
            };
            match tls.plaintext_directive(attachments.ebpf_mut(), enabled, scope.clone()) {
                Ok(status) => {
                    controls.plaintext.retain(|known| known != &scope);
                    if enabled {
                        controls.plaintext.push(scope);
                    }
                    ok_reply("plaintext", status)
                }
                Err(refused) => error_reply(&refused),
            }
        }
    }
}
