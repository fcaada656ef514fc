//! Live capture through an overlay: a TLS client in a namespace reaches a
//! server over a VXLAN device pair on top of the veth link, as pods on two
//! nodes do under flannel or Calico's VXLAN mode. The sensor watches both
//! the underlay (encapsulated) and the VXLAN device (decapsulated), like a
//! node's uplink and its overlay device.

use std::time::Duration;

use cipherlens_integration::{
    Sensor, TestBed, cnflow_records, replay_sessions, run, tshark_fields_decoding,
};
use serde_json::Value;

/// Removes a host-side device when the test ends, also when it fails.
struct HostDevice(String);

impl Drop for HostDevice {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .status();
    }
}

const VNI: &str = "42";

#[test]
fn a_handshake_across_a_vxlan_overlay_is_recorded_once_with_its_tunnel() {
    let bed = TestBed::new("vxlan");
    let link = &bed.link;
    let id = link.host_interface.trim_start_matches("clv");
    // The overlay's addresses: 100.64.0.0/10 (shared address space), one
    // /24 per link, from the link's own subnet numbers.
    let octets: Vec<u32> = link
        .host_v4
        .split('.')
        .map(|octet| octet.parse().expect("octet"))
        .collect();
    let overlay = format!("100.{}.{}", 64 + (octets[1] - 200), octets[2]);
    let (overlay_host, overlay_client) = (format!("{overlay}.1"), format!("{overlay}.2"));

    let host_device = HostDevice(format!("clx{id}"));
    let vxlan = |remote: &str, local: &str, dev: &str, name: &str| -> Vec<String> {
        [
            "link", "add", name, "type", "vxlan", "id", VNI, "remote", remote, "local", local,
            "dstport", "4789", "dev", dev,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let args = vxlan(
        &link.client_v4,
        &link.host_v4,
        &link.host_interface,
        &host_device.0,
    );
    run("ip", &args.iter().map(String::as_str).collect::<Vec<_>>());
    run(
        "ip",
        &[
            "addr",
            "add",
            &format!("{overlay_host}/24"),
            "dev",
            &host_device.0,
        ],
    );
    run("ip", &["link", "set", &host_device.0, "up"]);
    let peer = link.peer_interface();
    let args = vxlan(&link.host_v4, &link.client_v4, &peer, "vx0");
    let in_namespace = |args: &[&str]| {
        let status = link.command("ip").args(args).status().expect("ip");
        assert!(status.success(), "ip {args:?}");
    };
    in_namespace(&args.iter().map(String::as_str).collect::<Vec<_>>());
    in_namespace(&["addr", "add", &format!("{overlay_client}/24"), "dev", "vx0"]);
    in_namespace(&["link", "set", "vx0", "up"]);

    let dump = bed.tcpdump("underlay.pcap");
    let sensor = Sensor::start(
        bed.dir(),
        &[&link.host_interface, &host_device.0],
        &link.host_interface,
        &[
            "--cnflow-scan-interval",
            "1",
            "--cnflow-report-interval",
            "1",
        ],
    );
    sensor.wait_attached(&host_device.0, Duration::from_secs(10));
    let server = bed.s_server_on(&overlay_host, &bed.certificate("overlay.test"), &[]);
    link.s_client(
        &format!("{overlay_host}:{}", server.port),
        "overlay.test",
        &[],
    );
    std::thread::sleep(Duration::from_millis(2500));
    let (records, stats, _) = sensor.stop();
    let pcap = dump.finish();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    assert!(
        stats["kernel"]["tunnelled_packets"].as_u64() > Some(0),
        "stats: {stats}"
    );

    // One record, although every packet crossed two devices, naming the
    // tunnel as the underlay carried it.
    let sessions: Vec<&Value> = records
        .iter()
        .filter(|r| r["tls"]["client"]["server_name"] == "overlay.test")
        .collect();
    assert_eq!(sessions.len(), 1, "{records:#?}");
    let session = sessions[0];
    assert_eq!(session["client"]["address"], overlay_client.as_str());
    assert_eq!(
        session["cipherlens"]["session"]["complete"], true,
        "{session}"
    );
    let tunnel = &session["network"]["tunnel"];
    assert_eq!(tunnel["type"], "vxlan", "{session}");
    assert_eq!(tunnel["vni"], 42, "{tunnel}");
    assert_eq!(
        tunnel["outer"]["source"],
        link.client_v4.as_str(),
        "{tunnel}"
    );
    assert_eq!(
        tunnel["outer"]["destination"],
        link.host_v4.as_str(),
        "{tunnel}"
    );

    // tshark reads the same ClientHello inside VXLAN on the underlay.
    let client_port = session["client"]["port"].as_u64().expect("port");
    let hellos = tshark_fields_decoding(
        &pcap,
        Some(&format!("tcp.port=={},tls", server.port)),
        &format!("vxlan.vni == {VNI} && tls.handshake.type == 1"),
        &[
            "tls.handshake.extensions_server_name",
            "tls.handshake.ja3",
            "tcp.srcport",
        ],
    );
    assert_eq!(hellos.len(), 1, "{hellos:?}");
    assert_eq!(hellos[0][0], "overlay.test");
    assert_eq!(session["tls"]["client"]["ja3"], hellos[0][1].as_str());
    assert_eq!(hellos[0][2], client_port.to_string());

    // Replaying the underlay capture gives the same session and tunnel.
    let replayed = replay_sessions(&[], &pcap);
    assert_eq!(replayed.len(), 1, "{replayed:#?}");
    assert_eq!(replayed[0]["network"]["tunnel"], *tunnel);
    assert_eq!(
        replayed[0]["tls"]["client"]["ja3"],
        session["tls"]["client"]["ja3"]
    );

    // The flow is counted once: its packets as the underlay carried them
    // (the device that saw it first), not again on the VXLAN device.
    let inner = tshark_fields_decoding(
        &pcap,
        None,
        &format!("vxlan.vni == {VNI} && tcp.port == {client_port}"),
        &["frame.number"],
    );
    let flows = cnflow_records(bed.dir());
    let end = flows
        .iter()
        .find(|f| f["client"]["port"] == client_port && f["event"]["reason"] == "end")
        .unwrap_or_else(|| panic!("no end record: {flows:#?}"));
    let counted = end["cnflow"]["client_to_server"]["packets"]
        .as_u64()
        .unwrap_or(0)
        + end["cnflow"]["server_to_client"]["packets"]
            .as_u64()
            .unwrap_or(0);
    assert_eq!(counted, inner.len() as u64, "{end}");
}

/// Tunnelled handshakes (real ones, wrapped by `encapsulate.py` per the
/// tunnels' specifications) sent onto the link: the kernel follows each
/// tunnel it knows to the flow inside, and the live records equal those
/// `replay` gives for the same frames.
#[test]
fn every_tunnel_the_kernel_follows_gives_the_replayed_records_live() {
    let bed = TestBed::new("tunnel-kinds");
    let link = &bed.link;
    let scripts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/fixtures");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pcaps");
    // One capture per tunnel: the inner flows must differ.
    let cases = [
        ("vxlan", "tls10-openssl"),
        ("geneve", "quic-aioquic"),
        ("gre", "tls12-openssl"),
        ("gretap", "curl-h2-alpn"),
        ("ipip", "python-ssl"),
        ("6in4", "tls13-ipv6"),
        ("4in6", "node-tls"),
        ("gtpu", "tls13-openssl"),
        ("erspan2", "tls12-resume-sessionid"),
        ("erspan3", "tls12-resume-ticket"),
        ("mpls", "tls12-bigchain"),
    ];
    // Loopback captures hold frames beyond 1500 bytes; the link carries them.
    run(
        "ip",
        &["link", "set", "dev", &link.host_interface, "mtu", "9000"],
    );
    let status = link
        .command("ip")
        .args(["link", "set", "dev", &link.peer_interface(), "mtu", "9000"])
        .status()
        .expect("ip");
    assert!(status.success());
    let sensor = bed.sensor(&[]);
    let mut expected: Vec<Value> = Vec::new();
    for (kind, bare) in cases {
        let wrapped = bed.dir().join(format!("{kind}.pcap"));
        let status = std::process::Command::new("python3")
            .arg(scripts.join("encapsulate.py"))
            .arg(kind)
            .arg(fixtures.join(format!("{bare}.pcap")))
            .arg(&wrapped)
            .status()
            .expect("encapsulate");
        assert!(status.success(), "{kind}");
        let records = replay_sessions(&[], &wrapped);
        assert!(!records.is_empty(), "{kind}");
        expected.extend(records);
        let output = link
            .command("python3")
            .arg(scripts.join("send_frames.py"))
            .arg(link.peer_interface())
            .arg(&wrapped)
            .output()
            .expect("send frames");
        assert!(output.status.success(), "{kind}: {output:?}");
    }
    std::thread::sleep(Duration::from_millis(1000));
    let (records, stats, _) = sensor.stop();
    assert_eq!(stats["kernel_losses"], 0, "stats: {stats}");
    let key = |record: &Value| {
        (
            record["client"]["port"].as_u64(),
            record["tls"]["client"]["server_name"]
                .as_str()
                .map(str::to_owned),
        )
    };
    let same = |record: &Value| {
        serde_json::json!({
            "tunnel": record["network"]["tunnel"],
            "client": record["tls"]["client"],
            "server": record["tls"]["server"],
            "version": record["cipherlens"]["tls"]["version"],
            "certificates": record["cipherlens"]["tls"]["server_certificates"],
            "fingerprints": record["cipherlens"]["tls"]["fingerprints"],
        })
    };
    for want in &expected {
        let live = records
            .iter()
            .find(|record| key(record) == key(want))
            .unwrap_or_else(|| panic!("no live record like {want}\nlive: {records:#?}"));
        assert!(!want["network"]["tunnel"].is_null(), "{want}");
        assert_eq!(same(live), same(want));
    }
    assert_eq!(records.len(), expected.len(), "{records:#?}");
}
