//! Counts the kernel keeps in a CPU's flow cache reach the flow's record.
//!
//! A flow's packets on a CPU are counted in that CPU's cache and moved to
//! the flow's map entry only when another packet comes along there. A
//! flow that goes quiet, with nothing else on its CPU, leaves its last
//! packets in the cache; the scan must add them. UDP has no FIN to move
//! them, and here nothing else crosses the link.

use std::net::UdpSocket;
use std::time::Duration;

use cipherlens_integration::{TestBed, cnflow_records, tshark_fields};
use serde_json::Value;

/// Bursts of datagrams, a second and more apart, each many packets within
/// one clock tick: all but a burst's first are counted in the cache.
const BURSTS: usize = 3;
const PER_BURST: usize = 40;

#[test]
fn a_quiet_flows_cached_counts_reach_its_record() {
    let bed = TestBed::new("cnflow-cache");
    let link = &bed.link;
    let receiver = UdpSocket::bind((link.host_v4.as_str(), 0)).expect("bind");
    let port = receiver.local_addr().expect("address").port();
    let dump = bed.tcpdump("cache.pcap");
    let sensor = bed.sensor(&[
        "--cnflow-scan-interval",
        "1",
        "--cnflow-report-interval",
        "1",
    ]);
    link.client(
        "python3",
        &[
            "-c",
            &format!(
                "import socket, time\n\
                 s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                 for burst in range({BURSTS}):\n\
                 \x20   for i in range({PER_BURST}):\n\
                 \x20       s.sendto(b'x' * (100 + i), ('{}', {port}))\n\
                 \x20   time.sleep(1.2)",
                link.host_v4
            ),
        ],
    );
    // Scans come and go while the flow is quiet: its update records must
    // already carry the last burst.
    std::thread::sleep(Duration::from_millis(2500));
    let (_, stats, _) = sensor.stop();
    let pcap = dump.finish();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");

    let rows = tshark_fields(
        &pcap,
        &format!("udp.port == {port} && !icmp"),
        &["frame.len"],
    );
    assert_eq!(
        rows.len(),
        BURSTS * PER_BURST,
        "the capture has every datagram"
    );
    let bytes: u64 = rows
        .iter()
        .map(|row| row[0].parse::<u64>().expect("frame.len"))
        .sum();
    let flows = cnflow_records(bed.dir());
    let records: Vec<&Value> = flows
        .iter()
        .filter(|f| f["server"]["port"] == port || f["client"]["port"] == port)
        .collect();
    assert!(!records.is_empty(), "no record of the flow: {flows:#?}");
    let totals = |record: &Value| {
        let counts = &record["cnflow"];
        let sum = |field: &str| {
            ["client_to_server", "server_to_client"]
                .iter()
                .map(|direction| counts[direction][field].as_u64().expect("count"))
                .sum::<u64>()
        };
        (sum("packets"), sum("bytes"))
    };
    // Every record after the last burst has it all: the updates sent while
    // the flow was quiet, and the one at shutdown.
    let last = records.last().expect("a record");
    assert_eq!(last["event"]["reason"], "shutdown", "{last}");
    let last_update = records
        .iter()
        .rev()
        .find(|record| record["event"]["reason"] == "update")
        .expect("an update record");
    for record in [*last_update, *last] {
        assert_eq!(
            totals(record),
            ((BURSTS * PER_BURST) as u64, bytes),
            "counted like tshark counts the capture: {record}"
        );
    }
}
