//! Live capture: the TC programs feed the same pipeline as `replay`.
//!
//! The loop in this module is the only thing here: ring buffer readiness
//! (tokio `AsyncFd`) -> events -> frames -> `SessionPipeline` -> finished
//! sessions -> [`handover`] -> the record writer thread. Between events the
//! same loop follows link notifications, scans the kernel's flow counters
//! for CNFlow records, answers metrics scrapes and applies directives, so
//! no state is shared across threads; the writer thread (records,
//! attribution), the CNFlow enrichment thread (TCP metrics) and the NATS
//! thread are reached through bounded queues.
//!
//! - [`privileges`]: refuse to start without CAP_BPF, CAP_PERFMON and
//!   CAP_NET_ADMIN, naming what is missing.
//! - [`ebpf_object`], [`ebpf`]: the embedded object; loading it, its maps.
//! - [`attach`]: which interfaces carry the TC programs (TCX or netlink).
//! - [`interfaces`], [`link_watch`]: the interface list and the rtnetlink
//!   socket (kernel events and link messages are decoded by
//!   `cipherlens_capture::{kernel_event, link_message}`).
//! - [`handover`]: finished sessions to the writer, their flows marked done.
//! - `keylog`: `--keylog-file` followed as it grows (TLS 1.3 handshakes
//!   decrypted).
//! - `flows`: CNFlow records from the kernel's per-flow counters.
//! - `enrich`: their TCP metrics, looked up on a worker thread.
//! - [`tls`]: uprobes on OpenSSL and BoringSSL in local processes; the
//!   certificate chains TLS 1.3 hides from the wire.
//! - [`control`]: directives; [`stats`]: the stats record;
//!   [`metrics`]: Prometheus `/metrics` and `/healthz`.

pub mod attach;
pub mod control;
mod cpu_states;
pub mod ebpf;
pub mod ebpf_object;
mod enrich;
mod error;
mod flows;
mod handover;
pub mod interfaces;
mod keylog;
pub mod link_watch;
mod mark_done;
pub mod metrics;
mod options;
pub mod privileges;
pub mod stats;
pub mod tls;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use cipherlens_capture::kernel_event::{EventMeta, decode_event_frame, event_frame};
use cipherlens_capture::link_message::LinkNews;
use cipherlens_common::{tgid_of, tid_of};
use cipherlens_record::StatsRecord;
use cipherlens_record::session::{SocketFacts, Source};
use tokio::io::unix::AsyncFd;

pub use self::error::LiveError;
pub use self::options::{AttachMode, LiveOptions, LiveOutputs};

use self::attach::Attachments;
use self::control::{Controls, next_directive};
use self::flows::FlowScanner;
use self::handover::HandOver;
use self::interfaces::list_interfaces;
use self::link_watch::LinkWatcher;
use crate::alerts::AlertStage;
use crate::attribution::sightings::Sightings;
use crate::pipeline::{FinishedSession, PacketObservation, SessionPipeline};
use crate::publish::nats::PublishStatsSource;
use crate::time::{monotonic_now_nanos, unix_now_nanos};
use crate::writer::{BackgroundWriter, Enricher, FlowRecordContext, Outgoing, RecordStages};

