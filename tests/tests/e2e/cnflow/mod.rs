//! CNFlow records: counted like tshark counts a parallel capture, tied to
//! their TLS sessions, attributed, updated while a flow lasts, and carrying
//! the TCP metrics `ss` reads from the kernel.

mod cpu_cache;
mod enrichment;
mod namespace_ids;

use std::path::Path;
use std::time::Duration;

use cipherlens_integration::{TestBed, capabilities, cnflow_records, tshark_fields};
use serde_json::Value;

/// Packets and wire bytes per direction of one TCP flow, as tshark counts
/// them in a capture: (client -> server, server -> client).
fn tshark_flow_counts(pcap: &Path, client_port: u64) -> ([u64; 2], [u64; 2]) {
    let rows = tshark_fields(
        pcap,
        &format!("tcp.port == {client_port}"),
        &["tcp.srcport", "frame.len"],
    );
    let mut packets = [0u64; 2];
    let mut bytes = [0u64; 2];
    for row in rows {
        let direction = usize::from(row[0] != client_port.to_string());
        packets[direction] += 1;
        bytes[direction] += row[1].parse::<u64>().expect("frame.len");
    }
    (packets, bytes)
}

/// CNFlow records against tshark's counts of a parallel capture, tied to
/// their TLS session records, attributed, and updated while a flow lasts.
#[test]
fn cnflow_records_count_like_tshark_and_tie_to_sessions() {
    let bed = TestBed::new("cnflow");
    let link = &bed.link;
    let server = bed.s_server(&bed.certificate("flows.test"), &[]);
    let port = server.port;
    let dump = bed.tcpdump("flows.pcap");
    // Without CAP_SYS_ADMIN: the client's socket is in another network
    // namespace, and its metrics come without entering it.
    let sensor = bed.sensor_without(
        &["sys_admin"],
        &[
            "--cnflow-scan-interval",
            "1",
            "--cnflow-report-interval",
            "1",
        ],
    );
    let effective = capabilities(sensor.pid(), "CapEff").expect("CapEff");
    assert_eq!(
        effective & (1 << 21),
        0,
        "CAP_SYS_ADMIN (21) is off: {effective:x}"
    );
    // A short flow with data both ways: curl fetches s_server's status page.
    // Its parent reaps it only 3 s later, so when the flow's end is scanned
    // (every second) curl's process entry is still there to be named, also
    // on a loaded machine (a process already reaped when its flow is reported
    // keeps only its pid: see the attribution module).
    link.client(
        "python3",
        &[
            "-c",
            &format!(
                "import subprocess, time\n\
                 curl = subprocess.Popen(['curl', '-sk', '-o', '/dev/null', '--resolve', \
                 'flows.test:{port}:{}', 'https://flows.test:{port}/'])\n\
                 time.sleep(3)\n\
                 assert curl.wait() == 0",
                link.host_v4
            ),
        ],
    );
    // A flow that lasts over three seconds: update records, then its end.
    // Half-way, quiet, the client asks `ss` for its socket's tcp_info.
    let long_client = link
        .command("python3")
        .args([
            "-c",
            &format!(
                "import socket, ssl, subprocess, time\n\
                 ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                 s = socket.create_connection(('{}', {port}))\n\
                 t = ctx.wrap_socket(s, server_hostname='long.flows.test')\n\
                 time.sleep(1.5)\n\
                 port = t.getsockname()[1]\n\
                 print(subprocess.run(['ss', '-tinH', 'sport', '=', f':{{port}}'], capture_output=True, text=True).stdout)\n\
                 time.sleep(2)\n\
                 t.close()",
                link.host_v4
            ),
        ])
        .output()
        .expect("long client");
    assert!(
        long_client.status.success(),
        "{}",
        String::from_utf8_lossy(&long_client.stderr)
    );
    let ss = String::from_utf8_lossy(&long_client.stdout).into_owned();
    std::thread::sleep(Duration::from_millis(2500));
    let (sessions, stats, _) = sensor.stop();
    let pcap = dump.finish();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    let flows = cnflow_records(bed.dir());
    let session = |name: &str| {
        sessions
            .iter()
            .find(|s| s["tls"]["client"]["server_name"] == name)
            .unwrap_or_else(|| panic!("no session for {name}: {sessions:#?}"))
    };

    // The curl flow: its end record, counted like tshark counts the capture.
    let curl = session("flows.test");
    let curl_port = curl["client"]["port"].as_u64().expect("port");
    let ends: Vec<&Value> = flows
        .iter()
        .filter(|f| f["client"]["port"] == curl_port && f["event"]["reason"] == "end")
        .collect();
    assert_eq!(ends.len(), 1, "one end record: {flows:#?}");
    let flow = ends[0];
    let (packets, bytes) = tshark_flow_counts(&pcap, curl_port);
    let c2s = &flow["cnflow"]["client_to_server"];
    let s2c = &flow["cnflow"]["server_to_client"];
    assert_eq!(
        [c2s["packets"].as_u64(), s2c["packets"].as_u64()],
        packets.map(Some),
        "{flow}"
    );
    assert_eq!(
        [c2s["bytes"].as_u64(), s2c["bytes"].as_u64()],
        bytes.map(Some),
        "{flow}"
    );
    assert_eq!(flow["cnflow"]["opening_seen"], true);
    for direction in [c2s, s2c] {
        let flags = direction["tcp_flags"].as_str().expect("flags");
        assert!(
            flags.contains('S') && flags.contains('A') && flags.contains('F'),
            "{flow}"
        );
    }
    assert_eq!(flow["server"]["port"], port);
    assert_eq!(
        flow["network"]["community_id"],
        curl["network"]["community_id"]
    );
    assert_eq!(
        curl["cipherlens"]["cnflow_id"], flow["cnflow"]["id"],
        "the session points to its flow"
    );
    assert_eq!(
        flow["client"]["process"]["executable"]["name"], "curl",
        "{flow}"
    );
    assert_eq!(flow["server"]["process"]["pid"], server.pid(), "{flow}");
    assert_eq!(
        flow["network"]["interface"]["name"],
        link.host_interface.as_str()
    );

    // The long flow: updates with one id and growing times, then its end.
    let long = session("long.flows.test");
    let long_port = long["client"]["port"].as_u64().expect("port");
    let records: Vec<&Value> = flows
        .iter()
        .filter(|f| f["client"]["port"] == long_port)
        .collect();
    let updates = records
        .iter()
        .filter(|f| f["event"]["reason"] == "update")
        .count();
    assert!(
        updates >= 2,
        "updates every second of a 3.5 s flow: {records:#?}"
    );
    assert_eq!(
        records.last().map(|f| &f["event"]["reason"]),
        Some(&Value::from("end"))
    );
    let ids: std::collections::BTreeSet<&str> = records
        .iter()
        .filter_map(|f| f["cnflow"]["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "one id for the flow's life");
    assert_eq!(long["cipherlens"]["cnflow_id"], records[0]["cnflow"]["id"]);
    // TCP metrics of the client's socket (in its own namespace, read by a
    // sensor without CAP_SYS_ADMIN) equal what `ss` read from the kernel
    // while the flow was quiet.
    let ss_value = |name: &str| -> f64 {
        ss.split_whitespace()
            .find_map(|field| field.strip_prefix(&format!("{name}:")))
            .and_then(|value| value.split('/').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("ss shows no {name}: {ss}"))
    };
    let update = records
        .iter()
        .rev()
        .find(|f| f["event"]["reason"] == "update")
        .expect("an update");
    let tcp = &update["cnflow"]["tcp"];
    assert_eq!(tcp["observed_at"], "client", "{update}");
    assert_eq!(
        stats["tcp_info_namespace_failures"],
        serde_json::json!({}),
        "{stats}"
    );
    assert_eq!(tcp["state"], "established");
    assert_eq!(
        tcp["segments_out"].as_f64(),
        Some(ss_value("segs_out")),
        "{tcp} vs {ss}"
    );
    assert_eq!(
        tcp["segments_in"].as_f64(),
        Some(ss_value("segs_in")),
        "{tcp} vs {ss}"
    );
    let rtt_ms = tcp["rtt_us"].as_f64().expect("rtt") / 1000.0;
    assert!((rtt_ms - ss_value("rtt")).abs() < 0.001, "{tcp} vs {ss}");
    assert!(
        stats["cnflow_records"]["end"].as_u64() >= Some(2),
        "{stats}"
    );
}
