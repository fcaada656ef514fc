//! Prometheus `/metrics` and a `/healthz` endpoint for live capture.
//!
//! Off by default; `--metrics-listen 127.0.0.1:9464` turns it on (keep it
//! on loopback or a node-local address: it needs no authentication because
//! it says nothing about traffic content, only counts). The text is rendered
//! from the same counters as the stats record, on demand, so a scrape always
//! sees current values. The server is deliberately tiny: one request per
//! connection, GET only, requests over 8 KiB or slower than 2 s refused.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use cipherlens_record::StatsRecord;

/// Largest request head read.
const MAX_REQUEST: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// What a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Metrics,
    Health,
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

/// Answers one scrape from a snapshot of the stats taken when it arrived.
pub async fn serve(mut stream: tokio::net::TcpStream, snapshot: StatsRecord) {
    let (status, body) = match read_route(&mut stream).await {
        Route::Metrics => ("200 OK", render(&snapshot)),
        Route::Health => match health(&snapshot) {
            (true, text) => ("200 OK", text),
            (false, text) => ("503 Service Unavailable", text),
        },
        Route::NotFound => ("404 Not Found", "try /metrics or /healthz\n".into()),
        Route::MethodNotAllowed => ("405 Method Not Allowed", "GET only\n".into()),
        Route::BadRequest => ("400 Bad Request", "bad request\n".into()),
    };
    respond(
        stream,
        status,
        "text/plain; version=0.0.4; charset=utf-8",
        body,
    )
    .await;
}

/// Reads the request head and routes it.
pub async fn read_route(stream: &mut tokio::net::TcpStream) -> Route {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 || head.len() + n > MAX_REQUEST {
                return None;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        Some(())
    })
    .await;
    match read {
        Ok(Some(())) => route(&head),
        _ => Route::BadRequest,
    }
}

/// Routes a request head (`METHOD PATH VERSION`).
pub fn route(head: &[u8]) -> Route {
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with(b"HTTP/1.") {
        return Route::BadRequest;
    }
    if method != b"GET" {
        return Route::MethodNotAllowed;
    }
    let path = path.split(|b| *b == b'?').next().unwrap_or_default();
    match path {
        b"/metrics" => Route::Metrics,
        b"/healthz" | b"/health" => Route::Health,
        _ => Route::NotFound,
    }
}

/// Writes one response and closes.
pub async fn respond(
    mut stream: tokio::net::TcpStream,
    status: &str,
    content_type: &str,
    body: String,
) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Healthy: programs attached to at least one interface and the event
/// reader running (it is, if this is answered from the live loop).
pub fn health(stats: &StatsRecord) -> (bool, String) {
    if stats.interfaces_attached.is_empty() {
        (false, "not attached to any interface\n".to_string())
    } else {
        (
            true,
            format!(
                "ok: attached to {} interfaces\n",
                stats.interfaces_attached.len()
            ),
        )
    }
}