/// How often the interface list is re-read as a safety net for lost link
/// notifications.
const INTERFACE_RESYNC: Duration = Duration::from_secs(5);
/// How often it is re-read when rtnetlink cannot be used.
const INTERFACE_POLL: Duration = Duration::from_millis(250);
/// How often idle flows are expired.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How soon CNFlow records that found the writer's queue full try again.
const FLOW_RECORD_RETRY: Duration = Duration::from_millis(2);
/// Events handled before yielding to the other tasks of the loop.
const EVENTS_PER_WAKE: usize = 4096;
/// How often the packet ring is drained when the kernel has not woken the
/// reader. The kernel wakes it only when a share of the ring is waiting
/// (`KernelConfig::ring_wake_bytes`): woken on the first event after each
/// drain (the kernel's default), a sensor with a core to spare woke for
/// nearly every event, and each wake-up cost more than the event. Events,
/// sessions and the writer's hand-overs now go in batches, and a record
/// comes at most this much later while traffic flows.
const RING_TICK: Duration = Duration::from_millis(10);
/// The longest wait between drains: each drain that finds nothing doubles
/// the wait up to this, so an idle sensor wakes a few times a second; the
/// first record after a quiet spell comes at most this much later.
const RING_IDLE_TICK: Duration = Duration::from_millis(160);
/// Events read at most after the shutdown signal (a full 64 MiB ring of
/// the smallest events is far less).
const SHUTDOWN_EVENTS: usize = 1 << 20;
/// Items waiting for the record writer at most.
const RECORD_QUEUE: usize = 1024;
/// How long records still queued for NATS may take to go out at exit (the
/// sensor promises to exit within 2 s of SIGTERM).
const PUBLISH_DRAIN: Duration = Duration::from_millis(1200);

