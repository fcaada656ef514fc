//! The record writer: what happens to a finished session, a flow's
//! counters or a stats snapshot after the packet thread lets go of it.
//!
//! One item at a time, in this order ([`RecordStages::run`]):
//!
//! 1. build: the published record (`crate::build`);
//! 2. enrich: process, container, pod and node of local endpoints
//!    (`crate::attribution`; live capture only);
//! 3. policy: session records evaluated into alert records
//!    (`crate::alerts`), published right after their session; and, with
//!    `--inventory-db`, folded into the inventory (`crate::inventory`);
//! 4. encode: JSON, once, for every sink;
//! 5. publish: the sink (stdout, file, NATS, several).
//!
//! All of it runs on the record writer thread ([`thread`]), off the packet
//! path; records keep their order.

pub mod encode;
pub mod thread;

use std::io;
use std::sync::Arc;

use cipherlens_record::{
    AlertRecord, CnFlowRecord, PlaintextRecord, Publishable, RecordKind, SessionRecord, StatsRecord,
};

use crate::alerts::AlertStage;
use crate::attribution::sightings::ProcessSighting;
use crate::attribution::{AttributionSources, Attributor, HostInfo};
use crate::build::{BuildCaches, cnflow_record, session_record};
use crate::cnflow::FlowFacts;
use crate::inventory::InventoryStage;
use crate::pipeline::FinishedSession;
use crate::publish::Sink;
use encode::RecordEncoder;
pub use thread::{BackgroundWriter, Stage, WriterStopped};

/// What the packet thread hands to the record writer.
// Sessions are the traffic; boxing them would add an allocation per record
// for the rare stats variant's sake.
#[allow(clippy::large_enum_variant)]
pub enum Outgoing {
    Session(FinishedSession),
    Flow(Box<FlowFacts>),
    Stats(Box<StatsRecord>),
    /// Built already (small, made where the TLS probes' events are read).
    Plaintext(Box<PlaintextRecord>),
    /// A local process a session's sockets belong to, as procfs showed it
    /// then (no record).
    Process(Box<ProcessSighting>),
}

/// A record after the build step.
enum Built {
    Session(Box<SessionRecord>),
    /// With the pids of the flow's local sockets, for the enrich step.
    Flow(Box<CnFlowRecord>, [Option<u32>; 2]),
    Stats(Box<StatsRecord>),
    Plaintext(Box<PlaintextRecord>),
}

impl Built {
    fn kind(&self) -> RecordKind {
        match self {
            Built::Session(record) => record.kind(),
            Built::Flow(..) => RecordKind::CnFlow,
            Built::Stats(_) => RecordKind::Stats,
            Built::Plaintext(_) => RecordKind::Plaintext,
        }
    }

    fn encode(&self, encoder: &mut RecordEncoder, out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Built::Session(record) => encoder.session(record, out),
            Built::Flow(record, _) => encoder.flow(record, out),
            Built::Stats(record) => serde_json::to_writer(out, record).map_err(io::Error::other),
            Built::Plaintext(record) => {
                serde_json::to_writer(out, record).map_err(io::Error::other)
            }
        }
    }
}

/// Live capture's enrich step: who owns the local endpoints, and the node.
pub struct Enricher {
    attributor: Attributor,
    /// Shared by every record.
    host: Arc<HostInfo>,
}

impl Enricher {
    pub fn new(sources: AttributionSources, host: Arc<HostInfo>) -> Self {
        Self {
            attributor: Attributor::new(sources),
            host,
        }
    }

    fn enrich(&mut self, record: &mut Built) {
        match record {
            Built::Session(record) => {
                self.attributor.attribute_session(record);
                record.host = Some(self.host.clone());
            }
            Built::Flow(record, pids) => {
                let endpoints = [&mut record.client, &mut record.server];
                for (endpoint, pid) in endpoints.into_iter().zip(*pids) {
                    if let Some(pid) = pid {
                        endpoint.attribution = self.attributor.attribute(pid);
                    }
                }
            }
            Built::Plaintext(record) => {
                record.attribution = Some(self.attributor.attribute(record.process.pid));
                record.host = Some(self.host.clone());
            }
            Built::Stats(_) => {}
        }
    }
}

/// What a flow record needs besides the flow's facts.
#[derive(Debug, Clone)]
pub struct FlowRecordContext {
    /// Nanoseconds from the kernel's monotonic clock to Unix time.
    pub monotonic_to_unix: u64,
    pub community_id_seed: u16,
    /// The node (live capture); none for a replayed capture.
    pub host: Option<Arc<HostInfo>>,
}