/// The Prometheus text exposition of the live stats.
pub fn render(stats: &StatsRecord) -> String {
    let mut out = String::with_capacity(4096);
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP cipherlens_{name} {help}");
        let _ = writeln!(out, "# TYPE cipherlens_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "cipherlens_{name}{labels} {value}");
        }
    };
    let label = |key: &str, value: &str| format!("{{{key}=\"{}\"}}", escape(value));
    let kernel: Vec<(String, f64)> = stats
        .kernel
        .iter()
        .map(|(name, value)| (label("counter", name), *value as f64))
        .collect();
    family(
        "kernel_events_total",
        "counter",
        "Kernel program counters, summed over CPUs.",
        &kernel,
    );
    family(
        "kernel_counters_unreadable",
        "gauge",
        "Kernel counters that could not be read at this scrape.",
        &[(String::new(), stats.kernel_unreadable.len() as f64)],
    );
    family(
        "kernel_losses_total",
        "counter",
        "Kernel counters that mean lost data, summed.",
        &[(String::new(), stats.kernel_losses as f64)],
    );
    family(
        "events_read_total",
        "counter",
        "Ring buffer events read.",
        &[(String::new(), stats.events_read as f64)],
    );
    let dropped: Vec<(String, f64)> = stats
        .events_dropped
        .iter()
        .map(|(reason, value)| (label("reason", reason), *value as f64))
        .collect();
    family(
        "events_dropped_total",
        "counter",
        "Events that did not decode, by reason.",
        &dropped,
    );
    let pipeline = &stats.pipeline;
    family(
        "sessions_total",
        "counter",
        "Sessions recorded, by protocol.",
        &[
            (label("protocol", "tls"), pipeline.tls_sessions as f64),
            (label("protocol", "quic"), pipeline.quic_sessions as f64),
        ],
    );
    family(
        "records_emitted_total",
        "counter",
        "Session records emitted by the pipeline.",
        &[(String::new(), pipeline.records_emitted as f64)],
    );
    family(
        "errors_total",
        "counter",
        "Input the pipeline could not use, by kind.",
        &[
            (
                label("kind", "flow_table_full"),
                pipeline.flows_dropped_table_full as f64,
            ),
            (
                label("kind", "quic_undecryptable"),
                pipeline.quic_undecryptable as f64,
            ),
            (
                label("kind", "attach_failure"),
                stats.attach_failures as f64,
            ),
        ],
    );
    family(
        "sessions_skipped_total",
        "counter",
        "Sessions not recorded, by reason.",
        &[
            (
                label("reason", "own_traffic"),
                stats.own_traffic_sessions as f64,
            ),
            (label("reason", "sampled_out"), stats.sampled_out as f64),
        ],
    );
    family(
        "interfaces_attached",
        "gauge",
        "Interfaces with the TC programs attached.",
        &[(String::new(), stats.interfaces_attached.len() as f64)],
    );
    // Two TC programs per interface, the tp_btf socket-owner programs,
    // and with the TLS probes the exec tp_btf program and every uprobe.
    let tls_programs = stats
        .tls_probes
        .as_ref()
        .map_or(0, |tls| 1 + tls.probes_attached as usize);
    family(
        "programs_attached",
        "gauge",
        "eBPF program attachments.",
        &[(
            String::new(),
            (2 * stats.interfaces_attached.len()
                + cipherlens_common::SOCKET_OWNER_PROGRAMS.len()
                + tls_programs) as f64,
        )],
    );
    family(
        "directives_applied_total",
        "counter",
        "Directives carried out.",
        &[(String::new(), stats.directives_applied as f64)],
    );
    if let Some(tls) = &stats.tls_probes {
        let coverage: Vec<(String, f64)> = tls
            .coverage
            .iter()
            .map(|group| {
                let labels = format!(
                    "{{library=\"{}\",version=\"{}\",hooked=\"{}\",reason=\"{}\"}}",
                    escape(&group.library),
                    escape(group.version.as_deref().unwrap_or("")),
                    group.hooked,
                    escape(group.reason.as_deref().unwrap_or("")),
                );
                (labels, group.processes as f64)
            })
            .collect();
        family(
            "tls_processes",
            "gauge",
            "Processes with a TLS library, by library, version, whether the uprobes cover them and why not.",
            &coverage,
        );
        family(
            "tls_probe_files",
            "gauge",
            "Library files carrying uprobes.",
            &[(String::new(), tls.files_attached as f64)],
        );
        family(
            "tls_probes_attached",
            "gauge",
            "uprobes attached over those files.",
            &[(String::new(), tls.probes_attached as f64)],
        );
        let counters: Vec<(String, f64)> = tls
            .counters
            .iter()
            .map(|(name, value)| (label("counter", name), *value as f64))
            .collect();
        family(
            "tls_probe_events_total",
            "counter",
            "TLS probe counters (kernel and user side, losses included), by name.",
            &counters,
        );
    }
    if let Some(publish) = &stats.publish {
        family(
            "publish_records_total",
            "counter",
            "Records NATS has (flushed or acked).",
            &[(String::new(), publish.published as f64)],
        );
        family(
            "publish_dropped_total",
            "counter",
            "Records never published, by reason.",
            &[
                (
                    label("reason", "buffer_full"),
                    publish.dropped_buffer_full as f64,
                ),
                (
                    label("reason", "shutdown"),
                    publish.dropped_at_shutdown as f64,
                ),
            ],
        );
        family(
            "publish_buffered",
            "gauge",
            "Records waiting for NATS.",
            &[(String::new(), publish.buffered as f64)],
        );
        family(
            "publish_failed_round_trips_total",
            "counter",
            "Publish batches that failed and were retried.",
            &[(String::new(), publish.failed_round_trips as f64)],
        );
        family(
            "publish_disconnects_total",
            "counter",
            "NATS disconnections.",
            &[(String::new(), publish.disconnects as f64)],
        );
        family(
            "publish_latency_seconds_mean",
            "gauge",
            "Mean time from queueing to NATS having a record.",
            &[(String::new(), publish.mean_latency_ms / 1000.0)],
        );
        family(
            "directives_refused_total",
            "counter",
            "Directives refused (malformed, busy, stopping).",
            &[(String::new(), publish.directives_refused as f64)],
        );
    }
    out
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_routed_and_odd_ones_refused() {
        assert_eq!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Route::Metrics
        );
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Route::Metrics);
        assert_eq!(route(b"GET /healthz HTTP/1.1\r\n\r\n"), Route::Health);
        assert_eq!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Route::MethodNotAllowed
        );
        assert_eq!(route(b"GET /secrets HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"GET /metrics SPDY/3\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(b"\r\n\r\n"), Route::BadRequest);
    }

    #[test]
    fn the_exposition_is_well_formed() {
        let mut stats = StatsRecord::default();
        stats.kernel.insert("ring_buffer_full".into(), 3);
        stats.events_dropped.insert("bad \"reason\"".to_string(), 2);
        stats.interfaces_attached = vec!["eth0".into(), "lo".into()];
        let text = render(&stats);
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            // name{labels} value, or name value.
            let (series, value) = line.rsplit_once(' ').expect("series and value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name = series.split('{').next().unwrap_or_default();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
        }
        assert!(text.contains("cipherlens_kernel_events_total{counter=\"ring_buffer_full\"} 3"));
        assert!(text.contains("cipherlens_events_dropped_total{reason=\"bad \\\"reason\\\"\"} 2"));
        assert!(text.contains("cipherlens_interfaces_attached 2"));
        assert!(health(&stats).0);
        assert!(!health(&StatsRecord::default()).0);
    }
}