/// Runs live capture until `shutdown` resolves; records go to the sink.
pub async fn run_live(
    mut options: LiveOptions,
    outputs: LiveOutputs,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<StatsRecord, LiveError> {
    let LiveOutputs {
        sink,
        publish_stats,
        mut directives,
        inventory,
    } = outputs;
    let effective = privileges::effective_capabilities().map_err(LiveError::Capabilities)?;
    let missing = privileges::missing_capabilities(effective);
    if !missing.is_empty() {
        return Err(LiveError::MissingCapabilities {
            missing: missing.join(", "),
        });
    }
    let mut controls = Controls::new(
        std::mem::take(&mut options.interfaces),
        options.policy.clone(),
    );
    let (mut object, maps) = ebpf::load(
        options.flow_byte_budget,
        options.starttls_watch_bytes,
        options.cnflow.is_some(),
        options.ring_buffer_bytes,
        // Without probes the ring is never written: one page.
        if options.tls_probes.enabled {
            options.tls_ring_buffer_bytes
        } else {
            ebpf::PAGE_BYTES
        },
    )?;
    let mut tls = tls::TlsProbes::start(
        &mut object,
        options.tls_probes.clone(),
        options.attribution.clone(),
    )?;
    let mut attachments = Attachments::new(object, options.attach_mode);
    let ebpf::KernelMaps {
        events,
        mark_done,
        counters,
        flow_counters,
        flow_counters_lookup,
        flow_counters_batch,
        socket_owners,
        flow_cache,
        mut known_processes,
    } = maps;
    // Loaded here so that a kernel that refuses it stops the start with
    // the verifier's word, like the other programs.
    let tcp_metrics = if options.cnflow.is_some() {
        Some(ebpf::load_tcp_metrics()?)
    } else {
        None
    };
    let mut marker = mark_done::DoneMarker::new(mark_done);
    let mut flow_scanner = FlowScanner::new(
        options.cnflow.clone(),
        flow_counters,
        flow_counters_lookup,
        flow_counters_batch,
        socket_owners,
        flow_cache,
        tcp_metrics,
    );
    // `AsyncFd::new` is deprecated because a registered fd could be closed
    // behind tokio's back; here the AsyncFd owns the RingBuf that owns the
    // fd, so it lives exactly as long as the registration (and `register`,
    // the replacement, is `unsafe`, which this crate forbids).
    #[allow(deprecated)]
    let mut ring = AsyncFd::new(events).map_err(LiveError::Poll)?;

    // Subscribe before listing, so no interface falls between the two.
    let mut link_watcher = match LinkWatcher::open() {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(%error, "rtnetlink unavailable; polling the interface list instead");
            None
        }
    };
    let interfaces = list_interfaces().map_err(LiveError::Interfaces)?;
    attachments.sync(&interfaces, &controls.interfaces);
    let metrics_listener = match options.metrics_listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .map_err(|source| LiveError::Metrics { address, source })?,
        ),
        None => None,
    };

    let offset = monotonic_to_unix_offset();
    let mut host = crate::attribution::this_node();
    if let Some(node) = &options.node {
        host.name.clone_from(node);
    }
    let node_name = host.name.clone();
    let host = Arc::new(host);
    let mut stages = RecordStages::for_live(
        FlowRecordContext {
            monotonic_to_unix: offset,
            community_id_seed: options.pipeline.community_id_seed,
            host: Some(host.clone()),
        },
        Enricher::new(options.attribution.clone(), host),
    );
    if let Some(policy) = &options.policy {
        stages = stages.with_alerts(AlertStage::new(Arc::clone(policy)));
    }
    if let Some(inventory) = inventory {
        stages = stages.with_inventory(inventory);
    }
    let mut writer = BackgroundWriter::spawn(sink, RECORD_QUEUE, PUBLISH_DRAIN, stages)
        .map_err(LiveError::Output)?;
    let finished: Rc<RefCell<Vec<FinishedSession>>> = Rc::default();
    let mut pipeline_config = options.pipeline.clone();
    pipeline_config.source = Source::Live;
    pipeline_config.input = None;
    let mut pipeline = {
        let finished = Rc::clone(&finished);
        SessionPipeline::new(pipeline_config, move |session| {
            finished.borrow_mut().push(session)
        })
    };
    let own_pid = std::process::id();
    let mut sightings = Sightings::new(options.attribution.proc_root.clone());
    // The sensor's own events are dropped unread: no reason to wake for them.
    let _ = known_processes.insert(&own_pid, &1, 0);
    let mut key_log = options.keylog_file.clone().map(keylog::KeyLogFollower::new);
    let mut stats = StatsRecord {
        ring_buffer_bytes: u64::from(options.ring_buffer_bytes),
        ..StatsRecord::default()
    };
    let mut frame = Vec::with_capacity(4096);
    let mut interface_tick = tokio::time::interval(if link_watcher.is_some() {
        INTERFACE_RESYNC
    } else {
        INTERFACE_POLL
    });
    let mut sweep_tick = tokio::time::interval(SWEEP_INTERVAL);
    let mut held_until: Option<tokio::time::Instant> = None;
    let mut ring_wait = RING_TICK;
    let mut next_ring_drain = tokio::time::Instant::now() + ring_wait;
    let mut cnflow_tick = tokio::time::interval(options.cnflow_scan_interval);
    let mut scan_job = None;
    let stats_period = options
        .stats_interval
        .unwrap_or(Duration::from_secs(3600 * 24 * 365));
    let mut stats_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + stats_period, stats_period);
    tokio::pin!(shutdown);

    let result = loop {
        tokio::select! {
            () = &mut shutdown => {
                // What the kernel sent before the signal is read, so no
                // session of it is lost; bounded, as the programs still run.
                read_events(
                    ring.get_mut(),
                    SHUTDOWN_EVENTS,
                    &mut EventContext { frame: &mut frame, stats: &mut stats, own_pid, attachments: &attachments, offset, key_log: &mut key_log },
                    &mut pipeline,
                );
                break Ok(());
            }
            readable = ring.readable_mut() => {
                let mut guard = match readable {
                    Ok(guard) => guard,
                    Err(error) => break Err(LiveError::Poll(error)),
                };
                let handled = read_events(
                    guard.get_inner_mut(),
                    EVENTS_PER_WAKE,
                    &mut EventContext { frame: &mut frame, stats: &mut stats, own_pid, attachments: &attachments, offset, key_log: &mut key_log },
                    &mut pipeline,
                );
                if handled < EVENTS_PER_WAKE {
                    guard.clear_ready();
                }
                ring_wait = RING_TICK;
                next_ring_drain = tokio::time::Instant::now() + ring_wait;
            }
            () = tokio::time::sleep_until(next_ring_drain) => {
                let handled = read_events(
                    ring.get_mut(),
                    EVENTS_PER_WAKE,
                    &mut EventContext { frame: &mut frame, stats: &mut stats, own_pid, attachments: &attachments, offset, key_log: &mut key_log },
                    &mut pipeline,
                );
                ring_wait = if handled == 0 {
                    (ring_wait * 2).min(RING_IDLE_TICK)
                } else {
                    RING_TICK
                };
                next_ring_drain = tokio::time::Instant::now() + ring_wait;
            }
            news = next_link_news(&mut link_watcher) => match news {
                Ok(news) => {
                    stats.malformed_link_notifications += news.malformed;
                    if news.overflowed {
                        tracing::warn!("link notifications were lost; re-listing interfaces");
                        interface_tick.reset_immediately();
                    }
                    attachments.apply(news.changes, &controls.interfaces);
                }
                Err(error) => {
                    tracing::warn!(%error, "rtnetlink failed; polling the interface list instead");
                    link_watcher = None;
                    interface_tick = tokio::time::interval(INTERFACE_POLL);
                }
            },
            _ = interface_tick.tick() => {
                match list_interfaces() {
                    Ok(current) => attachments.sync(&current, &controls.interfaces),
                    Err(error) => tracing::warn!(%error, "listing interfaces"),
                }
            }
            _ = sweep_tick.tick() => {
                pipeline.expire_idle(unix_now_nanos());
                if let Some(tls) = &mut tls {
                    tls.tick();
                }
                crate::memory::trim();
            }
            work = tls::next_work(&mut tls) => match (work, &mut tls) {
                (Err(error), _) => break Err(LiveError::Poll(error)),
                (Ok(tls::Work::Events), Some(tls)) => tls.on_events(),
                (Ok(tls::Work::Found(found)), Some(tls)) => tls.on_found(attachments.ebpf_mut(), found),
                (Ok(_), None) => {}
            },
            () = sleep_until(held_until) => {}
            _ = cnflow_tick.tick(), if flow_scanner.enabled() => {
                flow_scanner.start_scan(&attachments, &mut scan_job);
            }
            result = flows::scanned(&mut scan_job) => {
                if flow_scanner.on_scanned(result, &mut writer, &mut stats).is_err() {
                    break writer_error();
                }
            }
            answer = flow_scanner.next_enriched() => {
                if flow_scanner.on_enriched(answer, &mut writer, &mut stats).is_err() {
                    break writer_error();
                }
            }
            () = tokio::time::sleep(FLOW_RECORD_RETRY), if flow_scanner.has_waiting() || writer.has_pending() => {
                if flow_scanner.offer_ready(&mut writer, &mut stats).is_err() {
                    break writer_error();
                }
            }
            accepted = next_connection(metrics_listener.as_ref()) => {
                if let Ok((stream, _)) = accepted {
                    stats::refresh(&mut stats, &counters, &attachments, pipeline.stats(), publish_stats.as_ref(), options.policy.as_deref(), tls.as_ref());
                    tokio::spawn(metrics::serve(stream, stats.clone()));
                }
            }
            request = next_directive(&mut directives) => {
                match request {
                    Some(request) => {
                        stats::refresh(&mut stats, &counters, &attachments, pipeline.stats(), publish_stats.as_ref(), options.policy.as_deref(), tls.as_ref());
                        let reply = control::apply(request.directive, &mut controls, &mut attachments, tls.as_mut(), &stats, &node_name);
                        stats.directives_applied += 1;
                        let _ = request.respond.send(reply);
                    }
                    None => directives = None,
                }
            }
            _ = stats_tick.tick() => {
                stats::refresh(&mut stats, &counters, &attachments, pipeline.stats(), publish_stats.as_ref(), options.policy.as_deref(), tls.as_ref());
                stats::print(&stats);
                if writer.send(Outgoing::Stats(Box::new(stats.clone()))).is_err() {
                    break writer_error();
                }
            }
        }
        let mut writer_stopped = false;
        for pid in pipeline.take_new_pids() {
            if pid == own_pid {
                continue;
            }
            let Some(sighting) = sightings.sight(pid) else {
                continue;
            };
            // Seen: its further events wait for the next batch. A failed
            // insert only means another early wake-up.
            let _ = known_processes.insert(&pid, &1, 0);
            if writer.send(Outgoing::Process(Box::new(sighting))).is_err() {
                writer_stopped = true;
                break;
            }
        }
        if writer_stopped {
            break writer_error();
        }
        let sessions: Vec<FinishedSession> = finished.borrow_mut().drain(..).collect();
        if let Some(tls) = &mut tls
            && !sessions.is_empty()
        {
            // Chains decoded before these sessions' last packets are in the
            // ring already: take them before the sessions ask.
            tls.on_events();
        }
        let mut hand_over = HandOver {
            writer: &mut writer,
            marker: &mut marker,
            flow_scanner: &flow_scanner,
            stats: &mut stats,
            sampling_rate: controls.sampling_rate,
            own_pid,
            monotonic_to_unix: offset,
            tls: tls.as_mut(),
        };
        if hand_over.send(sessions).is_err() {
            break writer_error();
        }
        if let Some(tls) = &mut tls
            && send_plaintext(tls, &mut writer, false).is_err()
        {
            break writer_error();
        }
        held_until = tls
            .as_ref()
            .and_then(tls::TlsProbes::next_deadline)
            .map(tokio::time::Instant::from_std);
    };
    pipeline.finish_all();
    let sessions: Vec<FinishedSession> = finished.borrow_mut().drain(..).collect();
    if let Some(tls) = &mut tls {
        tls.on_events();
    }
    let mut hand_over = HandOver {
        writer: &mut writer,
        marker: &mut marker,
        flow_scanner: &flow_scanner,
        stats: &mut stats,
        sampling_rate: controls.sampling_rate,
        own_pid,
        monotonic_to_unix: offset,
        tls: tls.as_mut(),
    };
    let handed = hand_over
        .send(sessions)
        .and_then(|()| hand_over.release(true));
    if let Some(tls) = &mut tls {
        let _ = send_plaintext(tls, &mut writer, true);
    }
    // Flows still open are reported, so none goes unrecorded.
    let _ = flow_scanner
        .finish(&attachments, &mut scan_job, &mut writer, &mut stats)
        .await;
    stats::refresh(
        &mut stats,
        &counters,
        &attachments,
        pipeline.stats(),
        publish_stats.as_ref(),
        options.policy.as_deref(),
        tls.as_ref(),
    );
    let _ = writer.send(Outgoing::Stats(Box::new(stats.clone())));
    // Detach before the output is drained: nothing more is captured.
    if let Some(tls) = &mut tls {
        tls.stop(attachments.ebpf_mut());
    }
    drop(attachments);
    let written = writer.finish().map_err(LiveError::Output);
    // The final counts of the publisher, after its drain.
    stats.publish = publish_stats.as_ref().map(PublishStatsSource::stats);
    result?;
    written?;
    if handed.is_err() {
        writer_error()?;
    }
    Ok(stats)
}