/// The stages every item goes through (see the module docs).
pub struct RecordStages {
    caches: BuildCaches,
    flows: Option<FlowRecordContext>,
    enricher: Option<Enricher>,
    alerts: Option<AlertStage>,
    inventory: Option<InventoryStage>,
    /// Alerts of the record at hand, published after it.
    pending_alerts: Vec<AlertRecord>,
    encoder: RecordEncoder,
    encoded: Vec<u8>,
}

impl RecordStages {
    /// `replay`: sessions only, nothing to enrich from.
    pub fn for_replay() -> Self {
        Self {
            caches: BuildCaches::default(),
            flows: None,
            enricher: None,
            alerts: None,
            inventory: None,
            pending_alerts: Vec::new(),
            encoder: RecordEncoder::default(),
            encoded: Vec::with_capacity(16 * 1024),
        }
    }

    /// With the inventory step: session records folded into the node's
    /// inventory database.
    pub fn with_inventory(mut self, inventory: InventoryStage) -> Self {
        self.inventory = Some(inventory);
        self
    }

    /// With flow records (`replay` of a capture: times are Unix already,
    /// no node).
    pub fn with_flows(mut self, community_id_seed: u16) -> Self {
        self.flows = Some(FlowRecordContext {
            monotonic_to_unix: 0,
            community_id_seed,
            host: None,
        });
        self
    }

    /// With the policy step: session records raise alert records.
    pub fn with_alerts(mut self, alerts: AlertStage) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// Live capture: sessions, flows and stats, enriched.
    pub fn for_live(flows: FlowRecordContext, enricher: Enricher) -> Self {
        Self {
            flows: Some(flows),
            enricher: Some(enricher),
            ..Self::for_replay()
        }
    }

    /// One item through every stage, in order.
    pub fn run(&mut self, item: Outgoing, sink: &mut dyn Sink) -> io::Result<()> {
        if let Outgoing::Process(sighting) = item {
            if let Some(enricher) = &mut self.enricher {
                enricher.attributor.observe(*sighting);
            }
            return Ok(());
        }
        let Some(mut record) = self.build(item) else {
            return Ok(());
        };
        if let Some(enricher) = &mut self.enricher {
            enricher.enrich(&mut record);
        }
        if let (Some(alerts), Built::Session(session)) = (&mut self.alerts, &record) {
            alerts.evaluate(session, &mut self.pending_alerts);
        }
        if let (Some(inventory), Built::Session(session)) = (&mut self.inventory, &record) {
            inventory.add(session).map_err(io::Error::other)?;
        }
        self.encoded.clear();
        record.encode(&mut self.encoder, &mut self.encoded)?;
        sink.publish(record.kind(), &self.encoded)?;
        self.publish_alerts(sink)
    }

    /// Alert records waiting, after the record that raised them.
    fn publish_alerts(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        for alert in self.pending_alerts.drain(..) {
            self.encoded.clear();
            serde_json::to_writer(&mut self.encoded, &alert).map_err(io::Error::other)?;
            sink.publish(alert.kind(), &self.encoded)?;
        }
        Ok(())
    }

    fn build(&mut self, item: Outgoing) -> Option<Built> {
        Some(match item {
            Outgoing::Session(finished) => {
                Built::Session(Box::new(session_record(&finished, &mut self.caches)))
            }
            Outgoing::Flow(facts) => {
                let Some(context) = self.flows.as_ref() else {
                    // Only live capture reads flow counters, and its stages
                    // always have the context: a wiring mistake, said loudly.
                    tracing::error!(flow = %facts.id, "flow record without a flow context; not written");
                    return None;
                };
                let record = cnflow_record(
                    &facts,
                    context.monotonic_to_unix,
                    context.host.as_ref(),
                    context.community_id_seed,
                );
                Built::Flow(Box::new(record), facts.pids)
            }
            Outgoing::Stats(stats) => Built::Stats(stats),
            Outgoing::Plaintext(record) => Built::Plaintext(record),
            Outgoing::Process(_) => return None,
        })
    }
}

impl Stage<Outgoing> for RecordStages {
    fn run(&mut self, item: Outgoing, sink: &mut dyn Sink) -> io::Result<()> {
        RecordStages::run(self, item, sink)
    }

    /// Summaries of alert repeats still held back; the inventory's last
    /// transaction.
    fn finish(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        if let Some(alerts) = &mut self.alerts {
            alerts.finish(&mut self.pending_alerts);
        }
        if let Some(inventory) = &mut self.inventory {
            inventory.commit().map_err(io::Error::other)?;
        }
        self.publish_alerts(sink)
    }
}