/// The next metrics connection, or never when metrics are off.
async fn next_connection(
    listener: Option<&tokio::net::TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Plaintext records to the writer (`all`: those still waiting too).
fn send_plaintext(
    tls: &mut tls::TlsProbes,
    writer: &mut BackgroundWriter<Outgoing>,
    all: bool,
) -> Result<(), crate::writer::WriterStopped> {
    for record in tls.take_plaintext(all) {
        writer.send(Outgoing::Plaintext(Box::new(record)))?;
    }
    Ok(())
}

/// Wakes at `deadline`, or never without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The next link notifications, or never without a watcher.
async fn next_link_news(watcher: &mut Option<LinkWatcher>) -> std::io::Result<LinkNews> {
    match watcher {
        Some(watcher) => watcher.next().await,
        None => std::future::pending().await,
    }
}

/// Takes what was appended to the key log; a read error is logged (the
/// file may be back at the next poll).
fn follow_key_log(
    follower: &mut keylog::KeyLogFollower,
    pipeline: &mut SessionPipeline<impl FnMut(FinishedSession)>,
) {
    if let Err(error) = follower.poll(pipeline.key_log_mut()) {
        tracing::warn!(%error, "reading the key log");
    }
}

/// What reading events needs besides the ring and the pipeline.
struct EventContext<'a> {
    frame: &'a mut Vec<u8>,
    stats: &'a mut StatsRecord,
    own_pid: u32,
    attachments: &'a Attachments,
    /// Nanoseconds from the kernel's monotonic clock to Unix time.
    offset: u64,
    /// `--keylog-file`, followed before each read.
    key_log: &'a mut Option<keylog::KeyLogFollower>,
}

/// Reads up to `limit` events from the ring into the pipeline; returns how
/// many were read (fewer than `limit`: the ring is empty).
///
/// Each event meets the key log as read after it was captured: a client
/// writes its secrets before the packets that need them, but a drain goes
/// on reading events that arrive while it runs, so the log is read again
/// for an event newer than the last read.
fn read_events(
    ring: &mut aya::maps::RingBuf<aya::maps::MapData>,
    limit: usize,
    context: &mut EventContext<'_>,
    pipeline: &mut SessionPipeline<impl FnMut(FinishedSession)>,
) -> usize {
    let mut key_log_read_at = read_key_log(context, pipeline);
    let mut handled = 0;
    while handled < limit {
        let Some(item) = ring.next() else { break };
        handled += 1;
        context.stats.events_read += 1;
        let dropped = match event_frame(&item, context.frame) {
            Ok((meta, _)) if tgid_of(meta.pid_tgid) == context.own_pid => {
                context.stats.own_traffic_events += 1;
                None
            }
            Ok((meta, payload_offset)) => {
                if meta.timestamp_monotonic_ns > key_log_read_at {
                    key_log_read_at = read_key_log(context, pipeline);
                }
                match decode_event_frame(context.frame, payload_offset) {
                    Ok(packet) => {
                        let observation = observation_of(&meta, context.attachments);
                        let now = meta.timestamp_monotonic_ns.saturating_add(context.offset);
                        pipeline.on_observed_packet(&packet, now, &observation);
                        None
                    }
                    Err(error) => Some(error.reason()),
                }
            }
            Err(error) => Some(error.reason()),
        };
        if let Some(reason) = dropped {
            *context
                .stats
                .events_dropped
                .entry(reason.to_owned())
                .or_default() += 1;
        }
    }
    handled
}

/// Takes what was appended to the key log; returns when (CLOCK_MONOTONIC,
/// the events' clock) it was read, `u64::MAX` without a key log.
fn read_key_log(
    context: &mut EventContext<'_>,
    pipeline: &mut SessionPipeline<impl FnMut(FinishedSession)>,
) -> u64 {
    let Some(follower) = context.key_log.as_mut() else {
        return u64::MAX;
    };
    let at = monotonic_now_nanos();
    follow_key_log(follower, pipeline);
    at
}

/// The kernel facts of one event. The skb's socket is the sender's: on
/// egress the local sending socket, on a veth's host-side ingress the
/// container's sending socket.
fn observation_of<'a>(meta: &EventMeta, attachments: &'a Attachments) -> PacketObservation<'a> {
    let tgid = tgid_of(meta.pid_tgid);
    PacketObservation {
        interface: attachments.interface(meta.ifindex),
        ifindex: meta.ifindex,
        netns_cookie: meta.netns_cookie,
        sender: (meta.socket_cookie != 0).then(|| SocketFacts {
            socket_cookie: meta.socket_cookie,
            cgroup_id: meta.cgroup_id,
            pid: (tgid != 0).then_some(tgid),
            tid: (tgid != 0).then_some(tid_of(meta.pid_tgid)),
        }),
        opens_flow: meta.opens_flow,
        flow_first_ns: meta.flow_first_ns,
    }
}

/// Nanoseconds to add to CLOCK_MONOTONIC (the kernel's event clock) to get
/// Unix time.
fn monotonic_to_unix_offset() -> u64 {
    unix_now_nanos().saturating_sub(monotonic_now_nanos())
}

fn writer_error() -> Result<(), LiveError> {
    Err(LiveError::Output(std::io::Error::other(
        "the record writer stopped",
    )))
}
